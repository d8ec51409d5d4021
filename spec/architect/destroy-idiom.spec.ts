import { arcSession, destroy, read, write, type ArcSessionMiddleware } from 'arc-session'
import { useEnvironment } from '../support/environment'
import { REGION, SECRET, getItem, idOf, itemCount, makeTable, newClient, testEndpoint, wireValue, type Item } from '../support/dynamo-helpers'
import { isExpiring, pairOf, plain } from './support/local'

/**
 * arc.http writes a response's session as `write({ _idx, _secret, _ttl, ...response.session })`,
 * the three keys copied from `req.session`: returning `{ session: {} }` is arc's logout. With
 * arc-session, `_idx` of a read() result is an opaque, non-enumerable reference to the session it
 * was read from, so that idiom addresses (and, emptied, revokes) that session, and nothing a
 * client sent, nor a reference of another configuration, can address a session the caller did not read.
 */

const client = newClient()
let table: string
let otherTable: string

beforeAll(async () => {
  table = await makeTable('idiom')
  otherTable = await makeTable('idiom-other')
})
afterAll(() => { client.destroy() })

function sessions (name: string = table, secret: string = SECRET): ArcSessionMiddleware {
  return arcSession({ env: {}, secret, table: name, dynamodb: { client } })
}


function request (pair?: string): object {
  return { headers: pair === undefined ? {} : { cookie: pair } }
}

/** A session with `data`, made by `instance`: its cookie pair and DynamoDB id. */
async function started (instance: ArcSessionMiddleware, data: Record<string, unknown>): Promise<{ pair: string, id: string }> {
  const cookie = await instance.write({ ...data })
  expect(isExpiring(cookie)).toBe(false)
  const pair = pairOf(cookie)
  return { pair, id: idOf(pair).id }
}

/** arc.http's own write of a response: `{ _idx, _secret, _ttl }` from req.session, then the response's session. */
function arcHttpSession (reqSession: Record<string, unknown>, responseSession: Record<string, unknown>): Record<string, unknown> {
  const { _idx, _secret, _ttl } = reqSession
  return { _idx, _secret, _ttl, ...responseSession }
}

describe('the _idx reference of a read() result', () => {
  it('is a non-enumerable object (not a string, not serialised); _secret and _ttl are undefined', async () => {
    const instance = sessions()
    const { pair } = await started(instance, { count: 1 })
    const s = await instance.read(request(pair))
    expect(s._idx).toEqual(expect.anything())
    expect(typeof s._idx).toBe('object')
    expect(typeof s._idx).not.toBe('string')
    expect(s._idx).toBe(s._idx)
    expect(s._secret).toBeUndefined()
    expect(s._ttl).toBeUndefined()
    expect(Object.keys(s)).toEqual(['count'])
    expect(JSON.stringify(s)).toBe('{"count":1}')
    expect(JSON.stringify({ _idx: s._idx })).toBe('{}')
    expect(JSON.stringify(arcHttpSession(s, { count: 2 }))).toBe('{"count":2}')
  })

  it('a fresh visitor\'s read() has one too, and cannot be assigned', async () => {
    const s = await sessions().read(request())
    expect(typeof s._idx).toBe('object')
    expect(() => { (s as Record<string, unknown>)._idx = 'abc' }).toThrow(TypeError)
  })
})

