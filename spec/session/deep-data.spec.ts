/**
 * Session data nested deeper than 32 levels (finding 2), counting the session object itself as
 * level 1 (DynamoDB's own limit for nested attributes, kept on both stores).
 *
 * - Saving deeper data is refused with a SessionDataError (500, ARC_SESSION_DATA, the message
 *   names the limit); 32 levels is fine.
 * - A session found deeper (a token sealed by anyone holding the secret, an item written by
 *   another tool) is treated as malformed: an empty session, the cookie expired, onReject
 *   ('malformed'), and never a 500, even for a route already deep in the stack. Before, the data
 *   was opened as it was, and every later JSON.stringify or recursive walk of it could overflow
 *   the stack.
 *
 * The DynamoDB item is written directly with the SDK on dynalite. dynalite (unlike DynamoDB,
 * which refuses anything past 32 levels) accepts items a few hundred levels deep but its request
 * validator overflows its own stack, uncaught, at about 1,000 levels (tried: 500 stored, 1,000
 * threw RangeError in dynalite/validations/index.js checkType), which would take down the shared
 * dynalite of the run. So the ~4,100-deep case is covered through the JWE path, and DynamoDB
 * items are tested at 33 (one past the limit) and 400 levels, with the 32-level boundary.
 */
import express from 'express'
import request from 'supertest'
import { arcSession, type ArcSessionOptions } from 'arc-session'
import { errorHandler, getItem, makeTable, newClient, putItem, randomId, signId, SECRET as DYNAMO_SECRET, type Item } from '../support/dynamo-helpers'
import { SECRET, captureRejects, nowSeconds, sealClaims, setCookiesOf } from '../support/tokens'
import type { AttributeValue } from '@aws-sdk/client-dynamodb'

type StoreName = 'JWE cookie store' | 'DynamoDB store'

let table: string
beforeAll(async () => {
  table = await makeTable('deep')
})

function optionsFor (store: StoreName, extra: ArcSessionOptions = {}): ArcSessionOptions {
  return store === 'DynamoDB store'
    ? { secret: DYNAMO_SECRET, env: {}, table, dynamodb: { client: newClient() }, cookie: { secure: false }, ...extra }
    : { secret: SECRET, env: {}, cookie: { secure: false }, ...extra }
}

/** `levels` nested objects: 1 is `{}`, 2 is `{ a: {} }`. */
function objects (levels: number): unknown {
  let value: unknown = {}
  for (let level = 1; level < levels; level++) value = { a: value }
  return value
}

/** `levels` nested arrays: 1 is `[]`. */
function arrays (levels: number): unknown {
  let value: unknown = []
  for (let level = 1; level < levels; level++) value = [value]
  return value
}

/** Objects and arrays in turn. */
function mixed (levels: number): unknown {
  let value: unknown = {}
  for (let level = 1; level < levels; level++) value = level % 2 === 0 ? { a: value } : [1, value]
  return value
}

/** Calls `fn` `frames` stack frames down: a route already deep in the stack (a framework, recursion). */
function deepInStack<T> (frames: number, fn: () => T): T {
  if (frames === 0) return fn()
  const result = deepInStack(frames - 1, fn)
  return result
}

function appFor (store: StoreName, rejects = captureRejects()): express.Express {
  const app = express()
  app.use(arcSession(optionsFor(store, { onReject: rejects.onReject })))
  app.post('/save', express.json({ limit: '1mb' }), (req, res) => {
    const { kind, levels } = req.body as { kind: 'objects' | 'arrays' | 'mixed', levels: number }
    // The session is level 1: its key holds the rest.
    req.session.deep = { objects, arrays, mixed }[kind](levels - 1)
    res.json({ saved: true })
  })
  app.get('/', (req, res) => { res.json(req.session) })
  app.get('/deep-route', (req, res) => {
    deepInStack(2_000, () => {
      const keys = Object.keys(req.session)
      req.session.visited = true
      res.json({ keys })
    })
  })
  app.use(errorHandler)
  return app
}

function sessionPair (res: { headers: Record<string, unknown> }): string {
  const pair = setCookiesOf(res).find(cookie => cookie.startsWith('_idx=') && !/Max-Age=0/.test(cookie))?.split(';')[0]
  if (pair === undefined) throw new Error('no session cookie')
  return pair
}

