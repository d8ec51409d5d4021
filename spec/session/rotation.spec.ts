/**
 * Key rotation, end to end through Express: `secret: [current, ...previous]` (and the
 * environment form ARC_APP_SECRET + ARC_APP_SECRET_PREVIOUS) for the JWE cookie store and
 * the DynamoDB store. Rotating logs nobody out; a session read with an old key is re-issued
 * with the current one on that same response; a secret taken off the list stops working at once.
 */
import { createHmac } from 'node:crypto'
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb'
import express from 'express'
import type * as Jose from 'jose' with { 'resolution-mode': 'import' }
import request from 'supertest'
import { arcSession, createTable, type ArcSessionOptions, type RejectReason } from 'arc-session'
import { setCookiesOf, testClock, type SetCookie } from '../support/clock'

// jose 6 is ESM only and this spec is CommonJS: jest (transformIgnorePatterns) turns jose into CommonJS at
// run time, while TypeScript checks it as the ES module it is.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { CompactEncrypt, compactDecrypt } = require('jose') as typeof Jose

const OLD = 'old-secret-4f1c8e2a9b7d3e6f0a5c1b8d2e7f9a3c'
const MIDDLE = 'mid-secret-8e2d4c6a0b9f7e5d3c1a2b4c6d8e0f1a'
const NEW = 'new-secret-1a3c5e7f9b2d4f6a8c0e1b3d5f7a9c2e'
const STRANGER = 'not-listed-6b8d0f2a4c6e8a0b2d4f6a8c0e2b4d6f'

const endpoint = process.env.DYNAMODB_TEST_ENDPOINT as string
let client: DynamoDBClient
let table: string

beforeAll(async () => {
  client = new DynamoDBClient({ endpoint, region: 'us-east-1' })
  table = `rotation-${process.pid}-${Date.now()}`
  await createTable(table, { client })
})

afterAll(() => {
  client.destroy()
})

const clock = testClock()

interface App {
  readonly app: express.Express
  /** onReject reasons, in order. */
  readonly rejects: RejectReason[]
}

/** An app whose `/` shows the session and `/visit` counts visits in it. */
function makeApp (options: ArcSessionOptions): App {
  const rejects: RejectReason[] = []
  const app = express()
  app.use(arcSession({ env: {}, clock, ...options, onReject: reason => { rejects.push(reason) } }))
  app.get('/', (req, res) => { res.json(req.session) })
  app.get('/visit', (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1
    res.json(req.session)
  })
  return { app, rejects }
}

/** The session cookie's value a response sets, failing the test when there is none. */
function issued (response: { headers: Record<string, unknown> }): SetCookie {
  const cookie = setCookiesOf(response).find(c => c.name === '_idx')
  if (cookie === undefined) throw new Error(`no _idx Set-Cookie in ${JSON.stringify(response.headers['set-cookie'])}`)
  return cookie
}

function sessionSetCookies (response: { headers: Record<string, unknown> }): SetCookie[] {
  return setCookiesOf(response).filter(c => c.name === '_idx' || c.name.startsWith('_idx.'))
}

/** The key arc (and we) derive from a secret for A256GCM: its first 32 bytes. */
function jweKey (secret: string): Uint8Array {
  return new Uint8Array(Buffer.from(secret, 'utf8').subarray(0, 32))
}

function jweHeader (token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>
}

/** cookie-signature's signature: base64 HMAC-SHA256 without the padding. */
function signature (id: string, secret: string): string {
  return createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '')
}

/** `id.signature` from a DynamoDB store cookie as it travels (percent-encoded). */
function splitSigned (value: string): { id: string, sig: string } {
  const text = decodeURIComponent(value)
  const dot = text.lastIndexOf('.')
  return { id: text.slice(0, dot), sig: text.slice(dot + 1) }
}

interface StoreCase {
  readonly name: string
  readonly options: () => ArcSessionOptions
  /** The reason onReject gets for a cookie made with a secret no longer listed. */
  readonly retiredReason: RejectReason
  /** Whether `secret` made this cookie value, checked independently of arc-session. */
  issuedWith (value: string, secret: string): Promise<boolean>
  /** The server-side identity a cookie points at (the DynamoDB id); undefined for the cookie store. */
  idOf (value: string): string | undefined
}

