import type { StoreContext } from '../stores/store'

/** Browsers cap a cookie's lifetime at 400 days (RFC 6265bis; Chrome enforces it). */
export const MAX_COOKIE_AGE = 400 * 24 * 60 * 60

/** Tokens stamped this far in the future are refused: clocks differ, but not by this much. */
export const CLOCK_SKEW = 300

/**
 * The moment (epoch seconds) a session stops being accepted: idle and absolute clocks together.
 * `touched` is when its idle clock last restarted: now, for a session written now.
 */
export function expiresAt (context: StoreContext, created: number, touched = context.now): number {
  const idle = touched + context.ttl
  return context.maxLifetime > 0 ? Math.min(idle, created + context.maxLifetime) : idle
}

/** Why a session with these clocks is over now, if it is. */
export function isExpired (context: StoreContext, created: number, touched: number): boolean {
  if (context.now >= touched + context.ttl) return true
  return context.maxLifetime > 0 && context.now >= created + context.maxLifetime
}

/** Cookie Max-Age for a session sent now: never longer than the server would accept it. */
export function cookieMaxAge (context: StoreContext, created: number, touched = context.now): number {
  return Math.max(0, Math.min(expiresAt(context, created, touched) - context.now, MAX_COOKIE_AGE))
}

/** Read-only traffic refreshes the idle clock at most once per tenth of the ttl. */
export function refreshDue (context: StoreContext, touched: number): boolean {
  return context.now - touched >= Math.max(1, Math.floor(context.ttl / 10))
}
