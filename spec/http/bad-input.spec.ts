/**
 * Whatever a client sends in its Cookie header, the request gets an empty session and a
 * normal response: never a 500, a crash or a hang (issue 2, "Bad input"; issue 4, "Failure
 * you can see"). Through Express 5 and 4 with supertest, through read(), and through a real
 * node:http server with raw bytes where a client library would refuse to send them.
 */
import type { ErrorRequestHandler, Request } from 'express'
import express from 'express'
import request from 'supertest'
import { randomBytes } from 'node:crypto'
import { arcSession, type ArcSessionOptions } from 'arc-session'
import {
  OTHER_SECRET, REJECT_REASONS, SECRET, b64url, captureDebug, captureRejects, cookieHeaderFrom, cookieValue, express4,
  listen, parseRawResponse, plain, rawGet, rawKey, rawRequest, sealClaims, segmentsOf, setCookiesOf, type Reason
} from '../support/tokens'

// The debug log is switched on as an app does it, by DEBUG, set before arc-session logs its first
// line; captureDebug() then enables the namespace and collects the lines while a test runs.
process.env.DEBUG = 'arc-session'

const NOW = 1_800_000_000
const TTL = 3600
const EXPRESS = [['Express 5', express], ['Express 4', express4]] as const
const ALL_REASONS: readonly Reason[] = REJECT_REASONS

function baseOptions (extra: ArcSessionOptions = {}): ArcSessionOptions {
  return { secret: SECRET, env: {}, ttl: TTL, clock: () => NOW * 1000, ...extra }
}

/** A valid session cookie value of ours, holding `data`, written at NOW (or as `extra` says). */
async function tokenFor (data: Record<string, unknown>, extra: ArcSessionOptions = {}): Promise<string> {
  const value = cookieValue([await arcSession(baseOptions(extra)).write({ ...data })])
  if (value === undefined) throw new Error('write() gave no _idx cookie')
  return value
}

function flipBit (token: string, segmentIndex: number, bit: number): string {
  const segments = segmentsOf(token)
  const bytes = Buffer.from(segments[segmentIndex] ?? '', 'base64url')
  const position = Math.floor(bit / 8) % bytes.length
  bytes[position] = (bytes[position] ?? 0) ^ (1 << (bit % 8))
  segments[segmentIndex] = b64url(bytes)
  return segments.join('.')
}

interface Case {
  readonly name: string
  readonly value: string
  /** The reasons that would be right for this value. */
  readonly reasons: readonly Reason[]
}

const USER = { user: 'alice', roles: ['admin'] }
let good: string
const cases: Case[] = []

