import type { Awaitable } from '../util/awaitable'

/**
 * The contract between the session middleware and where sessions live.
 *
 * The middleware owns the cookie (parsing, chunking, attributes), the clocks
 * and change tracking; a store owns one thing: turning the session cookie's
 * value into session data and back. Stores never see the request or response.
 */

/** Why a session cookie was not accepted. Logged and passed to `onReject`; never the cookie itself. */
export type RejectReason = 'malformed' | 'tampered' | 'expired' | 'unknown-key' | 'wrong-algorithm' | 'too-large'

/** Session data: what a route may keep. Values must survive JSON. */
export type StoredData = Record<string, unknown>

/** Clocks and lifetimes in epoch seconds, given to every store call. */
export interface StoreContext {
  /** Now, in epoch seconds. */
  readonly now: number
  /** Idle lifetime: a session not written (or refreshed) for this long is over. */
  readonly ttl: number
  /** Absolute lifetime from creation; 0 = none. */
  readonly maxLifetime: number
}

export interface StoredSession {
  /** The store's handle for the session (a DynamoDB id); undefined for stores that keep the data in the cookie. */
  readonly id?: string
  /** User data. Reserved names found here (iat, exp, _idx, _ttl...) are skipped by the middleware, never shown. */
  readonly data: StoredData
  /** When the session was created (epoch seconds): the absolute lifetime runs from here. */
  readonly created: number
  /** When it was last written or refreshed (epoch seconds): the idle lifetime runs from here. */
  readonly touched: number
  /** True when read with a retired key: the middleware re-issues it with the current one. */
  readonly stale?: boolean
}

export type LoadResult =
  | { readonly session: StoredSession, readonly reject?: undefined }
  | { readonly session?: undefined, readonly reject: RejectReason }

export interface SaveRequest {
  /** The session to update, or undefined to create a new one. */
  readonly id?: string
  /** The live session object (a store keeping it in memory should copy it, or parse `json`). */
  readonly data: StoredData
  /** `JSON.stringify(data)`, already computed, without reserved names. */
  readonly json: string
  /** Top-level keys set or removed since the session was loaded; ignored when creating. */
  readonly changed: readonly string[]
  readonly removed: readonly string[]
  /**
   * Restart the idle clock (a write, or a periodic refresh of a read-only session). When false
   * (nothing changed: a re-issue after key rotation, or write() of an unchanged session) a store
   * may leave the session untouched and say so with `SaveResult.touched`.
   */
  readonly refresh: boolean
  readonly created: number
  /** When the idle clock last restarted, for an existing session. */
  readonly touched?: number
}

export interface SaveResult {
  /** The cookie value that finds this session again. */
  readonly cookie: string
  /** The store's handle for it, when it has one. */
  readonly id?: string
  /** Where the idle clock stands after saving, if the store did not restart it (default: now). */
  readonly touched?: number
  /**
   * The session being updated no longer exists (destroyed or expired since it was loaded): nothing
   * was written, and the middleware ends the session rather than recreating it.
   */
  readonly gone?: boolean
}

/**
 * Each method may answer with a promise or, when it has the answer at once (the cookie store
 * does), with the value itself: the middleware then finishes the request without waiting.
 */
export interface Store {
  /** Resolve a session cookie value. Bad input gives `{ reject }`; only store failures throw or reject. */
  load (cookie: string, context: StoreContext): Awaitable<LoadResult>
  /** Persist the session and say what the cookie must hold. */
  save (request: SaveRequest, context: StoreContext): Awaitable<SaveResult>
  /** Forget a session by id (called only for sessions whose load or save returned an id). */
  destroy (id: string, context: StoreContext): Awaitable<void>
}