describe('arc.http\'s write idiom on the DynamoDB store', () => {
  it('`{ session: {} }` (arc\'s logout) deletes the item and expires the cookie; the copied cookie opens nothing afterwards', async () => {
    const instance = sessions()
    const { pair, id } = await started(instance, { user: 'ada', count: 1 })
    expect(await getItem(client, table, id)).toBeDefined()

    const s = await instance.read(request(pair))
    expect(plain(s)).toEqual({ user: 'ada', count: 1 })
    const cookie = await instance.write({ _idx: s._idx, _secret: s._secret, _ttl: s._ttl, ...{} })
    expect(cookie).toMatch(/^_idx=; Max-Age=0;/)
    expect(isExpiring(cookie)).toBe(true)
    expect(await getItem(client, table, id)).toBeUndefined()

    // The cookie copied before the logout.
    const after = await instance.read(request(pair))
    expect(plain(after)).toEqual({})
    // ...and in another process's configuration of the same app.
    expect(plain(await sessions().read(request(pair)))).toEqual({})
  })

  it('the same through arc.http\'s exact shape, `{ _idx, _secret, _ttl, ...response.session }`', async () => {
    const instance = sessions()
    const { pair, id } = await started(instance, { cart: [1, 2, 3] })
    const reqSession = await instance.read(request(pair))
    const cookie = await instance.write(arcHttpSession(reqSession, {}))
    expect(isExpiring(cookie)).toBe(true)
    expect(await getItem(client, table, id)).toBeUndefined()
    expect(plain(await instance.read(request(pair)))).toEqual({})
  })

  it('write(s) after deleting every key of s does the same', async () => {
    const instance = sessions()
    const { pair, id } = await started(instance, { a: 1, b: { c: 2 } })
    const s = await instance.read(request(pair))
    for (const key of Object.keys(s)) delete s[key]
    const cookie = await instance.write(s)
    expect(isExpiring(cookie)).toBe(true)
    expect(await getItem(client, table, id)).toBeUndefined()
    expect(plain(await instance.read(request(pair)))).toEqual({})
  })

  it('a logout by a visitor without a session stores nothing', async () => {
    const instance = sessions()
    const before = await itemCount(client, table)
    const s = await instance.read(request())
    const cookie = await instance.write(arcHttpSession(s, {}))
    expect(isExpiring(cookie)).toBe(true)
    expect(await itemCount(client, table)).toBe(before)
  })

  it('with data, the idiom keeps the same session (same id, same cookie) holding the new data', async () => {
    const instance = sessions()
    const { pair, id } = await started(instance, { count: 1, note: 'kept?' })
    const s = await instance.read(request(pair))
    const cookie = await instance.write({ _idx: s._idx, _secret: s._secret, _ttl: s._ttl, ...{ count: 2 } })
    expect(isExpiring(cookie)).toBe(false)
    expect(idOf(cookie).id).toBe(id)
    expect(wireValue(cookie)).toBe(wireValue(pair))
    const item = await getItem(client, table, id) as Item
    expect(item.count).toEqual({ N: '2' })
    // arc's write replaces the session with the response's: a key it leaves out is gone.
    expect(item.note).toBeUndefined()
    expect(item._idx).toEqual({ S: id })
    expect(item._secret?.S).toEqual(expect.any(String))
    expect(plain(await instance.read(request(pair)))).toEqual({ count: 2 })
  })

  it('`{ ...s, count: 2 }` (arc\'s other habit) keeps the session too', async () => {
    const instance = sessions()
    const { pair, id } = await started(instance, { count: 1 })
    const s = await instance.read(request(pair))
    const cookie = await instance.write({ ...s, count: 2 })
    expect(idOf(cookie).id).toBe(id)
    expect(plain(await instance.read(request(pair)))).toEqual({ count: 2 })
  })

  it('a plain new object is a new session', async () => {
    const instance = sessions()
    const { id } = await started(instance, { a: 0 })
    const first = await instance.write({ a: 1 })
    const second = await instance.write({ a: 1 })
    expect(isExpiring(first)).toBe(false)
    expect(idOf(first).id).not.toBe(id)
    expect(idOf(second).id).not.toBe(idOf(first).id)
    expect((await getItem(client, table, idOf(first).id))?.a).toEqual({ N: '1' })
    expect((await getItem(client, table, id))?.a).toEqual({ N: '0' })
  })
})

