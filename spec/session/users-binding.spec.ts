/**
 * Binding sessions to users, passport-style (`user: data => data.passport?.user`): sign-in
 * (regenerate, then passport.user) binds and the session is listed; sign-out (delete
 * passport.user, then regenerate, with or without passport's save() in between) unbinds, and a
 * copy of the signed-in cookie taken before it opens nothing (the cookie store revokes the old
 * identity; the DynamoDB store deletes the item); destroy() and `req.session = null` likewise;
 * a change of user moves the session from one user's list to the other's; a user key that stops
 * naming a user unbinds. And the ConfigErrors of the users options.
 */
import { ConfigError, arcSession } from 'arc-session'
import { MemoryRegistry } from '../../examples/memory-registry'
import { testOptions } from '../support/apps'
import { testClock } from '../support/clock'
import { configErrorOf } from '../support/config-error'
import { makeTable, newClient } from '../support/dynamo-helpers'
import { BACKENDS, Browser, CountingRegistry, backendOptions, makeServer, replay, type Backend, type Server, type Shared } from './users-support'

const WINDOW = 30

type Passport = { passport?: { user?: string } }
const passportUser = (data: Record<string, unknown>): unknown => (data as Passport).passport?.user

describe.each(BACKENDS)('%s', (backend: Backend) => {
  const cookieStore = backend !== 'DynamoDB store'
  let shared: Shared
  let clock: ReturnType<typeof testClock>
  let A: Server
  let B: Server

  function passportServer (): Server {
    return makeServer(backendOptions(backend, shared, { clock, revocationCheck: WINDOW, user: passportUser }), passportUser, app => {
      app.post('/passport/login/:user', async (req, res) => {
        await req.session.regenerate()
        req.session.passport = { user: req.params.user }
        res.json({ id: req.sessionID })
      })
      // passport 0.6+: delete the user, save, then regenerate; ?nosave skips the save.
      app.post('/passport/logout', async (req, res) => {
        delete (req.session as Passport).passport?.user
        if (req.query.nosave === undefined) await req.session.save()
        await req.session.regenerate()
        res.json({ user: passportUser(req.session) ?? null })
      })
      app.post('/passport/switch/:user', (req, res) => {
        req.session.passport = { user: req.params.user }
        res.json({ id: req.sessionID })
      })
      app.get('/passport/me', (req, res) => { res.json({ user: passportUser(req.session) ?? null, n: req.session.n ?? null }) })
      app.post('/destroy', async (req, res) => {
        await req.session.destroy()
        res.json({ user: null })
      })
      app.post('/null', (req, res) => {
        req.session = null
        res.json({ user: null })
      })
      app.post('/forget-user', (req, res) => {
        delete (req.session as Passport).passport
        req.session.keep = 'data'
        res.json({ user: null })
      })
    })
  }

  beforeEach(async () => {
    shared = { table: await makeTable('users-binding'), registry: new MemoryRegistry() }
    clock = testClock()
    A = passportServer()
    B = passportServer()
  })

  async function signIn (browser: Browser, server: Server, user: string): Promise<string> {
    const login = await browser.post(server, `/passport/login/${user}`)
    expect(login.status).toBe(200)
    expect(login.issued).toBe(true)
    const id = login.body.id as string
    expect((await browser.get(server, '/passport/me')).body.user).toBe(user)
    return id
  }

  const ids = async (server: Server, user: string): Promise<string[]> => (await server.sessions.listUserSessions(user)).map(session => session.id)

  it.each([['with save()', ''], ['without save()', '?nosave']])('passport login binds, logout %s unbinds, and the signed-in cookie opens nothing after it', async (_name, query) => {
    const browser = new Browser(clock)
    // An anonymous session first, as passport's login sees it.
    await browser.post(A, '/count')
    const id = await signIn(browser, A, 'ann')
    expect(await ids(A, 'ann')).toEqual([id])
    expect(await ids(B, 'ann')).toEqual([id])
    await browser.get(B, '/passport/me')          // B looks at ann's marks now
    const signedIn = browser.copy()

    const logout = await browser.post(A, `/passport/logout${query}`)
    expect(logout.status).toBe(200)
    expect(logout.body).toEqual({ user: null })
    expect((await browser.get(A, '/passport/me')).body.user).toBe(null)
    expect(await ids(A, 'ann')).toEqual([])
    expect(await ids(B, 'ann')).toEqual([])

    // The copy taken before the logout: at once on A; on B at once (DynamoDB) or past the window (cookie store).
    const onA = await replay(A, 'get', '/passport/me', signedIn)
    expect(onA.body.user).toBe(null)
    expect(onA.expired).toBe(true)
    if (!cookieStore) expect((await replay(B, 'get', '/passport/me', signedIn)).body.user).toBe(null)
    clock.advance(WINDOW + 1)
    expect((await replay(B, 'get', '/passport/me', signedIn)).body.user).toBe(null)
    expect((await replay(A, 'get', '/passport/me', signedIn)).body.user).toBe(null)
    expect(JSON.parse(JSON.stringify(await B.sessions.read({ headers: { cookie: signedIn } })))).toEqual({})

    // Signing in again works, as a new session.
    const again = await signIn(browser, B, 'ann')
    expect(again).not.toBe(id)
    expect(await ids(A, 'ann')).toEqual([again])
  })

  it.each(['/destroy', '/null'])('%s of a bound session unbinds it, and a copy of its cookie opens nothing', async path => {
    const browser = new Browser(clock)
    const id = await signIn(browser, A, 'ann')
    const other = new Browser(clock)
    const otherId = await signIn(other, B, 'ann')
    await browser.get(B, '/passport/me')
    const copy = browser.copy()
    const ended = await browser.post(A, path)
    expect(ended.status).toBe(200)
    expect(ended.expired).toBe(true)
    expect(await ids(B, 'ann')).toEqual([otherId])
    expect((await replay(A, 'get', '/passport/me', copy)).body.user).toBe(null)
    clock.advance(WINDOW + 1)
    expect((await replay(B, 'get', '/passport/me', copy)).body.user).toBe(null)
    expect((await other.get(A, '/passport/me')).body.user).toBe('ann')
    expect(id).not.toBe(otherId)
  })

  it('a change of user moves the session from one list to the other', async () => {
    const browser = new Browser(clock)
    const id = await signIn(browser, A, 'ann')
    expect(await ids(B, 'ann')).toEqual([id])
    clock.advance(5)
    const switched = await browser.post(B, '/passport/switch/bob')
    expect(switched.body.id).toBe(id)
    expect(await ids(A, 'ann')).toEqual([])
    expect(await ids(A, 'bob')).toEqual([id])
    const listed = await B.sessions.listUserSessions('bob', id)
    expect(listed).toHaveLength(1)
    expect(listed[0]!.current).toBe(true)
    expect(listed[0]!.lastSeenAt.getTime()).toBe(clock.seconds * 1000)
    // Still a working session, as bob, on both servers, past the window.
    clock.advance(WINDOW + 1)
    for (const server of [A, B]) expect((await browser.get(server, '/passport/me')).body.user).toBe('bob')
    // Ending ann's sessions does not touch it; ending bob's does.
    expect(await A.sessions.revokeUserSessions('ann')).toBe(0)
    expect((await browser.get(A, '/passport/me')).body.user).toBe('bob')
    expect(await A.sessions.revokeUserSessions('bob')).toBe(1)
    clock.advance(1)
    expect((await browser.get(A, '/passport/me')).body.user).toBe(null)
  })

  it('data that stops naming a user unbinds the session; the rest of the session lives on', async () => {
    const browser = new Browser(clock)
    const id = await signIn(browser, A, 'ann')
    const unbound = await browser.post(B, '/forget-user')
    expect(unbound.status).toBe(200)
    expect(await ids(A, 'ann')).toEqual([])
    const after = await browser.get(A, '/count')
    expect(after.body).toEqual({ user: null, n: 1 })
    // Bound again later: listed again, under the same id.
    const again = await browser.post(A, '/passport/switch/ann')
    expect(again.body.id).toBe(id)
    expect(await ids(B, 'ann')).toEqual([id])
  })
})

