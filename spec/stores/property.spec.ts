/**
 * Property-based proof for issue 4: any JSON session data round-trips through both stores
 * (write()/read() and the middleware), and any mutation of a valid cookie gives an empty
 * session, never an exception and never data other than the original.
 */
import fc from 'fast-check'
import express from 'express'
import request from 'supertest'
import { arcSession, createTable, type ArcSessionOptions } from 'arc-session'
import { SECRET, captureRejects, cookieHeaderFrom, express4, setCookiesOf } from '../support/tokens'

const NOW = 1_800_000_000
/** Base run count; PROPERTY_RUNS=3000 for a long soak. Every property scales with it. */
const RUNS = Number(process.env.PROPERTY_RUNS ?? 300)
const runs = (share: number): number => Math.max(10, Math.ceil(RUNS * share))
// With the cookie store a run never leaves the microtask queue, so jest's timeout cannot fire
// during a property: a failure whose shrinking ran long would look like a hang. Bounded here
// instead, shrinking included, and reported as a failure with the counterexample found so far.
fc.installGlobalPlugin(fc.interruptAfterTimeLimit(Math.max(15_000, RUNS * 50), { failOnInterrupt: true }))

/**
 * Names the stores document as reserved and drop from session data. Everything else a JSON
 * object can hold is generated, with two exceptions, both things JSON text does not keep:
 * - -0: JSON.stringify writes it as 0, so it is generated as 0.
 * - "__proto__" keys (at any depth): JSON.parse turns the text `"__proto__"` into an own
 *   property, which a later Object.assign or merge turns into prototype pollution; the
 *   stores drop such keys on read on purpose (spec/bad-input.spec.ts).
 */
const RESERVED = new Set(['iat', 'exp', 'nbf', '_idx', '_secret', '_ttl', '_created', '_touched', '_sid', '_maxAge', '_user', '_device', '_seen', '_bound',
  // The session's own members: a data key under one of these names is refused (tested in spec/ecosystem/express-session-api.spec.ts).
  'id', 'cookie', 'regenerate', 'destroy', 'save', 'reload', 'touch', 'resetMaxAge'])

function keepable (value: unknown): unknown {
  if (Object.is(value, -0)) return 0
  if (Array.isArray(value)) return value.map(keepable)
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) {
      if (key === '__proto__') continue
      copy[key] = keepable(item)
    }
    return copy
  }
  return value
}

/** Any code point, plus lone surrogates (JSON.stringify escapes them; they must come back). */
const anyChar = fc.oneof(
  { weight: 9, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map(code => String.fromCharCode(code)) }
)

const topKey = fc.string({ unit: anyChar, maxLength: 12 }).filter(key => !RESERVED.has(key) && key !== '__proto__')

/** Session data: a JSON object of JSON values, as fast-check makes them. */
function sessionData (value: fc.Arbitrary<unknown>, key: fc.Arbitrary<string> = topKey): fc.Arbitrary<Record<string, unknown>> {
  return fc.dictionary(key, value, { maxKeys: 8 })
    .map(data => keepable(data) as Record<string, unknown>)
    .filter(data => Buffer.byteLength(JSON.stringify(data)) <= 20_000)
}

const jsonData = sessionData(fc.jsonValue({ maxDepth: 3, stringUnit: anyChar }))

/** Own enumerable string-keyed data of a session object (its methods and handle are not data). */
function dataOf (session: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(session))
}

function jweOptions (extra: ArcSessionOptions = {}): ArcSessionOptions {
  // The cookie cap is raised to its maximum: sizes are not what these properties are about.
  return { secret: SECRET, env: {}, clock: () => NOW * 1000, cookie: { maxBytes: 40960 }, ...extra }
}