describe('forged _idx values never address a session the caller did not read', () => {
  type Forge = (victim: { pair: string, id: string, reference: unknown }) => unknown
  const FORGERIES: ReadonlyArray<readonly [string, Forge]> = [
    ['the raw id (a string)', ({ id }) => id],
    ['`id.signature` copied from the cookie', ({ pair }) => decodeURIComponent(wireValue(pair))],
    ['the cookie value as sent (percent-encoded)', ({ pair }) => wireValue(pair)],
    ['the whole `_idx=...` pair', ({ pair }) => pair],
    ['a JSON-parsed object `{}`', () => (JSON.parse('{"_idx":{}}') as { _idx: unknown })._idx],
    ['a JSON-parsed object naming the id', ({ id }) => (JSON.parse(JSON.stringify({ _idx: { id, _idx: id } })) as { _idx: unknown })._idx],
    ['a JSON round trip of the real reference', ({ reference }) => (JSON.parse(JSON.stringify({ _idx: reference ?? null })) as { _idx?: unknown })._idx],
    ['an object made with the reference\'s prototype', ({ reference }) => Object.create(Object.getPrototypeOf(reference) as object) as unknown],
    ['a structured clone of the reference', ({ reference }) => structuredClone(reference)]
  ]

  async function victim (): Promise<{ pair: string, id: string, reference: unknown, item: Item }> {
    const owner = sessions()
    const { pair, id } = await started(owner, { owner: 'victim', n: 1 })
    const reference = (await owner.read(request(pair)))._idx as unknown
    const item = await getItem(client, table, id) as Item
    return { pair, id, reference, item }
  }

  it.each(FORGERIES)('%s: with data, write() makes a brand-new session and the original item is untouched', async (_name, forge) => {
    const target = await victim()
    const attacker = sessions()
    const cookie = await attacker.write({ _idx: forge(target), _secret: 'abcdefghijklmnopqrstuvwx', _ttl: 4102444800, stolen: true })
    expect(isExpiring(cookie)).toBe(false)
    const { id } = idOf(cookie)
    expect(id).not.toBe(target.id)
    expect(await getItem(client, table, target.id)).toEqual(target.item)
    const created = await getItem(client, table, id) as Item
    expect(created.stolen).toEqual({ BOOL: true })
    expect(created.owner).toBeUndefined()
    expect(plain(await attacker.read(request(pairOf(cookie))))).toEqual({ stolen: true })
    expect(plain(await attacker.read(request(target.pair)))).toEqual({ owner: 'victim', n: 1 })
  })

  it.each(FORGERIES)('%s: as a logout (no data), write() deletes nothing; destroy() neither', async (_name, forge) => {
    const target = await victim()
    const attacker = sessions()
    const before = await itemCount(client, table)
    const cookie = await attacker.write({ _idx: forge(target), _secret: 'abcdefghijklmnopqrstuvwx', _ttl: 4102444800 })
    expect(isExpiring(cookie)).toBe(true)
    expect(await getItem(client, table, target.id)).toEqual(target.item)
    expect(await attacker.destroy({ _idx: forge(target) })).toMatch(/^_idx=;.*Max-Age=0/)
    expect(await getItem(client, table, target.id)).toEqual(target.item)
    expect(await itemCount(client, table)).toBe(before)
    expect(plain(await attacker.read(request(target.pair)))).toEqual({ owner: 'victim', n: 1 })
  })

  it('a reference read through another arcSession() of the same table and secret is not honoured', async () => {
    const target = await victim()
    const reader = sessions()
    const s = await reader.read(request(target.pair))
    expect(plain(s)).toEqual({ owner: 'victim', n: 1 })
    const writer = sessions()

    const cookie = await writer.write({ _idx: s._idx, _secret: s._secret, _ttl: s._ttl, stolen: true })
    expect(idOf(cookie).id).not.toBe(target.id)
    expect(await getItem(client, table, target.id)).toEqual(target.item)

    expect(isExpiring(await writer.write({ _idx: s._idx, _secret: s._secret, _ttl: s._ttl }))).toBe(true)
    expect(await writer.destroy({ _idx: s._idx })).toMatch(/^_idx=;/)
    expect(await getItem(client, table, target.id)).toEqual(target.item)
    // The reader's own configuration still addresses it.
    expect(idOf(await reader.write({ _idx: s._idx, n: 2, owner: 'victim' })).id).toBe(target.id)
  })

  it('a reference of a session in another table (another configuration) is not honoured', async () => {
    const otherInstance = sessions(otherTable)
    const { pair, id } = await started(otherInstance, { where: 'other table' })
    const otherItem = await getItem(client, otherTable, id) as Item
    const s = await otherInstance.read(request(pair))

    const instance = sessions()
    const cookie = await instance.write({ _idx: s._idx, _secret: s._secret, _ttl: s._ttl, moved: true })
    expect(idOf(cookie).id).not.toBe(id)
    expect(await getItem(client, table, idOf(cookie).id)).toMatchObject({ moved: { BOOL: true } })
    expect(await getItem(client, table, id)).toBeUndefined()
    expect(isExpiring(await instance.write({ _idx: s._idx }))).toBe(true)
    await instance.destroy({ _idx: s._idx })
    expect(await getItem(client, otherTable, id)).toEqual(otherItem)
  })
})

describe('explicit destroy(session, [cb])', () => {
  it('sessions.destroy(s) resolves to the expiring Set-Cookie, deletes the item and empties s', async () => {
    const instance = sessions()
    const { pair, id } = await started(instance, { a: 1 })
    const s = await instance.read(request(pair))
    const cookie = await instance.destroy(s)
    expect(typeof cookie).toBe('string')
    expect(cookie).toMatch(/^_idx=; Max-Age=0;/)
    expect(await getItem(client, table, id)).toBeUndefined()
    expect(Object.keys(s)).toEqual([])
    expect(plain(await instance.read(request(pair)))).toEqual({})
  })

  it('with a callback: returns undefined and calls back (null, cookie)', async () => {
    const instance = sessions()
    const { pair, id } = await started(instance, { a: 1 })
    const s = await instance.read(request(pair))
    const called = await new Promise<{ returned: unknown, error: unknown, cookie: unknown }>(resolve => {
      let returned: unknown = 'not yet'
      returned = instance.destroy(s, (error, cookie) => { resolve({ returned, error, cookie }) })
    })
    expect(called.returned).toBeUndefined()
    expect(called.error).toBeNull()
    expect(called.cookie).toMatch(/^_idx=; Max-Age=0;/)
    expect(await getItem(client, table, id)).toBeUndefined()
  })

  it('destroy() takes the arc.http-shaped object too', async () => {
    const instance = sessions()
    const { pair, id } = await started(instance, { a: 1 })
    const s = await instance.read(request(pair))
    expect(isExpiring(await instance.destroy({ _idx: s._idx, _secret: s._secret, _ttl: s._ttl }))).toBe(true)
    expect(await getItem(client, table, id)).toBeUndefined()
  })
})

