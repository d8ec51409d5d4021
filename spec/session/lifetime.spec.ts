/**
 * Lifetimes, end to end through Express, for the JWE cookie store and the DynamoDB store:
 * the idle clock (`ttl`), refreshed by read-only traffic at most once per tenth of it; the
 * absolute clock (`maxLifetime`, default 30 days, 0 = off), carried through every write and
 * re-encryption and restarted by regenerate(); and cookie Max-Age, which never outlives what
 * the server would still accept, nor 400 days. Time moves only through the injected clock.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb'
import express from 'express'
import request from 'supertest'
import { arcSession, createTable, type ArcSessionOptions, type RejectReason } from 'arc-session'
import { TimedJar, setCookiesOf, testClock, type SetCookie, type TestClock } from '../support/clock'

const SECRET = 'lifetime-spec-secret-2b4d6f8a0c2e4a6c8e0a2c4e'
const OLD_SECRET = 'lifetime-spec-old-secret-9e7c5a3f1d9b7e5c3a1f'
const MINUTE = 60
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

const endpoint = process.env.DYNAMODB_TEST_ENDPOINT as string
let client: DynamoDBClient
let table: string

beforeAll(async () => {
  client = new DynamoDBClient({ endpoint, region: 'us-east-1' })
  table = `lifetime-${process.pid}-${Date.now()}`
  await createTable(table, { client })
})

afterAll(() => {
  client.destroy()
})

interface StoreCase {
  readonly name: string
  readonly options: () => ArcSessionOptions
  /** The DynamoDB id a cookie value points at; undefined for the cookie store. */
  readonly idOf: (value: string) => string | undefined
}

const STORES: StoreCase[] = [
  { name: 'JWE cookie store', options: () => ({}), idOf: () => undefined },
  {
    name: 'DynamoDB store',
    options: () => ({ table, dynamodb: { client } }),
    idOf: value => {
      const text = decodeURIComponent(value)
      return text.slice(0, text.lastIndexOf('.'))
    }
  }
]

interface App {
  readonly app: express.Express
  readonly rejects: RejectReason[]
}

/** `/` shows the session, `/visit` counts visits (a write), `/login` regenerates keeping the data, and counts. */
function makeApp (clock: TestClock, options: ArcSessionOptions): App {
  const rejects: RejectReason[] = []
  const app = express()
  app.use(arcSession({ env: {}, secret: SECRET, clock, ...options, onReject: reason => { rejects.push(reason) } }))
  app.get('/', (req, res) => { res.json(req.session) })
  app.get('/visit', (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1
    res.json(req.session)
  })
  app.get('/login', (req, res, next) => {
    req.session.regenerate({ keep: true }).then(() => {
      req.session.visits = (req.session.visits ?? 0) + 1
      res.json(req.session)
    }, next)
  })
  return { app, rejects }
}

function sessionCookie (response: { headers: Record<string, unknown> }): SetCookie | undefined {
  return setCookiesOf(response).find(cookie => cookie.name === '_idx')
}

function issued (response: { headers: Record<string, unknown> }): SetCookie {
  const cookie = sessionCookie(response)
  if (cookie === undefined) throw new Error(`no _idx Set-Cookie in ${JSON.stringify(response.headers['set-cookie'])}`)
  return cookie
}

/** One request with the browser's jar: what it sends, and what it keeps from the answer. */
async function browse (app: express.Express, jar: TimedJar, path: string): Promise<request.Response> {
  const response = await request(app).get(path).set('Cookie', jar.header())
  expect(response.status).toBe(200)
  jar.take(response)
  return response
}

async function itemTtl (id: string): Promise<number | undefined> {
  const { Item } = await client.send(new GetItemCommand({ TableName: table, Key: { _idx: { S: id } }, ConsistentRead: true }))
  return Item?._ttl?.N === undefined ? undefined : Number(Item._ttl.N)
}

