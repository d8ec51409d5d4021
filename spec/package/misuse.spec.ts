import { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import type { ErrorRequestHandler, RequestHandler } from 'express'
import request from 'supertest'
import { arcSession } from 'arc-session'
import { EXPRESS_VERSIONS } from '../support/apps'

/**
 * The first hour, part two: `app.use(arcSession)`, the factory passed where its middleware belongs.
 * Express calls it with (req, res, next) on the first request; it must fail loudly, saying how to
 * fix it, rather than hang or carry on without sessions.
 */

const FIX = 'call arcSession() to make the middleware: app.use(arcSession())'

describe.each(EXPRESS_VERSIONS)('app.use(arcSession) without the call, on %s', (_name, makeExpress) => {
  it('the first request answers 500 with a TypeError that says to call arcSession()', async () => {
    const errors: unknown[] = []
    const app = makeExpress()
    app.use(arcSession as unknown as RequestHandler)
    app.get('/', (_req, res) => { res.send('the route ran without sessions') })
    const onError: ErrorRequestHandler = (error, _req, res, _next) => {
      errors.push(error)
      res.status(500).json({ name: (error as Error).name, message: (error as Error).message })
    }
    app.use(onError)

    const response = await request(app).get('/').expect(500)
    expect(response.body.name).toBe('TypeError')
    expect(response.body.message).toContain(FIX)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(TypeError)
    // And on every request after it: no request gets through without sessions.
    await request(app).get('/').expect(500)
  })

  it('with Express\'s own error handler, the answer is a 500 too, its page showing the message', async () => {
    const app = makeExpress()
    app.use(arcSession as unknown as RequestHandler)
    app.get('/', (_req, res) => { res.send('the route ran without sessions') })
    const response = await request(app).get('/').expect(500)
    expect(response.text).not.toContain('the route ran')
    // finalhandler shows the stack outside production; it starts with the message.
    expect(response.text).toContain('TypeError: arcSession was used as the middleware itself; call arcSession() to make the middleware: app.use(arcSession())')
  })
})

describe('arcSession(req, res, next) called directly', () => {
  it('throws the TypeError at once, and never calls next', () => {
    const req = new IncomingMessage(new Socket())
    req.method = 'GET'
    req.url = '/'
    const res = new ServerResponse(req)
    const next = jest.fn()
    const call = (): unknown => (arcSession as unknown as (...args: unknown[]) => unknown)(req, res, next)
    expect(call).toThrow(TypeError)
    expect(call).toThrow(FIX)
    expect(next).not.toHaveBeenCalled()
  })

  it('throws it for a request-like object too (what a framework other than Express passes)', () => {
    const call = (): unknown => (arcSession as unknown as (...args: unknown[]) => unknown)({ method: 'GET', headers: {} }, {}, () => {})
    expect(call).toThrow(new TypeError(`arcSession was used as the middleware itself; ${FIX}`))
  })

  it('arcSession() with options still makes the middleware', () => {
    expect(typeof arcSession({ secret: 'misuse-spec-secret-0123456789abcdefghij', env: {} })).toBe('function')
  })
})