const STORES: StoreCase[] = [
  {
    name: 'JWE cookie store',
    options: () => ({}),
    retiredReason: 'unknown-key',
    issuedWith: async (value, secret) => await compactDecrypt(value, jweKey(secret)).then(() => true, () => false),
    idOf: () => undefined
  },
  {
    name: 'DynamoDB store',
    options: () => ({ table, dynamodb: { client } }),
    retiredReason: 'tampered',
    issuedWith: async (value, secret) => {
      const { id, sig } = splitSigned(value)
      return sig === signature(id, secret)
    },
    idOf: value => splitSigned(value).id
  }
]

describe.each(STORES)('$name', store => {
  /** A session (visits: 1) made by an app that knows only `secret` (or the given environment). */
  async function sessionUnder (options: ArcSessionOptions): Promise<string> {
    const { app } = makeApp({ ...store.options(), ...options })
    const response = await request(app).get('/visit').expect(200, { visits: 1 })
    return issued(response).value
  }

  test('a session made under the old secret is read after rotation and re-issued with the current key on that response', async () => {
    const before = await sessionUnder({ secret: OLD })
    expect(await store.issuedWith(before, OLD)).toBe(true)

    const rotated = makeApp({ ...store.options(), secret: [NEW, OLD] })
    const first = await request(rotated.app).get('/').set('Cookie', `_idx=${before}`).expect(200, { visits: 1 })
    const after = issued(first)
    expect(after.value).not.toBe(before)
    expect(after.maxAge).toBeGreaterThan(0)
    expect(await store.issuedWith(after.value, NEW)).toBe(true)
    expect(await store.issuedWith(after.value, OLD)).toBe(false)
    expect(store.idOf(after.value)).toBe(store.idOf(before))
    expect(rotated.rejects).toEqual([])

    // The browser now sends the new cookie: it is current, so nothing is re-issued, and it keeps working.
    const second = await request(rotated.app).get('/').set('Cookie', after.pair).expect(200, { visits: 1 })
    expect(sessionSetCookies(second)).toEqual([])
    const third = issued(await request(rotated.app).get('/visit').set('Cookie', after.pair).expect(200, { visits: 2 }))
    expect(await store.issuedWith(third.value, NEW)).toBe(true)
    expect(store.idOf(third.value)).toBe(store.idOf(before))

    // Once the old secret is retired, the cookies issued since rotation are all the user needs.
    const retired = makeApp({ ...store.options(), secret: NEW })
    await request(retired.app).get('/').set('Cookie', third.pair).expect(200, { visits: 2 })
    expect(retired.rejects).toEqual([])
  })

  test('a retired secret stops working as soon as it leaves the list', async () => {
    const cookie = await sessionUnder({ secret: OLD })
    const listed = makeApp({ ...store.options(), secret: [NEW, OLD] })
    await request(listed.app).get('/').set('Cookie', `_idx=${cookie}`).expect(200, { visits: 1 })

    const retired = makeApp({ ...store.options(), secret: [NEW] })
    const response = await request(retired.app).get('/').set('Cookie', `_idx=${cookie}`).expect(200, {})
    expect(retired.rejects).toEqual([store.retiredReason])
    // The browser is told to drop the dead cookie.
    expect(sessionSetCookies(response).map(c => [c.name, c.maxAge])).toEqual([['_idx', 0]])

    // A new session starts cleanly in its place.
    const fresh = await request(retired.app).get('/visit').set('Cookie', `_idx=${cookie}`).expect(200, { visits: 1 })
    expect(await store.issuedWith(issued(fresh).value, NEW)).toBe(true)
    if (store.idOf(cookie) !== undefined) expect(store.idOf(issued(fresh).value)).not.toBe(store.idOf(cookie))
  })

  test('every listed secret verifies, the first one issues', async () => {
    const fromMiddle = await sessionUnder({ secret: MIDDLE })
    const fromOld = await sessionUnder({ secret: OLD })
    const fromNew = await sessionUnder({ secret: NEW })
    const fromStranger = await sessionUnder({ secret: STRANGER })

    const { app, rejects } = makeApp({ ...store.options(), secret: [NEW, MIDDLE, OLD] })
    for (const cookie of [fromMiddle, fromOld]) {
      const response = await request(app).get('/').set('Cookie', `_idx=${cookie}`).expect(200, { visits: 1 })
      expect(await store.issuedWith(issued(response).value, NEW)).toBe(true)
    }
    const current = await request(app).get('/').set('Cookie', `_idx=${fromNew}`).expect(200, { visits: 1 })
    expect(sessionSetCookies(current)).toEqual([])
    expect(rejects).toEqual([])

    // A key id or signature of a secret never listed is refused like a retired one.
    await request(app).get('/').set('Cookie', `_idx=${fromStranger}`).expect(200, {})
    expect(rejects).toEqual([store.retiredReason])
  })

  test('the environment form, ARC_APP_SECRET plus comma-separated ARC_APP_SECRET_PREVIOUS, behaves the same', async () => {
    const before = await sessionUnder({ env: { ARC_APP_SECRET: OLD } })
    expect(await store.issuedWith(before, OLD)).toBe(true)

    const rotated = makeApp({ ...store.options(), env: { ARC_APP_SECRET: NEW, ARC_APP_SECRET_PREVIOUS: `${MIDDLE}, ${OLD}` } })
    const response = await request(rotated.app).get('/').set('Cookie', `_idx=${before}`).expect(200, { visits: 1 })
    const after = issued(response)
    expect(await store.issuedWith(after.value, NEW)).toBe(true)
    expect(store.idOf(after.value)).toBe(store.idOf(before))
    expect(rotated.rejects).toEqual([])

    const retired = makeApp({ ...store.options(), env: { ARC_APP_SECRET: NEW, ARC_APP_SECRET_PREVIOUS: MIDDLE } })
    await request(retired.app).get('/').set('Cookie', `_idx=${before}`).expect(200, {})
    expect(retired.rejects).toEqual([store.retiredReason])
    await request(retired.app).get('/').set('Cookie', after.pair).expect(200, { visits: 1 })
  })
})

