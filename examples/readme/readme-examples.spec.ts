import request from 'supertest'
import { arcSession, read } from 'arc-session'

/** The README's examples do what the README says they do. (require, not import(): jest runs CommonJS.) */

/** The data alone: read() results also carry their identity under a symbol, which toEqual would compare. */
function dataOf (session: object): unknown {
  return JSON.parse(JSON.stringify(session))
}

function cookiePair (setCookie: string): string {
  return setCookie.split(';')[0] as string
}

function setCookies (response: request.Response): string[] {
  const header = response.headers['set-cookie'] as unknown
  return Array.isArray(header) ? header as string[] : typeof header === 'string' ? [header] : []
}

describe('quick start', () => {
  it('counts visits in the session', async () => {
    const { app } = require('./quick-start') as typeof import('./quick-start')
    const agent = request.agent(app)
    expect((await agent.get('/')).text).toBe('hello unknown #1')
    expect((await agent.get('/')).text).toBe('hello unknown #2')
    expect((await request(app).get('/')).text).toBe('hello unknown #1')
  })
})

describe('typed session data', () => {
  it('keeps the cart across requests', async () => {
    const { app } = require('./typed-data') as typeof import('./typed-data')
    const agent = request.agent(app)
    await agent.post('/cart/tea')
    const response = await agent.post('/cart/cake')
    expect(response.body).toEqual([{ sku: 'tea', quantity: 1 }, { sku: 'cake', quantity: 1 }])
  })
})

describe('login and logout', () => {
  it('regenerates at login and expires the cookie at logout', async () => {
    const { app } = require('./login') as typeof import('./login')
    const login = await request(app).post('/login').type('form').send({ name: 'ann' })
    expect(login.status).toBe(303)
    const cookie = cookiePair(setCookies(login)[0] as string)
    expect(await read({ headers: { cookie } })).toEqual(expect.objectContaining({ name: 'ann' }))

    const logout = await request(app).post('/logout').set('Cookie', cookie)
    expect(setCookies(logout)).toEqual([expect.stringMatching(/^_idx=; Max-Age=0;/)])
  })
})

describe('functional API', () => {
  it('counts across calls when the cookie is fed back, in both forms', async () => {
    const { handler, handlerWithCallbacks } = require('./functional') as typeof import('./functional')
    const first = await handler({})
    expect(first.body).toBe('#1')
    const cookie = cookiePair(first.headers['set-cookie'])
    const second = await handler({ headers: { cookie } })
    expect(second.body).toBe('#2')
    const fromV2 = await handler({ cookies: [cookiePair(second.headers['set-cookie'])] })
    expect(fromV2.body).toBe('#3')

    const viaCallbacks = await new Promise<string>((resolve, reject) => {
      handlerWithCallbacks({ headers: { Cookie: cookie } }, (error, setCookie) => { error ? reject(error) : resolve(setCookie as string) })
    })
    expect(await read({ headers: { cookie: cookiePair(viaCallbacks) } })).toEqual(expect.objectContaining({ count: 2 }))
  })
})

describe('DynamoDB', () => {
  const saved = process.env.AWS_ENDPOINT_URL_DYNAMODB
  beforeAll(() => { process.env.AWS_ENDPOINT_URL_DYNAMODB = process.env.DYNAMODB_TEST_ENDPOINT })
  afterAll(() => {
    if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_DYNAMODB
    else process.env.AWS_ENDPOINT_URL_DYNAMODB = saved
  })

  it('creates the table and keeps the count in it', async () => {
    const { createApp } = require('./dynamodb') as typeof import('./dynamodb')
    const app = await createApp()
    const agent = request.agent(app)
    const first = await agent.get('/')
    expect(first.text).toBe('#1')
    expect(setCookies(first)[0]).toMatch(/^_idx=[\w-]{24}\.[\w%]+;/)
    expect((await agent.get('/')).text).toBe('#2')
  })
})

describe('key rotation', () => {
  it('opens sessions sealed with the previous secret and re-issues them with the current one', async () => {
    process.env.SESSION_SECRET_2026 = 'new-secret-new-secret-new-secret-1'
    process.env.SESSION_SECRET_2025 = 'old-secret-old-secret-old-secret-1'
    const { sessions } = require('./rotation') as typeof import('./rotation')
    const before = arcSession({ secret: process.env.SESSION_SECRET_2025, env: {} })
    const oldCookie = cookiePair(await before.write({ user: 'ann' }))

    const session = await sessions.read({ headers: { cookie: oldCookie } })
    expect(dataOf(session)).toEqual({ user: 'ann' })
    const reissued = cookiePair(await sessions.write(session))
    expect(dataOf(await before.read({ headers: { cookie: reissued } }))).toEqual({})
    expect(dataOf(await sessions.read({ headers: { cookie: reissued } }))).toEqual({ user: 'ann' })
  })
})

describe('lifetimes', () => {
  it('puts the idle lifetime, SameSite and Domain on the cookie', async () => {
    const { sessions } = require('./lifetimes') as typeof import('./lifetimes')
    const cookie = await sessions.write({ user: 'ann' })
    expect(cookie).toMatch(/; Max-Age=1800;/)
    expect(cookie).toMatch(/; Domain=example\.com/)
    expect(cookie).toMatch(/; SameSite=Strict$/)
  })
})

describe('errors you can act on', () => {
  it('answers 413 with the error code when the session outgrows the cookie cap, and counts refused cookies', async () => {
    const { app, rejectedCookies } = require('./errors') as typeof import('./errors')
    const agent = request.agent(app)
    let status = 204
    for (let i = 0; i < 40 && status === 204; i++) {
      const response = await agent.post('/notes').send({ note: `${i} ${'x'.repeat(1000)}` })
      status = response.status
      if (status === 413) expect(response.body).toEqual({ error: 'ARC_SESSION_TOO_LARGE' })
    }
    expect(status).toBe(413)

    await request(app).post('/notes').set('Cookie', '_idx=not-a-token').send({ note: 'x' })
    expect(rejectedCookies.get('malformed')).toBe(1)
  })
})
