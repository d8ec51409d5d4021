import type { RejectReason } from '../errors'
import type { Awaitable } from '../util/awaitable'

export type { RejectReason } from '../errors'

/**
 * The contract between the session middleware and where sessions live.
 *
 * The middleware owns the cookie (parsing, chunking, attributes), the clocks, change tracking
 * and the session's id; a store owns one thing: turning the session cookie's value into session
 * data and back. Stores never see the request or response.
 */

/** Session data: what a route may keep. Values must survive JSON. */
export type StoredData = Record<string, unknown>

/** Clocks and lifetimes in epoch seconds, given to every store call. */
export interface StoreContext {
  /** Now, in epoch seconds. */
  readonly now: number
  /** The configured idle lifetime (a session may carry its own: see SaveRequest.expires). */
  readonly ttl: number
  /** Absolute lifetime from creation; 0 = none. */
  readonly maxLifetime: number
}

export interface StoredSession {
  /** The store's handle for the session (a DynamoDB key); undefined for stores that keep the data in the cookie. */
  readonly id?: string
  /**
   * The data as saved: the `json` of the last save, parsed (reserved names such as `_sid` included;
   * the middleware shows none of them).
   */
  readonly data: StoredData
  /** The JSON text `data` was parsed from, when the store has it at hand: it spares the middleware a stringify. */
  readonly text?: string
  /** When the session was created (epoch seconds): the absolute lifetime runs from here. */
  readonly created: number
  /** When it was last written or refreshed (epoch seconds): the idle lifetime runs from here. */
  readonly touched: number
  /** When the store recorded that the session ends (a token's `exp`, an item's `_ttl`), if it records that. */
  readonly expires?: number
  /** True when read with a retired key: the middleware re-issues it with the current one. */
  readonly stale?: boolean
  /** True when opened or verified with a publicly known secret: re-issued at once, under a new identity. */
  readonly legacy?: boolean
}

export type LoadResult =
  | { readonly session: StoredSession, readonly reject?: undefined }
  | { readonly session?: undefined, readonly reject: RejectReason }

export interface SaveRequest {
  /** The session to update, or undefined to create a new one. */
  readonly id?: string
  /** The live session object (user data only; a store keeping it in memory should copy it, or parse `json`). */
  readonly data: StoredData
  /** What to keep: the user data and the session's own reserved keys (`_sid`, `_maxAge`), as JSON. */
  readonly json: string
  /** Top-level keys of `json` set or removed since the session was loaded; ignored when creating. Computed when first read. */
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
  /** When the session ends unless used again (epoch seconds): a store that records an expiry writes this one. */
  readonly expires: number
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
  /**
   * False when the store's cookie values always fit one cookie (signed ids): the middleware then
   * never looks for chunk cookies (`_idx.0`..), and tries fewer candidates. Default true.
   */
  readonly chunked?: boolean
  /** Checks the store can serve (table, key schema, credentials), for start-up scripts and health checks. */
  ready? (): Promise<void>
}
