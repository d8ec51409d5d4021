/**
 * A registry outage on the cookie store. The last answer about a user's revocation marks serves
 * for up to revocationCheck more seconds (so 2x the window after the last look); past that,
 * registryFailure 'closed' (the default) fails the request with a 503 StoreUnavailableError
 * through next(err), and 'open' accepts the session unchecked. Never a crash, never an unhandled
 * rejection; anonymous visitors never notice; the registry back, sessions work again.
 *
 * The outage is a registry whose methods reject (a failed network call) or throw, and a DynamoDB
 * registry whose endpoint dies (a proxy in front of dynalite, closed mid-test), or was never there.
 */
import { createServer, connect, type Server as NetServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { testClock } from '../support/clock'
import { REGION, makeTable, testEndpoint } from '../support/dynamo-helpers'
import { Browser, CountingRegistry, backendOptions, makeServer, replay, type Server } from './users-support'

const WINDOW = 30

let unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
beforeEach(() => {
  unhandled = []
  process.on('unhandledRejection', onUnhandled)
})
afterEach(() => {
  process.off('unhandledRejection', onUnhandled)
  expect(unhandled).toEqual([])
})

type Failure = 'closed' | 'open'

describe.each([
  ['rejects', 'reject'],
  ['throws', 'throw']
] as const)('a registry that %s', (_name, how) => {
  describe.each(['closed', 'open'] as const)("registryFailure: '%s'", (failure: Failure) => {
    it('serves the last answer within the window, then fails closed (503) or opens', async () => {
      const clock = testClock()
      const registry = new CountingRegistry()
      const server = makeServer(backendOptions('cookie store + MemoryRegistry', { table: 'unused', registry },
        { clock, revocationCheck: WINDOW, ...(failure === 'closed' ? {} : { registryFailure: 'open' }) }))
      const browser = new Browser(clock)
      await browser.post(server, '/login/ann')
      expect((await browser.get(server, '/me')).body).toEqual({ user: 'ann' })   // looked at t0
      const t0 = clock.seconds

      registry.down = how
      registry.reset()
      clock.set(t0 + 10)
      expect((await browser.get(server, '/me')).body).toEqual({ user: 'ann' })   // within the window: not even asked
      expect(registry.calls).toEqual([])
      clock.set(t0 + WINDOW + 10)
      const stale = await browser.get(server, '/count')                          // asked, failed: the last answer serves
      expect(stale.status).toBe(200)
      expect(stale.body).toEqual({ user: 'ann', n: 1 })
      expect(registry.count('revocations')).toBe(1)

      clock.set(t0 + 2 * WINDOW + 1)
      const past = await browser.get(server, '/me')
      if (failure === 'closed') {
        expect(past.status).toBe(503)
        expect(past.body).toMatchObject({ error: 'StoreUnavailableError', code: 'ARC_SESSION_STORE_UNAVAILABLE' })
        expect(past.issued).toBe(false)
        expect(past.expired).toBe(false)   // the browser keeps its cookie for when the registry is back
      } else {
        expect(past.status).toBe(200)
        expect(past.body).toEqual({ user: 'ann' })
      }
      // The process is up: anonymous visitors are served without the registry...
      const calls = registry.count()
      expect((await new Browser(clock).get(server, '/me')).body).toEqual({ user: null })
      expect(registry.count()).toBe(calls)
      // ...and once it is back, the session works again.
      registry.down = false
      const back = await browser.get(server, '/me')
      expect(back.status).toBe(200)
      expect(back.body).toEqual({ user: 'ann' })
    })

    it('a server that never looked at the user, with the registry down: 503, or accepted', async () => {
      const clock = testClock()
      const registry = new CountingRegistry()
      const options = backendOptions('cookie store + MemoryRegistry', { table: 'unused', registry },
        { clock, revocationCheck: WINDOW, registryFailure: failure })
      const first = makeServer(options)
      const browser = new Browser(clock)
      await browser.post(first, '/login/ann')
      registry.down = how
      const fresh = makeServer(options)
      for (const path of ['/me', '/count']) {
        const reply = await replay(fresh, 'get', path, browser.copy())
        expect(reply.status).toBe(failure === 'closed' ? 503 : 200)
        if (failure === 'open') expect(reply.body.user).toBe('ann')
      }
      // read() fails the same way, as a rejected promise.
      const reading = fresh.sessions.read({ headers: { cookie: browser.copy() } })
      if (failure === 'closed') await expect(reading).rejects.toMatchObject({ name: 'StoreUnavailableError', status: 503 })
      else expect((await reading).userId).toBe('ann')
    })
  })

  it('a sign-in or sign-out while it is down fails the request through next(err), never the process', async () => {
    const clock = testClock()
    const registry = new CountingRegistry()
    const server = makeServer(backendOptions('cookie store + MemoryRegistry', { table: 'unused', registry }, { clock, revocationCheck: WINDOW }))
    const signedIn = new Browser(clock)
    await signedIn.post(server, '/login/ann')
    await signedIn.get(server, '/me')
    registry.down = how
    const login = await new Browser(clock).post(server, '/login/bob')
    expect(login.status).toBeGreaterThanOrEqual(500)
    expect(login.issued).toBe(false)
    const logout = await signedIn.post(server, '/logout')
    expect(logout.status).toBeGreaterThanOrEqual(500)
    registry.down = false
    expect((await new Browser(clock).get(server, '/me')).status).toBe(200)
  })
})

/** A TCP proxy to dynalite that can be killed: a DynamoDB endpoint that goes away. */
async function killableEndpoint (): Promise<{ endpoint: string, kill: () => Promise<void> }> {
  const target = new URL(testEndpoint())
  const sockets = new Set<Socket>()
  const proxy: NetServer = createServer(client => {
    const upstream = connect(Number(target.port), target.hostname)
    sockets.add(client).add(upstream)
    client.pipe(upstream).pipe(client)
    const drop = (): void => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream) }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
  })
  await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve))
  const { port } = proxy.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    kill: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>(resolve => proxy.close(() => resolve()))
    }
  }
}

