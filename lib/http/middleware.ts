import { IncomingMessage, type ServerResponse } from 'node:http'
import { createApi, type SessionApi } from '../api'
import { resolveConfig } from '../config/config'
import type { ArcSessionOptions } from '../config/options'
import { cookieHeaderOf } from '../cookie/header'
import { HeadersSentError, sessionFailure } from '../errors'
import { SessionEngine } from '../session/engine'
import { SessionHandle, attach, clearData } from '../session/handle'
import type { SessionUsers, UserSession } from '../session/users'
import { blankSession, copyData, sessionPrototype, type Session } from '../session/session'
import type { SessionState } from '../session/state'
import { isPending } from '../util/awaitable'
import { plainHttpHost, warnIfDropped } from './insecure'
import { bindSession, installSessionAccessors, isBound, type SessionBinding } from './request-binding'
import type { CommitHooks } from './response-gate'
import { gateResponse, installResponseHooks } from './response-hooks'

export type NextFunction = (error?: unknown) => void

/** A node:http request the middleware has handled (Express's `req` is typed through Express.Request instead). */
export type SessionRequest = IncomingMessage & { session: Session, readonly sessionID: string }

const settled: NextFunction = () => {}

const blank = (): Record<string, unknown> => blankSession(sessionPrototype)

export interface ArcSessionMiddleware extends SessionApi {
  (req: IncomingMessage, res: ServerResponse, next: NextFunction): void
  /**
   * Resolves when the store can serve: for DynamoDB, the table exists with arc's key, TTL is on
   * and the credentials work (and Architect's table name is resolved). For start-up scripts and
   * health checks; the cookie store is always ready.
   */
  ready (): Promise<void>
  /** A user's sessions, most recently seen first; `current` (a request, or a session id) marks that one. Needs options.user. */
  listUserSessions (user: string | number, current?: { readonly sessionID?: string } | string): Promise<UserSession[]>
  /** Ends one of a user's sessions, on every server (the cookie store: within revocationCheck seconds). Resolves to whether it was found. */
  revokeSession (user: string | number, id: string): Promise<boolean>
  /** Ends all of a user's sessions but `except` (say, req.sessionID: "sign out everywhere else"). Resolves to how many were ended. */
  revokeUserSessions (user: string | number, options?: { readonly except?: string | readonly string[] }): Promise<number>
}

/**
 * One request's session in the middleware: the handle its methods use, what `req.session`
 * reads and assigns, and the hooks its response calls. One object, since every request
 * makes one.
 */
class RequestSession extends SessionHandle implements SessionBinding, CommitHooks {
  constructor (engine: SessionEngine, state: SessionState, data: Record<string, unknown> | undefined,
    private next: NextFunction, private readonly plainHttp: string | undefined, private request: unknown) {
    super(engine, state)
    attach(data ?? blank(), this)
  }

  id (): string {
    return this.engine.sessionId(this.state)
  }

  commit (): string[] | Promise<string[]> {
    const cookies = this.engine.commit(this.state, this.session, this.request === undefined ? {} : { request: this.request })
    if (this.plainHttp === undefined) return cookies
    if (Array.isArray(cookies)) warnIfDropped(this.plainHttp, cookies)
    else void cookies.then(values => { warnIfDropped(this.plainHttp, values) }, () => undefined)
    return cookies
  }

  onCommitted (): void {
    this.committed = true
  }

  onFailed (error: unknown): void {
    this.next(sessionFailure(error))
  }

  /** The response gate, while the response is being committed (found through req by the prototype hooks). */
  gate: unknown

  onDetached (): void {
    this.gate = undefined
  }

  onSettled (): void {
    // Express's next reaches req and res: held here, it would keep them (through the WeakMap
    // this object is a value of) from the young-generation GC.
    this.next = settled
    this.request = undefined
  }

  /** `req.session = null` destroys; assigning an object replaces the data, keeping the session. */
  replace (value: unknown): void {
    if (value === this.session) return
    if (this.committed) throw new HeadersSentError(value === null || value === undefined ? 'destroy' : 'replace', 'assigning req.session')
    if (value !== null && value !== undefined && typeof value !== 'object') {
      throw new TypeError('req.session can be set to null (destroy) or an object of session data')
    }
    clearData(this.session)
    if (value === null || value === undefined) {
      this.engine.regenerate(this.state)
      return
    }
    copyData(this.session, value as Record<string, unknown>)
  }
}