beforeAll(async () => {
  good = await tokenFor(USER)
  const [header = '', , iv = '', ciphertext = '', tag = ''] = segmentsOf(good)
  const garbage = [
    'garbage!!', 'x', '.', '....', '.....', '......', 'a.b.c.d.e', '%', '%E0%A4%A', '%ff%fe%fd', '"', '""', '"..."', '=', '===',
    '{}', '{"a":1}', 'null', 'undefined', '[object Object]', '\\', b64url(randomBytes(300)), '.'.repeat(2000),
    `${header}....`, `${header}..${iv}..${tag}`, `${header}..${iv}.${ciphertext}.`, `..${iv}.${ciphertext}.${tag}`,
    `${header}..${iv}.${ciphertext}.${tag}.`, `${header}..${iv}.${ciphertext}.${tag}.${tag}`, `${good} ${good}`
  ]
  for (const value of garbage) cases.push({ name: `garbage ${JSON.stringify(value.slice(0, 24))}`, value, reasons: ['malformed', 'too-large'] })

  for (const length of [1, 10, header.length, header.length + 1, header.length + 2, header.length + 10, good.length - 30, good.length - 1]) {
    cases.push({ name: `truncated to ${length} chars`, value: good.slice(0, length), reasons: ['malformed', 'tampered'] })
  }
  cases.push({ name: 'first character dropped', value: good.slice(1), reasons: ['malformed', 'tampered', 'wrong-algorithm'] })

  for (const bit of [0, 7, 13, 100, 200]) {
    cases.push({ name: `bit ${bit} of the header flipped`, value: flipBit(good, 0, bit), reasons: ['malformed', 'wrong-algorithm', 'unknown-key', 'tampered'] })
  }
  for (const [index, name] of [[2, 'IV'], [3, 'ciphertext'], [4, 'tag']] as const) {
    for (const bit of [0, 5, 77]) cases.push({ name: `bit ${bit} of the ${name} flipped`, value: flipBit(good, index, bit), reasons: ['tampered'] })
  }
  cases.push({ name: 'a byte in the (empty) encrypted-key segment', value: `${header}.A${good.slice(header.length + 1)}`, reasons: ['malformed', 'wrong-algorithm'] })
  cases.push({ name: 'IV and tag swapped', value: `${header}..${tag.slice(0, 16)}.${ciphertext}.${iv}AAAAAA`, reasons: ['tampered', 'malformed'] })

  cases.push({ name: 'expired (written a ttl ago)', value: await tokenFor(USER, { clock: () => (NOW - TTL) * 1000 }), reasons: ['expired'] })
  cases.push({ name: 'issued far in the future', value: sealClaims(SECRET, 'A256GCM', { ...USER, iat: NOW + 86400 }), reasons: ['malformed', 'expired'] })
  cases.push({ name: 'wrong key, with its key id', value: await tokenFor(USER, { secret: OTHER_SECRET }), reasons: ['unknown-key'] })
  cases.push({ name: 'wrong key, arc-style (no key id)', value: sealClaims(OTHER_SECRET, 'A256GCM', { ...USER, iat: NOW }), reasons: ['tampered'] })
  cases.push({ name: 'A128GCM keyed with the first 16 bytes', value: sealClaims(SECRET, 'A128GCM', { ...USER, iat: NOW }), reasons: ['wrong-algorithm'] })
  cases.push({ name: 'right key, claims not an object', value: sealClaims(SECRET, 'A256GCM', '["admin"]'), reasons: ['malformed'] })
  cases.push({ name: 'right key, iat a string', value: sealClaims(SECRET, 'A256GCM', { ...USER, iat: String(NOW) }), reasons: ['malformed'] })
  cases.push({ name: 'right key, plaintext not UTF-8', value: sealClaims(SECRET, 'A256GCM', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), reasons: ['malformed'] })
  cases.push({ name: '14 KB value (over cookie.maxBytes, under Node\'s header limit)', value: b64url(randomBytes(10_500)), reasons: ['too-large', 'malformed'] })
  // Node answers 431 to this before any app sees it: read() only (the raw-server test covers the 431).
  cases.push({ name: '100 KB value', value: b64url(randomBytes(75_000)), reasons: ['too-large', 'malformed'] })
})

/** Exactly one reason was given, and it is one of `allowed`. */
function expectOneReason (name: string, got: readonly string[], allowed: readonly string[]): void {
  const reason = got.length === 1 && allowed.includes(got[0] as string) ? got[0] : `one of ${allowed.join(', ')}`
  expect({ name, reasons: got }).toEqual({ name, reasons: [reason] })
}

function errorHandler (): ErrorRequestHandler {
  return (error, _req, res, _next) => { res.status(500).json({ error: String((error as Error)?.message ?? error) }) }
}

function appFor (factory: typeof express, extra: ArcSessionOptions = {}): { app: express.Express, seen: Request[] } {
  const seen: Request[] = []
  const app = factory()
  app.use(arcSession(baseOptions(extra)))
  app.get('/', (req, res) => { seen.push(req); res.json(req.session) })
  app.get('/count', (req, res) => {
    seen.push(req)
    req.session.count = (Number(req.session.count) || 0) + 1
    res.json(req.session)
  })
  app.use(errorHandler())
  return { app, seen }
}

