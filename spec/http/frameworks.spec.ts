import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import connect from 'connect'
import cookieParser from 'cookie-parser'
import serverless from 'serverless-http'
import request from 'supertest'
import { arcSession, type Session } from 'arc-session'
import { CookieJar, EXPRESS_VERSIONS, isExpired, listen, sessionCookies, setCookiesIn, testOptions, type ExpressFactory } from '../support/apps'

// Beyond Express: Connect, a bare node:http server, Lambda through serverless-http, cookie-parser in front.

function sessionOf (req: IncomingMessage): Session {
  return (req as IncomingMessage & { session: Session }).session
}

function sendJson (res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status
  res.setHeader('Content-Type', 'application/json')
  res.end(JSON.stringify(body))
}

describe('Connect', () => {
  function connectApp () {
    const app = connect()
    app.use(arcSession(testOptions()))
    app.use('/count', (req: IncomingMessage, res: ServerResponse) => {
      const session = sessionOf(req)
      session.count = (session.count ?? 0) + 1
      sendJson(res, 200, session)
    })
    app.use('/logout', (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => {
      sessionOf(req).destroy().then(() => { sendJson(res, 200, sessionOf(req)) }, next)
    })
    app.use('/big', (req: IncomingMessage, res: ServerResponse) => {
      sessionOf(req).big = randomBytes(20000).toString('base64')
      sendJson(res, 200, { route: 'ROUTE BODY' })
    })
    return app
  }

  test('a counter round-trips, and destroy() expires the cookie', async () => {
    const agent = request.agent(connectApp())
    expect((await agent.get('/count').expect(200)).body).toEqual({ count: 1 })
    expect((await agent.get('/count').expect(200)).body).toEqual({ count: 2 })
    const logout = await agent.get('/logout').expect(200)
    expect(sessionCookies(logout).every(isExpired)).toBe(true)
    expect(sessionCookies(logout).length).toBeGreaterThan(0)
    expect((await agent.get('/count').expect(200)).body).toEqual({ count: 1 })
  })

  test('a session over the cookie cap reaches Connect\'s final handler as a 413', async () => {
    const response = await request(connectApp()).get('/big').expect(413)
    expect(response.text).not.toContain('ROUTE BODY')
    expect(response.headers['set-cookie']).toBeUndefined()
  })
})

describe('a plain node:http server calling the middleware by hand', () => {
  test('a counter round-trips; errors come back through the callback', async () => {
    const sessions = arcSession(testOptions())
    const running = await listen((req, res) => {
      sessions(req, res, error => {
        if (error !== undefined) { sendJson(res, (error as { status?: number }).status ?? 500, { error: (error as Error).name }); return }
        const session = sessionOf(req)
        if (req.url === '/big') session.big = randomBytes(20000).toString('base64')
        else session.count = (session.count ?? 0) + 1
        sendJson(res, 200, session)
      })
    })
    try {
      const agent = request.agent(running.url)
      expect((await agent.get('/').expect(200)).body).toEqual({ count: 1 })
      expect((await agent.get('/').expect(200)).body).toEqual({ count: 2 })
      const big = await agent.get('/big').expect(413)
      expect(big.body).toEqual({ error: 'SessionTooLargeError' })
      expect((await agent.get('/').expect(200)).body).toEqual({ count: 3 })
    } finally {
      await running.close()
    }
  })
})

describe('a server in the same process that never uses the middleware', () => {
  test('its responses are untouched, req.session is absent, and a req.session it sets is its own', async () => {
    arcSession(testOptions()) // installs the process-wide hooks
    const running = await listen((req, res) => {
      const before = (req as { session?: unknown }).session
      ;(req as { session?: unknown }).session = { mine: true }
      res.setHeader('Set-Cookie', 'theirs=1; Path=/')
      res.writeHead(201, { 'Content-Type': 'application/json' })
      res.write('{"before":')
      res.end(`${JSON.stringify(before ?? null)},"after":${JSON.stringify((req as { session?: unknown }).session)},` +
        `"own":${String(Object.prototype.hasOwnProperty.call(req, 'session'))}}`)
    })
    try {
      const response = await request(running.url).get('/').set('Cookie', '_idx=whatever').expect(201)
      expect(response.body).toEqual({ before: null, after: { mine: true }, own: true })
      expect(response.headers['set-cookie']).toEqual(['theirs=1; Path=/'])
    } finally {
      await running.close()
    }
  })
})

interface LambdaResult {
  statusCode: number
  body: string
  headers?: Record<string, unknown>
  multiValueHeaders?: Record<string, unknown>
  cookies?: string[]
}

function v1Event (path: string, headers: Record<string, string>, method = 'GET') {
  return {
    resource: '/{proxy+}',
    path,
    httpMethod: method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    requestContext: { httpMethod: method, path, stage: 'prod', identity: { sourceIp: '203.0.113.7' } },
    body: null,
    isBase64Encoded: false
  }
}

function v2Event (path: string, cookies: string[] | undefined, method = 'GET') {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    ...(cookies === undefined || cookies.length === 0 ? {} : { cookies }),
    headers: { host: 'example.execute-api.us-east-1.amazonaws.com' },
    requestContext: { http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'jest' }, stage: '$default' },
    body: '',
    isBase64Encoded: false
  }
}

