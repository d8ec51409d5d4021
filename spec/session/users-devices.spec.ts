/**
 * Users and devices across servers: two arcSession() middlewares (two "servers") sharing the
 * DynamoDB table, or, for the cookie store, one registry (a MemoryRegistry object, or a DynamoDB
 * registry table). A user signs in on three devices; listUserSessions() lists them, most recently
 * seen first, with `current`; revokeSession() ends one; revokeUserSessions({ except }) ends the
 * others. The revoked devices get anonymous pages and an expired cookie: at once on the server
 * that revoked (and on every server with DynamoDB), within revocationCheck seconds on the other
 * server of the cookie store. A copied cookie of a revoked session opens nothing, through the
 * middleware, read() and reload(), and a request that loaded it before the revocation never
 * saves it back.
 */
import { MemoryRegistry } from '../../examples/memory-registry'
import { testClock } from '../support/clock'
import { countingClient, makeTable } from '../support/dynamo-helpers'
import { BACKENDS, Browser, backendOptions, makeServer, replay, type Backend, type Server, type Shared } from './users-support'

const WINDOW = 30
const WEEK = 7 * 24 * 60 * 60

interface Listed {
  id: string
  createdAt: string
  lastSeenAt: string
  expiresAt: string
  current: boolean
  device?: string
}

/** A read() result's data, without the session's own symbol. */
const plain = (session: object): unknown => JSON.parse(JSON.stringify(session))

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString()