describe('round trips', () => {
  it('JWE store, write()/read(): any JSON object comes back as it was; write() leaves its argument alone', async () => {
    const api = arcSession(jweOptions())
    await fc.assert(fc.asyncProperty(jsonData, jsonData, async (first, second) => {
      const given = structuredClone(first)
      const cookies = await api.writeCookies(given)
      expect(given).toEqual(first)
      const session = await api.read({ headers: { cookie: cookieHeaderFrom(cookies) } })
      expect(dataOf(session)).toEqual(first)

      // And again after replacing the data of the session read back.
      for (const key of Object.keys(session)) delete session[key]
      Object.assign(session, structuredClone(second))
      const again = await api.read({ headers: { cookie: cookieHeaderFrom(await api.writeCookies(session)) } })
      expect(dataOf(again)).toEqual(second)
    }), { numRuns: runs(1) })
  })

  it('JWE store, middleware (Express 5 and 4): what a route stores is what the next request sees', async () => {
    let pending: Record<string, unknown> = {}
    const apps = [express(), express4()].map(app => {
      app.use(arcSession(jweOptions()))
      app.get('/set', (req, res) => {
        for (const [key, value] of Object.entries(structuredClone(pending))) req.session[key] = value
        res.json({ ok: true })
      })
      app.get('/get', (req, res) => { res.json(req.session) })
      return app
    })
    await fc.assert(fc.asyncProperty(jsonData, fc.constantFrom(0, 1), async (data, which) => {
      const app = apps[which] as express.Express
      pending = data
      const set = await request(app).get('/set')
      expect(set.status).toBe(200)
      const got = await request(app).get('/get').set('Cookie', cookieHeaderFrom(setCookiesOf(set)))
      expect(got.status).toBe(200)
      expect(got.body).toEqual(data)
    }), { numRuns: runs(1 / 3) })
  })

  describe('DynamoDB store (the shared dynalite)', () => {
    const table = `arc-session-property-${process.pid}-${Date.now()}`
    const endpoint = process.env.DYNAMODB_TEST_ENDPOINT ?? ''

    beforeAll(async () => {
      expect(endpoint).toMatch(/^http:/)
      await createTable(table, { endpoint })
    })

    /**
     * DynamoDB's N type holds magnitudes from 1e-130 to 9.99e125 (and 0); doubles outside
     * that range are generated as something else. See the report for other limits found.
     */
    function dynamoNumber (value: number): boolean {
      const magnitude = Math.abs(value)
      return magnitude === 0 || (magnitude >= 1e-130 && magnitude <= 9.99e125)
    }

    function dynamoValue (value: unknown): boolean {
      if (typeof value === 'number') return dynamoNumber(value)
      if (Array.isArray(value)) return value.every(dynamoValue)
      if (typeof value === 'object' && value !== null) return Object.values(value).every(dynamoValue)
      return true
    }

    // DynamoDB attribute names must be at least one character: the empty top-level key is left
    // out here (what the store does with one is the next test). Empty keys inside maps are kept.
    const dynamoData = sessionData(fc.jsonValue({ maxDepth: 3, stringUnit: anyChar }).filter(dynamoValue), topKey.filter(key => key !== ''))

    it('write()/read(), then an update of the same session: any JSON object comes back as it was', async () => {
      const api = arcSession({ table, secret: SECRET, env: {}, dynamodb: { endpoint, region: 'us-east-1' } })
      await fc.assert(fc.asyncProperty(dynamoData, dynamoData, async (first, second) => {
        const cookies = await api.writeCookies(structuredClone(first))
        const session = await api.read({ headers: { cookie: cookieHeaderFrom(cookies) } })
        expect(dataOf(session)).toEqual(first)

        for (const key of Object.keys(session)) delete session[key]
        Object.assign(session, structuredClone(second))
        const again = await api.read({ headers: { cookie: cookieHeaderFrom(await api.writeCookies(session)) } })
        expect(dataOf(again)).toEqual(second)
      }), { numRuns: runs(1 / 5) })
    })

    // An empty top-level key is JSON DynamoDB cannot hold as an attribute name: like the other
    // data it cannot represent, it should be refused up front as SessionDataError, the same way
    // whether the item is being created or updated.
    it('an empty top-level key is refused as session data when the item is created', async () => {
      const api = arcSession({ table, secret: SECRET, env: {}, dynamodb: { endpoint, region: 'us-east-1' } })
      await expect(api.writeCookies({ '': 1, a: 1 })).rejects.toMatchObject({ name: 'SessionDataError', status: 500 })
    })

    it('an empty top-level key is refused as session data when the item is updated', async () => {
      const api = arcSession({ table, secret: SECRET, env: {}, dynamodb: { endpoint, region: 'us-east-1' } })
      const session = await api.read({ headers: { cookie: cookieHeaderFrom(await api.writeCookies({ a: 1 })) } })
      session[''] = 1
      await expect(api.writeCookies(session)).rejects.toMatchObject({ name: 'SessionDataError', status: 500 })
    })
  })
})

