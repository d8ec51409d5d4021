import { randomBytes } from 'node:crypto'
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb'
import type * as Jose from 'jose' with { 'resolution-mode': 'import' }
import request from 'supertest'
import {
  arcSession, createTable, read, sessionInfo, SessionDataError, SessionTooLargeError, write,
  type ArcSessionOptions, type SessionApi, type SessionData
} from 'arc-session'
import { SECRET, cookieHeader, listen, parseSetCookie, testOptions } from '../support/apps'
import { useEnvironment } from '../support/environment'

// jose 6 is ESM only; jest's transform (jest.config.js) turns it into CommonJS, which TypeScript cannot know.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { compactDecrypt } = require('jose') as typeof Jose

// arc's functional API: read(req) / write(session), module-level (configured from process.env)
// and bound to a middleware's options.

/** A session id as arc-session makes one: 16 random bytes, base64url. */
const SID = /^[A-Za-z0-9_-]{22}$/
const RESERVED = ['iat', 'exp', 'nbf', '_created', '_touched', '_idx', '_secret', '_ttl', '_sid', '_maxAge']

/** `name=value` pairs for a Cookie header from write()'s Set-Cookie value(s). */
function cookieFrom (setCookie: string | string[]): string {
  return cookieHeader(Array.isArray(setCookie) ? setCookie : [setCookie])
}

/**
 * The data of a session read() returned. Its identity rides on an enumerable symbol (so that
 * `{ ...session }` keeps it), which jest's toEqual would compare too.
 */
function plain (session: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(session))
}

async function readPlain (readSession: (request: unknown) => Promise<SessionData>, request: unknown): Promise<Record<string, unknown>> {
  return plain(await readSession(request))
}

function deepFreeze<T> (value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
    Object.freeze(value)
  }
  return value
}

describe('module-level read() and write(), configured from process.env at call time', () => {
  const VARIABLES = ['ARC_APP_SECRET', 'ARC_APP_SECRET_PREVIOUS', 'ARC_APP_SECRET_ALGO', 'ARC_SESSION_TABLE_NAME', 'SESSION_TABLE_NAME',
    'ARC_SESSION_TTL', 'SESSION_TTL', 'ARC_SESSION_MAX_LIFETIME', 'ARC_SESSION_DOMAIN', 'SESSION_DOMAIN', 'ARC_SESSION_SAME_SITE', 'ARC_ENV']
  useEnvironment(VARIABLES, { ARC_APP_SECRET: SECRET, ARC_ENV: 'testing' })

  test('a counter on a plain node:http server: read(req) from the IncomingMessage, write() gives the Set-Cookie', async () => {
    const running = await listen((req, res) => {
      read(req).then(async session => {
        session.count = (session.count ?? 0) + 1
        res.setHeader('Set-Cookie', await write(session))
        res.setHeader('Content-Type', 'application/json')
        res.end(JSON.stringify(session))
      }).catch(error => { res.statusCode = 500; res.end(String(error)) })
    })
    try {
      const agent = request.agent(running.url)
      const counts: unknown[] = []
      for (let i = 0; i < 3; i++) counts.push((await agent.get('/').expect(200)).body.count)
      expect(counts).toEqual([1, 2, 3])
    } finally {
      await running.close()
    }
  })

  test('a change of ARC_APP_SECRET takes effect on the next call', async () => {
    const cookie = cookieFrom(await write({ n: 1 }))
    expect(await readPlain(read, { headers: { cookie } })).toEqual({ n: 1 })
    process.env.ARC_APP_SECRET = 'another-secret-entirely-0123456789abcdef'
    expect(await readPlain(read, { headers: { cookie } })).toEqual({})
    process.env.ARC_APP_SECRET = SECRET
    expect(await readPlain(read, { headers: { cookie } })).toEqual({ n: 1 })
  })

  test('ARC_SESSION_TTL, ARC_SESSION_DOMAIN and ARC_SESSION_SAME_SITE shape the cookie write() gives', async () => {
    process.env.ARC_SESSION_TTL = '90'
    process.env.ARC_SESSION_DOMAIN = 'api.example.com'
    process.env.ARC_SESSION_SAME_SITE = 'strict'
    const cookie = parseSetCookie(await write({ n: 1 }))
    expect(cookie.attributes).toMatchObject({ 'max-age': '90', domain: 'api.example.com', samesite: 'Strict', httponly: true })
    expect(cookie.attributes.secure).toBeUndefined()
  })

  test('ARC_SESSION_TABLE_NAME=jwe keeps the cookie store', async () => {
    process.env.ARC_SESSION_TABLE_NAME = 'jwe'
    const session = await read({ headers: {} })
    session.n = 1
    await write(session)
    expect(sessionInfo(session).store).toBe('jwe')
  })

  test('API Gateway v1 and v2 events', async () => {
    const cookie = cookieFrom(await write({ from: 'module' }))
    expect(await readPlain(read, { headers: { cookie } })).toEqual({ from: 'module' })
    expect(await readPlain(read, { headers: { Cookie: cookie } })).toEqual({ from: 'module' })
    expect(await readPlain(read, { cookies: cookie.split('; ') })).toEqual({ from: 'module' })
  })

  test('callback forms return undefined and call back with (null, value)', async () => {
    const written = await new Promise<{ returned: unknown, error: unknown, value: unknown }>(resolve => {
      const returned = write({ n: 2 }, (error, value) => { resolve({ returned, error, value }) })
    })
    expect(written.returned).toBeUndefined()
    expect(written.error).toBeNull()
    const cookie = cookieFrom(written.value as string)
    const got = await new Promise<{ returned: unknown, error: unknown, value: unknown }>(resolve => {
      const returned = read({ headers: { cookie } }, (error, value) => { resolve({ returned, error, value }) })
    })
    expect(got.returned).toBeUndefined()
    expect(got.error).toBeNull()
    expect(plain(got.value as object)).toEqual({ n: 2 })
  })
})