describe('cookie store: many sign-outs of one user', () => {
  // Each sign-out (regenerate) adds the old session's id to the user's marks, which keep the newest
  // 500 (MAX_REVOKED_IDS). A user who signs in and out 600 times in a few hours (a script, a
  // kiosk, a test account) must not see the first signed-out cookie work again.
  it('a cookie copied before the first of 600 sign-outs still opens nothing', async () => {
    const clock = testClock()
    const server = makeServer(backendOptions('cookie store + MemoryRegistry', { table: 'unused', registry: new MemoryRegistry() }, { clock, revocationCheck: WINDOW }))
    const browser = new Browser(clock)
    await browser.post(server, '/login/ann')
    const first = browser.copy()
    expect((await browser.post(server, '/logout')).status).toBe(200)
    expect((await replay(server, 'get', '/me', first)).body).toEqual({ user: null })
    // The rest through the functional API (the same engine, faster than HTTP): sign in, sign out.
    const { sessions } = server
    for (let index = 1; index < 600; index++) {
      clock.advance(10)
      const blank = await sessions.read({ headers: {} })
      blank.userId = 'ann'
      const cookie = await sessions.write(blank)
      const signedIn = await sessions.read({ headers: { cookie: cookie.split(';')[0] } })
      expect(signedIn.userId).toBe('ann')
      await sessions.destroy(signedIn)
    }
    expect((await replay(server, 'get', '/me', first)).body).toEqual({ user: null })
  }, 60_000)
})