describe.each(EXPRESS)('%s', (_name, factory) => {
  it('control: the valid cookie reads back', async () => {
    const { app } = appFor(factory)
    const res = await request(app).get('/').set('Cookie', `_idx=${good}`)
    expect(res.status).toBe(200)
    expect(res.body).toEqual(USER)
  })

  it('every hostile cookie: 200, an empty session, one reason for onReject with the request; a new session starts cleanly', async () => {
    expect(cases.length).toBeGreaterThan(50)
    for (const { name, value, reasons } of cases.filter(c => c.value.length < 15_000)) {
      const rejects = captureRejects()
      const { app, seen } = appFor(factory, { onReject: rejects.onReject })
      const res = await request(app).get('/').set('Cookie', `theme=dark; _idx=${value}; lang=en`)
      expect({ name, status: res.status, body: res.body as unknown }).toEqual({ name, status: 200, body: {} })
      expectOneReason(name, rejects.reasons, reasons)
      expect(rejects.requests[0]).toBe(seen[0])

      const counted = await request(app).get('/count').set('Cookie', `_idx=${value}`)
      expect({ name, status: counted.status, body: counted.body as unknown }).toEqual({ name, status: 200, body: { count: 1 } })
      const next = await request(app).get('/count').set('Cookie', cookieHeaderFrom(setCookiesOf(counted)))
      expect({ name, body: next.body as unknown }).toEqual({ name, body: { count: 2 } })
    }
  })

  it('an onReject that throws does not break the request', async () => {
    const { app } = appFor(factory, { onReject: () => { throw new Error('metrics are down') } })
    const res = await request(app).get('/count').set('Cookie', `_idx=${flipBit(good, 3, 1)}`)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ count: 1 })
  })

  it('1,000 _idx cookies with the valid one last: the session is read, onReject not called', async () => {
    const rejects = captureRejects()
    const { app } = appFor(factory, { onReject: rejects.onReject })
    // Short values: a thousand full tokens would pass Node's 16 KiB header limit (see the 431 test).
    const header = [...Array.from({ length: 999 }, (_, i) => `_idx=x${i}`), `_idx=${good}`].join('; ')
    const res = await request(app).get('/').set('Cookie', header)
    expect(res.status).toBe(200)
    expect(res.body).toEqual(USER)
    expect(rejects.reasons).toEqual([])
  })

  it('1,000 _idx cookies with the valid one first: 200, and never anything but that session or none', async () => {
    const rejects = captureRejects()
    const { app } = appFor(factory, { onReject: rejects.onReject })
    const header = [`_idx=${good}`, ...Array.from({ length: 999 }, (_, i) => `_idx=x${i}`)].join('; ')
    const res = await request(app).get('/').set('Cookie', header)
    expect(res.status).toBe(200)
    // Browsers and arc take the last _idx; how far back we look for one that verifies is bounded.
    expect([{}, USER]).toContainEqual(res.body)
    expect(rejects.reasons.length).toBeLessThanOrEqual(1)
  })

  it('JSON with __proto__, constructor and prototype keys, sealed with the right key: no pollution, plain data', async () => {
    const attack = `{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"polluted":"yes"},` +
      `"nested":{"__proto__":{"polluted":"yes"},"ok":1},"list":[{"\\u005f_proto__":{"polluted":"yes"}}],"iat":${NOW}}`
    const value = sealClaims(SECRET, 'A256GCM', attack)
    const app = factory()
    app.use(arcSession(baseOptions()))
    app.get('/', (req, res) => {
      const session = req.session as Record<string, unknown>
      const nested = session.nested as Record<string, unknown>
      const first = (session.list as Array<Record<string, unknown>>)[0] as Record<string, unknown>
      res.json({
        keys: Object.keys(session).sort(),
        ownProto: Object.prototype.hasOwnProperty.call(session, '__proto__'),
        sessionPolluted: session.polluted ?? null,
        canSave: typeof req.session.save,
        constructorIsData: Object.prototype.hasOwnProperty.call(session, 'constructor'),
        nestedKeys: Object.keys(nested),
        nestedPlain: Object.getPrototypeOf(nested) === Object.prototype && nested.polluted === undefined,
        listItemKeys: Object.keys(first),
        listItemPlain: Object.getPrototypeOf(first) === Object.prototype && first.polluted === undefined,
        objectPolluted: ({} as Record<string, unknown>).polluted ?? null,
        session
      })
    })
    app.get('/touch', (req, res) => { req.session.count = 1; res.json(req.session) })
    app.use(errorHandler())

    const res = await request(app).get('/').set('Cookie', `_idx=${value}`)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      keys: ['constructor', 'list', 'nested', 'prototype'],
      ownProto: false,
      sessionPolluted: null,
      canSave: 'function',
      constructorIsData: true,
      nestedKeys: ['ok'],
      nestedPlain: true,
      listItemKeys: [],
      listItemPlain: true,
      objectPolluted: null,
      session: { constructor: { prototype: { polluted: 'yes' } }, prototype: { polluted: 'yes' }, nested: { ok: 1 }, list: [{}] }
    })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()

    // Written back and read again: the same plain data.
    const touched = await request(app).get('/touch').set('Cookie', `_idx=${value}`)
    expect(touched.status).toBe(200)
    const again = await request(app).get('/').set('Cookie', cookieHeaderFrom(setCookiesOf(touched)))
    expect((again.body as { session: unknown }).session).toEqual({
      constructor: { prototype: { polluted: 'yes' } }, prototype: { polluted: 'yes' }, nested: { ok: 1 }, list: [{}], count: 1
    })
  })
})