let client: DynamoDBClient | undefined
const table = `api-${process.pid}-${Date.now().toString(36)}`

beforeAll(async () => {
  client = new DynamoDBClient({
    endpoint: process.env.DYNAMODB_TEST_ENDPOINT as string, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }
  })
  await createTable(table, { client })
})

afterAll(() => { client?.destroy() })

type Kind = 'jwe' | 'dynamodb'
const KINDS: ReadonlyArray<readonly [string, Kind]> = [['JWE cookie store', 'jwe'], ['DynamoDB store', 'dynamodb']]

describe.each(KINDS)('read()/write() bound to the middleware on the %s', (_name, kind) => {
  let now = 0
  const T0 = Math.floor(Date.now() / 1000) * 1000
  beforeEach(() => { now = T0 })

  function bound (extra: ArcSessionOptions = {}): SessionApi {
    const options = testOptions({ clock: () => now, ttl: 3600, maxLifetime: 86400, ...extra })
    return arcSession(kind === 'jwe' ? options : { ...options, table, dynamodb: { client: client as DynamoDBClient } })
  }

  /** The session id a DynamoDB cookie carries (`id.signature`). */
  function idOf (setCookie: string): string {
    return decodeURIComponent(parseSetCookie(setCookie).value).split('.')[0] as string
  }

  test('read(req) on a Node IncomingMessage, through a real server', async () => {
    const sessions = bound()
    const running = await listen((req, res) => {
      sessions.read(req).then(async session => {
        session.count = (session.count ?? 0) + 1
        res.setHeader('Set-Cookie', await sessions.write(session))
        res.end(JSON.stringify(session))
      }).catch(error => { res.statusCode = 500; res.end(String(error)) })
    })
    try {
      const agent = request.agent(running.url)
      expect(JSON.parse((await agent.get('/')).text)).toEqual({ count: 1 })
      expect(JSON.parse((await agent.get('/')).text)).toEqual({ count: 2 })
    } finally {
      await running.close()
    }
  })

  test.each<[string, (cookie: string) => object]>([
    ['v1 headers.cookie', cookie => ({ headers: { cookie: `other=1; ${cookie}` } })],
    ['v1 headers.Cookie', cookie => ({ headers: { Cookie: `${cookie}; other=1` } })],
    ['v1 multiValueHeaders.Cookie only', cookie => ({ headers: {}, multiValueHeaders: { Cookie: ['other=1', cookie] } })],
    ['v1 multiValueHeaders.cookie next to null headers', cookie => ({ headers: null, multiValueHeaders: { cookie: [cookie] } })],
    ['v2 cookies array', cookie => ({ version: '2.0', headers: { 'user-agent': 'jest' }, cookies: ['other=1', cookie] })]
  ])('read() an API Gateway %s event', async (_how, event) => {
    const sessions = bound()
    const cookie = cookieFrom(await sessions.write({ user: 'ada', n: [1, 2] }))
    expect(await readPlain(sessions.read, event(cookie))).toEqual({ user: 'ada', n: [1, 2] })
  })

  test('read() of an event or request without a session cookie is {}', async () => {
    const sessions = bound()
    expect(await readPlain(sessions.read, { headers: {} })).toEqual({})
    expect(await readPlain(sessions.read, { version: '2.0', headers: {} })).toEqual({})
    expect(await readPlain(sessions.read, { headers: { cookie: '_idx=garbage' } })).toEqual({})
  })

  test('callback forms return undefined; errors arrive in the callback', async () => {
    const sessions = bound()
    const settled = <T>(start: (callback: (error: Error | null, value?: T) => void) => unknown) =>
      new Promise<{ returned: unknown, error: Error | null, value: T | undefined }>(resolve => {
        const returned = start((error, value) => { resolve({ returned, error, value }) })
      })
    const written = await settled<string>(cb => sessions.write({ n: 1 }, cb))
    expect(written).toMatchObject({ returned: undefined, error: null })
    const got = await settled<SessionData>(cb => sessions.read({ headers: { cookie: cookieFrom(written.value as string) } }, cb))
    expect(got).toMatchObject({ returned: undefined, error: null })
    expect(plain(got.value as object)).toEqual({ n: 1 })
    const all = await settled<string[]>(cb => sessions.writeCookies({ n: 2 }, cb))
    expect(all.returned).toBeUndefined()
    expect(all.value).toHaveLength(1)
    const failed = await settled<string>(cb => sessions.write({ n: BigInt(3) }, cb))
    expect(failed.returned).toBeUndefined()
    expect(failed.error).toBeInstanceOf(SessionDataError)
  })

  test('write() never mutates the object it is given', async () => {
    const sessions = bound()
    const given = { user: 'ada', nested: { list: [1, { deep: true }] }, iat: 5, _ttl: 9 }
    const copy = structuredClone(given)
    deepFreeze(given)
    const cookie = cookieFrom(await sessions.write(given))
    expect(given).toEqual(copy)

    const session = await sessions.read({ headers: { cookie } })
    session.more = 'x'
    const keys = Object.keys(session)
    const before = structuredClone(plain(session))
    await sessions.write(session)
    expect(Object.keys(session)).toEqual(keys)
    expect(plain(session)).toEqual(before)
  })

  test('write({ ...session, step: 2 }) continues the same session (same absolute clock, same id)', async () => {
    const sessions = bound()
    const first = await sessions.write({ step: 1 })
    now = T0 + 100_000
    const session = await sessions.read({ headers: { cookie: cookieFrom(first) } })
    const continued = await sessions.write({ ...session, step: 2 })
    now = T0 + 200_000
    const again = await sessions.read({ headers: { cookie: cookieFrom(continued) } })
    expect(plain(again)).toEqual({ step: 2 })
    expect(sessionInfo(again).createdAt?.getTime()).toBe(T0)
    if (kind === 'dynamodb') expect(idOf(continued)).toBe(idOf(first))

    // A plain object with the same data is a new session: new clock (and id).
    const fresh = await sessions.write({ step: 2 })
    const other = await sessions.read({ headers: { cookie: cookieFrom(fresh) } })
    expect(sessionInfo(other).createdAt?.getTime()).toBe(T0 + 200_000)
    if (kind === 'dynamodb') expect(idOf(fresh)).not.toBe(idOf(first))
  })

  test('reserved claims never show in read() and data cannot overwrite them', async () => {
    const sessions = bound()
    const forged = {
      keep: true, iat: 1, exp: 2, nbf: 3, _created: 4, _touched: 6, _idx: 'someone-elses-id-000000000', _secret: 'chosen', _ttl: 5,
      _sid: 'someoneElsesSessionId0', _maxAge: 7
    }
    const setCookie = await sessions.write(forged)
    const session = await sessions.read({ headers: { cookie: cookieFrom(setCookie) } })
    expect(plain(session)).toEqual({ keep: true })
    for (const name of RESERVED) expect(Object.keys(session)).not.toContain(name)
    const nowSeconds = T0 / 1000

    if (kind === 'jwe') {
      const { plaintext } = await compactDecrypt(parseSetCookie(setCookie).value, Buffer.from(SECRET).subarray(0, 32))
      const claims = JSON.parse(Buffer.from(plaintext).toString('utf8')) as Record<string, unknown>
      expect(claims).toEqual({ keep: true, _sid: expect.stringMatching(SID), _created: nowSeconds, iat: nowSeconds, exp: nowSeconds + 3600 })
      expect(claims._sid).not.toBe(forged._sid)
    } else {
      const id = idOf(setCookie)
      const { Item: item } = await (client as DynamoDBClient).send(new GetItemCommand({ TableName: table, Key: { _idx: { S: id } }, ConsistentRead: true }))
      expect(item?._idx?.S).toBe(id)
      expect(item?._secret?.S).not.toBe('chosen')
      expect(item?._secret?.S).toMatch(/^[A-Za-z0-9_-]{24}$/)
      expect(Number(item?._ttl?.N)).toBe(nowSeconds + 3600)
      expect(item?.keep?.BOOL).toBe(true)
      expect(item?.iat).toBeUndefined()
      expect(item?.exp).toBeUndefined()
      expect(Number(item?._created?.N)).toBe(nowSeconds)
      expect(Number(item?._touched?.N)).toBe(nowSeconds)
      expect(item?._sid?.S).toMatch(SID)
      expect(item?._sid?.S).not.toBe(forged._sid)
      expect(item?._maxAge).toBeUndefined()
    }
  })

  test('write() of an empty session gives an expiring cookie', async () => {
    const sessions = bound()
    const empty = parseSetCookie(await sessions.write({}))
    expect(empty).toMatchObject({ name: '_idx', value: '' })
    expect(empty.attributes['max-age']).toBe('0')

    const cookie = cookieFrom(await sessions.write({ a: 1 }))
    const session = await sessions.read({ headers: { cookie } })
    delete session.a
    const cleared = parseSetCookie(await sessions.write(session))
    expect(cleared.attributes['max-age']).toBe('0')
    if (kind === 'dynamodb') expect(await readPlain(sessions.read, { headers: { cookie } })).toEqual({})
  })

  test('sessionInfo() reports the store, when the session began and when it ends', async () => {
    const sessions = bound()
    const fresh = await sessions.read({ headers: {} })
    expect(sessionInfo(fresh)).toEqual({ store: kind, saved: false, keySource: 'configured' })
    fresh.a = 1
    const setCookie = await sessions.write(fresh)
    expect(sessionInfo(fresh)).toEqual({ store: kind, saved: true, createdAt: new Date(T0), expiresAt: new Date(T0 + 3600_000), keySource: 'configured' })

    now = T0 + 600_000
    const later = await sessions.read({ headers: { cookie: cookieFrom(setCookie) } })
    later.b = 2
    await sessions.write(later)
    expect(sessionInfo(later)).toEqual({ store: kind, saved: true, createdAt: new Date(T0), expiresAt: new Date(T0 + 600_000 + 3600_000), keySource: 'configured' })

    // Near the absolute limit, that limit is the end.
    now = T0
    const short = bound({ maxLifetime: 1000 })
    const s = await short.read({ headers: {} })
    s.a = 1
    await short.write(s)
    expect(sessionInfo(s).expiresAt).toEqual(new Date(T0 + 1000_000))
  })

  if (kind === 'jwe') {
    test('writeCookies() returns every cookie of a chunked session; write() then rejects with SessionTooLargeError', async () => {
      const sessions = bound()
      const big = randomBytes(4000).toString('base64')
      const cookies = await sessions.writeCookies({ big })
      expect(cookies.length).toBeGreaterThan(1)
      expect(cookies.map(cookie => parseSetCookie(cookie).name)).toEqual(cookies.map((_, index) => `_idx.${index}`))
      expect(await readPlain(sessions.read, { headers: { cookie: cookieFrom(cookies) } })).toEqual({ big })
      expect(await readPlain(sessions.read, { cookies: cookieFrom(cookies).split('; ') })).toEqual({ big })
      await expect(sessions.write({ big })).rejects.toBeInstanceOf(SessionTooLargeError)

      // Shrinking it again expires the chunks the browser holds.
      const session = await sessions.read({ headers: { cookie: cookieFrom(cookies) } })
      session.big = 'small'
      const shrunk = (await sessions.writeCookies(session)).map(parseSetCookie)
      expect(shrunk.filter(cookie => cookie.attributes['max-age'] !== '0').map(cookie => cookie.name)).toEqual(['_idx'])
      expect(shrunk.filter(cookie => cookie.attributes['max-age'] === '0').map(cookie => cookie.name).sort()).toEqual(cookies.map((_, index) => `_idx.${index}`))
    })
  } else {
    test('writeCookies() of a big session is one cookie: the data is in the table', async () => {
      const sessions = bound()
      const big = randomBytes(4000).toString('base64')
      const cookies = await sessions.writeCookies({ big })
      expect(cookies).toHaveLength(1)
      expect(await readPlain(sessions.read, { headers: { cookie: cookieFrom(cookies) } })).toEqual({ big })
      expect(typeof await sessions.write({ big })).toBe('string')
    })
  }
})
