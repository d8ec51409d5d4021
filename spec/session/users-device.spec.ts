/**
 * options.device: what the app says of a device (here, the User-Agent) is stored with a session
 * when it is bound to a user, truncated, and listed by listUserSessions(); later requests from
 * another User-Agent do not change it; a new binding (another user) takes the device anew.
 * Without options.device (or when it says nothing) the listing has no `device` at all.
 */
import type { Request } from 'express'
import { MemoryRegistry } from '../../examples/memory-registry'
import { testClock } from '../support/clock'
import { makeTable } from '../support/dynamo-helpers'
import { BACKENDS, Browser, backendOptions, makeServer, type Backend, type Shared } from './users-support'

describe.each(BACKENDS)('%s', (backend: Backend) => {
  let shared: Shared
  let clock: ReturnType<typeof testClock>

  beforeEach(async () => {
    shared = { table: await makeTable('users-device'), registry: new MemoryRegistry() }
    clock = testClock()
  })

  it('stores the device at binding and lists it; later requests do not change it', async () => {
    const seen: unknown[] = []
    const device = (req: Request): string | undefined => {
      seen.push(req)
      return req.get('user-agent')
    }
    const A = makeServer(backendOptions(backend, shared, { clock, device: device as (req: unknown) => unknown }))
    const B = makeServer(backendOptions(backend, shared, { clock, device: device as (req: unknown) => unknown }))
    const phone = new Browser(clock, 'Phone/1.0')
    const laptop = new Browser(clock, 'Laptop/2.0')
    const phoneId = (await phone.post(A, '/login/ann')).body.id as string
    clock.advance(1)
    const laptopId = (await laptop.post(B, '/login/ann')).body.id as string
    expect(seen.length).toBeGreaterThanOrEqual(2)
    expect(seen.every(req => typeof (req as Request).get === 'function')).toBe(true)

    // Later requests, from another User-Agent, writing the session: the device stays.
    for (let index = 0; index < 3; index++) {
      await phone.get(B, '/count', { 'user-agent': 'Changed/9' })
      await laptop.get(A, '/me', { 'user-agent': 'Changed/9' })
    }
    const listed = (await phone.get(A, '/devices')).body as unknown as Array<{ id: string, device?: string, current: boolean }>
    expect(Object.fromEntries(listed.map(session => [session.id, [session.device, session.current]]))).toEqual({
      [phoneId]: ['Phone/1.0', true],
      [laptopId]: ['Laptop/2.0', false]
    })
    const direct = await B.sessions.listUserSessions('ann')
    expect(Object.fromEntries(direct.map(session => [session.id, session.device]))).toEqual({ [phoneId]: 'Phone/1.0', [laptopId]: 'Laptop/2.0' })
  })

  it('a long device is truncated', async () => {
    const server = makeServer(backendOptions(backend, shared, { clock, device: req => (req as Request).get('user-agent') }))
    const long = `Mozilla/5.0 ${'x'.repeat(2000)}`
    const browser = new Browser(clock, long)
    await browser.post(server, '/login/ann')
    const [session] = await server.sessions.listUserSessions('ann')
    expect(typeof session!.device).toBe('string')
    expect(session!.device!.length).toBeLessThan(long.length)
    expect(session!.device!.length).toBeLessThanOrEqual(200)
    expect(long.startsWith(session!.device!)).toBe(true)
    expect((await browser.get(server, '/me')).body).toEqual({ user: 'ann' })
  })

  it('a new binding takes the device anew', async () => {
    const server = makeServer(backendOptions(backend, shared, { clock, device: req => (req as Request).get('user-agent') }))
    const browser = new Browser(clock, 'First/1')
    const id = (await browser.post(server, '/login/ann')).body.id as string
    const switched = await browser.post(server, '/login/bob', { 'user-agent': 'Second/2' })
    expect(switched.body.id).toBe(id)
    expect(await server.sessions.listUserSessions('ann')).toEqual([])
    expect((await server.sessions.listUserSessions('bob')).map(session => session.device)).toEqual(['Second/2'])
  })

  it('no device without options.device, or when it says nothing', async () => {
    for (const extra of [{}, { device: () => undefined }, { device: () => '' }, { device: () => 42 }]) {
      const server = makeServer(backendOptions(backend, shared, { clock, ...extra }))
      const browser = new Browser(clock, 'Phone/1.0')
      const user = `user-${Math.random().toString(36).slice(2)}`
      const id = (await browser.post(server, `/login/${user}`)).body.id as string
      await browser.get(server, '/count')
      const listed = await server.sessions.listUserSessions(user, id)
      expect(listed).toHaveLength(1)
      expect(listed[0]!.current).toBe(true)
      expect(listed[0]).not.toHaveProperty('device')
      expect(Object.keys(listed[0]!).sort()).toEqual(['createdAt', 'current', 'expiresAt', 'id', 'lastSeenAt'])
      const body = (await browser.get(server, '/devices')).body as unknown as Array<Record<string, unknown>>
      expect(body[0]).not.toHaveProperty('device')
    }
  })
})
