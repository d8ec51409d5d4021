import { pairBytes, splitIntoChunks } from '../cookie/chunks'
import { decodeAscii, onlyName } from '../cookie/parse'
import { serializeCookie } from '../cookie/serialize'
import { HeadersSentError, SessionTooLargeError } from '../errors'
import type { SaveResult, StoreContext } from '../stores/store'
import { isPending, then, type Awaitable } from '../util/awaitable'
import { log } from '../util/log'
import { dataJson, storableJson, withMeta, type SessionMeta } from './changes'
import { ensureSessionId } from './identity'
import { cookieMaxAge, expiresAt, refreshDue } from './lifetime'
import type { SessionPolicy } from './policy'
import { PendingSave } from './save-request'
import { NONE, NO_NAMES, type SessionState } from './state'
import type { SessionUsers } from './users'

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

/** Set-Cookie values by cookie name, the later decision winning: one value per cookie in a response. */
function mergeCookies (earlier: readonly string[], later: string[]): string[] {
  if (earlier.length === 0) return later
  const byName = new Map<string, string>()
  for (const cookie of [...earlier, ...later]) byName.set(cookie.slice(0, cookie.indexOf('=')), cookie)
  return [...byName.values()]
}

/**
 * The registry work for an identity the session leaves (destroyed, regenerated, emptied): on the
 * cookie store it is revoked, so a copy of its cookie stops working too (the DynamoDB store's goes
 * with its item). Bound when loaded counts: Passport's logout unbinds first, then regenerates.
 */
export function revocationOf (policy: SessionPolicy, state: SessionState): SessionState['forget'] {
  const user = state.userSaved ?? state.userLoaded
  return user !== undefined && state.sid !== undefined && policy.users?.settings.registry !== undefined
    ? [{ user, id: state.sid, revoke: true }]
    : []
}

/** The state forgets the stored session: its data, where it came from, whom it was bound to. */
export function dropStored (state: SessionState): void {
  state.stored = undefined
  state.baseline = undefined
  state.source = undefined
  state.userSaved = undefined
  state.userLoaded = undefined
}

/**
 * The write half of a session's life: what changed, what the store must do, the cookies that
 * result, and the registry work of users and devices. Commits on one state run one after another;
 * each step is synchronous when the store answers at once.
 */
export class SessionWriter {
  constructor (private readonly policy: SessionPolicy, private readonly now: () => StoreContext) {}

  /**
   * The Set-Cookie values the response must carry now: an array when no store call is needed or
   * the store answered at once, a promise otherwise. Commits on one state run one after another.
   *
   * With `keep` (save()), what is decided waits in `state.pending` for the response; the final
   * commit sends it, merged with anything decided after it.
   */
  commit (state: SessionState, session: Record<string, unknown>, options: CommitOptions): string[] | Promise<string[]> {
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
    const context = this.now()
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
    const sid = state.sid ?? ensureSessionId(state)
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
    const saved = this.policy.store.save(request, context)
    // No closures on the way when the store answers at once (the cookie store): this runs per write.
    if (isPending(saved)) return Promise.resolve(saved).then(result => this.saved(state, request, json, meta, binding, sid, generation, result, options, context, touched))
    return this.saved(state, request, json, meta, binding, sid, generation, saved, options, context, touched)
  }

  /** The store has saved: the cookies, the registry's part, the retired ids, then the state. */
  private saved (state: SessionState, request: PendingSave, json: string, meta: SessionMeta, binding: Binding | undefined, sid: string,
    generation: number, result: SaveResult, options: CommitOptions, context: StoreContext, touched: number): Awaitable<string[]> {
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
    const cookies = options.storeOnly === true ? [] : this.sessionCookies(state, result.cookie, request.expires, context)
    const registered = binding === undefined ? this.forgetAll(state, []) : this.register(state, binding, sid, request.created, request.expires, context)
    const settle = (): string[] => this.remember(state, request, json, meta, result, result.touched ?? touched, cookies)
    if (registered !== undefined) return then(registered, () => then(this.retire(state, context), settle))
    const retired = this.retire(state, context)
    return retired === undefined ? this.remember(state, request, json, meta, result, result.touched ?? touched, cookies) : then(retired, settle)
  }

  /** The state after a save: what was stored, and how. */
  private remember (state: SessionState, request: PendingSave, json: string, meta: SessionMeta, result: SaveResult, touched: number, cookies: string[]): string[] {
    state.stored = { id: result.id, data: request.data, created: request.created, touched, expires: request.expires }
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
    return then(this.forgetAll(state, revocationOf(this.policy, state)), () => then(this.retire(state, context), () => {
      const cookies = [...state.browserCookies].map(name => serializeCookie(name, '', 0, this.policy.cookie, context.now))
      dropStored(state)
      state.browserCookies = NO_NAMES
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
    // One cookie, the usual case: the same frozen set every time.
    const names = pairs.length === 1 ? onlyName(cookieName) : new Set(pairs.map(([name]) => name))
    const cookies = pairs.map(([name, text]) => serializeCookie(name, text, maxAge, cookie, context.now))
    for (const name of state.browserCookies) {
      if (!names.has(name)) cookies.push(serializeCookie(name, '', 0, cookie, context.now))
    }
    state.browserCookies = names
    return cookies
  }
}
