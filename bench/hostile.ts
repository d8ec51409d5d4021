/**
 * Issue 12, item 1: the worst Cookie header a client can send within Node's header limit, against
 * a normal request, on every store. Node refuses a request whose header block passes 16,384 bytes
 * (`--max-http-header-size`), so each hostile Cookie header is built up to HEADER_BYTES (a little
 * under, for the request line and the other headers), and sent on every request of a short
 * autocannon run against GET /read; the figure is the server's CPU time per request.
 *
 *   normal        the valid cookie alone (the reference: 1×), measured first and again last, the lower kept
 *   percent       `_idx=%` repeated: values that fail to decode
 *   junk tokens   `_idx=<junk>` repeated, each distinct and shaped like this store's real values
 *                 (JWE: the real header segment, a random IV, ciphertext and tag of the real
 *                 lengths, so each must be tried against the key; DynamoDB: a random id and a
 *                 random signature of the real lengths, so each costs an HMAC)
 *   chunk flood   `_idx.0=10~…` .. `_idx.9=…` repeated (the store looks for chunks only if it uses them)
 *   chunk token   ten chunks, each once, that join into one token-shaped value filling the header:
 *                 the longest ciphertext a request can make the store decrypt
 *   mix           all of the above interleaved with foreign cookies, the valid cookie last
 *   foreign       ~16 KB of other cookies (a big but ordinary header), the valid cookie last
 *
 * Bare Express gets the same headers: what receiving them costs before any session code runs.
 */
import { randomBytes } from 'node:crypto'
import { SERVERS, type ServerKind } from './apps'
import { get, load, prime, settledStats, startChild } from './harness'

export const HEADER_BYTES = 16_000
export const HOSTILE_TARGET = 3

export const HOSTILE_STORES = ['arc-session-jwe', 'arc-session-dynamodb-stub', 'arc-session-dynamodb'] as const
export type HostileStore = typeof HOSTILE_STORES[number]

export const CASES = ['normal', 'percent', 'junk-tokens', 'chunk-flood', 'chunk-token', 'mix', 'foreign'] as const
export type HostileCaseName = typeof CASES[number]

export const CASE_LABELS: Readonly<Record<HostileCaseName, string>> = {
  normal: 'normal: the valid cookie',
  percent: '`_idx=%` repeated',
  'junk-tokens': '`_idx=<junk shaped like a real value>` repeated',
  'chunk-flood': '`_idx.0`..`_idx.9` repeated',
  'chunk-token': '10 chunks joining into one 16 KB token-shaped value',
  mix: 'a mix of all of these, valid cookie last',
  foreign: '16 KB of other cookies, valid cookie last'
}

export interface HostileMeasure {
  headerBytes: number
  /** How many cookies the header holds. */
  cookies: number
  status: number
  body: string
  rps: number
  cpuMicrosPerRequest: number
  /** This case's CPU per request over the normal request's, same server. */
  ratio: number
  errors: number
}

export interface HostileRow {
  kind: ServerKind
  label: string
  cases: Partial<Record<HostileCaseName, HostileMeasure>>
}