describe.each(BACKENDS)('%s', (backend: Backend) => {
  const cookieStore = backend !== 'DynamoDB store'
  let shared: Shared
  let clock: ReturnType<typeof testClock>
  let A: Server
  let B: Server

  beforeEach(async () => {
    shared = { table: await makeTable('users-devices'), registry: new MemoryRegistry() }
    clock = testClock()
    A = makeServer(backendOptions(backend, shared, { clock, revocationCheck: WINDOW }))
    B = makeServer(backendOptions(backend, shared, { clock, revocationCheck: WINDOW }))
  })

  /** Three devices sign in as ann, on A, B and A, a second apart; each then visits both servers. */
  async function threeDevices (): Promise<{ browsers: Browser[], ids: string[], at: number[] }> {
    const browsers = [0, 1, 2].map(index => new Browser(clock, `device ${index}`))
    const ids: string[] = []
    const at: number[] = []
    for (const [index, server] of [A, B, A].entries()) {
      at.push(clock.seconds)
      const login = await browsers[index]!.post(server, '/login/ann')
      expect(login.status).toBe(200)
      expect(login.issued).toBe(true)
      ids.push(login.body.id as string)
      clock.advance(1)
    }
    expect(new Set(ids).size).toBe(3)
    // Both servers now know these sessions (and, on the cookie store, have looked at ann's marks).
    for (const browser of browsers) {
      for (const server of [A, B]) expect((await browser.get(server, '/me')).body).toEqual({ user: 'ann' })
    }
    return { browsers, ids, at }
  }

  it('lists three sessions with the right `current`, ends one, then all but the current one', async () => {
    const { browsers, ids, at } = await threeDevices()

    // Listed from either server, most recently seen first, the asking device marked.
    for (const [index, server] of [[0, B], [1, A], [2, B]] as const) {
      const listed = (await browsers[index]!.get(server, '/devices')).body as unknown as Listed[]
      expect(listed.map(session => session.id)).toEqual([ids[2], ids[1], ids[0]])
      expect(listed.map(session => session.current)).toEqual([index === 2, index === 1, index === 0])
      expect(listed.map(session => session.createdAt)).toEqual([iso(at[2]!), iso(at[1]!), iso(at[0]!)])
      expect(listed.map(session => session.lastSeenAt)).toEqual([iso(at[2]!), iso(at[1]!), iso(at[0]!)])
      expect(listed.map(session => session.expiresAt)).toEqual([iso(at[2]! + WEEK), iso(at[1]! + WEEK), iso(at[0]! + WEEK)])
      for (const session of listed) expect(session).not.toHaveProperty('device')
    }
    // Called directly: Dates; `current` from a session id, or nothing.
    const direct = await A.sessions.listUserSessions('ann', ids[1])
    expect(direct.map(session => session.current)).toEqual([false, true, false])
    expect(direct[0]!.createdAt).toBeInstanceOf(Date)
    expect(direct[0]!.createdAt.getTime()).toBe(at[2]! * 1000)
    expect((await B.sessions.listUserSessions('ann')).every(session => !session.current)).toBe(true)
    expect(await B.sessions.listUserSessions('nobody')).toEqual([])

    // revokeSession on A ends device 1.
    const copy1 = browsers[1]!.copy()
    expect(await A.sessions.revokeSession('ann', ids[1]!)).toBe(true)
    expect(await A.sessions.revokeSession('ann', 'no-such-session-id-000000')).toBe(false)
    expect(await A.sessions.revokeSession('someone-else', ids[0]!)).toBe(false)
    // At once on the server that revoked: anonymous, the cookie expired.
    const onA = await replay(A, 'get', '/me', copy1)
    expect(onA.body).toEqual({ user: null })
    expect(onA.expired).toBe(true)
    expect(onA.issued).toBe(false)
    // On the other server: at once with DynamoDB; the cookie store may still accept it within the window.
    const early = await replay(B, 'get', '/me', copy1)
    expect(early.status).toBe(200)
    if (!cookieStore) expect(early.body).toEqual({ user: null })
    clock.advance(WINDOW + 1)
    const late = await browsers[1]!.get(B, '/me')
    expect(late.body).toEqual({ user: null })
    expect(late.expired).toBe(true)
    expect(browsers[1]!.copy()).toBe('')
    // ...and stays so everywhere.
    expect((await replay(A, 'get', '/me', copy1)).body).toEqual({ user: null })
    expect((await replay(B, 'get', '/count', copy1)).body).toEqual({ user: null, n: 1 })

    expect((await A.sessions.listUserSessions('ann')).map(session => session.id)).toEqual([ids[2], ids[0]])

    // revokeUserSessions on B: all but device 0.
    const copy2 = browsers[2]!.copy()
    expect(await B.sessions.revokeUserSessions('ann', { except: ids[0] })).toBe(1)
    const onB = await replay(B, 'get', '/me', copy2)
    expect(onB.body).toEqual({ user: null })
    expect(onB.expired).toBe(true)
    const earlyA = await replay(A, 'get', '/me', copy2)
    expect(earlyA.status).toBe(200)
    if (!cookieStore) expect(earlyA.body).toEqual({ user: null })
    expect((await browsers[0]!.get(A, '/me')).body).toEqual({ user: 'ann' })
    clock.advance(WINDOW + 1)
    const lateA = await browsers[2]!.get(A, '/me')
    expect(lateA.body).toEqual({ user: null })
    expect(lateA.expired).toBe(true)
    // The current device keeps working on both servers, past the window too.
    for (const server of [A, B]) {
      const kept = await browsers[0]!.get(server, '/count')
      expect(kept.status).toBe(200)
      expect(kept.body.user).toBe('ann')
      expect(kept.expired).toBe(false)
    }
    const left = (await browsers[0]!.get(B, '/devices')).body as unknown as Listed[]
    expect(left.map(session => [session.id, session.current])).toEqual([[ids[0], true]])
    expect(await A.sessions.revokeUserSessions('ann', { except: ids[0] })).toBe(0)
  })

  it('a copied cookie of a revoked session opens nothing in read(), on either server', async () => {
    const { browsers, ids } = await threeDevices()
    const copy = browsers[1]!.copy()
    expect(plain(await A.sessions.read({ headers: { cookie: copy } }))).toEqual({ userId: 'ann' })
    expect(plain(await B.sessions.read({ headers: { cookie: copy } }))).toEqual({ userId: 'ann' })

    expect(await A.sessions.revokeSession('ann', ids[1]!)).toBe(true)
    expect(plain(await A.sessions.read({ headers: { cookie: copy } }))).toEqual({})
    const early = plain(await B.sessions.read({ headers: { cookie: copy } }))
    if (!cookieStore) expect(early).toEqual({})
    clock.advance(WINDOW + 1)
    expect(plain(await B.sessions.read({ headers: { cookie: copy } }))).toEqual({})
    expect(plain(await A.sessions.read({ headers: { cookie: copy } }))).toEqual({})
    // The others are untouched.
    expect(plain(await B.sessions.read({ headers: { cookie: browsers[0]!.copy() } }))).toEqual({ userId: 'ann' })
    expect(plain(await A.sessions.read({ headers: { cookie: browsers[2]!.copy() } }))).toEqual({ userId: 'ann' })
  })

  it('reload() of a session revoked while the request ran finds nothing (the revoking server at once, the other past the window)', async () => {
    const { browsers, ids } = await threeDevices()
    // On the server that revokes.
    const pending = browsers[0]!.get(A, '/held-reload')
    await A.holding()
    expect(await A.sessions.revokeSession('ann', ids[0]!)).toBe(true)
    A.release()
    const reloaded = await pending
    expect(reloaded.body).toEqual({ before: 'ann', after: null })
    expect(reloaded.issued).toBe(false)

    // On the other server: the revocation reaches it within the window.
    const other = browsers[1]!.get(B, '/held-reload')
    await B.holding()
    expect(await A.sessions.revokeSession('ann', ids[1]!)).toBe(true)
    clock.advance(WINDOW + 1)
    B.release()
    const late = await other
    expect(late.body).toEqual({ before: 'ann', after: null })
    expect(late.issued).toBe(false)
  })

  it('a request that loaded the session before it was revoked does not save it back', async () => {
    const { browsers, ids } = await threeDevices()
    // Revoked on the same server while the request ran: never re-issued.
    const copy0 = browsers[0]!.copy()
    const pending = browsers[0]!.post(A, '/held-write')
    await A.holding()
    expect(await A.sessions.revokeSession('ann', ids[0]!)).toBe(true)
    A.release()
    const written = await pending
    expect(written.status).toBe(200)
    expect(written.body).toEqual({ user: 'ann' })
    expect(written.issued).toBe(false)
    expect(written.expired).toBe(true)
    expect((await replay(A, 'get', '/me', copy0)).body).toEqual({ user: null })

    // Revoked on A while B ran it: whatever B answered, that cookie opens nothing past the window.
    const other = browsers[1]!.post(B, '/held-write')
    await B.holding()
    expect(await A.sessions.revokeSession('ann', ids[1]!)).toBe(true)
    B.release()
    const late = await other
    expect(late.status).toBe(200)
    if (!cookieStore) expect(late.issued).toBe(false)
    clock.advance(WINDOW + 1)
    for (const server of [A, B]) expect((await replay(server, 'get', '/me', browsers[1]!.copy())).body).toEqual({ user: null })
    expect((await A.sessions.listUserSessions('ann')).map(session => session.id)).toEqual([ids[2]])
  })

  it('revokeUserSessions() without except ends every session; a sign-in in the same request (a password reset) keeps working', async () => {
    const { browsers, ids } = await threeDevices()
    // A password reset: end every session of the user, then sign this browser in afresh.
    A.app.post('/reset', async (req, res) => {
      const ended = await A.sessions.revokeUserSessions('ann')
      await req.session.regenerate()
      req.session.userId = 'ann'
      res.json({ ended, id: req.sessionID })
    })
    // Express runs routes in order: the error handler was added before /reset, which is fine for a route that does not fail.
    const reset = await browsers[0]!.post(A, '/reset')
    expect(reset.status).toBe(200)
    expect(reset.body.ended).toBe(3)
    expect(reset.issued).toBe(true)
    expect(ids).not.toContain(reset.body.id)
    expect((await browsers[0]!.get(A, '/me')).body).toEqual({ user: 'ann' })
    expect((await A.sessions.listUserSessions('ann')).map(session => session.id)).toEqual([reset.body.id])
    clock.advance(WINDOW + 1)
    expect((await browsers[0]!.get(B, '/me')).body).toEqual({ user: 'ann' })
    for (const browser of browsers.slice(1)) expect((await browser.get(B, '/me')).body).toEqual({ user: null })
  })

  it('an anonymous session older than a revokeUserSessions() can still sign in (bound after the revocation)', async () => {
    // A visitor browses anonymously (a cart), ann signs out everywhere from another device, then
    // the visitor signs in as ann without regenerate() (`req.session.userId = ...`, as the README's
    // devices example does): that session was not ann's when her sessions were ended.
    const visitor = new Browser(clock, 'visitor')
    expect((await visitor.get(A, '/count')).body).toEqual({ user: null, n: 1 })
    clock.advance(5)
    const { browsers, ids } = await threeDevices()
    expect(await B.sessions.revokeUserSessions('ann', { except: ids[0] })).toBe(2)
    clock.advance(5)
    // On the server that ended ann's sessions (it knows her marks at once).
    const login = await visitor.post(B, '/login/ann')
    expect(login.status).toBe(200)
    expect(login.issued).toBe(true)
    expect((await visitor.get(A, '/count')).body).toEqual({ user: 'ann', n: 2 })
    clock.advance(WINDOW + 1)
    for (const server of [A, B]) expect((await visitor.get(server, '/me')).body).toEqual({ user: 'ann' })
    expect((await browsers[0]!.get(A, '/me')).body).toEqual({ user: 'ann' })
  })

  it('...and on a server that had not yet heard of the revocation, it is not signed out a window later', async () => {
    const visitor = new Browser(clock, 'visitor')
    await visitor.get(A, '/count')
    clock.advance(5)
    const { ids } = await threeDevices()
    expect(await B.sessions.revokeUserSessions('ann', { except: ids[0] })).toBe(2)
    clock.advance(5)
    expect((await visitor.post(A, '/login/ann')).issued).toBe(true)
    expect((await visitor.get(A, '/me')).body).toEqual({ user: 'ann' })
    clock.advance(WINDOW + 1)
    expect((await visitor.get(A, '/me')).body).toEqual({ user: 'ann' })
  })

  it('revokeUserSessions() ends a session signed in earlier in the same second', async () => {
    // The other side of the password-reset case: a device (say, the thief's) signs in, and within
    // the same second ann signs out everywhere else. That device is listed, so it is ended.
    const { browsers, ids } = await threeDevices()
    const thief = new Browser(clock, 'thief')
    const thiefId = (await thief.post(B, '/login/ann')).body.id as string
    expect((await A.sessions.listUserSessions('ann')).map(session => session.id)).toContain(thiefId)
    expect(await A.sessions.revokeUserSessions('ann', { except: ids[0] })).toBe(3)
    expect((await A.sessions.listUserSessions('ann')).map(session => session.id)).toEqual([ids[0]])
    expect((await thief.get(A, '/me')).body).toEqual({ user: null })
    clock.advance(WINDOW + 1)
    expect((await replay(B, 'get', '/me', thief.copy())).body).toEqual({ user: null })
    expect((await browsers[0]!.get(B, '/me')).body).toEqual({ user: 'ann' })
  })

  it('a sign-in a second after revokeUserSessions() keeps working (the control for the same-second case)', async () => {
    await threeDevices()
    expect(await A.sessions.revokeUserSessions('ann')).toBe(3)
    clock.advance(1)
    const fresh = new Browser(clock, 'fresh')
    const login = await fresh.post(A, '/login/ann')
    expect(login.issued).toBe(true)
    expect((await fresh.get(A, '/me')).body).toEqual({ user: 'ann' })
    clock.advance(WINDOW + 1)
    expect((await fresh.get(B, '/me')).body).toEqual({ user: 'ann' })
  })
})

