/**
 * Wire compatibility with the real @architect/functions (arc.http.session, JWE mode) in both
 * directions, for every algorithm: arc's tokens are read by our middleware and read(); ours
 * (middleware Set-Cookie, write()) are read by arc with the data intact; both lifetimes are
 * honoured both ways; several _idx cookies; an arc session carried on by us.
 *
 * arc reads process.env at call time and sets ARC_ENV=testing when it is loaded: it is loaded
 * in beforeAll and the environment is put back in afterAll.
 */
import request from 'supertest'
import express from 'express'
import { arcSession, read, write, type ArcSessionOptions } from 'arc-session'
import {
  ALGORITHMS, OTHER_SECRET, SECRET, WEEK, captureRejects, cookieHeaderFrom, cookieValue, jose, nowSeconds, pairOf,
  plain, rawKey, sealClaims, setCookiesOf, type Algorithm
} from '../support/tokens'

type Arc = typeof import('@architect/functions')
type ArcRequest = Parameters<Arc['http']['session']['read']>[0]

const ENV_NAMES = [
  'ARC_ENV', 'ARC_SESSION_TABLE_NAME', 'SESSION_TABLE_NAME', 'ARC_APP_SECRET', 'ARC_APP_SECRET_ALGO', 'ARC_APP_SECRET_PREVIOUS',
  'ARC_SESSION_TTL', 'SESSION_TTL', 'ARC_SESSION_MAX_LIFETIME', 'ARC_FORCE_LEGACY_JWE_SECRET', 'ARC_SESSION_DOMAIN', 'SESSION_DOMAIN'
]
const savedEnv = Object.fromEntries(ENV_NAMES.map(name => [name, process.env[name]]))

function restoreEnv (): void {
  for (const name of ENV_NAMES) {
    const value = savedEnv[name]
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
}

let arc: Arc

beforeAll(() => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  arc = require('@architect/functions') as Arc
})

afterAll(restoreEnv)

/** What arc's session.read makes of a Cookie header. */
async function arcRead (cookie: string): Promise<Record<string, unknown>> {
  return await arc.http.session.read({ headers: { cookie } } as unknown as ArcRequest) as Record<string, unknown>
}

/** The `_idx` token of a Set-Cookie value arc's session.write gives for `data`. */
async function arcWrite (data: Record<string, unknown>): Promise<string> {
  return cookieValue([await arc.http.session.write({ ...data })]) ?? ''
}

/** arc's payload minus the claims its tokens (and ours) carry next to the data. */
function withoutClaims (payload: Record<string, unknown>): Record<string, unknown> {
  const { iat, exp, _created, ...data } = payload
  return data
}

/** A session id as we write it into our tokens; arc, which does not know it, shows it as data. */
const SID = /^[A-Za-z0-9_-]{22}$/

/** arc's payload of one of our tokens: it must carry our session id, and the data is what is left without it and the claims. */
function dataOfOurs (payload: Record<string, unknown>): Record<string, unknown> {
  const { _sid, ...rest } = payload
  expect(_sid).toMatch(SID)
  return withoutClaims(rest)
}

