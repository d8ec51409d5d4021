/** Writing Set-Cookie values for the session cookie. Pure functions over strings. */

export type SameSite = 'lax' | 'strict' | 'none'

export interface CookieAttributes {
  readonly domain?: string
  readonly path: string
  readonly sameSite: SameSite
  readonly secure: boolean
  readonly httpOnly: boolean
  /** CHIPS: the cookie is kept per top-level site (needs Secure). */
  readonly partitioned: boolean
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

/**
 * A Set-Cookie value. `value` must already be cookie-safe. `maxAge` in seconds: 0 expires the
 * cookie, `undefined` makes a browser-session cookie (no Max-Age, no Expires).
 */
export function serializeCookie (name: string, value: string, maxAge: number | undefined, attributes: CookieAttributes, now: number): string {
  let text = `${name}=${value}`
  if (maxAge !== undefined) {
    text += `; Max-Age=${maxAge}; Expires=${maxAge > 0 ? httpDate(now + maxAge, now) : 'Thu, 01 Jan 1970 00:00:00 GMT'}`
  }
  text += `; Path=${attributes.path}`
  if (attributes.domain !== undefined) text += `; Domain=${attributes.domain}`
  if (attributes.httpOnly) text += '; HttpOnly'
  if (attributes.secure) text += '; Secure'
  if (attributes.partitioned) text += '; Partitioned'
  return `${text}; SameSite=${SAME_SITE_TEXT[attributes.sameSite]}`
}

/** Cookie values travel percent-encoded where needed, as arc's `cookie.serialize` writes them. */
export function encodeCookieValue (value: string): string {
  return /^[\w.~-]*$/.test(value) ? value : encodeURIComponent(value)
}

/** True for a Set-Cookie value that removes its cookie. */
export function isExpiring (setCookie: string): boolean {
  return setCookie.includes('; Max-Age=0;')
}
