import { joinChunks, pairBytes, splitIntoChunks } from '../cookie/chunks'
import { decodeAscii, findSessionCookies } from '../cookie/parse'
import { serializeCookie } from '../cookie/serialize'
import { newSessionId, sessionIdOf } from '../crypto/ids'
import { HeadersSentError, SessionTooLargeError, type RejectReason } from '../errors'
import type { LoadResult, StoreContext, StoredSession } from '../stores/store'
import { isPending, then, type Awaitable } from '../util/awaitable'
import { log } from '../util/log'
import { dataJson, fillSession, metaOf, storableJson, withMeta, type SessionMeta } from './changes'
import { cookieMaxAge, expiresAt, isExpired, refreshDue } from './lifetime'
import type { SessionPolicy } from './policy'
import { PendingSave } from './save-request'
import { NONE, NO_NAMES, emptyState, type SessionState } from './state'
import type { SessionUsers } from './users'

/** What users and devices add to a save (options.user). */
interface Binding {
  /** The session is being bound to its user now (sign-in, or a new user). */
  readonly bind: boolean
  /** The cookie store's registry must hear of it (binding, or the periodic refresh). */
  readonly record: boolean
  readonly device?: string
  readonly seen?: number
  readonly bound?: number
  readonly revoked?: boolean
}

export interface CommitOptions {
  /** write(): always produce a cookie, as arc's write does, even when nothing changed. */
  readonly force?: boolean
  /** save(): keep the cookies for the response rather than handing them over. */
  readonly keep?: boolean
  /** save() after the headers went out: only the store may change, never the cookie. */
  readonly storeOnly?: boolean
  /** The request, for options.device when the session is bound to a user. */
  readonly request?: unknown
}

/** Makes the object a loaded session's data is copied onto (the session object itself). */
export type Blank = () => Record<string, unknown>

/** What load() found: the state, and the session object filled with the data (undefined for none). */
export interface Loaded {
  readonly state: SessionState
  readonly data: Record<string, unknown> | undefined
}

