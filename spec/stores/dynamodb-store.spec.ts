import express from 'express'
import request from 'supertest'
import { arcSession, type ArcSessionOptions } from 'arc-session'
import {
  REGION, SECRET, TestClock, cookieFor, countingClient, errorHandler, express4, expiresSession, getItem, idOf,
  itemCount, listen, makeTable, putItem, randomId, sessionPair, sessionSetCookie, signId, testEndpoint, wireValue,
  type CountingClient, type Item
} from '../support/dynamo-helpers'

/**
 * The DynamoDB store end to end: item layout, cookie format, hidden attributes,
 * regenerate/destroy, bad cookies, read()/write(), concurrent edits and configuration.
 */

type Make = typeof express
const FRAMEWORKS: Array<[string, Make]> = [['Express 5', express], ['Express 4', express4]]

const TTL = 3600
const ID = /^[A-Za-z0-9_-]{24}$/
const SID = /^[A-Za-z0-9_-]{22}$/

function buildApp (make: Make, options: ArcSessionOptions): express.Express {
  const app = make()
  app.use(arcSession({ env: { NODE_ENV: 'test' }, secret: SECRET, ttl: TTL, ...options }))
  app.get('/get', (req, res) => { res.json(req.session) })
  app.post('/set', make.json({ limit: '1mb' }), (req, res) => {
    Object.assign(req.session, req.body)
    res.send('ok')
  })
  app.post('/unset', make.json(), (req, res) => {
    for (const key of req.body.keys as string[]) delete req.session[key]
    res.send('ok')
  })
  app.post('/put', (req, res) => {
    req.session[String(req.query.key)] = Number(req.query.value)
    res.send('ok')
  })
  app.post('/regenerate', (req, res, next) => {
    req.session.regenerate({ keep: req.query.keep !== undefined }).then(() => { res.json(req.session) }, next)
  })
  app.post('/destroy', (req, res, next) => {
    req.session.destroy().then(() => { res.json(req.session) }, next)
  })
  app.use(errorHandler)
  return app
}

/** The session's data alone, as a user sees it (JSON), without the hidden identity symbol. */
function dataOf (session: object): unknown {
  return JSON.parse(JSON.stringify(session))
}

function withoutKey (item: Item | undefined, key: string): Item {
  const copy = { ...item }
  delete copy[key]
  return copy
}

