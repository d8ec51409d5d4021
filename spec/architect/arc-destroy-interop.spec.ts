import { arcSession, type ArcSessionMiddleware } from 'arc-session'
import { CREDENTIALS, REGION, SECRET, getItem, idOf, makeTable, newClient, testEndpoint } from '../support/dynamo-helpers'
import { startArcWorker, v2Event, type ArcWorker } from './support/arc-worker'
import { startSsmStandIn, type SsmStandIn, isExpiring, pairOf, plain } from './support/local'

/**
 * Logout both ways between arc-session and the real @architect/functions (in a child process) on
 * ONE dynalite table: arc.http's documented logout (`return { session: {} }`) seen by arc-session,
 * and arc-session's logout (arc.http's idiom, write() of an emptied session, destroy()) seen by arc.
 */

const ID = /^[A-Za-z0-9_-]{24}$/

let table: string
let ssm: SsmStandIn
let arc: ArcWorker
const client = newClient()
let ours: ArcSessionMiddleware


/** arc's session minus the item's bookkeeping attributes (arc's `_idx`, `_secret`, `_ttl`, and arc-session's own `_`-names). */
function arcData (session: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(session).filter(([key]) => !key.startsWith('_')))
}

beforeAll(async () => {
  table = await makeTable('arc-logout')
  // arc resolves its session table through Sandbox's service discovery, as a logical name or a physical one.
  ssm = await startSsmStandIn({ parameters: { [`/ArcSessionSpecTesting/tables/${table}`]: table } })
  arc = startArcWorker({
    ARC_ENV: 'testing',
    ARC_APP_NAME: 'arc-session-spec',
    ARC_SANDBOX: JSON.stringify({ ports: { tables: Number(new URL(testEndpoint()).port), _arc: ssm.port }, version: '7.1.0' }),
    ARC_SESSION_TABLE_NAME: table,
    ARC_APP_SECRET: SECRET,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey
  })
  ours = arcSession({ env: {}, secret: SECRET, table, dynamodb: { client } })
})

afterAll(async () => {
  await arc?.close()
  await ssm?.close()
  client.destroy()
})

describe('arc logs out (an arc.http handler returns `{ session: {} }`), arc-session reads the copied cookie', () => {
  it('a session arc-session made: the cookie copied before opens an empty session', async () => {
    const pair = pairOf(await ours.write({ user: 'ada', role: 'admin' }))
    const { id } = idOf(pair)

    const { response, seen } = await arc.http(v2Event('POST', '/logout', [pair]), { statusCode: 200, body: 'bye', session: {} })
    expect(seen).toMatchObject({ _idx: id, user: 'ada', role: 'admin' })
    expect(response.statusCode).toBe(200)
    expect(response.headers?.['set-cookie']).toEqual(expect.stringMatching(/^_idx=/))

    expect(plain(await ours.read({ headers: { cookie: pair } }))).toEqual({})
    expect(plain(await ours.read({ cookies: [pair] }))).toEqual({})
    // arc empties the item rather than deleting it: none of the data is left.
    const item = await getItem(client, table, id)
    expect(item === undefined || (item.user === undefined && item.role === undefined)).toBe(true)
  })

  it('a session arc made: the same', async () => {
    const fresh = await arc.read({ headers: {} })
    const pair = pairOf(await arc.write({ ...fresh, cart: ['a'], n: 3 }))
    expect(plain(await ours.read({ headers: { cookie: pair } }))).toEqual({ cart: ['a'], n: 3 })

    await arc.http(v2Event('GET', '/logout', [pair]), { statusCode: 302, headers: { location: '/' }, session: {} })
    expect(plain(await ours.read({ headers: { cookie: pair } }))).toEqual({})
  })
})

describe('arc-session logs out, arc reads the copied cookie: a fresh session without the old data', () => {
  async function expectFreshForArc (pair: string, oldId: string, oldKeys: readonly string[]): Promise<void> {
    const seen = await arc.read({ headers: { cookie: pair } })
    expect(seen._idx).toMatch(ID)
    expect(seen._idx).not.toBe(oldId)
    for (const key of oldKeys) expect(seen).not.toHaveProperty(key)
    expect(arcData(seen)).toEqual({})
    expect(await getItem(client, table, oldId)).toBeUndefined()
  }

  it('arc.http\'s idiom, `write({ _idx, _secret, _ttl, ...{} })`', async () => {
    const pair = pairOf(await ours.write({ user: 'bob', secretThing: 42 }))
    const { id } = idOf(pair)
    expect(await arc.read({ headers: { cookie: pair } })).toMatchObject({ _idx: id, user: 'bob', secretThing: 42 })

    const s = await ours.read({ headers: { cookie: pair } })
    const cookie = await ours.write({ _idx: s._idx, _secret: s._secret, _ttl: s._ttl, ...{} })
    expect(isExpiring(cookie)).toBe(true)
    await expectFreshForArc(pair, id, ['user', 'secretThing'])
  })

  it('write(s) after deleting every key, on a session arc made', async () => {
    const fresh = await arc.read({ headers: {} })
    const pair = pairOf(await arc.write({ ...fresh, user: 'carol', visits: 7 }))
    const s = await ours.read({ headers: { cookie: pair } })
    expect(plain(s)).toEqual({ user: 'carol', visits: 7 })
    for (const key of Object.keys(s)) delete s[key]
    expect(isExpiring(await ours.write(s))).toBe(true)
    await expectFreshForArc(pair, fresh._idx as string, ['user', 'visits'])
  })

  it('destroy(s)', async () => {
    const pair = pairOf(await ours.write({ user: 'dan' }))
    const { id } = idOf(pair)
    const s = await ours.read({ cookies: [pair] })
    expect(await ours.destroy(s)).toMatch(/^_idx=; Max-Age=0;/)
    await expectFreshForArc(pair, id, ['user'])
  })

  it('the idiom with data keeps the session for arc too: same _idx, new data', async () => {
    const pair = pairOf(await ours.write({ count: 1, gone: 'soon' }))
    const { id } = idOf(pair)
    const s = await ours.read({ headers: { cookie: pair } })
    await ours.write({ _idx: s._idx, _secret: s._secret, _ttl: s._ttl, ...{ count: 2 } })
    const seen = await arc.read({ headers: { cookie: pair } })
    expect(seen._idx).toBe(id)
    expect(arcData(seen)).toEqual({ count: 2 })
  })
})

describe('several _idx cookies: arc takes the last, arc-session the last one that verifies', () => {
  it('`_idx=<valid>; _idx=garbage`: arc-session keeps the session, arc starts a new one', async () => {
    const pair = pairOf(await ours.write({ who: 'erin' }))
    const { id } = idOf(pair)
    const header = `${pair}; _idx=garbage`
    expect(plain(await ours.read({ headers: { cookie: header } }))).toEqual({ who: 'erin' })
    const seen = await arc.read({ headers: { cookie: header } })
    expect(seen._idx).not.toBe(id)
    expect(arcData(seen)).toEqual({})
  })
})
