import { randomBytes } from 'node:crypto'
import express from 'express'
import request from 'supertest'
import { arcSession, type ArcSessionOptions } from 'arc-session'
import { isExpired, sessionCookies } from '../support/apps'
import { testClock, type TestClock } from '../support/clock'
import {
  SECRET, cookieFor, countingClient, errorHandler, getItem, idOf, itemCount, listen, makeTable, putItem, randomId,
  sessionPair, type CountingClient, type Item
} from '../support/dynamo-helpers'

/**
 * The DynamoDB store when requests overlap or settings change under live sessions: a logout is
 * not undone by a request that began before it, a shorter idle timeout applies to sessions
 * already stored, an empty visitor item costs nothing, and a very wide change is stored whole.
 */

const TTL = 3600

/** A holdable DynamoDB command: the test decides when it goes out, rather than a timer. */
interface Hold {
  /** Resolves when the held command has been sent by the store (and is waiting). */
  readonly reached: Promise<void>
  /** Let it go. */
  release (): void
}

/**
 * Adds a gate to a (counting) client: `hold('UpdateItem')` makes the next UpdateItem wait at
 * the client until the test releases it. Nothing is mocked: the command then goes to dynalite.
 */
function gated (counting: CountingClient): { hold: (name: string) => Hold } {
  let armed: { name: string, reached: () => void, released: Promise<void> } | undefined
  counting.client.middlewareStack.add((next, context) => async args => {
    const name = String(context.commandName ?? '').replace(/Command$/, '')
    const gate = armed
    if (gate !== undefined && gate.name === name) {
      armed = undefined
      gate.reached()
      await gate.released
    }
    return await next(args)
  }, { step: 'initialize', name: 'racesSpecGate' })
  return {
    hold: (name: string) => {
      let reached!: () => void
      let release!: () => void
      const reachedPromise = new Promise<void>(resolve => { reached = resolve })
      const released = new Promise<void>(resolve => { release = resolve })
      armed = { name, reached, released }
      return { reached: reachedPromise, release }
    }
  }
}

function buildApp (options: ArcSessionOptions): express.Express {
  const app = express()
  app.use(arcSession({ env: { NODE_ENV: 'test' }, secret: SECRET, ttl: TTL, ...options }))
  app.get('/read', (req, res) => { res.json(req.session) })
  app.post('/login', (req, res) => {
    req.session.user = 'alice'
    res.send('signed in')
  })
  app.post('/touch', (req, res) => {
    req.session.seen = true
    res.json(req.session)
  })
  app.post('/logout', (req, res, next) => {
    req.session.destroy().then(() => { res.send('signed out') }, next)
  })
  app.post('/forget', (req, res) => {
    delete req.session.user
    res.send('forgotten')
  })
  app.post('/wide', (req, res) => {
    for (let index = 0; index < 250; index++) req.session[`key${index}`] = index
    res.send('wide')
  })
  app.post('/set', express.json(), (req, res) => {
    Object.assign(req.session, req.body)
    res.send('ok')
  })
  app.use(errorHandler)
  return app
}

/** The session cookies a response sets that a browser would keep. */
function liveSessionCookies (response: { headers: Record<string, unknown> }): string[] {
  return sessionCookies(response).filter(cookie => !isExpired(cookie)).map(cookie => cookie.pair)
}

describe('DynamoDB store: a logout is not undone by a request that began before it', () => {
  let table: string
  let counting: CountingClient
  let gate: ReturnType<typeof gated>
  let clock: TestClock
  let server: Awaited<ReturnType<typeof listen>>

  beforeEach(async () => {
    table = await makeTable('races-logout')
    counting = countingClient()
    gate = gated(counting)
    clock = testClock()
    server = await listen(buildApp({ table, dynamodb: { client: counting.client }, clock }))
  })

  afterEach(async () => {
    await server.close()
    counting.client.destroy()
  })

  async function signIn (): Promise<{ pair: string, id: string }> {
    const login = await request(server.url).post('/login').expect(200)
    const pair = sessionPair(login)
    return { pair, id: idOf(pair).id }
  }

  /**
   * Request A (`send`) loads the session; its UpdateItem is held until /logout has completed;
   * then A finishes. Returns A's response.
   */
  async function raceWithLogout (pair: string, send: () => Promise<request.Response>): Promise<request.Response> {
    const hold = gate.hold('UpdateItem')
    const slow = send()
    await hold.reached
    const logout = await request(server.url).post('/logout').set('Cookie', pair).expect(200)
    expect(liveSessionCookies(logout)).toEqual([])
    expect(counting.count('DeleteItem')).toBe(1)
    hold.release()
    return await slow
  }

  async function expectSignedOut (pair: string, a: request.Response): Promise<void> {
    // A carries no cookie for a live session: at most an expiry.
    expect(liveSessionCookies(a)).toEqual([])
    // Nothing in the table holds the user (or anything else): the session was not recreated.
    expect(await itemCount(counting.client, table)).toBe(0)
    // The browser's cookie, whatever A told it, leads nowhere.
    const after = await request(server.url).get('/read').set('Cookie', pair).expect(200)
    expect(after.body).toEqual({})
  }

  test('a request that changes a key', async () => {
    const { pair } = await signIn()
    const a = await raceWithLogout(pair, async () => await request(server.url).post('/touch').set('Cookie', pair))
    expect(a.status).toBe(200)
    await expectSignedOut(pair, a)
  })

  test('a read-only request due for an idle-clock refresh', async () => {
    const { pair } = await signIn()
    // Past a tenth of the ttl: the read-only request's UpdateItem is the refresh.
    clock.advance(TTL / 10 + 60)
    counting.reset()
    const a = await raceWithLogout(pair, async () => await request(server.url).get('/read').set('Cookie', pair))
    expect(a.status).toBe(200)
    expect(counting.count('UpdateItem')).toBe(1)
    await expectSignedOut(pair, a)
  })

  test('control: without the logout, the same request keeps the session', async () => {
    const { pair, id } = await signIn()
    const hold = gate.hold('UpdateItem')
    const slow = request(server.url).post('/touch').set('Cookie', pair).then(response => response)
    await hold.reached
    hold.release()
    const a = await slow
    expect(a.body).toEqual({ user: 'alice', seen: true })
    expect((await getItem(counting.client, table, id))?.seen).toEqual({ BOOL: true })
  })
})