describe.each(STORES)('$name', store => {
  describe('idle lifetime (ttl)', () => {
    test('a session unused for ttl seconds is gone; one used within it lives on', async () => {
      const clock = testClock()
      const { app, rejects } = makeApp(clock, { ...store.options(), ttl: HOUR, maxLifetime: 0 })
      const t0 = clock.seconds
      const used = issued(await request(app).get('/visit').expect(200, { visits: 1 }))
      const unused = issued(await request(app).get('/visit').expect(200, { visits: 1 }))
      expect(used.maxAge).toBe(HOUR)

      clock.set(t0 + HOUR - 1)
      const refreshed = issued(await request(app).get('/').set('Cookie', used.pair).expect(200, { visits: 1 }))
      expect(refreshed.maxAge).toBe(HOUR)

      clock.set(t0 + HOUR)
      await request(app).get('/').set('Cookie', unused.pair).expect(200, {})
      expect(rejects).toEqual(['expired'])
      await request(app).get('/').set('Cookie', refreshed.pair).expect(200, { visits: 1 })
      expect(rejects).toEqual(['expired'])
    })

    test('a cookie read many times (the cookie store remembers recent tokens) still ends at ttl', async () => {
      const clock = testClock()
      const { app, rejects } = makeApp(clock, { ...store.options(), ttl: HOUR, maxLifetime: 0 })
      const t0 = clock.seconds
      const cookie = issued(await request(app).get('/visit').expect(200, { visits: 1 }))
      for (let read = 0; read < 3; read++) await request(app).get('/').set('Cookie', cookie.pair).expect(200, { visits: 1 })
      clock.set(t0 + HOUR)
      await request(app).get('/').set('Cookie', cookie.pair).expect(200, {})
      expect(rejects).toEqual(['expired'])
    })

    test('a session in use every 50 minutes of a 1-hour ttl lasts as long as it is used', async () => {
      const clock = testClock()
      const { app, rejects } = makeApp(clock, { ...store.options(), ttl: HOUR, maxLifetime: 0 })
      const jar = new TimedJar(clock)
      await browse(app, jar, '/visit')
      for (let visit = 2; visit <= 30; visit++) {
        clock.advance(50 * MINUTE)
        expect((await browse(app, jar, visit % 2 === 0 ? '/' : '/visit')).body.visits).toBe(Math.ceil(visit / 2))
      }
      expect(rejects).toEqual([])
      // An hour after its last use it is over, however long it lived before (about a day here).
      const last = jar.get('_idx') as string
      clock.advance(HOUR)
      expect(jar.names()).toEqual([])
      await request(app).get('/').set('Cookie', `_idx=${last}`).expect(200, {})
      expect(rejects).toEqual(['expired'])
    })

    test('read-only traffic refreshes the idle clock at most once per tenth of the ttl', async () => {
      const clock = testClock()
      const ttl = 1000
      const { app, rejects } = makeApp(clock, { ...store.options(), ttl, maxLifetime: 0 })
      const jar = new TimedJar(clock)
      const created = issued(await browse(app, jar, '/visit'))
      const id = store.idOf(created.value)
      const t0 = clock.seconds
      if (id !== undefined) expect(await itemTtl(id)).toBe(t0 + ttl)

      // 50 read-only requests 30 s apart: 1,500 s in all, longer than the ttl itself.
      const refreshedAt: number[] = []
      let expectedTtl = t0 + ttl
      for (let step = 1; step <= 50; step++) {
        clock.advance(30)
        const response = await browse(app, jar, '/')
        expect(response.body).toEqual({ visits: 1 })
        const cookies = setCookiesOf(response)
        if (cookies.length > 0) {
          refreshedAt.push(step)
          expect(cookies.map(c => [c.name, c.maxAge])).toEqual([['_idx', ttl]])
          expectedTtl = clock.seconds + ttl
        }
        // DynamoDB: the item's _ttl moves forward on those requests, and on no other.
        if (id !== undefined) {
          expect(store.idOf(jar.get('_idx') as string)).toBe(id)
          expect(await itemTtl(id)).toBe(expectedTtl)
        }
      }
      // A refresh is due once 100 s (a tenth of 1,000) have passed since the last one: every 4th step (120 s).
      expect(refreshedAt).toEqual([4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48])
      expect(rejects).toEqual([])
    })
  })

  describe('absolute lifetime (maxLifetime)', () => {
    test('ends a session however active it is, counted from creation through every write', async () => {
      const clock = testClock()
      const { app, rejects } = makeApp(clock, { ...store.options(), ttl: HOUR, maxLifetime: 2 * HOUR })
      const jar = new TimedJar(clock)
      const t0 = clock.seconds
      expect(issued(await browse(app, jar, '/visit')).maxAge).toBe(HOUR)
      let last = ''
      for (const [at, visits, maxAge] of [[30, 2, HOUR], [60, 3, HOUR], [90, 4, 30 * MINUTE], [110, 5, 10 * MINUTE]] as const) {
        clock.set(t0 + at * MINUTE)
        const cookie = issued(await browse(app, jar, '/visit'))
        expect([cookie.maxAge, (await browse(app, jar, '/')).body]).toEqual([maxAge, { visits }])
        last = cookie.pair
      }
      expect(rejects).toEqual([])

      clock.set(t0 + 2 * HOUR)
      // The browser has dropped the cookie by now (its Max-Age said so); replayed by hand, it is refused too.
      expect(jar.names()).toEqual([])
      await request(app).get('/').set('Cookie', last).expect(200, {})
      expect(rejects).toEqual(['expired'])
      // A write on it starts a new session, not the old one resumed.
      await request(app).get('/visit').set('Cookie', last).expect(200, { visits: 1 })
    })

    test('is carried through re-encryption when the secret rotates', async () => {
      const clock = testClock()
      const lifetimes = { ...store.options(), ttl: HOUR, maxLifetime: 2 * HOUR }
      const before = makeApp(clock, { ...lifetimes, secret: OLD_SECRET })
      const after = makeApp(clock, { ...lifetimes, secret: [SECRET, OLD_SECRET] })
      const t0 = clock.seconds
      const original = issued(await request(before.app).get('/visit').expect(200, { visits: 1 }))

      clock.set(t0 + 50 * MINUTE)
      const reissued = issued(await request(after.app).get('/').set('Cookie', original.pair).expect(200, { visits: 1 }))
      expect(reissued.value).not.toBe(original.value)
      clock.set(t0 + 100 * MINUTE)
      const written = issued(await request(after.app).get('/visit').set('Cookie', reissued.pair).expect(200, { visits: 2 }))
      expect(written.maxAge).toBe(20 * MINUTE)

      clock.set(t0 + 2 * HOUR)
      await request(after.app).get('/').set('Cookie', written.pair).expect(200, {})
      expect(after.rejects).toEqual(['expired'])
    })

    test('defaults to 30 days', async () => {
      const clock = testClock()
      const { app, rejects } = makeApp(clock, { ...store.options(), ttl: 10 * DAY })
      const t0 = clock.seconds
      let cookie = issued(await request(app).get('/visit').expect(200, { visits: 1 }))
      for (const day of [9, 18, 27]) {
        clock.set(t0 + day * DAY)
        cookie = issued(await request(app).get('/visit').set('Cookie', cookie.pair).expect(200, { visits: day / 9 + 1 }))
      }
      // On day 27, 3 days of the 30 remain: the cookie says so rather than the 10-day ttl.
      expect(cookie.maxAge).toBe(3 * DAY)

      clock.set(t0 + 30 * DAY - 1)
      await request(app).get('/').set('Cookie', cookie.pair).expect(200, { visits: 4 })
      clock.set(t0 + 30 * DAY)
      await request(app).get('/').set('Cookie', cookie.pair).expect(200, {})
      expect(rejects).toEqual(['expired'])
    })

    test('maxLifetime: 0 turns it off', async () => {
      const clock = testClock()
      const { app, rejects } = makeApp(clock, { ...store.options(), ttl: 10 * DAY, maxLifetime: 0 })
      const jar = new TimedJar(clock)
      await browse(app, jar, '/visit')
      for (let visit = 2; visit <= 12; visit++) {
        clock.advance(9 * DAY)
        const response = await browse(app, jar, '/visit')
        expect(response.body).toEqual({ visits: visit })
        expect(issued(response).maxAge).toBe(10 * DAY)
      }
      // 99 days old and still going.
      expect(rejects).toEqual([])
    })

    test('regenerate() starts a new absolute clock, even when it keeps the data', async () => {
      const clock = testClock()
      const { app, rejects } = makeApp(clock, { ...store.options(), ttl: HOUR, maxLifetime: 2 * HOUR })
      const t0 = clock.seconds
      const first = issued(await request(app).get('/visit').expect(200, { visits: 1 }))

      clock.set(t0 + HOUR - 10 * MINUTE)
      const loggedIn = issued(await request(app).get('/login').set('Cookie', first.pair).expect(200, { visits: 2 }))
      expect(loggedIn.value).not.toBe(first.value)
      if (store.idOf(first.value) !== undefined) expect(store.idOf(loggedIn.value)).not.toBe(store.idOf(first.value))
      expect(loggedIn.maxAge).toBe(HOUR)
      const start = clock.seconds

      // Kept in use, the regenerated session lives past the first one's end (t0 + 2 h)...
      clock.set(start + 50 * MINUTE)
      const later = issued(await request(app).get('/visit').set('Cookie', loggedIn.pair).expect(200, { visits: 3 }))
      expect(later.maxAge).toBe(HOUR)
      clock.set(start + 90 * MINUTE)
      expect(clock.seconds).toBeGreaterThan(t0 + 2 * HOUR)
      const last = issued(await request(app).get('/visit').set('Cookie', later.pair).expect(200, { visits: 4 }))
      expect(last.maxAge).toBe(30 * MINUTE)
      expect(rejects).toEqual([])

      // ...until two hours after regenerate().
      clock.set(start + 2 * HOUR)
      await request(app).get('/').set('Cookie', last.pair).expect(200, {})
      expect(rejects).toEqual(['expired'])
    })
  })

  describe('cookie Max-Age', () => {
    /** The server accepts the cookie for exactly Max-Age seconds after it was issued, not one second more. */
    async function expectAcceptedForMaxAge (app: App, clock: TestClock, cookie: SetCookie, issuedAt: number, body: unknown): Promise<void> {
      const maxAge = cookie.maxAge as number
      expect(maxAge).toBeGreaterThan(0)
      const rejected = app.rejects.length
      clock.set(issuedAt + maxAge)
      await request(app.app).get('/').set('Cookie', cookie.pair).expect(200, {})
      expect(app.rejects.slice(rejected)).toEqual(['expired'])
      clock.set(issuedAt + maxAge - 1)
      await request(app.app).get('/').set('Cookie', cookie.pair).expect(200, body)
    }

    test('is the idle lifetime when that ends first, the rest of the absolute one otherwise', async () => {
      const clock = testClock()
      const app = makeApp(clock, { ...store.options(), ttl: HOUR, maxLifetime: 90 * MINUTE })
      const t0 = clock.seconds
      const fresh = issued(await request(app.app).get('/visit').expect(200, { visits: 1 }))
      expect(fresh.maxAge).toBe(HOUR)
      expect(fresh.attributes.expires).toBe(new Date((t0 + HOUR) * 1000).toUTCString())
      await expectAcceptedForMaxAge(app, clock, fresh, t0, { visits: 1 })

      const clock2 = testClock()
      const app2 = makeApp(clock2, { ...store.options(), ttl: HOUR, maxLifetime: 90 * MINUTE })
      const t1 = clock2.seconds
      const first = issued(await request(app2.app).get('/visit').expect(200, { visits: 1 }))
      clock2.set(t1 + 50 * MINUTE)
      const second = issued(await request(app2.app).get('/visit').set('Cookie', first.pair).expect(200, { visits: 2 }))
      expect(second.maxAge).toBe(40 * MINUTE)
      await expectAcceptedForMaxAge(app2, clock2, second, t1 + 50 * MINUTE, { visits: 2 })
    })

    test('a cookie re-issued after key rotation is not given more time than the session has left', async () => {
      const clock = testClock()
      const lifetimes = { ...store.options(), ttl: 1000, maxLifetime: 0 }
      const before = makeApp(clock, { ...lifetimes, secret: OLD_SECRET })
      const after = makeApp(clock, { ...lifetimes, secret: [SECRET, OLD_SECRET] })
      const original = issued(await request(before.app).get('/visit').expect(200, { visits: 1 }))
      // Under a tenth of the ttl later: a read that is not due for an idle refresh, but must be re-issued.
      clock.advance(50)
      const issuedAt = clock.seconds
      const reissued = issued(await request(after.app).get('/').set('Cookie', original.pair).expect(200, { visits: 1 }))
      await expectAcceptedForMaxAge(after, clock, reissued, issuedAt, { visits: 1 })
    })

    test('never exceeds 400 days, even with a 10-year ttl and no absolute lifetime', async () => {
      const clock = testClock()
      const app = makeApp(clock, { ...store.options(), ttl: 10 * 365 * DAY, maxLifetime: 0 })
      const t0 = clock.seconds
      const cookie = issued(await request(app.app).get('/visit').expect(200, { visits: 1 }))
      expect(cookie.maxAge).toBe(400 * DAY)
      expect(cookie.attributes.expires).toBe(new Date((t0 + 400 * DAY) * 1000).toUTCString())
      // The server would accept it longer than the browser keeps it: that is the safe direction.
      clock.set(t0 + 400 * DAY)
      await request(app.app).get('/').set('Cookie', cookie.pair).expect(200, { visits: 1 })
      expect(app.rejects).toEqual([])
    })

    test('arc\'s ARC_SESSION_TTL (and SESSION_TTL) sets Max-Age and the idle lifetime', async () => {
      for (const variable of ['ARC_SESSION_TTL', 'SESSION_TTL']) {
        const clock = testClock()
        const app = makeApp(clock, { ...store.options(), env: { [variable]: '1800' } })
        const t0 = clock.seconds
        const cookie = issued(await request(app.app).get('/visit').expect(200, { visits: 1 }))
        expect(cookie.maxAge).toBe(1800)
        await expectAcceptedForMaxAge(app, clock, cookie, t0, { visits: 1 })
      }
      // An explicit option wins over the environment.
      const clock = testClock()
      const app = makeApp(clock, { ...store.options(), ttl: 900, env: { ARC_SESSION_TTL: '1800' } })
      expect(issued(await request(app.app).get('/visit')).maxAge).toBe(900)
    })
  })
})

describe('DynamoDB store: expired items', () => {
  test('an item whose _ttl has passed is absent, though DynamoDB has not deleted it yet', async () => {
    const clock = testClock()
    const { app, rejects } = makeApp(clock, { table, dynamodb: { client }, ttl: HOUR })
    const t0 = clock.seconds
    const cookie = issued(await request(app).get('/visit').expect(200, { visits: 1 }))
    const id = STORES[1]?.idOf(cookie.value) as string

    clock.set(t0 + HOUR)
    // Still in the table (dynalite, like DynamoDB for a while, has not removed it)...
    expect(await itemTtl(id)).toBe(t0 + HOUR)
    // ...but no longer a session.
    const response = await request(app).get('/').set('Cookie', cookie.pair).expect(200, {})
    expect(rejects).toEqual(['expired'])
    expect(setCookiesOf(response).map(c => [c.name, c.maxAge])).toEqual([['_idx', 0]])

    // Writing starts a new item; the expired one is not brought back to life.
    const fresh = issued(await request(app).get('/visit').set('Cookie', cookie.pair).expect(200, { visits: 1 }))
    expect(STORES[1]?.idOf(fresh.value)).not.toBe(id)
    expect(await itemTtl(id)).toBe(t0 + HOUR)
  })
})