// ------------------------------------------------------------------------ mutations

/**
 * Decoding a cookie value the way any cookie reader may: surrounding blanks and DQUOTEs
 * off, one round of percent-decoding.
 */
function cookieText (raw: string): string {
  let value = raw.trim()
  if (value.length > 1 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

/** Bytes of a base64 or base64url segment (padding optional), or undefined if it is not one. */
function segmentBytes (segment: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(segment)) return undefined
  const bare = segment.replace(/=+$/, '')
  if (bare.length % 4 === 1) return undefined
  if (segment.length !== bare.length && segment.length % 4 !== 0) return undefined
  return Buffer.from(bare.replace(/\+/g, '-').replace(/\//g, '_'), 'base64url')
}

/** Same five segments, byte for byte, once each is decoded. */
function sameToken (candidate: string, original: string): boolean {
  const a = candidate.split('.')
  const b = original.split('.')
  if (a.length !== b.length) return false
  return a.every((segment, index) => {
    const left = segmentBytes(segment)
    const right = segmentBytes(b[index] ?? '')
    return left !== undefined && right !== undefined && left.equals(right)
  })
}

/**
 * The tokens a Cookie header carries under the name `_idx`: each `_idx` value, and the value
 * the chunks `_idx.0` .. spell (chunk 0 starts with the count, `N~`; the last of a name wins).
 */
function tokensIn (header: string): string[] {
  const tokens: string[] = []
  const chunks = new Map<string, string>()
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=')
    if (eq < 0) continue
    const name = pair.slice(0, eq).trim()
    const value = cookieText(pair.slice(eq + 1))
    if (name === '_idx') tokens.push(value)
    else if (/^_idx\.\d$/.test(name)) chunks.set(name, value)
  }
  const first = chunks.get('_idx.0')
  const match = first === undefined ? null : /^(\d+)~/.exec(first)
  if (first !== undefined && match !== null) {
    const parts = [first.slice(match[0].length)]
    for (let index = 1; index < Number(match[1]); index++) parts.push(chunks.get(`_idx.${index}`) ?? '\u0000')
    tokens.push(parts.join(''))
  }
  return tokens
}

/** True when the header still carries one of the genuine tokens, only spelled differently at most. */
function carriesGenuine (header: string, genuine: readonly string[]): boolean {
  return tokensIn(header).some(token => genuine.some(original => sameToken(token, original)))
}

type Mutation = (value: string, other: string) => string

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

function atSegment (value: string, index: number, change: (segment: string) => string): string {
  const segments = value.split('.')
  const at = index % segments.length
  segments[at] = change(segments[at] ?? '')
  return segments.join('.')
}

function reencode (segment: string, style: 'base64' | 'base64-padded' | 'base64url-padded'): string {
  const bytes = Buffer.from(segment, 'base64url')
  if (style === 'base64url-padded') return bytes.toString('base64').replace(/\+/g, '-').replace(/\//g, '_')
  const standard = bytes.toString('base64')
  return style === 'base64' ? standard.replace(/=+$/, '') : standard
}

function percentEncode (text: string, every: boolean, lower: boolean, seed: number): string {
  let out = ''
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string
    if (every || (i * 7 + seed) % 5 === 0) {
      const hex = char.charCodeAt(0).toString(16).padStart(2, '0')
      out += `%${lower ? hex.toLowerCase() : hex.toUpperCase()}`
    } else {
      out += char
    }
  }
  return out
}

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map(code => String.fromCharCode(code)), minLength: 1, maxLength: 3 })

