import type { AddressInfo } from 'node:net'
import request from 'supertest'
import { createTable, read } from 'arc-session'

/** The README's newer examples do what the README says they do. (require, not import(): jest runs CommonJS.) */

function setCookies (response: { headers: Record<string, unknown> }): string[] {
  const header = response.headers['set-cookie'] as unknown
  return Array.isArray(header) ? header as string[] : typeof header === 'string' ? [header] : []
}

const pairOf = (setCookie: string): string => setCookie.split(';')[0] as string

function withDynamo (): void {
  const saved = process.env.AWS_ENDPOINT_URL_DYNAMODB
  beforeAll(() => { process.env.AWS_ENDPOINT_URL_DYNAMODB = process.env.DYNAMODB_TEST_ENDPOINT })
  afterAll(() => {
    if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_DYNAMODB
    else process.env.AWS_ENDPOINT_URL_DYNAMODB = saved
  })
}

describe('signing in and out', () => {
  it('regenerates into an empty session, keeps only what the route carries over, and returns where the visitor was going', async () => {
    const { app } = require('./login') as typeof import('./login')
    // A visitor who was sent to the login page from /cart, with something else in the anonymous session.
    app.get('/start', (req, res) => { req.session.returnTo = '/cart'; req.session.draft = 'before sign-in'; res.send('ok') })
    const agent = request.agent(app)
    await agent.get('/start').expect(200)
    const login = await agent.post('/login').type('form').send({ name: 'ann' }).expect(303)
    expect(login.headers.location).toBe('/cart')
    const session = await read({ headers: { cookie: pairOf(setCookies(login)[0] as string) } })
    expect(JSON.parse(JSON.stringify(session))).toEqual({ name: 'ann' })
  })
})

describe('remember me', () => {
  it('gives a remembered session 30 days on every later cookie, and a browser-session cookie otherwise', async () => {
    const { app } = require('./remember-me') as typeof import('./remember-me')
    const remembered = await request(app).post('/login').type('form').send({ name: 'ann', remember: 'on' })
    expect(setCookies(remembered)[0]).toMatch(/; Max-Age=2592000;/)
    const forgotten = await request(app).post('/login').type('form').send({ name: 'bob' })
    expect(setCookies(forgotten)[0]).not.toMatch(/Max-Age|Expires/)
    // A later write of the remembered session keeps its own lifetime.
    const again = await request(app).post('/login').set('Cookie', pairOf(setCookies(remembered)[0] as string)).type('form').send({ name: 'ann', remember: 'on' })
    expect(setCookies(again)[0]).toMatch(/; Max-Age=2592000;/)
  })
})

describe('plain node:http', () => {
  it('counts visits through the middleware called with a callback', async () => {
    const { server } = require('./node-http') as typeof import('./node-http')
    const agent = request.agent(server)
    expect((await agent.get('/')).text).toBe('visit #1')
    expect((await agent.get('/')).text).toBe('visit #2')
  })
})

describe('an arc.http-style handler', () => {
  withDynamo()
  it('counts visits, and { session: {} } deletes the stored session so a copied cookie opens nothing', async () => {
    process.env.ARC_SESSION_TABLE_NAME = 'readme-arc-handler'
    process.env.ARC_APP_SECRET = 'readme-arc-handler-secret-0123456789abcdef'
    try {
      await createTable('readme-arc-handler')
      const { handler, signOut } = require('./arc-handler') as typeof import('./arc-handler')
      const first = await handler({ cookies: [] })
      const cookie = pairOf(first.cookies[0] as string)
      const second = await handler({ cookies: [cookie] })
      expect(JSON.parse(JSON.stringify(await read({ cookies: [pairOf(second.cookies[0] as string)] })))).toEqual({ visits: 2 })

      const out = await handler({ cookies: [cookie], rawPath: '/logout' })
      expect(out.cookies[0]).toMatch(/^_idx=; Max-Age=0;/)
      expect(JSON.parse(JSON.stringify(await read({ cookies: [cookie] })))).toEqual({})

      const other = pairOf((await handler({ cookies: [] })).cookies[0] as string)
      expect((await signOut({ cookies: [other] })).cookies[0]).toMatch(/^_idx=; Max-Age=0;/)
      expect(JSON.parse(JSON.stringify(await read({ cookies: [other] })))).toEqual({})
    } finally {
      delete process.env.ARC_SESSION_TABLE_NAME
      delete process.env.ARC_APP_SECRET
    }
  })
})

describe('users and devices', () => {
  withDynamo()
  it('lists the three sessions of a user, signs one out, then every one but this', async () => {
    await createTable('sessions')
    const { app } = require('./devices') as typeof import('./devices')
    app.post('/login', (req, res) => { req.session.userId = 'ann'; res.send(req.sessionID) })
    app.get('/me', (req, res) => { res.json({ user: req.session.userId ?? null }) })
    const devices = [request.agent(app), request.agent(app), request.agent(app)]
    const ids: string[] = []
    for (const [index, device] of devices.entries()) ids.push((await device.post('/login').set('User-Agent', `device ${index}`)).text)

    const listed = (await devices[0]!.get('/account/devices')).body as Array<{ id: string, current: boolean, device: string }>
    expect(listed.map(session => session.id).sort()).toEqual([...ids].sort())
    expect(listed.find(session => session.current)?.id).toBe(ids[0])
    expect(listed.find(session => session.id === ids[1])?.device).toBe('device 1')

    await devices[0]!.post(`/account/devices/${ids[1]}/sign-out`).expect(303)
    expect((await devices[1]!.get('/me')).body).toEqual({ user: null })
    await devices[0]!.post('/account/sign-out-everywhere-else').expect(303)
    expect((await devices[2]!.get('/me')).body).toEqual({ user: null })
    expect((await devices[0]!.get('/me')).body).toEqual({ user: 'ann' })
  })
})

describe('ready()', () => {
  withDynamo()
  it('starts once the table is there, and says how to create it when it is not', async () => {
    const { start } = require('./ready') as typeof import('./ready')
    await expect(start('readme-ready', 0)).rejects.toThrow(/create-table readme-ready/)
    await createTable('readme-ready')
    const server = await start('readme-ready', 0)
    try {
      const { port } = server.address() as AddressInfo
      await request(`http://127.0.0.1:${port}`).get('/health').expect(200, 'ok')
    } finally {
      server.close()
    }
  })
})