export interface HostileResult {
  headerBytes: number
  warmupSeconds: number
  durationSeconds: number
  connections: number
  /** Bare Express with the JWE store's headers (its `ratio` is over its own normal request). */
  rows: HostileRow[]
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

function randomId (length: number): string {
  const bytes = randomBytes(length)
  let out = ''
  for (let i = 0; i < length; i++) out += B64URL[(bytes[i] as number) & 63]
  return out
}

const b64u = (bytes: number): string => randomBytes(bytes).toString('base64url')

/** The session cookie's value in a Cookie header (`_idx=value; ...`). */
function sessionValue (cookieHeader: string): string {
  const pair = cookieHeader.split('; ').find(part => part.startsWith('_idx='))
  if (pair === undefined) throw new Error(`hostile headers: no _idx cookie in ${cookieHeader.slice(0, 80)}`)
  return pair.slice('_idx='.length)
}

/** A maker of distinct values shaped like `valid` (a JWE token or a signed id). */
function junkMaker (valid: string): (ciphertextChars?: number) => string {
  const segments = valid.split('.')
  if (segments.length === 5 && segments[1] === '') {
    const header = segments[0] as string
    const ciphertextBytes = Buffer.from(segments[3] as string, 'base64url').length
    return (chars?: number) => `${header}..${b64u(12)}.${chars === undefined ? b64u(ciphertextBytes) : b64u(Math.floor(chars * 3 / 4))}.${b64u(16)}`
  }
  const decoded = decodeURIComponent(valid)
  const dot = decoded.lastIndexOf('.')
  const idLength = dot
  return () => {
    const value = `${randomId(idLength)}.${randomBytes(32).toString('base64').replace(/=+$/, '')}`
    return /^[\w.~-]*$/.test(value) ? value : encodeURIComponent(value)
  }
}

/** Pairs joined with `; `, as many as fit in HEADER_BYTES (the `tail` pair, if any, always last). */
function fill (next: (index: number) => string, tail?: string): { header: string, cookies: number } {
  const parts: string[] = []
  let bytes = tail === undefined ? 0 : tail.length + 2
  for (let index = 0; ; index++) {
    const part = next(index)
    const added = part.length + (parts.length > 0 ? 2 : 0)
    if (bytes + added > HEADER_BYTES) break
    parts.push(part)
    bytes += added
  }
  if (tail !== undefined) parts.push(tail)
  return { header: parts.join('; '), cookies: parts.length }
}

export function hostileHeaders (validCookieHeader: string): Record<HostileCaseName, { header: string, cookies: number }> {
  const valid = sessionValue(validCookieHeader)
  const junk = junkMaker(valid)
  const tokenShaped = valid.split('.').length === 5
  const chunkPart = (index: number): string => `_idx.${index % 10}=${index % 10 === 0 ? '10~' : ''}${randomId(40)}`
  const foreign = (index: number): string => `c${String(index).padStart(4, '0')}=${randomId(40)}`

  // Ten chunks, each once, whose joined value is one token-shaped value as long as the header allows.
  const room = HEADER_BYTES - 10 * '_idx.0=; '.length - 3
  const longToken = tokenShaped ? junk(room - 120) : randomId(room - 16)
  const per = Math.ceil(longToken.length / 10)
  const chunkToken = Array.from({ length: 10 }, (_, index) => `_idx.${index}=${index === 0 ? '10~' : ''}${longToken.slice(index * per, (index + 1) * per)}`)
  const chunkTokenHeader = chunkToken.join('; ')

  const mixed = (index: number): string => {
    switch (index % 4) {
      case 0: return '_idx=%'
      case 1: return `_idx=${junk()}`
      case 2: return chunkPart(index)
      default: return foreign(index)
    }
  }
  return {
    normal: { header: validCookieHeader, cookies: validCookieHeader.split('; ').length },
    percent: fill(() => '_idx=%'),
    'junk-tokens': fill(() => `_idx=${junk()}`),
    'chunk-flood': fill(chunkPart),
    'chunk-token': { header: chunkTokenHeader, cookies: 10 },
    mix: fill(mixed, `_idx=${valid}`),
    foreign: fill(foreign, `_idx=${valid}`)
  }
}

export interface HostileOptions {
  endpoint: string
  warmup: number
  duration: number
  connections: number
  log: (message: string) => void
}

async function measureCase (port: number, header: string, cookies: number, options: HostileOptions, label: string): Promise<HostileMeasure> {
  if (Buffer.byteLength(header) > HEADER_BYTES) throw new Error(`hostile headers: ${label} is ${Buffer.byteLength(header)} bytes, over ${HEADER_BYTES}`)
  const sample = await get(port, '/read', header)
  if (sample.status !== 200) throw new Error(`hostile headers: ${label} answered ${sample.status} (${sample.body.slice(0, 120)})`)
  await load({ port, path: '/read', cookie: header, connections: options.connections, duration: options.warmup })
  const before = await settledStats(port)
  const result = await load({ port, path: '/read', cookie: header, connections: options.connections, duration: options.duration })
  const after = await settledStats(port)
  return {
    headerBytes: Buffer.byteLength(header),
    cookies,
    status: sample.status,
    body: sample.body,
    rps: result.requests.total / result.duration,
    cpuMicrosPerRequest: (after.cpuMicros - before.cpuMicros) / Math.max(1, after.requests - before.requests),
    ratio: 0,
    errors: result.errors + result.timeouts + result.non2xx
  }
}

export async function runHostile (options: HostileOptions, stores: readonly ServerKind[] = HOSTILE_STORES): Promise<HostileResult> {
  const rows: HostileRow[] = []
  let bareHeaders: ReturnType<typeof hostileHeaders> | undefined
  const kinds: ServerKind[] = [...stores, 'express']
  for (const kind of kinds) {
    if (kind === 'express' && bareHeaders === undefined) continue
    options.log(`hostile Cookie headers: ${SERVERS[kind].label}`)
    const child = await startChild('server.ts', [kind], SERVERS[kind].endpoint ? { BENCH_DYNAMODB_ENDPOINT: options.endpoint } : {})
    try {
      let headers: ReturnType<typeof hostileHeaders>
      if (kind === 'express') {
        headers = bareHeaders as ReturnType<typeof hostileHeaders>
      } else {
        const [cookie] = await prime(child.port, 1, { label: kind })
        if (cookie === undefined) throw new Error(`hostile headers: ${kind} set no cookie`)
        headers = hostileHeaders(cookie)
        if (kind === 'arc-session-jwe') bareHeaders = headers
      }
      const row: HostileRow = { kind, label: SERVERS[kind].label, cases: {} }
      // The normal request first and again last (the first window also warms the server up): the
      // lower of the two is the reference, the stricter one for the ratios.
      for (const name of [...CASES, 'normal'] as const) {
        const { header, cookies } = headers[name]
        const measure = await measureCase(child.port, header, cookies, options, `${kind} ${name}`)
        if ((name === 'normal' || name === 'foreign') && kind !== 'express' && measure.body !== '1') {
          throw new Error(`hostile headers: ${kind} ${name} answered "${measure.body}", expected 1: the valid cookie was not read`)
        }
        const earlier = row.cases[name]
        if (earlier === undefined || measure.cpuMicrosPerRequest < earlier.cpuMicrosPerRequest) row.cases[name] = { ...measure, errors: measure.errors + (earlier?.errors ?? 0) }
        options.log(`  ${name}: ${measure.headerBytes} B, ${measure.cookies} cookie${measure.cookies === 1 ? '' : 's'}, answer ${measure.body}, ${Math.round(measure.rps)} req/s, CPU ${measure.cpuMicrosPerRequest.toFixed(0)} µs/request`)
      }
      const normal = row.cases.normal?.cpuMicrosPerRequest ?? 0
      for (const measure of Object.values(row.cases)) measure.ratio = normal > 0 ? measure.cpuMicrosPerRequest / normal : 0
      rows.push(row)
    } finally {
      await child.stop()
    }
  }
  return { headerBytes: HEADER_BYTES, warmupSeconds: options.warmup, durationSeconds: options.duration, connections: options.connections, rows }
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })

export function formatHostile (result: HostileResult): string {
  const rows = result.rows
  const lines = [
    `| Cookie header (≤ ${fmt(result.headerBytes)} bytes) | ${rows.map(row => row.label).join(' | ')} |`,
    `|---|${rows.map(() => '---:').join('|')}|`
  ]
  for (const name of CASES) {
    const cells = rows.map(row => {
      const m = row.cases[name]
      if (m === undefined) return ''
      const verdict = row.kind !== 'express' && m.ratio > HOSTILE_TARGET ? ' **over 3×**' : ''
      return `${fmt(m.cpuMicrosPerRequest)} µs (${fmt(m.ratio, 2)}×)${verdict}${m.errors > 0 ? ` ${m.errors} errors` : ''}`
    })
    const sample = rows[0]?.cases[name]
    lines.push(`| ${CASE_LABELS[name]}${sample === undefined ? '' : ` (${fmt(sample.headerBytes)} B, ${fmt(sample.cookies)} cookie${sample.cookies === 1 ? '' : 's'})`} | ${cells.join(' | ')} |`)
  }
  return lines.join('\n')
}