describe.each(EXPRESS_VERSIONS)('serverless-http wrapping %s', (_name, makeExpress: ExpressFactory) => {
  const big = randomBytes(3500).toString('base64')

  function lambda () {
    const app = makeExpress()
    app.use(arcSession(testOptions()))
    app.get('/count', (req, res) => {
      req.session.count = (req.session.count ?? 0) + 1
      res.json(req.session)
    })
    app.get('/big', (req, res) => {
      req.session.big = big
      res.json({ ok: true })
    })
    app.get('/read', (req, res) => { res.json(req.session) })
    app.get('/logout', async (req, res) => {
      await req.session.destroy()
      res.redirect('/count')
    })
    return serverless(app)
  }

  async function invoke (handler: ReturnType<typeof serverless>, event: object): Promise<LambdaResult> {
    return await handler(event, {}) as LambdaResult
  }

  /** API Gateway v1 returns Set-Cookie in multiValueHeaders (several) or headers (one). */
  function v1SetCookies (result: LambdaResult): string[] {
    return [...setCookiesIn(result.multiValueHeaders), ...setCookiesIn(result.headers)]
  }

  test.each(['cookie', 'Cookie'])('payload v1 with headers.%s: a counter round-trips', async header => {
    const handler = lambda()
    const jar = new CookieJar()
    const counts: unknown[] = []
    for (let i = 0; i < 3; i++) {
      const result = await invoke(handler, v1Event('/count', jar.header() === '' ? {} : { [header]: `other=1; ${jar.header()}` }))
      expect(result.statusCode).toBe(200)
      counts.push(JSON.parse(result.body).count)
      jar.store(v1SetCookies(result))
    }
    expect(counts).toEqual([1, 2, 3])
    expect(jar.names()).toEqual(['_idx'])
  })

  test('payload v1: an unchanged session sends no Set-Cookie; logout expires it on a redirect', async () => {
    const handler = lambda()
    const jar = new CookieJar()
    jar.store(v1SetCookies(await invoke(handler, v1Event('/count', {}))))
    const read = await invoke(handler, v1Event('/read', { cookie: jar.header() }))
    expect(JSON.parse(read.body)).toEqual({ count: 1 })
    expect(v1SetCookies(read)).toEqual([])

    const logout = await invoke(handler, v1Event('/logout', { cookie: jar.header() }))
    expect(logout.statusCode).toBe(302)
    const cookies = v1SetCookies(logout)
    expect(cookies.length).toBeGreaterThan(0)
    jar.store(cookies)
    expect(jar.names()).toEqual([])
  })

  test('payload v2: the cookies array in, the cookies array out', async () => {
    const handler = lambda()
    const jar = new CookieJar()
    const counts: unknown[] = []
    for (let i = 0; i < 3; i++) {
      const result = await invoke(handler, v2Event('/count', jar.list()))
      expect(result.statusCode).toBe(200)
      counts.push(JSON.parse(result.body).count)
      expect(Array.isArray(result.cookies)).toBe(true)
      jar.store(result.cookies ?? [])
    }
    expect(counts).toEqual([1, 2, 3])
  })

  test('payload v2: a session in several cookie chunks survives the round trip', async () => {
    const handler = lambda()
    const jar = new CookieJar()
    const written = await invoke(handler, v2Event('/big', undefined))
    expect((written.cookies ?? []).length).toBeGreaterThan(1)
    jar.store(written.cookies ?? [])
    const read = await invoke(handler, v2Event('/read', jar.list()))
    expect(JSON.parse(read.body)).toEqual({ big })
  })
})

describe.each(EXPRESS_VERSIONS)('cookie-parser mounted before arcSession on %s', (_name, makeExpress: ExpressFactory) => {
  test.each([
    ['with a secret (signed cookies)', 'cookie-parser-secret'],
    ['without a secret', undefined]
  ])('%s: both work side by side', async (_how, parserSecret) => {
    const app = makeExpress()
    app.use(parserSecret === undefined ? cookieParser() : cookieParser(parserSecret))
    app.use(arcSession(testOptions()))
    app.get('/set', (req, res) => {
      req.session.user = 'ada'
      res.cookie('plain', 'p')
      if (parserSecret !== undefined) res.cookie('signed', 's', { signed: true })
      res.send('ok')
    })
    app.get('/read', (req, res) => {
      res.json({ session: req.session, plain: req.cookies.plain, signed: req.signedCookies?.signed ?? null, idx: typeof req.cookies._idx })
    })
    const agent = request.agent(app)
    await agent.get('/set').expect(200)
    const read = await agent.get('/read').expect(200)
    expect(read.body).toEqual({ session: { user: 'ada' }, plain: 'p', signed: parserSecret === undefined ? null : 's', idx: 'string' })
  })
})
