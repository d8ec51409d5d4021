import { joinChunks, pairBytes, splitIntoChunks } from '../cookie/chunks'
import type { Config } from '../config/config'
import { findSessionCookies, serializeCookie } from '../cookie/cookie'
import { diffSession, jsonOf, snapshotOf, type Snapshot, type SessionDiff } from './changes'
import { SessionTooLargeError } from '../errors'
import { cookieMaxAge, refreshDue } from './lifetime'
import { log } from '../util/log'
import { isPending, then, type Awaitable } from '../util/awaitable'
import type { LoadResult, RejectReason, StoreContext, StoredSession } from '../stores/store'

/** One request's session bookkeeping. The data itself lives on the session object. */
export interface SessionState {
  /** The session as loaded or last saved; undefined while there is none. */
  stored: StoredSession | undefined
  /** The data as loaded or last saved, to see what changed. */
  snapshot: Snapshot
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

export interface CommitOptions {
  /** write(): always produce a cookie, as arc's write does, even when nothing changed. */
  readonly force?: boolean
  /** save(): keep the cookies for the response rather than handing them over. */
  readonly keep?: boolean
}

// Shared empties: a state replaces these, never changes them, so most requests allocate none.
const NO_NAMES: ReadonlySet<string> = new Set()
const NO_SNAPSHOT: Snapshot = new Map()
const NONE: readonly string[] = Object.freeze([])

/** Set-Cookie values by cookie name, the later decision winning: one value per cookie in a response. */
function mergeCookies (earlier: readonly string[], later: readonly string[]): string[] {
  if (earlier.length === 0) return [...later]
  const byName = new Map<string, string>()
  for (const cookie of [...earlier, ...later]) byName.set(cookie.slice(0, cookie.indexOf('=')), cookie)
  return [...byName.values()]
}

/**
 * The whole life of a session between the cookie and the store, for the middleware and
 * for read()/write() alike: load, then commit once the route is done. Pure bookkeeping:
 * it never sees a request or response, only the Cookie header and the session data.
 *
 * Every step is synchronous when the store answers synchronously (the cookie store always
 * does): no promise, no held response. A store that answers later makes the step a promise.
 */
export class SessionEngine {
  constructor (readonly config: Config) {}

  context (): StoreContext {
    return { now: this.config.now(), ttl: this.config.ttl, maxLifetime: this.config.maxLifetime }
  }

  emptyState (): SessionState {
    return { stored: undefined, snapshot: NO_SNAPSHOT, browserCookies: NO_NAMES, renew: false, retired: NONE, pending: NONE, busy: undefined, generation: 0 }
  }

  /**
   * The session a request's cookies lead to: an empty state for a missing or bad cookie; a
   * failure only when the store fails.
   */
  load (cookieHeader: string | undefined, request: unknown): Awaitable<SessionState> {
    const found = findSessionCookies(cookieHeader, this.config.cookieName)
    const state = this.emptyState()
    if (found === undefined) return state
    state.browserCookies = found.names

    const candidates = found.values
    let reason: RejectReason | undefined
    if (found.chunks.size > 0) {
      const joined = joinChunks(found.chunks)
      if (joined === undefined) reason = 'malformed'
      else candidates.push(joined)
    }
    return this.tryCandidates(state, candidates, 0, reason, this.context(), request)
  }

  /** The first candidate cookie value (the last one sent first) that the store accepts. */
  private tryCandidates (state: SessionState, candidates: readonly string[], from: number, firstReason: RejectReason | undefined,
    context: StoreContext, request: unknown): Awaitable<SessionState> {
    let reason = firstReason
    for (let index = from; index < candidates.length; index++) {
      const value = candidates[index] as string
      if (value.length > this.config.maxBytes) {
        reason ??= 'too-large'
        continue
      }
      const result = this.config.store.load(value, context)
      if (isPending(result)) {
        return Promise.resolve(result).then(loaded => this.accept(state, loaded)
          ? state
          : this.tryCandidates(state, candidates, index + 1, reason ?? loaded.reject, context, request))
      }
      if (this.accept(state, result)) return state
      reason ??= result.reject
    }
    this.reject(reason ?? 'malformed', request)
    return state
  }

  private accept (state: SessionState, result: LoadResult): boolean {
    if (result.session === undefined) return false
    state.stored = result.session
    state.snapshot = snapshotOf(result.session.data)
    return true
  }

  private reject (reason: RejectReason, request: unknown): void {
    log('session cookie refused: %s', reason)
    try {
      const result: unknown = this.config.onReject?.(reason, request)
      // An async onReject that fails must not become an unhandled rejection.
      if (isPending(result)) Promise.resolve(result).catch((error: unknown) => { log('onReject failed: %s', (error as Error)?.message) })
    } catch (error) {
      log('onReject threw: %s', (error as Error)?.message)
    }
  }

  /** A Set-Cookie value that removes the session cookie: what write() gives for a session with no data. */
  expiredCookie (): string {
    return serializeCookie(this.config.cookieName, '', 0, this.config.cookie, this.config.now())
  }