describe.each(ALGORITHMS)('@architect/functions <-> arc-session, %s', (algorithm: Algorithm) => {
  const data = { a: 1, name: 'zoë ✓', list: [1, 'two', null, { three: 3 }], nested: { deep: { deeper: true } } }

  function ours (extra: ArcSessionOptions = {}): ArcSessionOptions {
    return { secret: SECRET, algorithm, env: {}, ...extra }
  }

  function app (extra: ArcSessionOptions = {}): express.Express {
    const server = express()
    server.use(arcSession(ours(extra)))
    server.get('/', (req, res) => { res.json(req.session) })
    server.get('/count', (req, res) => {
      req.session.count = (Number(req.session.count) || 0) + 1
      res.json(req.session)
    })
    return server
  }

  beforeEach(() => {
    process.env.ARC_SESSION_TABLE_NAME = 'jwe'
    process.env.ARC_APP_SECRET = SECRET
    process.env.ARC_APP_SECRET_ALGO = algorithm
    delete process.env.ARC_SESSION_TTL
    delete process.env.SESSION_TTL
    delete process.env.ARC_APP_SECRET_PREVIOUS
  })

  describe('arc writes, we read', () => {
    it('our middleware puts arc\'s data in req.session, without iat', async () => {
      const token = await arcWrite(data)
      const res = await request(app()).get('/').set('Cookie', `_idx=${token}`)
      expect(res.status).toBe(200)
      expect(res.body).toEqual(data)
    })

    it('our read() (configured from the same environment as arc) gives arc\'s data', async () => {
      const token = await arcWrite(data)
      expect(plain(await read({ headers: { cookie: `_idx=${token}` } }))).toEqual(data)
    })

    it('a read() instance with explicit options, on an API Gateway v2 event (cookies array), gives arc\'s data', async () => {
      const token = await arcWrite(data)
      expect(plain(await arcSession(ours()).read({ cookies: ['other=1', `_idx=${token}`] }))).toEqual(data)
    })
  })

  describe('we write, arc reads', () => {
    it('the middleware\'s Set-Cookie is read by arc with the data intact', async () => {
      const at = Math.floor(Date.now() / 1000) - 5
      const server = express()
      server.use(arcSession(ours({ clock: () => at * 1000 })))
      server.get('/login', (req, res) => { Object.assign(req.session, data); res.end('ok') })
      const res = await request(server).get('/login')
      const setCookies = setCookiesOf(res)
      expect(setCookies).toHaveLength(1)
      const payload = await arcRead(cookieHeaderFrom(setCookies))
      expect(payload).toEqual({ ...data, _sid: expect.stringMatching(SID), _created: at, iat: at, exp: at + WEEK })
    })

    it('our env-configured write() is read by arc', async () => {
      const setCookie = await write({ ...data })
      expect(dataOfOurs(await arcRead(pairOf(setCookie)))).toEqual(data)
    })

    it('an instance\'s write() is read by arc', async () => {
      const setCookie = await arcSession(ours()).write({ ...data })
      expect(dataOfOurs(await arcRead(pairOf(setCookie)))).toEqual(data)
    })

    it('arc writes a session object our read() returned, and we read arc\'s token back', async () => {
      const first = await arcSession(ours()).write({ ...data })
      const session = await read({ headers: { cookie: pairOf(first) } })
      session.step = 2
      const token = await arcWrite(session)
      expect(plain(await read({ headers: { cookie: `_idx=${token}` } }))).toEqual({ ...data, step: 2 })
    })
  })

  describe('lifetimes, both ways', () => {
    it('arc\'s token: we accept it until iat + 604800 and refuse it after (our clock injected)', async () => {
      const token = await arcWrite(data)
      const iat = Number((await arcRead(`_idx=${token}`)).iat)
      const inside = await request(app({ clock: () => (iat + WEEK - 60) * 1000 })).get('/').set('Cookie', `_idx=${token}`)
      expect(inside.body).toEqual(data)

      const rejects = captureRejects()
      const after = await request(app({ clock: () => (iat + WEEK + 1) * 1000, onReject: rejects.onReject })).get('/').set('Cookie', `_idx=${token}`)
      expect(after.status).toBe(200)
      expect(after.body).toEqual({})
      expect(rejects.reasons).toEqual(['expired'])
    })

    it('a token with an old iat (made with jose): arc and we both refuse it past the week and accept it inside', async () => {
      const key = rawKey(SECRET, algorithm)
      const seal = async (claims: Record<string, unknown>): Promise<string> => await new jose.CompactEncrypt(new TextEncoder().encode(JSON.stringify(claims)))
        .setProtectedHeader({ alg: 'dir', enc: algorithm }).encrypt(key)
      const old = await seal({ ...data, iat: nowSeconds() - WEEK - 60 })
      const recent = await seal({ ...data, iat: nowSeconds() - WEEK + 3600 })

      expect(await arcRead(`_idx=${old}`)).toEqual({})
      expect(plain(await read({ headers: { cookie: `_idx=${old}` } }))).toEqual({})
      expect(withoutClaims(await arcRead(`_idx=${recent}`))).toEqual(data)
      expect(plain(await read({ headers: { cookie: `_idx=${recent}` } }))).toEqual(data)
    })

    it('a token with a recent iat and a past exp (made with jose): arc and we both refuse it', async () => {
      const token = await new jose.CompactEncrypt(new TextEncoder().encode(JSON.stringify({ ...data, iat: nowSeconds() - 60, exp: nowSeconds() - 1 })))
        .setProtectedHeader({ alg: 'dir', enc: algorithm }).encrypt(rawKey(SECRET, algorithm))
      expect(await arcRead(`_idx=${token}`)).toEqual({})
      expect(plain(await read({ headers: { cookie: `_idx=${token}` } }))).toEqual({})
    })

    it('our exp is honoured by arc: a token written with ttl 60, 120 s ago, is refused; with ttl 3600 it is read', async () => {
      const past = Date.now() - 120_000
      const short = await arcSession(ours({ ttl: 60, clock: () => past })).write({ ...data })
      expect(await arcRead(pairOf(short))).toEqual({})
      const long = await arcSession(ours({ ttl: 3600, clock: () => past })).write({ ...data })
      expect(dataOfOurs(await arcRead(pairOf(long)))).toEqual(data)
    })

    it('arc holds our tokens to its own week from iat: a ttl longer than a week does not stretch it for arc', async () => {
      const eightDaysAgo = Date.now() - 8 * 24 * 3600 * 1000
      const options = ours({ ttl: 30 * 24 * 3600, maxLifetime: 0 })
      const setCookie = await arcSession({ ...options, clock: () => eightDaysAgo }).write({ ...data })
      expect(await arcRead(pairOf(setCookie))).toEqual({})
      expect(plain(await arcSession(options).read({ headers: { cookie: pairOf(setCookie) } }))).toEqual(data)
    })
  })

  describe('several _idx cookies', () => {
    it('two valid ones: arc and we both take the last', async () => {
      const first = await arcWrite({ v: 'first' })
      const last = await arcWrite({ v: 'last' })
      const header = `_idx=${first}; _idx=${last}`
      expect(withoutClaims(await arcRead(header))).toEqual({ v: 'last' })
      expect(plain(await arcSession(ours()).read({ headers: { cookie: header } }))).toEqual({ v: 'last' })
      expect((await request(app()).get('/').set('Cookie', header)).body).toEqual({ v: 'last' })
    })

    it('a tampered or foreign one after valid ones: we take the last one that verifies (arc gives up)', async () => {
      const first = await arcWrite({ v: 'first' })
      const second = await arcWrite({ v: 'second' })
      const tampered = second.slice(0, -3) + (second.endsWith('AAA') ? 'BAA' : 'AAA')
      const foreign = sealClaims(OTHER_SECRET, algorithm, { v: 'foreign', iat: nowSeconds() })
      const header = `_idx=${first}; _idx=${second}; _idx=${foreign}; _idx=${tampered}`
      expect(await arcRead(header)).toEqual({})
      expect(plain(await arcSession(ours()).read({ headers: { cookie: header } }))).toEqual({ v: 'second' })
      expect((await request(app()).get('/').set('Cookie', header)).body).toEqual({ v: 'second' })
    })
  })

  it('a session arc started, carried on by our middleware, is still whole for arc and for us', async () => {
    const token = await arcWrite(data)
    const res = await request(app()).get('/count').set('Cookie', `other=x; _idx=${token}`)
    expect(res.body).toEqual({ ...data, count: 1 })
    const cookie = cookieHeaderFrom(setCookiesOf(res))
    const first = await arcRead(cookie)
    expect(dataOfOurs(first)).toEqual({ ...data, count: 1 })

    const again = await request(app()).get('/count').set('Cookie', cookie)
    expect(again.body).toEqual({ ...data, count: 2 })
    const second = await arcRead(cookieHeaderFrom(setCookiesOf(again)))
    expect(dataOfOurs(second)).toEqual({ ...data, count: 2 })
    // One session throughout: the id we gave it on its first write is kept.
    expect(second._sid).toBe(first._sid)
  })
})

describe('why we pin the algorithm', () => {
  beforeEach(() => {
    process.env.ARC_SESSION_TABLE_NAME = 'jwe'
    process.env.ARC_APP_SECRET = SECRET
    process.env.ARC_APP_SECRET_ALGO = 'A256GCM'
  })

  it('arc, configured for A256GCM, opens an A128GCM token keyed with the first 16 bytes; we refuse it', async () => {
    const token = await new jose.CompactEncrypt(new TextEncoder().encode(JSON.stringify({ admin: true, iat: nowSeconds() })))
      .setProtectedHeader({ alg: 'dir', enc: 'A128GCM' }).encrypt(rawKey(SECRET, 'A128GCM'))
    expect(withoutClaims(await arcRead(`_idx=${token}`))).toEqual({ admin: true })

    const rejects = captureRejects()
    const session = await arcSession({ secret: SECRET, algorithm: 'A256GCM', env: {}, onReject: rejects.onReject }).read({ headers: { cookie: `_idx=${token}` } })
    expect(plain(session)).toEqual({})
    expect(rejects.reasons).toEqual(['wrong-algorithm'])
  })
})