describe('read() on event objects', () => {
  interface ReadResult {
    readonly session: Record<string, unknown>
    readonly data: Record<string, unknown>
    readonly reasons: string[]
    readonly event: unknown
    readonly requests: unknown[]
  }

  async function readWith (cookie: string, extra: ArcSessionOptions = {}): Promise<ReadResult> {
    const rejects = captureRejects()
    const event = { headers: { cookie } }
    const session = await arcSession(baseOptions({ onReject: rejects.onReject, ...extra })).read(event)
    return { session, data: plain(session), reasons: rejects.reasons, event, requests: rejects.requests }
  }

  it('every hostile cookie: {} and one reason, with the event as the request', async () => {
    for (const { name, value, reasons } of cases) {
      const result = await readWith(`_idx=${value}`)
      expect({ name, data: result.data }).toEqual({ name, data: {} })
      expectOneReason(name, result.reasons, reasons)
      expect(result.requests[0]).toBe(result.event)
    }
  })

  it('values no HTTP client would send (controls, non-Latin-1, lone surrogates): {}', async () => {
    const values = ['\u0000', '\n', '\r\n\r\n', 'é', '✓✓✓✓', '🍪', '\ud800', '\udfff\ud800', `${good}\u0000`, `${good.slice(0, 40)}é${good.slice(41)}`, good.replace(/\./g, '\u2024')]
    for (const value of values) {
      const result = await readWith(`_idx=${value}`)
      expect({ value, data: result.data }).toEqual({ value, data: {} })
      expect(result.reasons).toHaveLength(1)
      expect(ALL_REASONS).toContain(result.reasons[0])
    }
  })

  it('an onReject that throws: read() still resolves to {}', async () => {
    const session = await arcSession(baseOptions({ onReject: () => { throw new Error('boom') } })).read({ headers: { cookie: '_idx=garbage!!' } })
    expect(plain(session)).toEqual({})
  })

  it('a 100 KB Cookie header that is one _idx value: {} and too-large', async () => {
    const value = `${segmentsOf(good)[0]}..${b64url(randomBytes(12))}.${b64url(randomBytes(75_000))}.${b64url(randomBytes(16))}`
    expect(value.length).toBeGreaterThan(100_000)
    const result = await readWith(`_idx=${value}`)
    expect(result.data).toEqual({})
    expect(result.reasons).toEqual(['too-large'])
  })

  it('a 100 KB Cookie header of other cookies around a valid _idx: the session is read', async () => {
    const others = Array.from({ length: 1000 }, (_, i) => `c${i}=${'v'.repeat(95)}`)
    const cookie = [...others.slice(0, 500), `_idx=${good}`, ...others.slice(500)].join('; ')
    expect(cookie.length).toBeGreaterThan(100_000)
    expect((await readWith(cookie)).data).toEqual(USER)
  })

  it('1,000 tampered _idx tokens then the valid one: the session is read', async () => {
    const tampered = Array.from({ length: 1000 }, (_, i) => `_idx=${flipBit(good, 3, i)}`)
    const result = await readWith([...tampered, `_idx=${good}`].join('; '))
    expect(result.data).toEqual(USER)
    expect(result.reasons).toEqual([])
  })

  it('the valid _idx then 1,000 tampered ones: {} or that session, never anything else, one reason at most', async () => {
    const tampered = Array.from({ length: 1000 }, (_, i) => `_idx=${flipBit(good, 3, i)}`)
    const result = await readWith([`_idx=${good}`, ...tampered].join('; '))
    expect([{}, USER]).toContainEqual(result.data)
    expect(result.reasons.length).toBeLessThanOrEqual(1)
  })

  it('JSON with __proto__, constructor and prototype keys: Object.prototype untouched, no own __proto__, constructor is data', async () => {
    const attack = `{"__proto__":{"polluted":"yes"},"\\u005f_proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},` +
      `"deep":{"a":{"__proto__":{"polluted":"yes"}}},"iat":${NOW}}`
    const { session, reasons } = await readWith(`_idx=${sealClaims(SECRET, 'A256GCM', attack)}`)
    expect(reasons).toEqual([])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.prototype.hasOwnProperty.call(session, '__proto__')).toBe(false)
    // The prototype every read() result has (it carries id and cookie), never one the data chose.
    const { session: control } = await readWith(`_idx=${good}`)
    expect(Object.getPrototypeOf(session)).toBe(Object.getPrototypeOf(control))
    expect(Object.getPrototypeOf(Object.getPrototypeOf(session))).toBe(Object.prototype)
    expect(session.polluted).toBeUndefined()
    expect(Object.prototype.hasOwnProperty.call(session, 'constructor')).toBe(true)
    expect(session.constructor).toEqual({ prototype: { polluted: 'yes' } })
    const deep = (session.deep as Record<string, Record<string, unknown>>).a as Record<string, unknown>
    expect(Object.getPrototypeOf(deep)).toBe(Object.prototype)
    expect(deep.polluted).toBeUndefined()
    expect(Object.keys(session).sort()).toEqual(['constructor', 'deep'])
  })
})

