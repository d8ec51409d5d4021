import { joinChunks } from '../cookie/chunks'
import { findSessionCookies } from '../cookie/parse'
import { serializeCookie } from '../cookie/serialize'
import { sessionIdOf } from '../crypto/ids'
import type { RejectReason } from '../errors'
import type { LoadResult, StoreContext, StoredSession } from '../stores/store'
import { isPending, then, type Awaitable } from '../util/awaitable'
import { log } from '../util/log'
import { fillSession, metaOf, type SessionMeta } from './changes'
import { SessionWriter, dropStored, revocationOf, type CommitOptions } from './commit'
import { ensureSessionId } from './identity'
import { isExpired } from './lifetime'
import type { SessionPolicy } from './policy'
import { emptyState, type SessionState } from './state'

export type { CommitOptions } from './commit'

/** Makes the object a loaded session's data is copied onto (the session object itself). */
export type Blank = () => Record<string, unknown>

/** What load() found: the state, and the session object filled with the data (undefined for none). */
export interface Loaded {
  readonly state: SessionState
  readonly data: Record<string, unknown> | undefined
}

/**
 * The whole life of a session between the cookie and the store, for the middleware and for
 * read()/write() alike: load, then commit once the route is done. Pure bookkeeping: it never
 * sees a request or response, only the Cookie header and the session data.
 *
 * Every step is synchronous when the store answers synchronously (the cookie store always does):
 * no promise, no held response. A store that answers later makes the step a promise.
 */
export class SessionEngine {
  /** The clocks as of the current second: one object a second, not one per call. */
  private clocks: StoreContext

  private readonly writer: SessionWriter

  constructor (readonly policy: SessionPolicy) {
    this.clocks = Object.freeze({ now: -1, ttl: policy.ttl, maxLifetime: policy.maxLifetime })
    this.writer = new SessionWriter(policy, () => this.context())
  }

  context (): StoreContext {
    const now = this.policy.now()
    if (now !== this.clocks.now) this.clocks = Object.freeze({ now, ttl: this.policy.ttl, maxLifetime: this.policy.maxLifetime })
    return this.clocks
  }

  emptyState (): SessionState {
    return emptyState()
  }

  /**
   * The session a request's cookies lead to: an empty state for a missing or bad cookie; a
   * failure only when the store fails. `blank` makes the session object the data goes into.
   */
  load (cookieHeader: string | undefined, request: unknown, blank: Blank): Awaitable<Loaded> {
    const { store, cookieName } = this.policy
    const found = findSessionCookies(cookieHeader, cookieName, { chunked: store.chunked !== false })
    const state = emptyState()
    if (found === undefined) return { state, data: undefined }
    state.browserCookies = found.names

    const candidates = found.values
    let reason: RejectReason | undefined
    if (found.chunks.size > 0) {
      const joined = joinChunks(found.chunks)
      if (joined === undefined) reason = 'malformed'
      else candidates.push(joined)
    }
    return this.tryCandidates(state, candidates, 0, reason, this.context(), request, blank)
  }

  /** The first candidate cookie value (the last one sent first) that the store accepts. */
  private tryCandidates (state: SessionState, candidates: readonly string[], from: number, firstReason: RejectReason | undefined,
    context: StoreContext, request: unknown, blank: Blank): Awaitable<Loaded> {
    let reason = firstReason
    for (let index = from; index < candidates.length; index++) {
      const value = candidates[index] as string
      if (value.length > this.policy.maxBytes) {
        reason ??= 'too-large'
        continue
      }
      const result = this.policy.store.load(value, context)
      const accepted = isPending(result)
        ? Promise.resolve(result).then(loaded => this.accept(state, loaded, value, context, blank))
        : this.accept(state, result, value, context, blank)
      if (isPending(accepted)) {
        return Promise.resolve(accepted).then(found => typeof found === 'object'
          ? { state, data: found }
          : this.tryCandidates(state, candidates, index + 1, reason ?? found, context, request, blank))
      }
      if (typeof accepted === 'object') return { state, data: accepted }
      reason ??= accepted
    }
    this.reject(reason ?? 'malformed', request)
    return { state, data: undefined }
  }