describe('cookie store: the revocation bound holds on a server whose own sign-out refreshed its view', () => {
  // Server A looked at ann's marks at t0. At t0+10, B revokes session X. At t0+20 another of
  // ann's devices signs out on A (regenerate(): A adds that revocation to what it knows). By
  // t0+10+WINDOW+1, A must refuse X: "a revocation takes effect within that bound on every server".
  it.each(['MemoryRegistry', 'DynamoDB registry'] as const)('%s', async kind => {
    const clock = testClock()
    const shared = { table: await makeTable('users-bound'), registry: new MemoryRegistry() }
    const backend: Backend = kind === 'MemoryRegistry' ? 'cookie store + MemoryRegistry' : 'cookie store + DynamoDB registry'
    const A = makeServer(backendOptions(backend, shared, { clock, revocationCheck: WINDOW }))
    const B = makeServer(backendOptions(backend, shared, { clock, revocationCheck: WINDOW }))
    const x = new Browser(clock, 'x')
    const y = new Browser(clock, 'y')
    const idX = (await x.post(B, '/login/ann')).body.id as string
    await y.post(A, '/login/ann')
    expect((await x.get(A, '/me')).body).toEqual({ user: 'ann' })   // A looks at ann's marks now (t0)
    const t0 = clock.seconds
    clock.advance(10)
    expect(await B.sessions.revokeSession('ann', idX)).toBe(true)
    clock.advance(10)
    expect((await y.post(A, '/logout')).body).toEqual({ user: null })
    clock.set(t0 + 10 + WINDOW + 1)
    expect((await x.get(A, '/me')).body).toEqual({ user: null })
  })
})

