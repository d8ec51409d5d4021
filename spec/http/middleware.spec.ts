import { randomBytes } from 'node:crypto'
import type { ErrorRequestHandler, RequestHandler } from 'express'
import request from 'supertest'
import { arcSession, HeadersSentError, SessionDataError, SessionTooLargeError } from 'arc-session'
import { EXPRESS_VERSIONS, deferred, isExpired, sessionCookies, testOptions, type ExpressFactory } from '../support/apps'

/** Random text: JWE does not compress, so its size in the cookie is predictable (4/3 of it, plus overhead). */
function noise (chars: number): string {
  return randomBytes(chars).toString('base64url').slice(0, chars)
}

interface SeenError {
  name: string
  status: unknown
  statusCode: unknown
  code: unknown
  message: string
  typed: boolean
}

/** An error handler that reports what reached it, as an app's own would. */
function reportingErrorHandler (typed: (error: unknown) => boolean): ErrorRequestHandler {
  return (error, _req, res, _next) => {
    const seen: SeenError = {
      name: error?.name, status: error?.status, statusCode: error?.statusCode, code: error?.code, message: String(error?.message), typed: typed(error)
    }
    res.status(typeof error?.status === 'number' ? error.status : 500).json({ error: seen })
  }
}

/** A route that prepares a full response of its own, then ends it, with a session change that will fail to commit. */
function routeThatOverfills (change: (session: Record<string, unknown>) => void): RequestHandler {
  return (req, res) => {
    change(req.session)
    res.set('X-Route', 'route header')
    res.set('Cache-Control', 'public, max-age=86400')
    res.cookie('route-cookie', 'should-not-leak')
    res.type('text/plain')
    res.status(200).send('ROUTE BODY')
  }
}

