import express from 'express'
import request from 'supertest'
import { arcSession, type ArcSessionOptions } from 'arc-session'
import { SECRET } from '../support/apps'
import { clearWarningRegistry, warningCodes, useWarningSpy } from './support'

/**
 * The first hour, part three: the default cookie is Secure, and a browser drops a Secure cookie
 * set over plain http (except from localhost). A newcomer on a dev box reached by name, over
 * http, would see the session never stick; arc-session says why, once.
 */

const CODE = 'ARC_SESSION_SECURE_OVER_HTTP'

const emitted = useWarningSpy()


/** Default options: no environment (so Secure is on), a secret. */
function app (extra: ArcSessionOptions = {}): express.Express {
  const the = express()
  the.use(arcSession({ env: {}, secret: SECRET, ...extra }))
  the.get('/set', (req, res) => { req.session.visits = (req.session.visits ?? 0) + 1; res.send('set') })
  the.get('/read', (req, res) => { res.send(`read ${String(req.session.visits ?? 'nothing')}`) })
  the.post('/logout', async (req, res) => { await req.session.destroy(); res.send('out') })
  return the
}

const secureWarnings = (): unknown[][] => emitted().mock.calls.filter((_, index) => warningCodes(emitted())[index] === CODE)

describe('a Secure session cookie set over plain http', () => {
  it('to a host other than localhost: one warning, naming the host and the fix', async () => {
    const response = await request(app()).get('/set').set('Host', 'devbox.test:3000').expect(200)
    expect(String(response.headers['set-cookie'])).toMatch(/^_idx=.*; Secure/)
    const said = secureWarnings()
    expect(said).toHaveLength(1)
    const [message, options] = said[0] as [string, { code: string }]
    expect(options).toEqual({ code: CODE })
    expect(message).toContain('devbox.test')
    expect(message).not.toContain('devbox.test:3000') // the host, not the port
    expect(message).toContain('cookie: { secure: false }')
    expect(message).toContain('X-Forwarded-Proto: https')
  })

  it('is said once per process, however many requests and apps', async () => {
    const first = app()
    await request(first).get('/set').set('Host', 'devbox.test:3000').expect(200)
    await request(first).get('/set').set('Host', 'devbox.test:3000').expect(200)
    await request(app()).get('/set').set('Host', 'other.test').expect(200)
    expect(secureWarnings()).toHaveLength(1)
    expect(String(secureWarnings()[0]?.[0])).toContain('devbox.test')

    // The registry lives on the process: cleared, it is said again.
    clearWarningRegistry()
    await request(first).get('/set').set('Host', 'other.test').expect(200)
    expect(secureWarnings()).toHaveLength(2)
    expect(String(secureWarnings()[1]?.[0])).toContain('other.test')
  })

  it.each([
    ['localhost', 'localhost:3000'],
    ['localhost without a port', 'localhost'],
    ['a name under .localhost', 'app.localhost:3000'],
    ['127.0.0.1', '127.0.0.1:3000'],
    ['another 127.x address', '127.1.2.3:8080'],
    ['[::1]', '[::1]:3000']
  ])('not for %s (browsers keep Secure cookies from there)', async (_case, host) => {
    const response = await request(app()).get('/set').set('Host', host).expect(200)
    expect(String(response.headers['set-cookie'])).toMatch(/; Secure/)
    expect(secureWarnings()).toEqual([])
  })

  it.each([
    ['X-Forwarded-Proto: https', { 'X-Forwarded-Proto': 'https' }],
    ['X-Forwarded-Proto: https,http (the first proxy\'s)', { 'X-Forwarded-Proto': 'https, http' }],
    ['Forwarded: proto=https', { Forwarded: 'for=192.0.2.1;proto=https' }]
  ])('not behind a proxy that says %s', async (_case, headers) => {
    await request(app()).get('/set').set('Host', 'devbox.test:3000').set(headers).expect(200)
    expect(secureWarnings()).toEqual([])
  })

  it('not when cookie.secure is false', async () => {
    const response = await request(app({ cookie: { secure: false } })).get('/set').set('Host', 'devbox.test:3000').expect(200)
    expect(String(response.headers['set-cookie'])).not.toMatch(/Secure/)
    expect(secureWarnings()).toEqual([])
  })

  it('not when NODE_ENV=development turns Secure off', async () => {
    await request(app({ env: { NODE_ENV: 'development' } })).get('/set').set('Host', 'devbox.test:3000').expect(200)
    expect(secureWarnings()).toEqual([])
  })

  it('not for a request that sets no cookie (a read-only one), and it is still said later for one that does', async () => {
    const the = app()
    const response = await request(the).get('/read').set('Host', 'devbox.test:3000').expect(200)
    expect(response.text).toBe('read nothing')
    expect(response.headers['set-cookie']).toBeUndefined()
    expect(secureWarnings()).toEqual([])

    await request(the).get('/set').set('Host', 'devbox.test:3000').expect(200)
    expect(secureWarnings()).toHaveLength(1)
  })

  it('not for a response that only expires the cookie (signing out)', async () => {
    const the = app()
    const signedIn = await request(the).get('/set').set('Host', 'localhost:3000').expect(200)
    const cookie = String(signedIn.headers['set-cookie']).split(';')[0] as string
    const out = await request(the).post('/logout').set('Host', 'devbox.test:3000').set('Cookie', cookie).expect(200)
    expect(String(out.headers['set-cookie'])).toMatch(/Max-Age=0/)
    expect(secureWarnings()).toEqual([])
  })

  it('nothing else is warned about on the way', async () => {
    await request(app()).get('/set').set('Host', 'devbox.test:3000').expect(200)
    expect(warningCodes(emitted())).toEqual([CODE])
  })
})