/** A local port with nothing listening on it. */
async function deadEndpoint (): Promise<string> {
  const probe = createServer()
  await new Promise<void>(resolve => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise<void>(resolve => probe.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}

describe('a DynamoDB registry whose endpoint dies', () => {
  let table: string
  beforeAll(async () => { table = await makeTable('users-outage') })

  it.each(['closed', 'open'] as const)("registryFailure: '%s'", async failure => {
    const clock = testClock()
    const { endpoint, kill } = await killableEndpoint()
    const server: Server = makeServer(backendOptions('cookie store + DynamoDB registry', { table, registry: new CountingRegistry() },
      { clock, revocationCheck: WINDOW, registryFailure: failure, dynamodb: { endpoint, region: REGION, timeout: 2 } }))
    const browser = new Browser(clock)
    try {
      expect((await browser.post(server, '/login/ann')).status).toBe(200)
      expect((await browser.get(server, '/me')).body).toEqual({ user: 'ann' })
    } finally {
      await kill()
    }
    const t0 = clock.seconds
    clock.set(t0 + 10)
    expect((await browser.get(server, '/me')).body).toEqual({ user: 'ann' })
    clock.set(t0 + WINDOW + 5)
    expect((await browser.get(server, '/me')).body).toEqual({ user: 'ann' })
    clock.set(t0 + 2 * WINDOW + 1)
    const past = await browser.get(server, '/me')
    if (failure === 'closed') {
      expect(past.status).toBe(503)
      expect(past.body).toMatchObject({ error: 'StoreUnavailableError' })
    } else {
      expect(past.status).toBe(200)
      expect(past.body).toEqual({ user: 'ann' })
    }
    expect((await new Browser(clock).get(server, '/me')).body).toEqual({ user: null })
  })

  it.each(['closed', 'open'] as const)("never reachable, registryFailure: '%s': a signed-in cookie gets 503, or is accepted", async failure => {
    const clock = testClock()
    const good = makeServer(backendOptions('cookie store + DynamoDB registry', { table, registry: new CountingRegistry() }, { clock, revocationCheck: WINDOW }))
    const browser = new Browser(clock)
    await browser.post(good, '/login/ann')
    const dead = makeServer(backendOptions('cookie store + DynamoDB registry', { table, registry: new CountingRegistry() },
      { clock, revocationCheck: WINDOW, registryFailure: failure, dynamodb: { endpoint: await deadEndpoint(), region: REGION, timeout: 2 } }))
    const reply = await replay(dead, 'get', '/me', browser.copy())
    expect(reply.status).toBe(failure === 'closed' ? 503 : 200)
    if (failure === 'open') expect(reply.body).toEqual({ user: 'ann' })
    expect((await replay(dead, 'get', '/me', '')).body).toEqual({ user: null })
  })
})