describe('a real node:http server, raw bytes', () => {
  describe.each(EXPRESS)('%s', (_name, factory) => {
    it('a 100 KB Cookie header gets 431 from Node, and the server goes on serving', async () => {
      const { app } = appFor(factory)
      const server = await listen(app)
      try {
        const huge = await rawRequest(server.port, rawGet('/', Buffer.from(`_idx=${'A'.repeat(100 * 1024)}`, 'latin1')))
        expect(parseRawResponse(huge).status).toBe(431)
        const normal = parseRawResponse(await rawRequest(server.port, rawGet('/', Buffer.from(`_idx=${good}`, 'latin1'))))
        expect(normal.status).toBe(200)
        expect(JSON.parse(normal.body)).toEqual(USER)
      } finally {
        await server.close()
      }
    })

    it('non-UTF-8 bytes in the Cookie header: 200 and an empty session; junk in other cookies leaves ours alone', async () => {
      const rejects = captureRejects()
      const { app } = appFor(factory, { onReject: rejects.onReject })
      const server = await listen(app)
      const latin = (text: string): Buffer => Buffer.from(text, 'latin1')
      try {
        const hostile: Buffer[] = [
          Buffer.concat([latin(`_idx=${good}`), Buffer.from([0xff])]),
          Buffer.concat([latin('_idx='), Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x82, 0xf0, 0x90, 0x80])]),
          Buffer.concat([latin(`_idx=${good.slice(0, 30)}`), Buffer.from([0xe9]), latin(good.slice(31))]),
          Buffer.concat([latin('_idx='), Buffer.from([0xed, 0xa0, 0x80]), latin('..')]) // an encoded surrogate: invalid UTF-8
        ]
        for (const cookie of hostile) {
          rejects.clear()
          const res = parseRawResponse(await rawRequest(server.port, rawGet('/', cookie)))
          expect({ cookie: cookie.toString('hex'), status: res.status, body: res.body }).toEqual({ cookie: cookie.toString('hex'), status: 200, body: '{}' })
          expect(rejects.reasons).toHaveLength(1)
          expect(ALL_REASONS).toContain(rejects.reasons[0])
        }
        const junkElsewhere = Buffer.concat([latin('other='), Buffer.from([0xff, 0xfe, 0xe9]), latin(`; _idx=${good}; x=`), Buffer.from([0xc3])])
        const res = parseRawResponse(await rawRequest(server.port, rawGet('/', junkElsewhere)))
        expect(res.status).toBe(200)
        expect(JSON.parse(res.body)).toEqual(USER)
      } finally {
        await server.close()
      }
    })
  })
})

