import express from 'express'
import request from 'supertest'
import { arcSession } from 'arc-session'
import { tempDir, warningCodes, type TempDir, useWarningSpy } from './support'

/**
 * The first hour, part six: the noise. A newcomer's app without ARC_APP_SECRET makes a development
 * key and says so, once per process: not once per arcSession() (an app with a few routers makes
 * several), nor once per request.
 */

let dir: TempDir
const emitted = useWarningSpy()

beforeAll(async () => { dir = await tempDir('arc-session-noise-') })
afterAll(async () => { await dir?.remove() })


describe('one warning per process', () => {
  it('three arcSession() apps without a secret: exactly one ARC_SESSION_DEVELOPMENT_KEY warning, and nothing else', async () => {
    const env = { ARC_SESSION_DEV_KEY_DIR: dir.path }
    const apps = [1, 2, 3].map(() => {
      const app = express()
      app.use(arcSession({ env }))
      app.get('/', (req, res) => { req.session.visits = (req.session.visits ?? 0) + 1; res.json(req.session) })
      return app
    })
    expect(warningCodes(emitted())).toEqual(['ARC_SESSION_DEVELOPMENT_KEY'])
    const [message] = emitted().mock.calls[0] as [string]
    expect(message).toContain(dir.path)
    expect(message).toContain('ARC_APP_SECRET')

    // Requests (to localhost, so a Secure cookie is fine) add nothing.
    for (const app of apps) {
      const agent = request.agent(app)
      await agent.get('/').set('Host', 'localhost:3000').expect(200, { visits: 1 })
    }
    expect(warningCodes(emitted())).toEqual(['ARC_SESSION_DEVELOPMENT_KEY'])
  })

  it('the three apps share the one development key: a cookie from one opens in another', async () => {
    const env = { ARC_SESSION_DEV_KEY_DIR: dir.path }
    const make = (): express.Express => {
      const app = express()
      app.use(arcSession({ env, cookie: { secure: false } }))
      app.get('/', (req, res) => { req.session.visits = (req.session.visits ?? 0) + 1; res.json(req.session) })
      return app
    }
    const first = await request(make()).get('/').expect(200)
    const cookie = String(first.headers['set-cookie']).split(';')[0] as string
    await request(make()).get('/').set('Cookie', cookie).expect(200, { visits: 2 })
    expect(warningCodes(emitted())).toEqual(['ARC_SESSION_DEVELOPMENT_KEY'])
  })
})