/** Mutations of one cookie value (the token, or a chunk of it). */
const valueMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 6 })).map(([pos, bit]): Mutation => value => {
    const at = pos % value.length
    return value.slice(0, at) + String.fromCharCode(value.charCodeAt(at) ^ (1 << bit)) + value.slice(at + 1)
  }),
  fc.nat().map((n): Mutation => value => value.slice(0, n % value.length)),
  fc.nat().map((n): Mutation => value => value.slice(1 + (n % Math.max(1, value.length - 1)))),
  fc.tuple(fc.nat(), printable).map(([pos, text]): Mutation => value => {
    const at = pos % (value.length + 1)
    return value.slice(0, at) + text + value.slice(at)
  }),
  fc.nat().map((pos): Mutation => value => {
    const at = pos % value.length
    return value.slice(0, at) + value.slice(at + 1)
  }),
  fc.tuple(fc.nat(), fc.nat()).map(([pos, index]): Mutation => value => {
    const at = pos % value.length
    const char = value[at] as string
    const changed = char.toUpperCase() === char ? char.toLowerCase() : char.toUpperCase()
    return changed === char ? value.slice(0, at) + (B64URL[index % 64] ?? 'A') + value.slice(at + 1) : value.slice(0, at) + changed + value.slice(at + 1)
  }),
  fc.tuple(fc.nat(), fc.boolean()).map(([index, upper]): Mutation => value => atSegment(value, index, s => upper ? s.toUpperCase() : s.toLowerCase())),
  fc.tuple(fc.boolean(), fc.boolean(), fc.nat()).map(([every, lower, seed]): Mutation => value => percentEncode(value, every, lower, seed)),
  fc.constant<Mutation>(value => `"${value}"`),
  fc.constant<Mutation>(value => `  ${value} `)
)

/** Mutations that know the token's structure, and may borrow from another valid token. */
const tokenMutation: fc.Arbitrary<Mutation> = fc.oneof(
  valueMutation,
  fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 })).map(([i, j]): Mutation => value => {
    const segments = value.split('.')
    const a = segments[i % segments.length] ?? ''
    segments[i % segments.length] = segments[j % segments.length] ?? ''
    segments[j % segments.length] = a
    return segments.join('.')
  }),
  fc.shuffledSubarray([0, 1, 2, 3, 4], { minLength: 5, maxLength: 5 }).map((order): Mutation => value => {
    const segments = value.split('.')
    return order.map(index => segments[index] ?? '').join('.')
  }),
  fc.integer({ min: 0, max: 4 }).map((index): Mutation => value => value.split('.').filter((_, i) => i !== index).join('.')),
  fc.integer({ min: 0, max: 4 }).map((index): Mutation => value => {
    const segments = value.split('.')
    segments.splice(index, 0, segments[index] ?? '')
    return segments.join('.')
  }),
  fc.integer({ min: 0, max: 4 }).map((index): Mutation => (value, other) => atSegment(value, index, () => other.split('.')[index] ?? '')),
  fc.tuple(fc.integer({ min: 0, max: 4 }), fc.constantFrom('base64' as const, 'base64-padded' as const, 'base64url-padded' as const))
    .map(([index, style]): Mutation => value => atSegment(value, index, segment => reencode(segment, style))),
  fc.constantFrom('base64' as const, 'base64-padded' as const, 'base64url-padded' as const)
    .map((style): Mutation => value => value.split('.').map(segment => reencode(segment, style)).join('.'))
)

function mutate (mutations: readonly Mutation[], value: string, other: string): string {
  return mutations.reduce((current, mutation) => current.length === 0 ? current : mutation(current, other), value)
}

/**
 * What a property saw: every result must be the empty session or, for a header still carrying a
 * genuine token (the original, or the other valid token the mutations borrow segments from, which
 * three segment swaps can rebuild whole), the original data.
 */
