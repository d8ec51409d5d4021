/**
 * The session cookie on the wire: finding it in a Cookie header, and writing
 * Set-Cookie values. Only names that match exactly count: `_idx`, and the chunk
 * names `_idx.0` .. `_idx.9`. A stray `_idx.foo` or `_idxx` is somebody else's.
 */

export type SameSite = 'lax' | 'strict' | 'none'

export interface CookieAttributes {
  readonly domain?: string
  readonly path: string
  readonly sameSite: SameSite
  readonly secure: boolean
  readonly httpOnly: boolean
}

export const MAX_CHUNKS = 10

/** How many same-named cookies we look at (the last ones): a thousand `_idx` cookies cost no more than four. */
const MAX_CANDIDATES = 4

export interface SessionCookies {
  /** Values of cookies named exactly `name`, the last one sent first. */
  readonly values: string[]
  /** Chunk index -> value (the last one sent wins). */
  readonly chunks: Map<number, string>
  /** Every session cookie name the request carried, to expire the ones a response no longer uses. */
  readonly names: Set<string>
}

export function findSessionCookies (header: string | undefined, name: string): SessionCookies | undefined {
  if (header === undefined || !header.includes(name)) return undefined
  const values: string[] = []
  const chunks = new Map<number, string>()
  const names = new Set<string>()
  const chunkPrefix = `${name}.`
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=')
    if (eq < 0) continue
    const key = pair.slice(0, eq).trim()
    if (key === name) {
      names.add(key)
      values.unshift(cookieValue(pair.slice(eq + 1)))
      if (values.length > MAX_CANDIDATES) values.pop()
    } else if (key.length === chunkPrefix.length + 1 && key.startsWith(chunkPrefix)) {
      const index = key.charCodeAt(key.length - 1) - 48
      if (index < 0 || index >= MAX_CHUNKS) continue
      names.add(key)
      chunks.set(index, cookieValue(pair.slice(eq + 1)))
    }
  }
  return names.size === 0 ? undefined : { values, chunks, names }
}

function cookieValue (raw: string): string {
  let value = raw.trim()
  if (value.length > 1 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
  if (!value.includes('%')) return value
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

let cachedSecond = -1
let cachedDates = new Map<number, string>()

/** Expires= dates, memoised for the current second (one toUTCString per distinct Max-Age). */
function httpDate (epochSeconds: number, now: number): string {
  if (now !== cachedSecond) {
    cachedSecond = now
    cachedDates = new Map()
  }
  let text = cachedDates.get(epochSeconds)
  if (text === undefined) {
    text = new Date(epochSeconds * 1000).toUTCString()
    if (cachedDates.size < 64) cachedDates.set(epochSeconds, text)
  }
  return text
}

const SAME_SITE_TEXT: Readonly<Record<SameSite, string>> = { lax: 'Lax', strict: 'Strict', none: 'None' }

/** A Set-Cookie value. `value` must already be cookie-safe; `maxAge` 0 expires the cookie. */
export function serializeCookie (name: string, value: string, maxAge: number, attributes: CookieAttributes, now: number): string {
  const expires = maxAge > 0 ? httpDate(now + maxAge, now) : 'Thu, 01 Jan 1970 00:00:00 GMT'
  let text = `${name}=${value}; Max-Age=${maxAge}; Expires=${expires}; Path=${attributes.path}`
  if (attributes.domain !== undefined) text += `; Domain=${attributes.domain}`
  if (attributes.httpOnly) text += '; HttpOnly'
  if (attributes.secure) text += '; Secure'
  return `${text}; SameSite=${SAME_SITE_TEXT[attributes.sameSite]}`
}

/** Cookie values travel percent-encoded where needed, as arc's `cookie.serialize` writes them. */
export function encodeCookieValue (value: string): string {
  return /^[\w.~-]*$/.test(value) ? value : encodeURIComponent(value)
}