describe('user ids', () => {
  it('a number names a user as its string; an object is refused with a SessionDataError', async () => {
    const clock = testClock()
    const registry = new MemoryRegistry()
    const server = makeServer(testOptions({ clock, user: (data: Record<string, unknown>) => data.account, registry }), data => data.account, app => {
      app.post('/as/:kind', (req, res) => {
        req.session.account = req.params.kind === 'number' ? 42 : { id: 42 }
        res.json({ id: req.sessionID })
      })
    })
    const browser = new Browser(clock)
    const id = (await browser.post(server, '/as/number')).body.id as string
    expect((await server.sessions.listUserSessions(42)).map(session => session.id)).toEqual([id])
    expect((await server.sessions.listUserSessions('42')).map(session => session.id)).toEqual([id])
    const refused = await new Browser(clock).post(server, '/as/object')
    expect(refused.status).toBe(500)
    expect(refused.body).toMatchObject({ error: 'SessionDataError', code: 'ARC_SESSION_DATA' })
    expect(refused.issued).toBe(false)
  })

  it('the user methods need options.user, and a user id', async () => {
    const sessions = arcSession(testOptions())
    await expect(sessions.listUserSessions('ann')).rejects.toThrow(/options\.user/)
    await expect(sessions.revokeSession('ann', 'x')).rejects.toThrow(/options\.user/)
    await expect(sessions.revokeUserSessions('ann')).rejects.toThrow(/options\.user/)
    const bound = arcSession(testOptions({ user: 'userId', registry: new MemoryRegistry() }))
    await expect(bound.listUserSessions('' as string)).rejects.toBeInstanceOf(TypeError)
    await expect(bound.listUserSessions(undefined as unknown as string)).rejects.toBeInstanceOf(TypeError)
    await expect(bound.revokeSession('ann', '')).rejects.toBeInstanceOf(TypeError)
  })
})

describe('ConfigErrors', () => {
  let table: string
  beforeAll(async () => { table = await makeTable('users-config') })

  it('registry (and the other users settings) without user', () => {
    for (const [setting, value] of [['registry', new MemoryRegistry()], ['registry', 'sessions'], ['revocationCheck', 30], ['registryFailure', 'open'], ['device', () => 'x']] as const) {
      const error = configErrorOf(testOptions({ [setting]: value }))
      expect(error.setting).toBe(`options.${setting}`)
      expect(error.message).toMatch(/options\.user/)
    }
  })

  it('user of a wrong type', () => {
    for (const user of [42, '', true, {}, ['userId'], null]) {
      const error = configErrorOf(testOptions({ user: user as never, registry: new MemoryRegistry() }))
      expect(error.setting).toBe('options.user')
    }
  })

  it('registry on the DynamoDB store', () => {
    for (const registry of ['sessions', new MemoryRegistry()]) {
      const error = configErrorOf(testOptions({ table, dynamodb: { client: newClient() }, user: 'userId', registry }))
      expect(error.setting).toBe('options.registry')
      expect(error.message).toMatch(/cookie store/)
    }
    // Without it, fine.
    expect(() => arcSession(testOptions({ table, dynamodb: { client: newClient() }, user: 'userId' }))).not.toThrow()
  })

  it('the cookie store: user without registry, and a registry that is not one', () => {
    const missing = configErrorOf(testOptions({ user: 'userId' }))
    expect(missing).toBeInstanceOf(ConfigError)
    expect(missing.setting).toBe('options.registry')
    expect(missing.message).toMatch(/options\.registry/)
    const partial = configErrorOf(testOptions({ user: 'userId', registry: { record () {}, list () { return [] } } as never }))
    expect(partial.setting).toBe('options.registry')
    expect(partial.message).toMatch(/forget.*revoke.*revocations/)
    expect(configErrorOf(testOptions({ user: 'userId', registry: 'no spaces allowed' })).setting).toBe('options.registry')
    expect(configErrorOf(testOptions({ user: 'userId', registry: 42 as never })).setting).toBe('options.registry')
    // A counting wrapper is a registry like any other.
    expect(() => arcSession(testOptions({ user: 'userId', registry: new CountingRegistry() }))).not.toThrow()
  })

  it('revocationCheck, registryFailure and device of a wrong kind', () => {
    const registry = new MemoryRegistry()
    expect(configErrorOf(testOptions({ user: 'userId', registry, revocationCheck: -1 })).setting).toBe('options.revocationCheck')
    expect(configErrorOf(testOptions({ user: 'userId', registry, revocationCheck: 'soon' as never })).setting).toBe('options.revocationCheck')
    expect(configErrorOf(testOptions({ user: 'userId', registry, revocationCheck: 1.5 })).setting).toBe('options.revocationCheck')
    expect(configErrorOf(testOptions({ user: 'userId', registry, registryFailure: 'sometimes' as never })).setting).toBe('options.registryFailure')
    expect(configErrorOf(testOptions({ user: 'userId', registry, device: 'user-agent' as never })).setting).toBe('options.device')
    expect(() => arcSession(testOptions({ user: 'userId', registry, revocationCheck: 0, registryFailure: 'open' }))).not.toThrow()
  })
})
