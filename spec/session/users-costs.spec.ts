/**
 * What the cookie store's registry costs. A 1,000-request mix (20 users, each: sign in, 48
 * read-only and counter requests, sign out; interleaved, on simulated time) makes at most
 * logins + logouts + refreshes + one revocation check per user per window per process registry
 * operations; a read-only route between checks makes none; the registry is never written on a
 * request that only counts. revocationCheck: 0 looks on every request, and writes nothing more.
 */
import { testClock } from '../support/clock'
import { countingClient, getItem, makeTable, newClient } from '../support/dynamo-helpers'
import { Browser, CountingRegistry, backendOptions, makeServer, type Server } from './users-support'

const WINDOW = 30
const TTL = 1200
/** Registry entries are refreshed (lastSeenAt) once per tenth of the ttl. */
const REFRESH = TTL / 10
const USERS = 20
const PER_USER = 50
/** Simulated seconds between two requests of the run (a request of each user every 5 s). */
const STEP = 0.25

interface Mix {
  readonly logins: number
  readonly logouts: number
  readonly counters: number
  readonly counterCookies: number
  readonly refreshBound: number
  readonly checkBound: number
}

/**
 * Runs the mix on `servers` (a user's requests go round them in turn) and gives what the bound
 * is made of: per user, floor(span / REFRESH) refreshes and floor(span / WINDOW) + 1 looks per
 * server, span being the time from its sign-in to its sign-out.
 */
async function runMix (servers: readonly Server[], clock: ReturnType<typeof testClock>): Promise<Mix> {
  const browsers = Array.from({ length: USERS }, (_, index) => new Browser(clock, `device ${index}`))
  const started: number[] = []
  const ended: number[] = []
  let logins = 0
  let logouts = 0
  let counters = 0
  let counterCookies = 0
  let requests = 0
  for (let step = 0; step < PER_USER; step++) {
    for (const [index, browser] of browsers.entries()) {
      const user = `user-${index}`
      const server = servers[(step + index) % servers.length] as Server
      requests++
      if (step === 0) {
        started[index] = clock() / 1000
        const login = await browser.post(server, `/login/${user}`)
        expect(login.status).toBe(200)
        logins++
      } else if (step === PER_USER - 1) {
        ended[index] = clock() / 1000
        const logout = await browser.post(server, '/logout')
        expect(logout.status).toBe(200)
        logouts++
      } else if (step % 2 === 0) {
        const counted = await browser.get(server, '/count')
        expect(counted.body).toEqual({ user, n: step / 2 })
        counters++
        if (counted.issued) counterCookies++
      } else {
        const seen = await browser.get(server, '/me')
        expect(seen.body).toEqual({ user })
      }
      clock.advance(STEP)
    }
  }
  expect(requests).toBe(1000)
  let refreshBound = 0
  let checkBound = 0
  for (let index = 0; index < USERS; index++) {
    const span = (ended[index] as number) - (started[index] as number)
    refreshBound += Math.floor(span / REFRESH)
    checkBound += servers.length * (Math.floor(span / WINDOW) + 1)
  }
  return { logins, logouts, counters, counterCookies, refreshBound, checkBound }
}

describe('cookie store + a MemoryRegistry (counted)', () => {
  it.each([1, 2])('a 1,000-request mix on %d server(s) stays within logins + logouts + refreshes + checks', async count => {
    const clock = testClock()
    const registry = new CountingRegistry()
    const servers = Array.from({ length: count }, () => makeServer(backendOptions('cookie store + MemoryRegistry',
      { table: 'unused', registry }, { clock, ttl: TTL, revocationCheck: WINDOW })))
    const mix = await runMix(servers, clock)

    const bound = mix.logins + mix.logouts + mix.refreshBound + mix.checkBound
    expect(registry.count()).toBeLessThanOrEqual(bound)
    expect(registry.count('revocations')).toBeLessThanOrEqual(mix.checkBound)
    expect(registry.count('revocations')).toBeGreaterThan(0)
    // Writes: one record per sign-in and per refresh, one revoke per sign-out; nothing per counter request.
    expect(registry.count('record')).toBeLessThanOrEqual(mix.logins + mix.refreshBound)
    expect(registry.count('record')).toBeGreaterThan(mix.logins)   // the refreshes did happen
    expect(registry.count('revoke')).toBe(mix.logouts)
    expect(registry.count('forget')).toBeLessThanOrEqual(mix.logouts)
    expect(registry.count('list')).toBe(0)
    expect(mix.counterCookies).toBe(mix.counters)                   // the counter wrote every time...
    expect(registry.writes()).toBeLessThanOrEqual(mix.logins + mix.logouts + mix.refreshBound)
    expect(registry.writes()).toBeLessThan(mix.counters / 4)        // ...the registry did not
  })

  it('a read-only (and a counter) route between two looks makes no registry call; the next window looks once', async () => {
    const clock = testClock()
    const registry = new CountingRegistry()
    const server = makeServer(backendOptions('cookie store + MemoryRegistry', { table: 'unused', registry }, { clock, revocationCheck: WINDOW }))
    const browser = new Browser(clock)
    await browser.post(server, '/login/ann')
    expect(registry.count('record')).toBe(1)
    expect(registry.count()).toBe(1)
    expect((await browser.get(server, '/me')).body).toEqual({ user: 'ann' })   // the first look
    expect(registry.count('revocations')).toBe(1)
    registry.reset()
    for (let index = 0; index < 25; index++) {
      clock.advance(1)
      expect((await browser.get(server, index % 2 === 0 ? '/me' : '/count')).status).toBe(200)
    }
    expect(registry.calls).toEqual([])
    clock.advance(WINDOW)
    expect((await browser.get(server, '/me')).body).toEqual({ user: 'ann' })
    expect(registry.calls).toEqual([{ method: 'revocations', user: 'ann' }])
    // Many requests of one user at once: one look.
    registry.reset()
    clock.advance(WINDOW)
    await Promise.all(Array.from({ length: 10 }, async () => await browser.get(server, '/me')))
    expect(registry.count('revocations')).toBe(1)
    // Another user's look is its own.
    const other = new Browser(clock)
    await other.post(server, '/login/bob')
    registry.reset()
    await other.get(server, '/me')
    await browser.get(server, '/me')
    expect(registry.calls).toEqual([{ method: 'revocations', user: 'bob' }])
  })

  it('revocationCheck: 0 looks on every request, and still writes only at sign-in', async () => {
    const clock = testClock()
    const registry = new CountingRegistry()
    const server = makeServer(backendOptions('cookie store + MemoryRegistry', { table: 'unused', registry }, { clock, revocationCheck: 0 }))
    const browser = new Browser(clock)
    await browser.post(server, '/login/ann')
    registry.reset()
    for (let index = 0; index < 10; index++) await browser.get(server, index % 2 === 0 ? '/me' : '/count')
    expect(registry.count('revocations')).toBe(10)
    expect(registry.count()).toBe(10)
  })
})