describe.each(FRAMEWORKS)('DynamoDB store through %s', (_name, make) => {
  let table: string
  let counting: CountingClient
  let clock: TestClock
  let app: express.Express

  beforeAll(async () => {
    table = await makeTable('store')
    counting = countingClient()
  })
  afterAll(() => { counting.client.destroy() })
  beforeEach(() => {
    clock = new TestClock()
    app = buildApp(make, { table, dynamodb: { client: counting.client }, clock: clock.now })
  })

  async function createSession (data: Record<string, unknown>): Promise<{ pair: string, id: string }> {
    const res = await request(app).post('/set').send(data).expect(200)
    const pair = sessionPair(res)
    return { pair, id: idOf(pair).id }
  }

  describe('the item', () => {
    it("is arc's layout: _idx hash key, a 24-char _secret, _ttl in epoch seconds, _touched, _created, the _sid, and the data as native attributes", async () => {
      const { id } = await createSession({ name: 'ada', n: 3, flag: false, nothing: null, nested: { list: [1, 'two', true, null], deep: { x: 1.5 } } })
      const item = await getItem(counting.client, table, id)
      expect(item).toBeDefined()
      expect(item?._idx).toEqual({ S: id })
      expect(item?._secret?.S).toMatch(ID)
      expect(item?._ttl).toEqual({ N: String(clock.seconds + TTL) })
      expect(item?._created).toEqual({ N: String(clock.seconds) })
      expect(item?._touched).toEqual({ N: String(clock.seconds) })
      expect(item?._sid?.S).toMatch(SID)
      expect(item?.name).toEqual({ S: 'ada' })
      expect(item?.n).toEqual({ N: '3' })
      expect(item?.flag).toEqual({ BOOL: false })
      expect(item?.nothing).toEqual({ NULL: true })
      expect(item?.nested).toEqual({
        M: {
          list: { L: [{ N: '1' }, { S: 'two' }, { BOOL: true }, { NULL: true }] },
          deep: { M: { x: { N: '1.5' } } }
        }
      })
      expect(Object.keys(item ?? {}).sort()).toEqual(['_created', '_idx', '_secret', '_sid', '_touched', '_ttl', 'flag', 'n', 'name', 'nested', 'nothing'])
    })

    it('round-trips the data through the next request', async () => {
      const data = { name: 'ada', n: 3, flag: false, nothing: null, nested: { list: [1, 'two', true, null], deep: { x: 1.5 } } }
      const { pair } = await createSession(data)
      const res = await request(app).get('/get').set('Cookie', pair).expect(200)
      expect(res.body).toEqual(data)
    })
  })

  describe('the cookie', () => {
    it('is _idx=<24-char id>.<base64 HMAC-SHA256 of the id>, with + and / percent-encoded on the wire', async () => {
      // About three signatures in four contain + or /: make sessions until one does, to see the encoding.
      let cookie: string | undefined
      for (let attempt = 0; attempt < 40 && cookie === undefined; attempt++) {
        const res = await request(app).post('/set').send({ a: attempt }).expect(200)
        const candidate = sessionSetCookie(res) as string
        expect(candidate).toBeDefined()
        if (/[+/]/.test(decodeURIComponent(wireValue(candidate)))) cookie = candidate
      }
      expect(cookie).toBeDefined()
      const wire = wireValue(cookie as string)
      const { id, signature } = idOf(cookie as string)
      expect(id).toMatch(ID)
      expect(signId(id, SECRET)).toBe(`${id}.${signature}`)
      expect(signature).toMatch(/^[A-Za-z0-9+/]{43}$/)
      expect(wire).not.toMatch(/[+/=]/)
      expect(wire).toBe(encodeURIComponent(`${id}.${signature}`))
      expect(cookie).toMatch(/; HttpOnly/)
      expect(cookie).toMatch(/; Path=\//)
      expect(cookie).not.toMatch(/; Secure/)
    })

    it('is not set, and nothing is stored, when the session holds no data', async () => {
      const before = await itemCount(counting.client, table)
      const res = await request(app).get('/get').expect(200)
      expect(res.body).toEqual({})
      expect(res.headers['set-cookie']).toBeUndefined()
      expect(await itemCount(counting.client, table)).toBe(before)
    })
  })

  describe('reserved attributes', () => {
    it('never appear in the session data', async () => {
      const { pair } = await createSession({ user: 'ada' })
      const res = await request(app).get('/get').set('Cookie', pair).expect(200)
      expect(res.body).toEqual({ user: 'ada' })
    })

    it('cannot be overwritten through the session, on a new session or an existing one', async () => {
      // Well-shaped values, so that only their being reserved keeps them out (_maxAge: 1 would end the session in a second).
      const forged = { _secret: 'stolen', _ttl: 1, _created: 2, _touched: 3, _sid: 'attackerChosenSid_0000', _maxAge: 1 }
      const { pair, id } = await createSession({ user: 'ada', ...forged })
      const created = await getItem(counting.client, table, id)
      expect(created?._idx).toEqual({ S: id })
      expect(created?._secret?.S).toMatch(ID)
      expect(created?._ttl).toEqual({ N: String(clock.seconds + TTL) })
      expect(created?._created).toEqual({ N: String(clock.seconds) })
      expect(created?._touched).toEqual({ N: String(clock.seconds) })
      expect(created?._sid?.S).toMatch(SID)
      expect(created?._sid).not.toEqual({ S: forged._sid })
      expect(created?._maxAge).toBeUndefined()

      clock.advance(60)
      await request(app).post('/set').set('Cookie', pair).send({ more: 1, ...forged }).expect(200)
      const updated = await getItem(counting.client, table, id)
      expect(updated?._idx).toEqual({ S: id })
      expect(updated?._secret).toEqual(created?._secret)
      expect(updated?._created).toEqual(created?._created)
      expect(updated?._sid).toEqual(created?._sid)
      expect(updated?._ttl).toEqual({ N: String(clock.seconds + TTL) })
      expect(updated?._touched).toEqual({ N: String(clock.seconds) })
      expect(updated?._maxAge).toBeUndefined()
      expect(updated?.more).toEqual({ N: '1' })

      const res = await request(app).get('/get').set('Cookie', pair).expect(200)
      expect(res.body).toEqual({ user: 'ada', more: 1 })
    })

    it('_idx cannot be assigned at all: the route gets a TypeError, and no item takes the chosen id', async () => {
      const chosen = 'attacker-chosen-id-xxxxx'
      const { pair, id } = await createSession({ user: 'ada' })
      const before = await getItem(counting.client, table, id)
      for (const cookie of [undefined, pair]) {
        const attempt = request(app).post('/set').send({ _idx: chosen })
        const res = await (cookie === undefined ? attempt : attempt.set('Cookie', cookie)).expect(500)
        expect(res.body.error).toBe('TypeError')
        expect(res.body.message).toMatch(/_idx cannot be assigned/)
      }
      expect(await getItem(counting.client, table, chosen)).toBeUndefined()
      expect(await getItem(counting.client, table, id)).toEqual(before)
    })
  })

  describe('regenerate()', () => {
    it('with { keep: true } moves the data to a new id and deletes the old item', async () => {
      const { pair, id } = await createSession({ user: 'ada', cart: [1, 2] })
      const old = await getItem(counting.client, table, id)
      const res = await request(app).post('/regenerate?keep').set('Cookie', pair).expect(200)
      expect(res.body).toEqual({ user: 'ada', cart: [1, 2] })
      const next = sessionPair(res)
      const newId = idOf(next).id
      expect(newId).toMatch(ID)
      expect(newId).not.toBe(id)
      expect(await getItem(counting.client, table, id)).toBeUndefined()
      const item = await getItem(counting.client, table, newId)
      expect(item?.user).toEqual({ S: 'ada' })
      expect(item?.cart).toEqual({ L: [{ N: '1' }, { N: '2' }] })
      expect(item?._sid?.S).toMatch(SID)
      expect(item?._sid).not.toEqual(old?._sid)

      expect((await request(app).get('/get').set('Cookie', next).expect(200)).body).toEqual({ user: 'ada', cart: [1, 2] })
      expect((await request(app).get('/get').set('Cookie', pair).expect(200)).body).toEqual({})
    })

    it('without keep deletes the old item and stores nothing for the new, empty session', async () => {
      const { pair, id } = await createSession({ user: 'ada' })
      const count = await itemCount(counting.client, table)
      const res = await request(app).post('/regenerate').set('Cookie', pair).expect(200)
      expect(res.body).toEqual({})
      expect(expiresSession(res)).toBe(true)
      expect(sessionSetCookie(res)).toBeUndefined()
      expect(await getItem(counting.client, table, id)).toBeUndefined()
      expect(await itemCount(counting.client, table)).toBe(count - 1)
    })
  })

  describe('destroy()', () => {
    it('deletes the item and expires the cookie', async () => {
      const { pair, id } = await createSession({ user: 'ada' })
      const res = await request(app).post('/destroy').set('Cookie', pair).expect(200)
      expect(res.body).toEqual({})
      expect(expiresSession(res)).toBe(true)
      expect(sessionSetCookie(res)).toBeUndefined()
      expect(await getItem(counting.client, table, id)).toBeUndefined()
      expect((await request(app).get('/get').set('Cookie', pair).expect(200)).body).toEqual({})
    })
  })

  describe('cookies that do not lead to a session give an empty session and a 200', () => {
    it('a forged id: valid-looking id, made-up signature', async () => {
      const { id } = await createSession({ user: 'victim' })
      const madeUp = `_idx=${encodeURIComponent(`${id}.${'A'.repeat(43)}`)}`
      const res = await request(app).get('/get').set('Cookie', madeUp).expect(200)
      expect(res.body).toEqual({})
      expect(sessionSetCookie(res)).toBeUndefined()
    })

    it('a tampered signature', async () => {
      const { pair } = await createSession({ user: 'victim' })
      const { id, signature } = idOf(pair)
      const flipped = (signature[0] === 'Q' ? 'R' : 'Q') + signature.slice(1)
      const res = await request(app).get('/get').set('Cookie', `_idx=${encodeURIComponent(`${id}.${flipped}`)}`).expect(200)
      expect(res.body).toEqual({})
    })

    it('a signature made with another secret', async () => {
      const { id } = await createSession({ user: 'victim' })
      const res = await request(app).get('/get').set('Cookie', cookieFor(id, 'some-other-secret-0123456789-abcdefghij')).expect(200)
      expect(res.body).toEqual({})
    })

    it('a valid signature for an id with no item; writing then makes a new id, never the one the client chose', async () => {
      const chosen = randomId()
      const res = await request(app).get('/get').set('Cookie', cookieFor(chosen)).expect(200)
      expect(res.body).toEqual({})
      const written = await request(app).post('/set').set('Cookie', cookieFor(chosen)).send({ user: 'x' }).expect(200)
      const { id } = idOf(sessionPair(written))
      expect(id).not.toBe(chosen)
      expect(await getItem(counting.client, table, chosen)).toBeUndefined()
      expect((await getItem(counting.client, table, id))?.user).toEqual({ S: 'x' })
    })

    it('an item whose _ttl has passed (DynamoDB has not deleted it yet)', async () => {
      const id = randomId()
      await putItem(counting.client, table, { _idx: { S: id }, _secret: { S: randomId() }, _ttl: { N: String(clock.seconds - 1) }, user: { S: 'old' } })
      const res = await request(app).get('/get').set('Cookie', cookieFor(id)).expect(200)
      expect(res.body).toEqual({})
    })

    it('a session left alone longer than the ttl (clock moved); reading it in time keeps it alive', async () => {
      const idle = await createSession({ user: 'idle' })
      const active = await createSession({ user: 'active' })
      clock.advance(TTL - 1)
      expect((await request(app).get('/get').set('Cookie', active.pair).expect(200)).body).toEqual({ user: 'active' })
      clock.advance(2)
      expect((await request(app).get('/get').set('Cookie', idle.pair).expect(200)).body).toEqual({})
      expect((await request(app).get('/get').set('Cookie', active.pair).expect(200)).body).toEqual({ user: 'active' })
      clock.advance(TTL)
      expect((await request(app).get('/get').set('Cookie', active.pair).expect(200)).body).toEqual({})
    })

    it('an item without arc\'s _secret (arc discards those too)', async () => {
      const id = randomId()
      await putItem(counting.client, table, { _idx: { S: id }, _ttl: { N: String(clock.seconds + TTL) }, user: { S: 'no-secret' } })
      expect((await request(app).get('/get').set('Cookie', cookieFor(id)).expect(200)).body).toEqual({})
    })

    it('garbage, an id too short, and an unsigned id', async () => {
      for (const cookie of ['_idx=%%%garbage', '_idx=abc.def', `_idx=${randomId()}`, '_idx=', `_idx=${'x'.repeat(5000)}`]) {
        const res = await request(app).get('/get').set('Cookie', cookie).expect(200)
        expect(res.body).toEqual({})
      }
    })
  })

  describe('read() / write() on this store', () => {
    it("write({ ...session, step: 2 }) writes the same session: same id, only step changed", async () => {
      const mw = arcSession({ env: { NODE_ENV: 'test' }, secret: SECRET, ttl: TTL, table, dynamodb: { client: counting.client }, clock: clock.now })
      const { pair, id } = await createSession({ user: 'ada', step: 1 })
      const before = await getItem(counting.client, table, id)

      const session = await mw.read({ headers: { Cookie: pair } })
      expect(dataOf(session)).toEqual({ user: 'ada', step: 1 })
      const setCookie = await mw.write({ ...session, step: 2 })
      expect(idOf(setCookie).id).toBe(id)

      const after = await getItem(counting.client, table, id)
      expect(after?.step).toEqual({ N: '2' })
      expect(withoutKey(after, 'step')).toEqual(withoutKey(before, 'step'))
      expect((await request(app).get('/get').set('Cookie', pair).expect(200)).body).toEqual({ user: 'ada', step: 2 })
    })

    it('reads API Gateway v2 events (cookies array) and returns {} for a request without a cookie, storing nothing', async () => {
      const mw = arcSession({ env: { NODE_ENV: 'test' }, secret: SECRET, ttl: TTL, table, dynamodb: { client: counting.client }, clock: clock.now })
      const { pair } = await createSession({ user: 'v2' })
      expect(dataOf(await mw.read({ cookies: ['other=1', pair] }))).toEqual({ user: 'v2' })
      counting.reset()
      expect(dataOf(await mw.read({ headers: {} }))).toEqual({})
      expect(counting.sent).toEqual([])
    })

    it('writing a plain object without the hidden identity makes a new session', async () => {
      const mw = arcSession({ env: { NODE_ENV: 'test' }, secret: SECRET, ttl: TTL, table, dynamodb: { client: counting.client }, clock: clock.now })
      const { id: existing } = await createSession({ user: 'ada' })
      const first = idOf(await mw.write({ user: 'ada' })).id
      const second = idOf(await mw.write({ user: 'ada' })).id
      expect(first).toMatch(ID)
      expect(new Set([existing, first, second]).size).toBe(3)
      expect((await getItem(counting.client, table, first))?.user).toEqual({ S: 'ada' })
      expect((await getItem(counting.client, table, existing))?.user).toEqual({ S: 'ada' })
    })

    it('write(session) after read() persists changes made on the object itself', async () => {
      const mw = arcSession({ env: { NODE_ENV: 'test' }, secret: SECRET, ttl: TTL, table, dynamodb: { client: counting.client }, clock: clock.now })
      const { pair, id } = await createSession({ count: 1, keep: 'me' })
      const session = await mw.read({ headers: { cookie: pair } })
      session.count = 2
      delete session.keep
      expect(idOf(await mw.write(session)).id).toBe(id)
      const item = await getItem(counting.client, table, id)
      expect(item?.count).toEqual({ N: '2' })
      expect(item?.keep).toBeUndefined()
    })
  })

  describe('concurrent requests on one session', () => {
    it('changing different keys keep every change', async () => {
      const server = await listen(app)
      try {
        const { pair, id } = await createSession({ base: 0 })
        // Hold every read a little, so concurrent requests all read before any of them writes.
        counting.slowDown(['GetItem'], 40)
        const rounds = 12
        const perRound = 4
        for (let round = 0; round < rounds; round++) {
          await Promise.all(Array.from({ length: perRound }, (_, lane) =>
            request(server.url).post(`/put?key=k${round}_${lane}&value=${round * 10 + lane}`).set('Cookie', pair).expect(200)))
        }
        counting.slowDown([], 0)
        const item = await getItem(counting.client, table, id)
        for (let round = 0; round < rounds; round++) {
          for (let lane = 0; lane < perRound; lane++) expect(item?.[`k${round}_${lane}`]).toEqual({ N: String(round * 10 + lane) })
        }
        const res = await request(server.url).get('/get').set('Cookie', pair).expect(200)
        expect(Object.keys(res.body as object)).toHaveLength(rounds * perRound + 1)
      } finally {
        counting.slowDown([], 0)
        await server.close()
      }
    })
  })

  describe('configuration', () => {
    it('{ endpoint, region } makes a working client', async () => {
      const configured = buildApp(make, { table, dynamodb: { endpoint: testEndpoint(), region: REGION }, clock: clock.now })
      const res = await request(configured).post('/set').send({ via: 'endpoint' }).expect(200)
      const pair = sessionPair(res)
      expect((await getItem(counting.client, table, idOf(pair).id))?.via).toEqual({ S: 'endpoint' })
      expect((await request(configured).get('/get').set('Cookie', pair).expect(200)).body).toEqual({ via: 'endpoint' })
    })

    it('AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION, ARC_SESSION_TABLE_NAME and ARC_APP_SECRET through the env option', async () => {
      const configured = make()
      configured.use(arcSession({
        env: { AWS_ENDPOINT_URL_DYNAMODB: testEndpoint(), AWS_REGION: REGION, ARC_SESSION_TABLE_NAME: table, ARC_APP_SECRET: SECRET },
        clock: clock.now
      }))
      configured.get('/get', (req, res) => { res.json(req.session) })
      configured.post('/set', make.json(), (req, res) => { Object.assign(req.session, req.body); res.send('ok') })
      configured.use(errorHandler)
      const res = await request(configured).post('/set').send({ via: 'env' }).expect(200)
      const pair = sessionPair(res)
      expect((await getItem(counting.client, table, idOf(pair).id))?.via).toEqual({ S: 'env' })
      expect((await request(configured).get('/get').set('Cookie', pair).expect(200)).body).toEqual({ via: 'env' })
      // Same table, same secret: the app configured by options reads it too.
      expect((await request(app).get('/get').set('Cookie', pair).expect(200)).body).toEqual({ via: 'env' })
    })

    it('a custom client is the one used', async () => {
      const own = countingClient()
      try {
        const configured = buildApp(make, { table, dynamodb: { client: own.client }, clock: clock.now })
        const res = await request(configured).post('/set').send({ via: 'client' }).expect(200)
        await request(configured).get('/get').set('Cookie', sessionPair(res)).expect(200, { via: 'client' })
        expect(own.sent.map(command => command.name)).toEqual(['PutItem', 'GetItem'])
        expect(own.sent.every(command => command.input.TableName === table)).toBe(true)
      } finally {
        own.client.destroy()
      }
    })
  })
})