describe('JWE cookie store: key ids', () => {
  test('a token issued after rotation names the current key in its header', async () => {
    const { app: oldApp } = makeApp({ secret: OLD })
    const { app: newApp } = makeApp({ secret: NEW })
    const { app: rotated } = makeApp({ secret: [NEW, OLD] })
    const oldToken = issued(await request(oldApp).get('/visit')).value
    const newToken = issued(await request(newApp).get('/visit')).value
    const reissued = issued(await request(rotated).get('/').set('Cookie', `_idx=${oldToken}`).expect(200, { visits: 1 })).value

    const oldKid = jweHeader(oldToken).kid
    const newKid = jweHeader(newToken).kid
    expect(typeof oldKid).toBe('string')
    expect(typeof newKid).toBe('string')
    expect(newKid).not.toBe(oldKid)
    expect(jweHeader(reissued)).toEqual({ alg: 'dir', enc: 'A256GCM', kid: newKid })
  })

  /** A token as @architect/functions seals it: header exactly {"alg":"dir","enc":"A256GCM"}, no kid, an iat claim. */
  async function arcToken (secret: string, data: Record<string, unknown>): Promise<string> {
    const payload = new TextEncoder().encode(JSON.stringify({ ...data, iat: clock.seconds }))
    const token = await new CompactEncrypt(payload).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(jweKey(secret))
    expect(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')).toBe('{"alg":"dir","enc":"A256GCM"}')
    return token
  }

  test('tokens without a key id (arc\'s) are tried against every listed key', async () => {
    const { app, rejects } = makeApp({ secret: [NEW, MIDDLE, OLD] })
    for (const [secret, n] of [[NEW, 1], [MIDDLE, 2], [OLD, 3]] as const) {
      await request(app).get('/').set('Cookie', `_idx=${await arcToken(secret, { n })}`).expect(200, { n })
    }
    expect(rejects).toEqual([])

    // Read with an old key, it comes back sealed with the current one, with our key id.
    const response = await request(app).get('/').set('Cookie', `_idx=${await arcToken(OLD, { n: 4 })}`).expect(200, { n: 4 })
    const reissued = issued(response).value
    expect(jweHeader(reissued).kid).toBe(jweHeader(issued(await request(makeApp({ secret: NEW }).app).get('/visit')).value).kid)
    expect(await compactDecrypt(reissued, jweKey(NEW)).then(() => true, () => false)).toBe(true)

    // A kid-less token under a key that is not listed (or no longer is) opens with none of them.
    await request(app).get('/').set('Cookie', `_idx=${await arcToken(STRANGER, { n: 5 })}`).expect(200, {})
    const retired = makeApp({ secret: [NEW, MIDDLE] })
    await request(retired.app).get('/').set('Cookie', `_idx=${await arcToken(OLD, { n: 6 })}`).expect(200, {})
    expect(rejects).toEqual(['tampered'])
    expect(retired.rejects).toEqual(['tampered'])
  })
})

describe('DynamoDB store: cookie signatures (DESIGN.md section 4 vectors)', () => {
  const VECTORS = [
    { id: 'HJd_3PfEyFEEXvhitnVEflys', secret: 'myapp', cookie: 'HJd_3PfEyFEEXvhitnVEflys.CFOD41+0jBDCQvjjryYm2pxkO0aiZWGToBDMLpbEkZk' },
    { id: 'LbyL0kPK2xOLfdm_WnESzlsG', secret: 'fallback', cookie: 'LbyL0kPK2xOLfdm_WnESzlsG.5BcJDMbXKnLvm3xiDFGjqMc5ohM2AH+L+O9TbefAWys' }
  ] as const
  const TTL = 3600

  /** An item as arc writes it, for `id`, just written on the test clock (arc's _ttl is always a week ahead). */
  async function putItem (id: string, note: string): Promise<void> {
    await client.send(new PutItemCommand({
      TableName: table,
      Item: { _idx: { S: id }, _secret: { S: 'csrf-secret-from-arc-0000' }, _ttl: { N: String(clock.seconds + 604800) }, note: { S: note } }
    }))
  }

  function vectorApp (secret: string | string[]): App {
    return makeApp({ table, dynamodb: { client }, ttl: TTL, secret })
  }

  test('a cookie carrying the vector signature of the current secret finds its item', async () => {
    const [myapp] = VECTORS
    await putItem(myapp.id, 'signed with myapp')
    const { app, rejects } = vectorApp(myapp.secret)
    const response = await request(app).get('/').set('Cookie', `_idx=${encodeURIComponent(myapp.cookie)}`)
      .expect(200, { note: 'signed with myapp' })
    // Current key, fresh item: nothing to re-issue.
    expect(sessionSetCookies(response)).toEqual([])
    expect(rejects).toEqual([])
  })

  test('cookies signed by any listed secret verify; re-issuing signs exactly as cookie-signature does', async () => {
    const [myapp, fallback] = VECTORS
    await putItem(myapp.id, 'first')
    await putItem(fallback.id, 'second')
    // arc's public "fallback" may only be a previous secret, never the current one.
    const { app, rejects } = vectorApp(['myapp', OLD, 'fallback'])

    // The second vector verifies under "fallback"; being public, its session moves to a new id, signed with the current secret.
    const second = await request(app).get('/').set('Cookie', `_idx=${encodeURIComponent(fallback.cookie)}`).expect(200, { note: 'second' })
    const moved = decodeURIComponent(issued(second).value)
    const movedId = moved.slice(0, moved.lastIndexOf('.'))
    expect(movedId).toMatch(/^[A-Za-z0-9_-]{24}$/)
    expect(movedId).not.toBe(fallback.id)
    expect(moved).toBe(`${movedId}.${signature(movedId, 'myapp')}`)
    await request(app).get('/').set('Cookie', `_idx=${issued(second).value}`).expect(200, { note: 'second' })
    // The vector's own item was retired with the move.
    expect(rejects).toEqual([])
    await request(app).get('/').set('Cookie', `_idx=${encodeURIComponent(fallback.cookie)}`).expect(200, {})
    expect(rejects.splice(0)).toEqual(['expired'])

    // The first vector's id, signed with a (private) previous secret, keeps its id: re-issued as exactly the first vector.
    const oldSigned = encodeURIComponent(`${myapp.id}.${signature(myapp.id, OLD)}`)
    const first = await request(app).get('/').set('Cookie', `_idx=${oldSigned}`).expect(200, { note: 'first' })
    expect(issued(first).value).toBe(encodeURIComponent(myapp.cookie))
    expect(issued(first).value).toContain('%2B')
    expect(rejects).toEqual([])

    // Neither secret listed: the signature is refused and the item is never reached.
    const stranger = vectorApp(STRANGER)
    await request(stranger.app).get('/').set('Cookie', `_idx=${encodeURIComponent(myapp.cookie)}`).expect(200, {})
    expect(stranger.rejects).toEqual(['tampered'])
  })
})