describe('cookie store + a DynamoDB registry (a counting client)', () => {
  it('the 1,000-request mix: registry commands within the bound, none on read-only requests between looks', async () => {
    const clock = testClock()
    const table = await makeTable('users-costs')
    const counting = countingClient()
    const server = makeServer(backendOptions('cookie store + DynamoDB registry', { table, registry: new CountingRegistry() },
      { clock, ttl: TTL, revocationCheck: WINDOW, dynamodb: { client: counting.client } }))
    const mix = await runMix([server], clock)
    // record: 1 PutItem; revocations: 1 GetItem; a sign-out's revoke: GetItem + PutItem + Query + at most one DeleteItem.
    const bound = mix.logins + mix.refreshBound + mix.checkBound + 4 * mix.logouts
    expect(counting.sent.length).toBeLessThanOrEqual(bound)
    expect(counting.writes()).toBeLessThanOrEqual(mix.logins + mix.refreshBound + 2 * mix.logouts)
    expect(counting.writes()).toBeLessThan(mix.counters / 2)

    // Between looks: nothing at all.
    const browser = new Browser(clock)
    await browser.post(server, '/login/ann')
    await browser.get(server, '/me')
    counting.reset()
    for (let index = 0; index < 20; index++) {
      clock.advance(1)
      expect((await browser.get(server, index % 2 === 0 ? '/me' : '/count')).body.user).toBe('ann')
    }
    expect(counting.sent).toEqual([])
  })
})

describe('DynamoDB store (a counting client)', () => {
  it('items carry _user; listing is one Query of arc-session-user; a read-only request is one GetItem; revocation deletes', async () => {
    const clock = testClock()
    const table = await makeTable('users-costs-ddb')
    const counting = countingClient()
    const server = makeServer(backendOptions('DynamoDB store', { table, registry: new CountingRegistry() }, { clock, dynamodb: { client: counting.client } }))
    const browser = new Browser(clock)
    const id = (await browser.post(server, '/login/ann')).body.id as string
    const key = decodeURIComponent(browser.jar.get('_idx')!).split('.')[0]!
    const item = await getItem(newClient(), table, key)
    expect(item?._user).toEqual({ S: 'ann' })
    expect(item?._sid).toEqual({ S: id })

    counting.reset()
    for (let index = 0; index < 5; index++) expect((await browser.get(server, '/me')).body).toEqual({ user: 'ann' })
    expect(counting.sent.map(command => command.name)).toEqual(Array(5).fill('GetItem'))

    counting.reset()
    expect((await server.sessions.listUserSessions('ann')).map(session => session.id)).toEqual([id])
    expect(counting.sent.map(command => command.name)).toEqual(['Query'])
    expect(counting.sent[0]!.input).toMatchObject({ TableName: table, IndexName: 'arc-session-user' })

    counting.reset()
    expect(await server.sessions.revokeSession('ann', id)).toBe(true)
    expect(counting.count('DeleteItem')).toBe(1)
    expect(counting.count('Scan')).toBe(0)
    expect(await getItem(newClient(), table, key)).toBeUndefined()

    // Unbinding removes _user (the item leaves the index).
    const other = new Browser(clock)
    await other.post(server, '/login/bob')
    await other.post(server, '/logout')
    expect(await server.sessions.listUserSessions('bob')).toEqual([])
  })
})