interface Tally { empty: number, original: number }

function check (data: Record<string, unknown>, got: Record<string, unknown>, header: string, genuine: readonly string[], tally: Tally): void {
  if (Object.keys(got).length === 0) {
    tally.empty++
    return
  }
  // Data came back: it must be the original, from a header that still carries a genuine token.
  expect(got).toEqual(data)
  expect({ header, carriesGenuine: carriesGenuine(header, genuine) }).toEqual({ header, carriesGenuine: true })
  tally.original++
}

const smallData = fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }).filter(key => !RESERVED.has(key) && key !== '__proto__'),
  fc.oneof(fc.integer(), fc.string({ maxLength: 12 }), fc.boolean()), { minKeys: 1, maxKeys: 4 })

describe('mutations of a valid cookie', () => {
  it('one-cookie token, read(): {} or, for the same token bytes, the original; never an exception, never other data', async () => {
    const rejects = captureRejects()
    const api = arcSession(jweOptions({ onReject: rejects.onReject }))
    const tally: Tally = { empty: 0, original: 0 }
    await fc.assert(fc.asyncProperty(smallData, fc.array(tokenMutation, { minLength: 1, maxLength: 3 }), async (data, mutations) => {
      const [cookie] = await api.writeCookies(data)
      const original = cookieHeaderFrom([cookie ?? '']).slice('_idx='.length)
      const other = cookieHeaderFrom(await api.writeCookies({ ...data })).slice('_idx='.length)
      const header = `_idx=${mutate(mutations, original, other)}`
      const session = await api.read({ headers: { cookie: header } })
      check(data, dataOf(session), header, [original, other], tally)
    }), { numRuns: runs(5 / 3) })
    expect(tally.empty).toBeGreaterThan(0)
    expect(tally.original).toBeGreaterThan(0)
    expect(rejects.reasons.length).toBe(tally.empty)
  })

  it('one-cookie token, Express 5 and 4: 200 and {} or the original', async () => {
    const apps = [express(), express4()].map(app => {
      app.use(arcSession(jweOptions()))
      app.get('/', (req, res) => { res.json(req.session) })
      return app
    })
    const api = arcSession(jweOptions())
    const tally: Tally = { empty: 0, original: 0 }
    await fc.assert(fc.asyncProperty(smallData, fc.array(tokenMutation, { minLength: 1, maxLength: 3 }), fc.constantFrom(0, 1), async (data, mutations, which) => {
      const original = cookieHeaderFrom(await api.writeCookies(data)).slice('_idx='.length)
      const other = cookieHeaderFrom(await api.writeCookies({ ...data })).slice('_idx='.length)
      const header = `_idx=${mutate(mutations, original, other)}`
      // What an HTTP client can send: visible ASCII and spaces.
      fc.pre(/^[\x20-\x7e]*$/.test(header))
      const res = await request(apps[which] as express.Express).get('/').set('Cookie', header)
      expect(res.status).toBe(200)
      check(data, res.body as Record<string, unknown>, header, [original, other], tally)
    }), { numRuns: runs(1 / 2) })
    expect(tally.empty).toBeGreaterThan(0)
  })

  it('chunked session (2-3 cookies): reordering, duplicating, dropping, swapping and editing chunks, read()', async () => {
    const api = arcSession(jweOptions())
    const bigData = fc.record({
      blob: fc.string({ minLength: 5000, maxLength: 9000, unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789') }),
      extra: smallData
    })
    type Pairs = Array<[string, string]>
    type ChunkMutation = (pairs: Pairs) => Pairs
    const chunkMutation: fc.Arbitrary<ChunkMutation> = fc.oneof(
      // Order of the pairs in the header (harmless: chunks are found by name).
      fc.shuffledSubarray([0, 1, 2, 3], { minLength: 4, maxLength: 4 }).map((order): ChunkMutation => pairs =>
        order.filter(i => i < pairs.length).map(i => pairs[i] as [string, string])),
      // Values swapped between two chunk names.
      fc.tuple(fc.nat(), fc.nat()).map(([i, j]): ChunkMutation => pairs => {
        const copy = pairs.map(([n, v]) => [n, v] as [string, string])
        const a = copy[i % copy.length] as [string, string]
        const b = copy[j % copy.length] as [string, string]
        const value = a[1]
        a[1] = b[1]
        b[1] = value
        return copy
      }),
      // A chunk duplicated: the same value again, or another chunk's value under its name, before or after.
      fc.tuple(fc.nat(), fc.nat(), fc.boolean()).map(([i, j, before]): ChunkMutation => pairs => {
        const name = (pairs[i % pairs.length] as [string, string])[0]
        const extra: [string, string] = [name, (pairs[j % pairs.length] as [string, string])[1]]
        return before ? [extra, ...pairs] : [...pairs, extra]
      }),
      // A chunk dropped.
      fc.nat().map((i): ChunkMutation => pairs => pairs.filter((_, index) => index !== i % pairs.length)),
      // A chunk's value mutated (an empty one, left by an earlier mutation, has nothing to mutate).
      fc.tuple(fc.nat(), valueMutation).map(([i, mutation]): ChunkMutation => pairs =>
        pairs.map(([n, v], index) => [n, index === i % pairs.length && v.length > 0 ? mutation(v, '') : v] as [string, string])),
      // Characters moved across a chunk boundary (the joined token is unchanged).
      fc.tuple(fc.nat(), fc.integer({ min: 1, max: 40 })).map(([i, k]): ChunkMutation => pairs => {
        const copy = pairs.map(([n, v]) => [n, v] as [string, string])
        const at = i % Math.max(1, copy.length - 1)
        const left = copy[at] as [string, string]
        const right = copy[at + 1]
        if (right === undefined) return copy
        right[1] = left[1].slice(-k) + right[1]
        left[1] = left[1].slice(0, -k)
        return copy
      }),
      // The count on chunk 0 changed or removed.
      fc.integer({ min: -2, max: 2 }).map((delta): ChunkMutation => pairs => pairs.map(([n, v]) => {
        if (n !== '_idx.0') return [n, v] as [string, string]
        const match = /^(\d+)~/.exec(v)
        if (match === null) return [n, v] as [string, string]
        const count = Number(match[1]) + delta
        return [n, delta === 0 ? v.slice(match[0].length) : `${count}~${v.slice(match[0].length)}`] as [string, string]
      })),
      // Chunk names renamed, stray look-alike cookies added.
      fc.nat().map((i): ChunkMutation => pairs => pairs.map(([n, v], index) =>
        [index === i % pairs.length ? `_idx.${(Number(n.slice(-1)) + 1) % 10}` : n, v] as [string, string])),
      fc.constantFrom<Pairs>([['_idx.foo', 'bar']], [['_idx.9', 'zz']], [['_idxx', 'zz']], [['_idx', 'garbage']])
        .map((stray): ChunkMutation => pairs => [...stray, ...pairs])
    )
    const tally: Tally = { empty: 0, original: 0 }
    await fc.assert(fc.asyncProperty(bigData, fc.array(chunkMutation, { minLength: 1, maxLength: 3 }), async (data, mutations) => {
      const cookies = await api.writeCookies(data)
      const pairs = cookieHeaderFrom(cookies).split('; ').map(pair => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)] as [string, string])
      expect(pairs.length).toBeGreaterThanOrEqual(2)
      const original = tokensIn(cookieHeaderFrom(cookies))[0] ?? ''
      const mutated = mutations.reduce((current, mutation) => current.length === 0 ? current : mutation(current), pairs)
      const header = mutated.map(([n, v]) => `${n}=${v}`).join('; ')
      const session = await api.read({ headers: { cookie: header } })
      check(data, dataOf(session), header, [original], tally)
    }), { numRuns: runs(2 / 3) })
    expect(tally.empty).toBeGreaterThan(0)
    expect(tally.original).toBeGreaterThan(0)
  })
})