/** `app.use(arcSession)`: Express calls it with (req, res, next) on the first request. */
function looksLikeRequest (value: unknown): boolean {
  return value instanceof IncomingMessage ||
    (typeof value === 'object' && value !== null && typeof (value as { method?: unknown }).method === 'string' &&
      typeof (value as { headers?: unknown }).headers === 'object')
}

/**
 * Express/Connect middleware: `req.session` holds the session during the route and is
 * written back (Set-Cookie, and the store) just before the response headers go out.
 * Every setting is checked here, once: a bad one throws now, never on a request.
 */
export function arcSession (options?: ArcSessionOptions): ArcSessionMiddleware {
  if (arguments.length > 1 || looksLikeRequest(options)) {
    throw new TypeError('arcSession was used as the middleware itself; call arcSession() to make the middleware: app.use(arcSession())')
  }
  const engine = new SessionEngine(resolveConfig(options))
  const { store } = engine.policy
  const secure = engine.policy.cookie.secure
  // Only options.device needs the request at commit time; otherwise it is never held.
  const wantsRequest = engine.policy.users?.settings.device !== undefined
  // Before any request: middleware that captures res.write/res.end early must capture the hooks.
  installResponseHooks()
  installSessionAccessors()

  function start (req: IncomingMessage, res: ServerResponse, next: NextFunction, state: SessionState, data: Record<string, unknown> | undefined): boolean {
    try {
      const current = new RequestSession(engine, state, data, next, plainHttpHost(req, secure), wantsRequest ? req : undefined)
      bindSession(req, current)
      gateResponse(res, req, current)
      return true
    } catch (error) {
      next(sessionFailure(error))
      return false
    }
  }

  function middleware (req: IncomingMessage, res: ServerResponse, next: NextFunction): void {
    if (isBound(req)) { next(); return }
    let loading
    try {
      loading = engine.load(cookieHeaderOf(req), req, blank)
    } catch (error) {
      next(sessionFailure(error))
      return
    }
    // The cookie store answers at once: the route runs in the same tick.
    if (!isPending(loading)) {
      if (start(req, res, next, loading.state, loading.data)) next()
      return
    }
    Promise.resolve(loading).then(loaded => {
      if (start(req, res, next, loaded.state, loaded.data)) outsidePromise(next)
    }, (error: unknown) => { outsidePromise(() => { next(sessionFailure(error)) }) })
  }

  const ready = async (): Promise<void> => { await store.ready?.() }
  return Object.assign(middleware, createApi(engine), { ready }, userMethods(engine))
}

/** listUserSessions(), revokeSession(), revokeUserSessions(): the middleware's view of users and devices. */
function userMethods (engine: SessionEngine): Pick<ArcSessionMiddleware, 'listUserSessions' | 'revokeSession' | 'revokeUserSessions'> {
  const usersOf = (method: string): SessionUsers => {
    const users = engine.policy.users
    if (users === undefined) throw new TypeError(`sessions.${method}() needs options.user: say which user a session belongs to (user: 'userId', or a function of the data)`)
    return users
  }
  const userId = (user: unknown, method: string): string => {
    if ((typeof user !== 'string' || user === '') && (typeof user !== 'number' || !Number.isFinite(user))) {
      throw new TypeError(`sessions.${method}() takes the user's id (a string or a number) first`)
    }
    return String(user)
  }
  return {
    async listUserSessions (user, current) {
      const users = usersOf('listUserSessions')
      const id = typeof current === 'string' ? current : current?.sessionID
      return await users.list(userId(user, 'listUserSessions'), engine.policy.now(), id)
    },
    async revokeSession (user, id) {
      const users = usersOf('revokeSession')
      if (typeof id !== 'string' || id === '') throw new TypeError('sessions.revokeSession() takes the user\'s id and a session id (from listUserSessions())')
      return await users.revoke(userId(user, 'revokeSession'), { ids: [id] }, engine.policy.now()) > 0
    },
    async revokeUserSessions (user, options) {
      const users = usersOf('revokeUserSessions')
      const except = options?.except === undefined ? [] : typeof options.except === 'string' ? [options.except] : [...options.except]
      return await users.revoke(userId(user, 'revokeUserSessions'), { allExcept: except }, engine.policy.now())
    }
  }
}

/**
 * next() runs outside the load's promise chain: whatever the route throws (a plain node:http
 * handler has no router to catch it) surfaces as it would without this middleware, rather than
 * as an unhandled rejection, and the route is never run twice.
 */
function outsidePromise (call: () => void): void {
  try {
    call()
  } catch (error) {
    process.nextTick(() => { throw error })
  }
}