  /** Takes a loaded session into the state and onto a fresh session object, or says why not. */
  private accept (state: SessionState, result: LoadResult, value: string, context: StoreContext, blank: Blank): Awaitable<Record<string, unknown> | RejectReason> {
    const stored = result.session
    if (stored === undefined) return result.reject
    const meta = metaOf(stored.data)
    if (isExpired(context, stored.created, stored.touched, meta.own, stored.expires)) return 'expired'
    const sid = meta.sid ?? (stored.id === undefined ? undefined : sessionIdOf(stored.id))
    const { users } = this.policy
    // A session bound to a user whose sessions were revoked (signed out everywhere, or this one by name).
    const revoked = users !== undefined && meta.user !== undefined && sid !== undefined ? users.revoked(meta.user, sid, meta.bound ?? stored.created, context.now) : false
    if (isPending(revoked)) return Promise.resolve(revoked).then(isRevoked => isRevoked ? 'revoked' : this.take(state, stored, meta, sid, value, blank))
    return revoked ? 'revoked' : this.take(state, stored, meta, sid, value, blank)
  }

  /** The accepted session, into the state and onto a fresh session object. */
  private take (state: SessionState, stored: StoredSession, meta: SessionMeta, sid: string | undefined, value: string, blank: Blank): Record<string, unknown> | RejectReason {
    const target = blank()
    const baseline = fillSession(target, stored.data, stored.text)
    if (baseline === undefined) return 'malformed'
    state.stored = stored
    state.baseline = baseline
    state.source = value
    state.sid = sid
    state.sidKept = meta.sid !== undefined ? 'saved' : sid !== undefined ? 'derived' : 'no'
    state.own = meta.own
    state.ownSaved = meta.own
    state.user = meta.user
    state.userSaved = meta.user
    state.userLoaded = meta.user
    state.device = meta.device
    state.seen = meta.seen
    state.bound = meta.bound
    // Opened with a publicly known secret (a migration from arc's fallbacks): the data moves to a
    // new identity, sealed or signed with the real secret, and the old one is retired.
    if (stored.legacy === true) this.regenerate(state, { keep: true })
    return target
  }

  private reject (reason: RejectReason, request: unknown): void {
    log('session cookie refused: %s', reason)
    try {
      const result: unknown = this.policy.onReject?.(reason, request)
      // An async onReject that fails must not become an unhandled rejection.
      if (isPending(result)) Promise.resolve(result).catch((error: unknown) => { log('onReject failed: %s', (error as Error)?.message) })
    } catch (error) {
      log('onReject threw: %s', (error as Error)?.message)
    }
  }

  /** The session's id: as stored, derived from the store's key, or made now (and then kept, data or not). */
  sessionId (state: SessionState): string {
    return ensureSessionId(state)
  }

  /** Read the session again from the store (the cookie store: the token as loaded or last saved). Undefined: there is none. */
  reload (state: SessionState, blank: Blank): Awaitable<Record<string, unknown> | undefined> {
    const source = state.source
    if (source === undefined || state.renew) return undefined
    const context = this.context()
    const fresh = emptyState()
    return then(then(this.policy.store.load(source, context), result => this.accept(fresh, result, source, context, blank)), accepted => {
      if (typeof accepted !== 'object') {
        // Gone from the store since (destroyed, expired or revoked elsewhere): this request has no session now.
        Object.assign(state, { stored: undefined, baseline: undefined, source: undefined, sid: undefined, sidKept: 'no', own: undefined, ownSaved: undefined })
        return undefined
      }
      const { stored, baseline, sid, sidKept, own, ownSaved, user, userSaved, device, seen } = fresh
      Object.assign(state, { stored, baseline, source, sid, sidKept, own, ownSaved, user, userSaved, device, seen, touch: false })
      return accepted
    })
  }

  /** A Set-Cookie value that removes the session cookie: what write() gives for a session with no data. */
  expiredCookie (): string {
    return serializeCookie(this.policy.cookieName, '', 0, this.policy.cookie, this.policy.now())
  }

  /** A new identity for the next write: the stored session is retired, and with it the id and (unless kept) the own lifetime. */
  regenerate (state: SessionState, { keep = false }: { keep?: boolean } = {}): void {
    if (state.stored?.id !== undefined) state.retired = [...state.retired, state.stored.id]
    state.forget = [...state.forget, ...revocationOf(this.policy, state)]
    dropStored(state)
    state.user = undefined
    state.device = undefined
    state.seen = undefined
    state.bound = undefined
    state.renew = true
    state.generation++
    state.sid = undefined
    state.sidKept = 'no'
    state.keepEmpty = false
    state.touch = false
    state.ownSaved = undefined
    if (!keep) state.own = undefined
  }

  /**
   * The Set-Cookie values the response must carry now: an array when no store call is needed or
   * the store answered at once, a promise otherwise (see SessionWriter).
   */
  commit (state: SessionState, session: Record<string, unknown>, options: CommitOptions = {}): string[] | Promise<string[]> {
    return this.writer.commit(state, session, options)
  }
}
