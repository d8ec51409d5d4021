import type { Awaitable } from '../util/awaitable'

/**
 * Where the cookie store records which sessions each signed-in user holds, and which of them are
 * revoked: what makes "your devices" and "sign out everywhere" possible with sessions that live in
 * cookies. Implement it over any database, or use the DynamoDB one (`registry: 'table-name'`,
 * a table made by createTable()). Called only at sign-in, sign-out, the periodic cookie refresh
 * and revocation checks (at most one per user per process per `revocationCheck` seconds).
 * All times are epoch seconds.
 */
export interface SessionRegistry {
  /** Adds a user's session, or refreshes it (lastSeenAt, expiresAt). */
  record (entry: RegistryEntry): Awaitable<void>
  /** Removes a user's session (signed out, or replaced by regenerate()). */
  forget (user: string, id: string): Awaitable<void>
  /** The user's recorded sessions that have not expired, in any order (revoked ones may be left in: the middleware hides them). */
  list (user: string): Awaitable<RegistryEntry[]>
  /** Adds to the user's revocation marks (see Revocation): one write, as at every sign-out. */
  revoke (user: string, revocation: Revocation): Awaitable<void>
  /** The user's revocation marks, or undefined when there are none. */
  revocations (user: string): Awaitable<Revocation | undefined>
}

export interface RegistryEntry {
  readonly user: string
  /** The session's id (`req.sessionID`). */
  readonly id: string
  readonly createdAt: number
  /** When the session was bound to this user: revocation marks' `before` compares this. Default createdAt. */
  readonly boundAt?: number
  readonly lastSeenAt: number
  readonly expiresAt: number
  /** What the app said of the device (options.device), if it said anything. */
  readonly device?: string
}

/**
 * Which of a user's sessions no longer count: every id in `ids`, and every session bound to the
 * user before `before` (epoch seconds) except those in `except`. A later mark's `before` and `except` replace
 * the earlier ones; `ids` accumulate.
 */
export interface Revocation {
  readonly ids?: readonly string[]
  readonly before?: number
  readonly except?: readonly string[]
}

/** Whether a session (its id, and when it was bound to the user) is revoked by these marks. */
export function isRevoked (marks: Revocation | undefined, id: string, bound: number): boolean {
  if (marks === undefined) return false
  if (marks.ids?.includes(id) === true) return true
  return marks.before !== undefined && bound < marks.before && marks.except?.includes(id) !== true
}

/**
 * Revoked ids a user's marks keep: the newest. An older one belongs to a session past its absolute
 * lifetime by now (unless a user signs out more than this many sessions within maxLifetime).
 */
export const MAX_REVOKED_IDS = 1000

/** Two marks as one: ids accumulate (the newest MAX_REVOKED_IDS), the later `before`/`except` win. */
export function mergeRevocations (earlier: Revocation | undefined, later: Revocation): Revocation {
  const ids = [...new Set([...(earlier?.ids ?? []), ...(later.ids ?? [])])].slice(-MAX_REVOKED_IDS)
  const before = later.before ?? earlier?.before
  const except = later.before !== undefined ? later.except : earlier?.except
  return {
    ...(ids.length > 0 ? { ids } : {}),
    ...(before === undefined ? {} : { before }),
    ...(except === undefined || except.length === 0 ? {} : { except })
  }
}

/** The user sessions a store of its own can list and end (the DynamoDB store, through its user index). */
export interface UserSessionStore {
  listUser (user: string, now: number): Promise<RegistryEntry[]>
  /** Deletes the user's sessions with these ids; resolves to how many were deleted. */
  endUserSessions (user: string, ids: readonly string[]): Promise<number>
}
