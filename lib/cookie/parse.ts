/**
 * Finding the session cookie in a Cookie header. Only names that match exactly count: `_idx`,
 * and the chunk names `_idx.0` .. `_idx.9`; a stray `_idx.foo` or `_idxx` is somebody else's.
 *
 * The header is scanned once, without splitting it or decoding anything along the way: a header
 * of thousands of junk `_idx` cookies costs one pass, and only the values that are kept (the last
 * few of each name) are ever sliced out and decoded. Decoding never throws.
 */

export const MAX_CHUNKS = 10

/** How many cookie values a request may put before the store, chunks included: a flood of them costs no more. */
export const MAX_CANDIDATES = 4

export interface SessionCookies {
  /** Distinct values of cookies named exactly `name`, the last one sent first. */
  readonly values: string[]
  /** Chunk index -> value (the last one sent wins); empty when chunks are not looked for. */
  readonly chunks: ReadonlyMap<number, string>
  /** Every session cookie name the request carried, to expire the ones a response no longer uses. */
  readonly names: ReadonlySet<string>
}

const NO_CHUNKS: ReadonlyMap<number, string> = new Map()
const ONLY_NAME = new Map<string, ReadonlySet<string>>()

/** The set of one cookie name, shared: most requests and responses carry just the one session cookie. */
export function onlyName (name: string): ReadonlySet<string> {
  let set = ONLY_NAME.get(name)
  if (set === undefined) {
    set = new Set([name])
    if (ONLY_NAME.size < 16) ONLY_NAME.set(name, set)
  }
  return set
}

const SEMICOLON = 0x3b
const EQUALS = 0x3d
const DOT = 0x2e
const SPACE = 0x20
const TAB = 0x09
const DIGIT_0 = 0x30

/** Start and end of a value in the header: kept as positions, sliced only if it survives. */
interface Span { start: number, end: number }

export function findSessionCookies (header: string | undefined, name: string, { chunked = true }: { chunked?: boolean } = {}): SessionCookies | undefined {
  if (header === undefined) return undefined
  let at = header.indexOf(name)
  if (at < 0) return undefined

  // The last MAX_CANDIDATES exact-name values, as a ring of spans.
  const ring: Span[] = []
  let next = 0
  let exact = 0
  let chunkSpans: Array<Span | undefined> | undefined
  let chunkNames: number[] | undefined

  while (at >= 0) {
    const after = at + name.length
    if (startsCookie(header, at)) {
      const code = header.charCodeAt(after)
      if (code === EQUALS) {
        const span = valueSpan(header, after + 1)
        if (ring.length < MAX_CANDIDATES) ring.push(span)
        else ring[next] = span
        next = (next + 1) % MAX_CANDIDATES
        exact++
        at = header.indexOf(name, span.end)
        continue
      }
      if (code === DOT && chunked) {
        const index = header.charCodeAt(after + 1) - DIGIT_0
        if (index >= 0 && index < MAX_CHUNKS && header.charCodeAt(after + 2) === EQUALS) {
          const span = valueSpan(header, after + 3)
          chunkSpans ??= []
          chunkNames ??= []
          if (chunkSpans[index] === undefined) chunkNames.push(index)
          chunkSpans[index] = span
          at = header.indexOf(name, span.end)
          continue
        }
      }
    }
    at = header.indexOf(name, after)
  }
  if (exact === 0 && chunkNames === undefined) return undefined

  // The usual request carries one session cookie and no chunks: shared, frozen answers for those.
  const names = chunkNames === undefined ? onlyName(name) : new Set<string>(exact > 0 ? [name] : [])
  const chunks = chunkNames === undefined ? NO_CHUNKS : new Map<number, string>()
  if (chunkSpans !== undefined && chunkNames !== undefined) {
    for (const index of chunkNames) {
      ;(names as Set<string>).add(`${name}.${index}`)
      const span = chunkSpans[index] as Span
      ;(chunks as Map<number, string>).set(index, cookieValue(header, span))
    }
  }
  // Newest first, without repeats: a cookie sent twice is looked up once.
  const room = MAX_CANDIDATES - (chunks.size > 0 ? 1 : 0)
  const values: string[] = []
  for (let taken = 0; taken < ring.length && values.length < room; taken++) {
    const span = ring[(next - 1 - taken + ring.length * 2) % ring.length] as Span
    const value = cookieValue(header, span)
    if (!values.includes(value)) values.push(value)
  }
  return { values, chunks, names }
}

/** True when the name found at `at` begins a cookie pair: at the start, or after `;` and optional blanks. */
function startsCookie (header: string, at: number): boolean {
  let index = at - 1
  while (index >= 0) {
    const code = header.charCodeAt(index)
    if (code === SEMICOLON) return true
    if (code !== SPACE && code !== TAB) return false
    index--
  }
  return true
}

function valueSpan (header: string, start: number): Span {
  const end = header.indexOf(';', start)
  return { start, end: end < 0 ? header.length : end }
}

/** The value as the cookie's writer meant it: blanks and one pair of quotes off, percent-escapes decoded when they are sound. */
function cookieValue (header: string, { start, end }: Span): string {
  while (start < end && isBlank(header.charCodeAt(start))) start++
  while (end > start && isBlank(header.charCodeAt(end - 1))) end--
  if (end - start > 1 && header.charCodeAt(start) === 0x22 && header.charCodeAt(end - 1) === 0x22) {
    start++
    end--
  }
  const value = header.slice(start, end)
  return value.includes('%') ? decodeAscii(value) : value
}

function isBlank (code: number): boolean {
  return code === SPACE || code === TAB
}

/**
 * Percent-escapes of ASCII bytes only (what arc's cookie.serialize writes for base64's `+`, `/`, `=`):
 * those can always be decoded, so this never throws. Anything else is left as it came, and the
 * store refuses it as malformed.
 */
const SOUND_ASCII_ESCAPES = /^(?:[^%]|%[0-7][0-9A-Fa-f])*$/

export function decodeAscii (value: string): string {
  return SOUND_ASCII_ESCAPES.test(value) ? decodeURIComponent(value) : value
}