  regenerate (state: SessionState): void {
    if (state.stored?.id !== undefined) state.retired = [...state.retired, state.stored.id]
    state.stored = undefined
    state.renew = true
    state.generation++
  }

  /**
   * The Set-Cookie values the response must carry now: an array when no store call is
   * needed or the store answered at once, a promise otherwise. Commits on one state run
   * one after another.
   *
   * With `keep` (save()), what is decided waits in `state.pending` for the response; the
   * final commit sends it, merged with anything decided after it.
   */
  commit (state: SessionState, data: Record<string, unknown>, options: CommitOptions = {}): string[] | Promise<string[]> {
    if (state.busy !== undefined) return state.busy.then(() => this.commit(state, data, options))
    const work = this.decide(state, data, options)
    if (work === undefined) {
      const pending = state.pending
      if (options.keep !== true) state.pending = NONE
      return [...pending]
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
  private decide (state: SessionState, data: Record<string, unknown>, options: CommitOptions): Awaitable<string[]> | undefined {
    const context = this.context()
    const diff = diffSession(state.snapshot, data)
    const stored = state.stored

    if (diff.current.size === 0) {
      // A session emptied here, destroyed, or a refused cookie in the browser: remove it. An empty
      // session loaded and left alone (arc creates one for every visitor) costs nothing.
      const untouched = !state.renew && state.retired.length === 0 && diff.removed.length === 0 && options.force !== true
      if (untouched && (stored !== undefined || state.browserCookies.size === 0)) return undefined
      return this.clear(state, context)
    }
    const changed = diff.changed.length > 0 || diff.removed.length > 0
    const due = stored !== undefined && refreshDue(context, stored.touched)
    if (stored === undefined || changed || due || stored.stale === true || options.force === true) {
      return this.save(state, data, diff, context, changed || due)
    }
    return undefined
  }

  private save (state: SessionState, data: Record<string, unknown>, diff: SessionDiff, context: StoreContext, refresh: boolean): Awaitable<string[]> {
    const generation = state.generation
    const previous = state.stored
    const created = previous?.created ?? context.now
    const saved = this.config.store.save({
      ...(previous?.id === undefined ? {} : { id: previous.id, touched: previous.touched }),
      data,
      json: jsonOf(diff.current),
      changed: diff.changed,
      removed: diff.removed,
      refresh,
      created
    }, context)
    return then(saved, result => {
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
      const touched = result.touched ?? context.now
      const cookies = this.sessionCookies(state, result.cookie, created, touched, context)
      return then(this.retire(state, context), () => {
        log('session %s (%d cookie bytes)', previous === undefined ? 'created' : 'saved', result.cookie.length)
        state.stored = { ...(result.id === undefined ? {} : { id: result.id }), data, created, touched }
        state.snapshot = diff.current
        state.renew = false
        return cookies
      })
    })
  }

  private clear (state: SessionState, context: StoreContext): Awaitable<string[]> {
    const generation = state.generation
    if (state.stored?.id !== undefined) state.retired = [...state.retired, state.stored.id]
    return then(this.retire(state, context), () => {
      const cookies = [...state.browserCookies].map(name => serializeCookie(name, '', 0, this.config.cookie, context.now))
      state.stored = undefined
      state.snapshot = NO_SNAPSHOT
      state.browserCookies = NO_NAMES
      if (state.generation === generation) state.renew = false
      return cookies
    })
  }

  /** Delete the retired ids, one after another; each leaves the list once the store has done it. */
  private retire (state: SessionState, context: StoreContext): Awaitable<void> {
    const id = state.retired[0]
    if (id === undefined) return undefined
    return then(this.config.store.destroy(id, context), () => {
      state.retired = state.retired.filter(retired => retired !== id)
      return this.retire(state, context)
    })
  }

  /** The cookie (in chunks when over 4 KB), plus expiry for session cookies the browser holds and no longer needs. */
  private sessionCookies (state: SessionState, value: string, created: number, touched: number, context: StoreContext): string[] {
    const pairs = splitIntoChunks(this.config.cookieName, value)
    const bytes = pairs.reduce((sum, pair) => sum + pairBytes(pair), 0)
    if (bytes > this.config.maxBytes) {
      throw new SessionTooLargeError(
        `the session needs ${bytes} bytes of cookies, over the ${this.config.maxBytes}-byte limit (cookie.maxBytes); ` +
        `keep less in the session, or use the DynamoDB store`, bytes, this.config.maxBytes)
    }
    const maxAge = cookieMaxAge(context, created, touched)
    const names = new Set(pairs.map(([name]) => name))
    const cookies = pairs.map(([name, text]) => serializeCookie(name, text, maxAge, this.config.cookie, context.now))
    for (const name of state.browserCookies) {
      if (!names.has(name)) cookies.push(serializeCookie(name, '', 0, this.config.cookie, context.now))
    }
    state.browserCookies = names
    return cookies
  }
}