/** Set-Cookie values by cookie name, the later decision winning: one value per cookie in a response. */
function mergeCookies (earlier: readonly string[], later: readonly string[]): string[] {
  if (earlier.length === 0) return [...later]
  const byName = new Map<string, string>()
  for (const cookie of [...earlier, ...later]) byName.set(cookie.slice(0, cookie.indexOf('=')), cookie)
  return [...byName.values()]
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

  constructor (readonly policy: SessionPolicy) {
    this.clocks = Object.freeze({ now: -1, ttl: policy.ttl, maxLifetime: policy.maxLifetime })
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
    if (state.sid === undefined) {
      state.sid = newSessionId()
      state.sidKept = 'no'
      if (state.stored === undefined) state.keepEmpty = true
    }
    return state.sid
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
    // The cookie store's old identity is revoked, so a copy of its cookie stops working (the DynamoDB
    // store's goes with its item). Bound when loaded counts: passport's logout unbinds, then regenerates.
    const bound = state.userSaved ?? state.userLoaded
    if (bound !== undefined && state.sid !== undefined && this.policy.users?.settings.registry !== undefined) {
      state.forget = [...state.forget, { user: bound, id: state.sid, revoke: true }]
    }
    state.userLoaded = undefined
    state.user = undefined
    state.userSaved = undefined
    state.device = undefined
    state.seen = undefined
    state.bound = undefined
    state.stored = undefined
    state.baseline = undefined
    state.source = undefined
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
   * the store answered at once, a promise otherwise. Commits on one state run one after another.
   *
   * With `keep` (save()), what is decided waits in `state.pending` for the response; the final
   * commit sends it, merged with anything decided after it.
   */
  commit (state: SessionState, session: Record<string, unknown>, options: CommitOptions = {}): string[] | Promise<string[]> {
    if (state.busy !== undefined) return state.busy.then(() => this.commit(state, session, options))
    const work = this.decide(state, session, options)
    if (work === undefined) {
      const pending = state.pending
      if (options.keep !== true) state.pending = NONE
      return pending.length === 0 ? [] : [...pending]
    }
    const finish = (cookies: string[]): string[] => {
      const merged = mergeCookies(state.pending, cookies)
      state.pending = options.keep === true ? merged : NONE
      return merged
    }
    if (!isPending(work)) return finish(work)
    const result = Promise.resolve(work).then(finish)
    const busy = result.then(() => undefined, () => undefined)
    state.busy = busy
    void busy.then(() => { if (state.busy === busy) state.busy = undefined })
    return result
  }

  /** What the store must do for this data now, or undefined when nothing. */
  private decide (state: SessionState, session: Record<string, unknown>, options: CommitOptions): Awaitable<string[]> | undefined {
    const context = this.context()
    const stored = state.stored
    let json = dataJson(session)
    let changed = json !== state.baseline
    if (changed) {
      json = storableJson(session, json)
      changed = json !== state.baseline
    }

    if (json === '{}' && !state.keepEmpty) {
      // A session emptied here, destroyed, or a refused cookie in the browser: remove it. An empty
      // session loaded and left alone (arc creates one for every visitor) costs nothing.
      const hadData = state.baseline !== undefined && state.baseline !== '{}'
      const untouched = !state.renew && state.retired.length === 0 && state.forget.length === 0 && !hadData && options.force !== true
      if (untouched && (stored !== undefined || state.browserCookies.size === 0)) return undefined
      return this.clear(state, context)
    }
    // Which user the data names: looked at only when the data changed.
    const { users } = this.policy
    if (users !== undefined && (changed || stored === undefined)) state.user = users.userOf(session)
    const metaChanged = (state.sid !== undefined && state.sidKept === 'no') || state.own !== state.ownSaved || state.user !== state.userSaved
    const due = stored !== undefined && refreshDue(context, stored.touched, state.own)
    const refresh = stored === undefined || changed || metaChanged || state.touch || due
    if (!refresh && stored.stale !== true && options.force !== true && state.forget.length === 0) return undefined
    if (options.storeOnly === true && (stored?.id === undefined || state.renew || state.retired.length > 0 || state.own !== state.ownSaved)) {
      throw new HeadersSentError('save')
    }
    return this.save(state, session, json, context, refresh, options)
  }

  private save (state: SessionState, session: Record<string, unknown>, json: string, context: StoreContext,
    refresh: boolean, options: CommitOptions): Awaitable<string[]> {
    const generation = state.generation
    const previous = state.stored
    const created = previous?.created ?? context.now
    const sid = state.sid ?? this.sessionId(state)
    const binding = this.policy.users === undefined ? undefined : this.binding(state, context, options)
    const meta: SessionMeta = {
      sid: state.sidKept === 'derived' ? undefined : sid,
      own: state.own,
      user: state.user,
      device: binding?.device,
      seen: binding?.seen,
      bound: binding?.bound
    }
    const touched = refresh || previous === undefined ? context.now : previous.touched
    const expires = expiresAt(context, created, touched, state.own)
    if (binding?.revoked === true) {
      // Revoked (signed out elsewhere) since this request read it: never re-issued.
      log('session revoked while in use: not saved')
      state.stored = undefined
      return this.clear(state, context)
    }
    const request = new PendingSave(previous?.id, previous?.touched, session, withMeta(json, meta), refresh, created, expires,
      state.baseline, state.baseline === undefined ? undefined : this.savedMeta(state))
    return then(this.policy.store.save(request, context), result => {
      if (result.gone === true) {
        // Destroyed or expired elsewhere since this request read it (a logout in another tab): the
        // session stays gone, rather than being brought back by a request that began before.
        log('session gone from the store while in use: not recreated')
        state.stored = undefined
        return this.clear(state, context)
      }
      if (state.generation !== generation) {
        // regenerate()/destroy() while this save was in flight: what it wrote belongs to the old identity.
        if (result.id !== undefined) state.retired = [...state.retired, result.id]
        return []
      }
      const cookies = options.storeOnly === true ? [] : this.sessionCookies(state, result.cookie, expires, context)
      const registered = binding === undefined ? this.forgetAll(state, []) : this.register(state, binding, sid, created, expires, context)
      return then(registered, () => then(this.retire(state, context), () => {
        state.stored = { id: result.id, data: session, created, touched: result.touched ?? touched, expires }
        state.baseline = json
        // As a later request's Cookie header would bring it back (reload() reads it again).
        state.source = result.cookie.includes('%') ? decodeAscii(result.cookie) : result.cookie
        if (meta.sid !== undefined) state.sidKept = 'saved'
        state.ownSaved = state.own
        state.userSaved = state.user
        state.device = meta.device
        state.seen = meta.seen
        state.bound = meta.bound
        state.touch = false
        state.keepEmpty = false
        state.renew = false
        return cookies
      }))
    })
  }

  /** The meta the session was stored with: what its loaded JSON is compared against. */
  private savedMeta (state: SessionState): SessionMeta {
    const registry = this.policy.users?.settings.registry !== undefined
    const bound = state.userSaved !== undefined
    return {
      sid: state.sidKept === 'saved' ? state.sid : undefined,
      own: state.ownSaved,
      user: state.userSaved,
      device: bound ? state.device : undefined,
      seen: bound && registry ? state.seen : undefined,
      bound: bound && registry ? state.bound : undefined
    }
  }

  /** Users and devices at a save: the device, the registry's clocks, and whether the session was revoked meanwhile. */
  private binding (state: SessionState, context: StoreContext, options: CommitOptions): Binding {
    const users = this.policy.users as SessionUsers
    const user = state.user
    if (user === undefined) return { bind: false, record: false }
    const bind = user !== state.userSaved
    const device = bind ? users.deviceOf(options.request) : state.device
    if (users.settings.registry === undefined) return { bind, record: false, device }
    // The cookie store's registry hears of a bound session at binding and at most once per refresh interval.
    const record = bind || state.seen === undefined || refreshDue(context, state.seen, state.own)
    const bound = bind || state.bound === undefined ? context.now : state.bound
    return {
      bind,
      record,
      device,
      seen: record ? context.now : state.seen,
      bound,
      revoked: users.knownRevoked(user, state.sid as string, bound, context.now)
    }
  }

  /** The cookie store's registry after a save: the old binding forgotten, the new one (or a refresh) recorded. */
  private register (state: SessionState, binding: Binding, sid: string, created: number, expires: number, context: StoreContext): Awaitable<void> {
    const users = this.policy.users as SessionUsers
    const user = state.user
    const unbound = users.settings.registry !== undefined && state.userSaved !== undefined && state.userSaved !== user ? [{ user: state.userSaved, id: sid }] : []
    const forgotten = this.forgetAll(state, unbound)
    if (!binding.record || user === undefined) return forgotten
    return then(forgotten, () => users.record({
      user, id: sid, createdAt: created, boundAt: binding.bound ?? created, lastSeenAt: context.now, expiresAt: expires,
      ...(binding.device === undefined ? {} : { device: binding.device })
    }))
  }

  private clear (state: SessionState, context: StoreContext): Awaitable<string[]> {
    const generation = state.generation
    if (state.stored?.id !== undefined) state.retired = [...state.retired, state.stored.id]
    const user = state.userSaved ?? state.userLoaded
    const bound = user !== undefined && state.sid !== undefined && this.policy.users?.settings.registry !== undefined
      ? [{ user, id: state.sid, revoke: true }]
      : []
    return then(this.forgetAll(state, bound), () => then(this.retire(state, context), () => {
      const cookies = [...state.browserCookies].map(name => serializeCookie(name, '', 0, this.policy.cookie, context.now))
      state.stored = undefined
      state.baseline = undefined
      state.source = undefined
      state.browserCookies = NO_NAMES
      state.userSaved = undefined
      state.userLoaded = undefined
      if (state.generation === generation) {
        state.renew = false
        state.sid = undefined
        state.sidKept = 'no'
        state.user = undefined
      }
      return cookies
    }))
  }

  /** The registry work waiting in the state (regenerate, destroy) and `more`: entries removed, identities revoked. */
  private forgetAll (state: SessionState, more: SessionState['forget']): Awaitable<void> {
    const users = this.policy.users
    const seen = new Set<string>()
    const all = [...state.forget, ...more].filter(entry => !seen.has(entry.id) && seen.add(entry.id) !== undefined)
    if (users === undefined || all.length === 0) return undefined
    state.forget = []
    const now = this.policy.now()
    const next = (index: number): Awaitable<void> => {
      const entry = all[index]
      if (entry === undefined) return undefined
      return then(entry.revoke === true ? users.revokeOne(entry.user, entry.id, now) : users.forget(entry.user, entry.id), () => next(index + 1))
    }
    return next(0)
  }

  /** Delete the retired ids, one after another; each leaves the list once the store has done it. */
  private retire (state: SessionState, context: StoreContext): Awaitable<void> {
    const id = state.retired[0]
    if (id === undefined) return undefined
    return then(this.policy.store.destroy(id, context), () => {
      state.retired = state.retired.filter(retired => retired !== id)
      return this.retire(state, context)
    })
  }

  /** The cookie (in chunks when over 4 KB), plus expiry for session cookies the browser holds and no longer needs. */
  private sessionCookies (state: SessionState, value: string, expires: number, context: StoreContext): string[] {
    const { cookieName, cookie, maxBytes } = this.policy
    const pairs = splitIntoChunks(cookieName, value)
    const bytes = pairs.reduce((sum, pair) => sum + pairBytes(pair), 0)
    if (bytes > maxBytes) {
      throw new SessionTooLargeError(
        `the session needs ${bytes} bytes of cookies, over the ${maxBytes}-byte limit (cookie.maxBytes); ` +
        'keep less in the session, or use the DynamoDB store', bytes, maxBytes)
    }
    const maxAge = cookieMaxAge(context, expires, state.own)
    const names = new Set(pairs.map(([name]) => name))
    const cookies = pairs.map(([name, text]) => serializeCookie(name, text, maxAge, cookie, context.now))
    for (const name of state.browserCookies) {
      if (!names.has(name)) cookies.push(serializeCookie(name, '', 0, cookie, context.now))
    }
    state.browserCookies = names
    return cookies
  }
}