describe.each<StoreName>(['JWE cookie store', 'DynamoDB store'])('%s: saving', store => {
  test.each([['objects'], ['arrays'], ['mixed']] as const)('%s nested 33 levels: SessionDataError, 500, ARC_SESSION_DATA, the limit named', async kind => {
    const app = appFor(store)
    const res = await request(app).post('/save').send({ kind, levels: 33 })
    expect(res.status).toBe(500)
    expect(res.body).toMatchObject({ error: 'SessionDataError', code: 'ARC_SESSION_DATA' })
    expect(res.body.message).toMatch(/\b32\b/)
    expect(setCookiesOf(res).filter(cookie => cookie.startsWith('_idx=') && !/Max-Age=0/.test(cookie))).toEqual([])
  })

  test.each([['objects'], ['arrays'], ['mixed']] as const)('%s nested 32 levels: saved, and read back', async kind => {
    const app = appFor(store)
    const res = await request(app).post('/save').send({ kind, levels: 32 }).expect(200, { saved: true })
    const back = await request(app).get('/').set('Cookie', sessionPair(res)).expect(200)
    expect(back.body).toEqual({ deep: { objects, arrays, mixed }[kind](31) })
    // Refused one level deeper, accepted at the limit: the 33-level case above.
    const refused = await request(app).post('/save').set('Cookie', sessionPair(res)).send({ kind, levels: 33 })
    expect(refused.status).toBe(500)
  })
})

describe('found deeper than 32 levels: malformed, never a 500', () => {
  function expectRefused (res: request.Response, rejects: ReturnType<typeof captureRejects>): void {
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ keys: [] })
    expect(rejects.reasons).toEqual(['malformed'])
  }

  test('JWE: a token sealed with the secret whose data nests 4,100 deep, read by a route 2,000 frames down', async () => {
    const depth = 4_100
    const plaintext = `{"user":"mallory","deep":${'['.repeat(depth)}${']'.repeat(depth)},"iat":${nowSeconds()}}`
    const token = sealClaims(SECRET, 'A256GCM', plaintext)
    expect(token.length).toBeLessThan(12_288)
    const rejects = captureRejects()
    const app = appFor('JWE cookie store', rejects)
    const res = await request(app).get('/deep-route').set('Cookie', `_idx=${token}`)
    expectRefused(res, rejects)
    // The route wrote to the (fresh) session: a new cookie replaces the refused one.
    const next = await request(app).get('/').set('Cookie', sessionPair(res)).expect(200)
    expect(next.body).toEqual({ visited: true })
  })

  test('JWE: 33 levels in a token is already malformed; the refused cookie is expired', async () => {
    const plaintext = JSON.stringify({ deep: objects(32), iat: nowSeconds() })
    const rejects = captureRejects()
    const app = appFor('JWE cookie store', rejects)
    const res = await request(app).get('/').set('Cookie', `_idx=${sealClaims(SECRET, 'A256GCM', plaintext)}`).expect(200)
    expect(res.body).toEqual({})
    expect(rejects.reasons).toEqual(['malformed'])
    expect(setCookiesOf(res).some(cookie => cookie.startsWith('_idx=;') && /Max-Age=0/.test(cookie))).toBe(true)
  })

  function nestedMaps (levels: number): AttributeValue {
    let value: AttributeValue = { M: {} }
    for (let level = 1; level < levels; level++) value = { M: { a: value } }
    return value
  }

  async function itemWith (deep: AttributeValue): Promise<{ id: string, cookie: string }> {
    const id = randomId()
    const item: Item = { _idx: { S: id }, _secret: { S: randomId() }, _ttl: { N: String(nowSeconds() + 3600) }, user: { S: 'mallory' }, deep }
    await putItem(newClient(), table, item)
    expect(await getItem(newClient(), table, id)).toBeDefined()
    return { id, cookie: `_idx=${encodeURIComponent(signId(id, DYNAMO_SECRET))}` }
  }

  test.each([[33], [400]])('DynamoDB: an item written directly whose data nests %i levels, read by a route 2,000 frames down', async levels => {
    // The item is level 1, so its attribute holds levels - 1 maps.
    const { cookie } = await itemWith(nestedMaps(levels - 1))
    const rejects = captureRejects()
    const app = appFor('DynamoDB store', rejects)
    const res = await request(app).get('/deep-route').set('Cookie', cookie)
    expectRefused(res, rejects)

    const plain = await request(app).get('/').set('Cookie', cookie).expect(200)
    expect(plain.body).toEqual({})
    expect(setCookiesOf(plain).some(c => c.startsWith('_idx=;') && /Max-Age=0/.test(c))).toBe(true)
  })

  test('DynamoDB: an item written directly at exactly 32 levels opens', async () => {
    const { cookie } = await itemWith(nestedMaps(31))
    const rejects = captureRejects()
    const app = appFor('DynamoDB store', rejects)
    const res = await request(app).get('/').set('Cookie', cookie).expect(200)
    expect(res.body).toEqual({ user: 'mallory', deep: objects(31) })
    expect(rejects.reasons).toEqual([])
    // One deeper is refused (the 33-level case above).
    const deeper = await itemWith(nestedMaps(32))
    await request(app).get('/').set('Cookie', deeper.cookie).expect(200, {})
    expect(rejects.reasons).toEqual(['malformed'])
  })
})