describe('cookie store + DynamoDB registry: revocations made at the same time on two servers', () => {
  // Each server's revoke reads the marks item, merges its mark in and puts the item back. Two at
  // once (sign-outs of two devices, one on each server) must both count, on every server.
  it('both sessions stay revoked', async () => {
    const clock = testClock()
    const table = await makeTable('users-race')
    const counting = countingClient()
    const options = (): ReturnType<typeof backendOptions> => backendOptions('cookie store + DynamoDB registry', { table, registry: new MemoryRegistry() },
      { clock, revocationCheck: WINDOW, dynamodb: { client: counting.client } })
    const A = makeServer(options())
    const B = makeServer(options())
    const x = new Browser(clock, 'x')
    const y = new Browser(clock, 'y')
    const idX = (await x.post(A, '/login/ann')).body.id as string
    const idY = (await y.post(B, '/login/ann')).body.id as string
    // Hold each PutItem a little: both revokes read the marks before either writes them.
    counting.slowDown(['PutItem'], 100)
    expect(await Promise.all([A.sessions.revokeSession('ann', idX), B.sessions.revokeSession('ann', idY)])).toEqual([true, true])
    counting.slowDown([], 0)
    // A third server, which never looked before: it reads the marks as the registry keeps them.
    const C = makeServer(options())
    expect((await replay(C, 'get', '/me', x.copy())).body).toEqual({ user: null })
    expect((await replay(C, 'get', '/me', y.copy())).body).toEqual({ user: null })
    clock.advance(WINDOW + 1)
    for (const server of [A, B]) {
      expect((await replay(server, 'get', '/me', x.copy())).body).toEqual({ user: null })
      expect((await replay(server, 'get', '/me', y.copy())).body).toEqual({ user: null })
    }
  })
})