describe('the debug log (namespace arc-session)', () => {
  const secretSpellings = [SECRET, Buffer.from(SECRET).toString('base64'), Buffer.from(SECRET).toString('hex'), rawKey(SECRET, 'A256GCM').toString('base64url')]

  /** True when some 8-character piece of `text` is in `log`. */
  function sharesPiece (log: string, text: string): boolean {
    for (let i = 0; i + 8 <= text.length; i++) if (log.includes(text.slice(i, i + 8))) return true
    return false
  }

  it('names the reason for every refused cookie, and never holds token bytes or the secret', async () => {
    const capture = captureDebug()
    try {
      const app = arcSession(baseOptions())
      for (const { name, value, reasons } of cases) {
        capture.lines.length = 0
        await app.read({ headers: { cookie: `_idx=${value}` } })
        const log = capture.lines.join('\n')
        expect({ name, named: reasons.some(reason => log.includes(reason)) }).toEqual({ name, named: true })
        if (value.length >= 8) expect({ name, leaks: sharesPiece(log, value) }).toEqual({ name, leaks: false })
        for (const spelling of secretSpellings) expect(sharesPiece(log, spelling)).toBe(false)
      }
    } finally {
      capture.stop()
    }
  })

  it('the same through Express, including a session written afterwards', async () => {
    const capture = captureDebug()
    try {
      const { app } = appFor(express, { onReject: () => { throw new Error('onReject failed') } })
      const value = flipBit(good, 4, 3)
      const res = await request(app).get('/count').set('Cookie', `_idx=${value}`)
      expect(res.status).toBe(200)
      const written = cookieValue(setCookiesOf(res)) ?? ''
      expect(written.length).toBeGreaterThan(50)
      const log = capture.lines.join('\n')
      expect(log).toContain('tampered')
      expect(sharesPiece(log, value)).toBe(false)
      expect(sharesPiece(log, written)).toBe(false)
      for (const spelling of secretSpellings) expect(sharesPiece(log, spelling)).toBe(false)
    } finally {
      capture.stop()
    }
  })
})