describe('DynamoDB store: a shorter idle timeout applies to sessions already stored', () => {
  let table: string
  let counting: CountingClient

  beforeAll(async () => {
    table = await makeTable('races-ttl')
    counting = countingClient()
  })

  afterAll(() => { counting.client.destroy() })

  function app (ttl: number, clock: TestClock): express.Express {
    return buildApp({ table, dynamodb: { client: counting.client }, clock, ttl })
  }

  test.each([
    ['3 hours later: the session is over', 3 * 3600, {}],
    ['10 minutes later: the session is there', 600, { user: 'alice' }]
  ])('written with ttl 604800, read by an app with ttl 1800 %s', async (_when, later, expected) => {
    const clock = testClock()
    const login = await request(app(604800, clock)).post('/login').expect(200)
    const pair = sessionPair(login)
    clock.advance(later)
    const read = await request(app(1800, clock)).get('/read').set('Cookie', pair).expect(200)
    expect(read.body).toEqual(expected)
  })

  test.each([
    ['3 hours after its write: the session is over', 3 * 3600, {}],
    ['10 minutes after its write: the session is there', 600, { user: 'arc' }]
  ])('an item written by arc (_ttl a week after the write, no _touched), read by an app with ttl 1800 %s', async (_when, later, expected) => {
    const clock = testClock()
    const written = clock.seconds
    const id = randomId()
    await putItem(counting.client, table, {
      _idx: { S: id },
      _secret: { S: randomBytes(18).toString('base64url') },
      _ttl: { N: String(written + 604800) },
      user: { S: 'arc' }
    })
    clock.advance(later)
    const read = await request(app(1800, clock)).get('/read').set('Cookie', cookieFor(id)).expect(200)
    expect(read.body).toEqual(expected)
  })
})

describe('DynamoDB store: an empty session', () => {
  let table: string
  let counting: CountingClient
  let clock: TestClock
  let theApp: express.Express

  beforeAll(async () => {
    table = await makeTable('races-empty')
    counting = countingClient()
  })

  afterAll(() => { counting.client.destroy() })

  beforeEach(() => {
    clock = testClock()
    theApp = buildApp({ table, dynamodb: { client: counting.client }, clock })
  })

  /** arc's item for a visitor: identity and expiry, no data. */
  async function visitorItem (extra: Item = {}): Promise<string> {
    const id = randomId()
    await putItem(counting.client, table, {
      _idx: { S: id },
      _secret: { S: randomBytes(18).toString('base64url') },
      _ttl: { N: String(clock.seconds + 604800) },
      ...extra
    })
    return id
  }

  test('arc\'s visitor item (only _idx, _secret, _ttl) read by a read-only route: no write, no Set-Cookie', async () => {
    const id = await visitorItem()
    counting.reset()
    const read = await request(theApp).get('/read').set('Cookie', cookieFor(id)).expect(200)
    expect(read.body).toEqual({})
    expect(read.headers['set-cookie']).toBeUndefined()
    expect(counting.count('GetItem')).toBe(1)
    expect(counting.count('DeleteItem')).toBe(0)
    expect(counting.count('UpdateItem')).toBe(0)
    expect(counting.count('PutItem')).toBe(0)
    expect(await getItem(counting.client, table, id)).toBeDefined()
  })

  test('a route that deletes the session\'s last key deletes the item and expires the cookie', async () => {
    const id = await visitorItem({ user: { S: 'alice' } })
    counting.reset()
    const forget = await request(theApp).post('/forget').set('Cookie', cookieFor(id)).expect(200)
    expect(counting.count('DeleteItem')).toBe(1)
    expect(await getItem(counting.client, table, id)).toBeUndefined()
    const cookies = sessionCookies(forget)
    expect(cookies.map(cookie => cookie.name)).toEqual(['_idx'])
    expect(cookies.every(isExpired)).toBe(true)
  })
})

describe('DynamoDB store: a change of 250 top-level keys in one request', () => {
  let table: string
  let counting: CountingClient

  beforeAll(async () => {
    table = await makeTable('races-wide')
    counting = countingClient()
  })

  afterAll(() => { counting.client.destroy() })

  test('is stored completely, over several UpdateItems, and the next request sees every key', async () => {
    const theApp = buildApp({ table, dynamodb: { client: counting.client }, clock: testClock() })
    const start = await request(theApp).post('/set').send({ start: 1 }).expect(200)
    const pair = sessionPair(start)
    const { id } = idOf(pair)

    counting.reset()
    await request(theApp).post('/wide').set('Cookie', pair).expect(200)
    expect(counting.count('PutItem')).toBe(0)
    expect(counting.count('UpdateItem')).toBeGreaterThan(1)

    const expected: Record<string, number> = { start: 1 }
    for (let index = 0; index < 250; index++) expected[`key${index}`] = index
    const item = await getItem(counting.client, table, id)
    for (const [key, value] of Object.entries(expected)) expect([key, item?.[key]]).toEqual([key, { N: String(value) }])

    const read = await request(theApp).get('/read').set('Cookie', pair).expect(200)
    expect(read.body).toEqual(expected)
  })
})
