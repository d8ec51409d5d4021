import type { StoredSession } from '../stores/store'
import type { OwnLifetime } from './lifetime'

/** One request's session bookkeeping. The data itself lives on the session object. */
export interface SessionState {
  /** The session as loaded or last saved; undefined while there is none. */
  stored: StoredSession | undefined
  /** The user data's JSON as loaded or last saved: what "changed" is measured against. */
  baseline: string | undefined
  /** The cookie value that found `stored` (or that its last save produced): what reload() reads again. */
  source: string | undefined
  /** The session's id once known: loaded, derived from the store's key, or made here. */
  sid: string | undefined
  /** How the store keeps `sid`: in the data (`_sid`), derived from its key, or not yet. */
  sidKept: 'saved' | 'derived' | 'no'
  /** The id was asked for on a session not yet stored: store it even without data, so it stays the same. */
  keepEmpty: boolean
  /** The session's own lifetime (req.session.cookie), and as it was stored. */
  own: OwnLifetime
  ownSaved: OwnLifetime
  /** The signed-in user the session is bound to (options.user), as it is now and as it was stored. */
  user: string | undefined
  userSaved: string | undefined
  /** What the app said of the device when the session was bound. */
  device: string | undefined
  /** Cookie store with a registry: when the registry last heard of this session, and when it was bound (epoch seconds). */
  seen: number | undefined
  bound: number | undefined
  /** The user the session was bound to when this request loaded it. */
  userLoaded: string | undefined
  /**
   * Registry work for the next commit: entries to remove (a session unbound), or identities to revoke
   * (replaced by regenerate() or destroyed: a copy of their cookie must stop working too).
   */
  forget: ReadonlyArray<{ readonly user: string, readonly id: string, readonly revoke?: boolean }>
  /** touch()/resetMaxAge(): restart the idle clock at the next commit. */
  touch: boolean
  /** Session cookie names the browser holds, as far as this request knows: the ones a write no longer uses get expired. */
  browserCookies: ReadonlySet<string>
  /** regenerate()/destroy() was called: the next write starts a new session. */
  renew: boolean
  /** Ids to delete from the store at the next commit. */
  retired: readonly string[]
  /** Set-Cookie values decided by save() and not yet sent. */
  pending: readonly string[]
  /** A commit in flight (save() not awaited, then the response): the next one waits for it. */
  busy: Promise<void> | undefined
  /** Counts regenerate()/destroy() calls, so a save in flight can tell it was overtaken. */
  generation: number
}

// Shared empties: a state replaces these, never changes them, so most requests allocate none.
export const NO_NAMES: ReadonlySet<string> = new Set()
export const NONE: readonly string[] = Object.freeze([])
const NONE_FORGOTTEN: SessionState['forget'] = Object.freeze([])

export function emptyState (): SessionState {
  return {
    stored: undefined,
    baseline: undefined,
    source: undefined,
    sid: undefined,
    sidKept: 'no',
    keepEmpty: false,
    own: undefined,
    ownSaved: undefined,
    user: undefined,
    userSaved: undefined,
    device: undefined,
    seen: undefined,
    bound: undefined,
    userLoaded: undefined,
    forget: NONE_FORGOTTEN,
    touch: false,
    browserCookies: NO_NAMES,
    renew: false,
    retired: NONE,
    pending: NONE,
    busy: undefined,
    generation: 0
  }
}
