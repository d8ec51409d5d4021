import type { StoreContext } from '../stores/store'

/** Browsers cap a cookie's lifetime at 400 days (RFC 6265bis; Chrome enforces it). */
export const MAX_COOKIE_AGE = 400 * 24 * 60 * 60

/**
 * A session's own lifetime, set through `req.session.cookie` ("remember me"): `undefined` for the
 * configured one, a number of seconds for an idle lifetime of its own, `null` for a
 * browser-session cookie (no Max-Age; the server still ends it after the configured idle time).
 */
export type OwnLifetime = number | null | undefined

/** Seconds the session may go unused. */
export function idleLifetime (context: StoreContext, own: OwnLifetime): number {
  return typeof own === 'number' ? own : context.ttl
}

/**
 * The moment (epoch seconds) a session stops being accepted: idle and absolute clocks together.
 * `touched` is when its idle clock last restarted: now, for a session written now.
 */
export function expiresAt (context: StoreContext, created: number, touched: number, own: OwnLifetime): number {
  const idle = touched + idleLifetime(context, own)
  return context.maxLifetime > 0 ? Math.min(idle, created + context.maxLifetime) : idle
}

/** Whether a session with these clocks (and the end its store recorded, if any) is over now. */
export function isExpired (context: StoreContext, created: number, touched: number, own: OwnLifetime, recorded?: number): boolean {
  if (recorded !== undefined && context.now >= recorded) return true
  return context.now >= expiresAt(context, created, touched, own)
}

/** Cookie Max-Age for a session ending at `expires`: never longer than the server accepts it; undefined for a browser-session cookie. */
export function cookieMaxAge (context: StoreContext, expires: number, own: OwnLifetime): number | undefined {
  if (own === null) return undefined
  return Math.max(0, Math.min(expires - context.now, MAX_COOKIE_AGE))
}

/** Read-only traffic refreshes the idle clock at most once per tenth of the idle lifetime. */
export function refreshDue (context: StoreContext, touched: number, own: OwnLifetime): boolean {
  return context.now - touched >= Math.max(1, Math.floor(idleLifetime(context, own) / 10))
}