describe.each(EXPRESS_VERSIONS)('%s', (_name, makeExpress: ExpressFactory) => {
  describe('mounting', () => {
    test('mounting the middleware twice (same or another instance) is harmless', async () => {
      const sessions = arcSession(testOptions())
      const app = makeExpress()
      app.use(sessions)
      app.use(sessions)
      app.use(arcSession(testOptions()))
      app.get('/', (req, res) => {
        req.session.count = (req.session.count ?? 0) + 1
        res.json(req.session)
      })
      const agent = request.agent(app)
      const first = await agent.get('/').expect(200)
      expect(first.body).toEqual({ count: 1 })
      expect(sessionCookies(first)).toHaveLength(1)
      const second = await agent.get('/').expect(200)
      expect(second.body).toEqual({ count: 2 })
      expect(sessionCookies(second)).toHaveLength(1)
    })

    test('req.session = { ... } replaces the data and keeps the session methods', async () => {
      const app = makeExpress()
      app.use(makeExpress.json())
      app.use(arcSession(testOptions()))
      app.post('/set', (req, res) => {
        Object.assign(req.session, req.body)
        res.json(req.session)
      })
      app.post('/replace', async (req, res) => {
        req.session = { fresh: true, list: [1, 2] }
        await req.session.save()
        res.json({ data: req.session, save: typeof req.session.save })
      })
      app.get('/read', (req, res) => { res.json(req.session) })
      const agent = request.agent(app)
      await agent.post('/set').send({ old: 'a', other: 'b' }).expect(200)
      const replaced = await agent.post('/replace').expect(200)
      expect(replaced.body).toEqual({ data: { fresh: true, list: [1, 2] }, save: 'function' })
      expect((await agent.get('/read')).body).toEqual({ fresh: true, list: [1, 2] })
    })
  })

  describe('save() after the response', () => {
    test('save() once the response has finished rejects with HeadersSentError', async () => {
      const outcome = deferred<unknown>()
      const app = makeExpress()
      app.use(arcSession(testOptions()))
      app.get('/', (req, res) => {
        req.session.count = 1
        res.on('finish', () => {
          req.session.late = true
          req.session.save().then(() => 'resolved', (error: unknown) => error).then(outcome.resolve)
        })
        res.send('done')
      })
      await request(app).get('/').expect(200)
      const result = await outcome.promise
      expect(result).toBeInstanceOf(HeadersSentError)
    })

    test('save() right after res.send() on an unchanged session rejects with HeadersSentError', async () => {
      const outcome = deferred<unknown>()
      const app = makeExpress()
      app.use(arcSession(testOptions()))
      app.get('/', (req, res) => {
        res.send('done')
        req.session.late = true
        req.session.save().then(() => 'resolved', (error: unknown) => error).then(outcome.resolve)
      })
      const response = await request(app).get('/').expect(200)
      expect(await outcome.promise).toBeInstanceOf(HeadersSentError)
      expect(response.headers['set-cookie']).toBeUndefined()
    })

    test('save() right after res.send() on a changed session rejects with HeadersSentError (the cookie has already been decided)', async () => {
      const outcome = deferred<unknown>()
      const app = makeExpress()
      app.use(arcSession(testOptions()))
      app.get('/', (req, res) => {
        req.session.first = 1
        res.send('done')
        req.session.second = 2
        req.session.save().then(() => 'resolved', (error: unknown) => error).then(outcome.resolve)
      })
      app.get('/read', (req, res) => { res.json(req.session) })
      const agent = request.agent(app)
      await agent.get('/').expect(200)
      // The response carried { first: 1 }: a save() that resolved would be a write silently lost.
      expect((await agent.get('/read')).body).toEqual({ first: 1 })
      expect(await outcome.promise).toBeInstanceOf(HeadersSentError)
    })
  })

  describe('a session over the cookie cap', () => {
    const big = (session: Record<string, unknown>) => { session.big = noise(20000) }

    test('fails the request with a 413 SessionTooLargeError through the app\'s error handler', async () => {
      const app = makeExpress()
      app.use(arcSession(testOptions()))
      app.get('/', routeThatOverfills(big))
      app.use(reportingErrorHandler(error => error instanceof SessionTooLargeError))
      const response = await request(app).get('/').expect(413)
      expect(response.body.error).toMatchObject({ name: 'SessionTooLargeError', status: 413, statusCode: 413, code: 'ARC_SESSION_TOO_LARGE', typed: true })
      expect(response.headers['content-type']).toMatch(/application\/json/)
    })

    test('none of the route\'s body or headers leak into the error response', async () => {
      const app = makeExpress()
      app.use(arcSession(testOptions()))
      app.get('/', routeThatOverfills(big))
      app.use(reportingErrorHandler(error => error instanceof SessionTooLargeError))
      const response = await request(app).get('/').expect(413)
      expect(response.text).not.toContain('ROUTE BODY')
      expect(response.headers['set-cookie']).toBeUndefined()
      expect(response.headers['x-route']).toBeUndefined()
      expect(response.headers['cache-control']).toBeUndefined()
    })

    test('without an error handler, Express\'s default handler answers 413', async () => {
      const app = makeExpress()
      app.use(arcSession(testOptions()))
      app.get('/', routeThatOverfills(big))
      const response = await request(app).get('/').expect(413)
      expect(response.text).not.toContain('ROUTE BODY')
      expect(response.headers['set-cookie']).toBeUndefined()
    })

    test('the session the client had is left as it was', async () => {
      const app = makeExpress()
      app.use(arcSession(testOptions()))
      app.get('/small', (req, res) => { req.session.small = 'yes'; res.send('ok') })
      app.get('/big', routeThatOverfills(big))
      app.get('/read', (req, res) => { res.json(req.session) })
      app.use(reportingErrorHandler(() => true))
      const agent = request.agent(app)
      await agent.get('/small').expect(200)
      await agent.get('/big').expect(413)
      expect((await agent.get('/read')).body).toEqual({ small: 'yes' })
    })

    test('a session just under the cap is written in several cookies and read back', async () => {
      const app = makeExpress()
      app.use(arcSession(testOptions()))
      const value = noise(7000)
      app.get('/', (req, res) => { req.session.big = value; res.send('ok') })
      app.get('/read', (req, res) => { res.json(req.session) })
      const agent = request.agent(app)
      const written = await agent.get('/').expect(200)
      expect(sessionCookies(written).filter(cookie => !isExpired(cookie)).length).toBeGreaterThan(1)
      expect((await agent.get('/read')).body).toEqual({ big: value })
    })
  })

  describe('session data JSON cannot hold', () => {
    test.each([
      ['a BigInt', (session: Record<string, unknown>) => { session.big = BigInt(1) }],
      ['a cycle', (session: Record<string, unknown>) => { const loop: Record<string, unknown> = {}; loop.self = loop; session.loop = loop }]
    ])('%s gives a SessionDataError (500) via next(err)', async (_what, change) => {
      const app = makeExpress()
      app.use(arcSession(testOptions()))
      app.get('/', routeThatOverfills(change))
      app.use(reportingErrorHandler(error => error instanceof SessionDataError))
      const response = await request(app).get('/').expect(500)
      expect(response.body.error).toMatchObject({ name: 'SessionDataError', status: 500, code: 'ARC_SESSION_DATA', typed: true })
      expect(response.text).not.toContain('ROUTE BODY')
    })
  })

  describe('errors in the route', () => {
    test('a route that throws reaches the app\'s error handler, and the app keeps working', async () => {
      const app = makeExpress()
      app.use(arcSession(testOptions()))
      app.get('/count', (req, res) => {
        req.session.count = (req.session.count ?? 0) + 1
        res.json(req.session)
      })
      app.get('/throw', (req) => {
        req.session.touched = true
        throw new Error('route failed')
      })
      app.use(((error, _req, res, _next) => {
        res.status(500).send(`handled: ${(error as Error).message}`)
      }) as ErrorRequestHandler)
      const agent = request.agent(app)
      await agent.get('/count').expect(200)
      const failed = await agent.get('/throw').expect(500)
      expect(failed.text).toBe('handled: route failed')
      expect((await agent.get('/count').expect(200)).body.count).toBe(2)
    })

    test('a route that throws with no error handler gets Express\'s 500, and the app keeps working', async () => {
      const app = makeExpress()
      app.use(arcSession(testOptions()))
      app.get('/count', (req, res) => {
        req.session.count = (req.session.count ?? 0) + 1
        res.json(req.session)
      })
      app.get('/throw', () => { throw new Error('route failed') })
      const agent = request.agent(app)
      await agent.get('/count').expect(200)
      await agent.get('/throw').expect(500)
      expect((await agent.get('/count').expect(200)).body.count).toBe(2)
    })
  })

  describe('concurrency', () => {
    test('concurrent requests from several clients never cross sessions', async () => {
      const app = makeExpress()
      app.use(arcSession(testOptions()))
      app.get('/login/:name', (req, res) => { req.session.name = req.params.name; res.send('ok') })
      app.get('/whoami', (req, res) => {
        const before = req.session.name
        setImmediate(() => {
          req.session.hits = (req.session.hits ?? 0) + 1
          res.json({ before, after: req.session.name })
        })
      })
      const names = ['ada', 'grace', 'edsger', 'barbara', 'donald']
      const agents = names.map(() => request.agent(app))
      await Promise.all(agents.map((agent, index) => agent.get(`/login/${names[index]}`).expect(200)))
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => {
        const index = i % names.length
        return (agents[index] as ReturnType<typeof request.agent>).get('/whoami').then(response => ({ expected: names[index], body: response.body }))
      }))
      for (const { expected, body } of results) expect(body).toEqual({ before: expected, after: expected })
    })

    test('concurrent requests on one agent each see that agent\'s session', async () => {
      const app = makeExpress()
      app.use(arcSession(testOptions()))
      app.get('/login', (req, res) => { req.session.name = 'solo'; res.send('ok') })
      app.get('/whoami', (req, res) => { setImmediate(() => res.json({ name: req.session.name })) })
      const agent = request.agent(app)
      const other = request.agent(app)
      await agent.get('/login').expect(200)
      const results = await Promise.all([
        ...Array.from({ length: 10 }, () => agent.get('/whoami')),
        ...Array.from({ length: 10 }, () => other.get('/whoami'))
      ])
      expect(results.slice(0, 10).map(response => response.body)).toEqual(Array(10).fill({ name: 'solo' }))
      expect(results.slice(10).map(response => response.body)).toEqual(Array(10).fill({}))
    })
  })
})