describe('the module-level read()/write()/destroy(), configured from process.env', () => {
  useEnvironment([
    'ARC_SESSION_TABLE_NAME', 'SESSION_TABLE_NAME', 'ARC_APP_SECRET', 'ARC_APP_SECRET_PREVIOUS', 'ARC_ENV', 'ARC_APP_NAME', 'ARC_STACK_NAME',
    'ARC_SANDBOX', 'AWS_LAMBDA_FUNCTION_NAME', 'AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL', 'AWS_REGION', 'NODE_ENV'
  ], {})

  beforeEach(() => {
    Object.assign(process.env, {
      ARC_SESSION_TABLE_NAME: table, ARC_APP_SECRET: SECRET, AWS_ENDPOINT_URL_DYNAMODB: testEndpoint(), AWS_REGION: REGION
    })
  })

  it('the idiom revokes, with data it keeps the session, destroy() resolves and calls back', async () => {
    const created = pairOf(await write({ count: 1 }))
    const { id } = idOf(created)

    const s = await read(request(created))
    expect(plain(s)).toEqual({ count: 1 })
    expect(idOf(await write({ _idx: s._idx, _secret: s._secret, _ttl: s._ttl, ...{ count: 2 } })).id).toBe(id)
    expect(plain(await read(request(created)))).toEqual({ count: 2 })

    const again = await read(request(created))
    expect(isExpiring(await write({ _idx: again._idx, _secret: again._secret, _ttl: again._ttl }))).toBe(true)
    expect(await getItem(client, table, id)).toBeUndefined()
    expect(plain(await read(request(created)))).toEqual({})

    const second = pairOf(await write({ b: 1 }))
    const third = pairOf(await write({ c: 1 }))
    expect(await destroy(await read(request(second)))).toMatch(/^_idx=; Max-Age=0;/)
    expect(await getItem(client, table, idOf(second).id)).toBeUndefined()
    const s3 = await read(request(third))
    const viaCallback = await new Promise<{ returned: unknown, error: unknown, cookie: unknown }>(resolve => {
      let returned: unknown = 'not yet'
      returned = destroy(s3, (error, cookie) => { resolve({ returned, error, cookie }) })
    })
    expect(viaCallback).toEqual({ returned: undefined, error: null, cookie: expect.stringMatching(/^_idx=; Max-Age=0;/) })
    expect(await getItem(client, table, idOf(third).id)).toBeUndefined()
  })

  it('a forged string _idx or a reference from an arcSession() instance addresses nothing', async () => {
    const victimPair = pairOf(await write({ owner: 'victim' }))
    const { id } = idOf(victimPair)
    const item = await getItem(client, table, id)

    expect(isExpiring(await write({ _idx: id, _secret: 'x', _ttl: 1 }))).toBe(true)
    expect(isExpiring(await write({ _idx: decodeURIComponent(wireValue(victimPair)) }))).toBe(true)
    const instanceSession = await sessions().read(request(victimPair))
    expect(isExpiring(await write({ _idx: instanceSession._idx }))).toBe(true)
    const fresh = await write({ _idx: instanceSession._idx, stolen: true })
    expect(idOf(fresh).id).not.toBe(id)
    expect(await getItem(client, table, id)).toEqual(item)
  })
})

describe('the idiom on the cookie store (JWE)', () => {
  it('empty: an expiring cookie; with data: a cookie that carries the new data', async () => {
    const instance = arcSession({ env: {}, secret: SECRET })
    const pair = pairOf(await instance.write({ count: 1 }))
    const s = await instance.read(request(pair))
    expect(typeof s._idx).toBe('object')
    expect(JSON.stringify(s)).toBe('{"count":1}')
    expect(isExpiring(await instance.write({ _idx: s._idx, _secret: s._secret, _ttl: s._ttl }))).toBe(true)

    const t = await instance.read(request(pair))
    const cookie = await instance.write({ _idx: t._idx, _secret: t._secret, _ttl: t._ttl, count: 2 })
    expect(isExpiring(cookie)).toBe(false)
    const next = await instance.read(request(pairOf(cookie)))
    expect(plain(next)).toEqual({ count: 2 })
    expect(next.id).toBe(t.id)
  })
})
