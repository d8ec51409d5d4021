import { IncomingMessage, type ServerResponse } from 'node:http'
import { createApi, type SessionApi } from '../api'
import { resolveConfig } from '../config/config'
import type { ArcSessionOptions } from '../config/options'
import { cookieHeaderOf } from '../cookie/header'
import { HeadersSentError, sessionFailure } from '../errors'
import { SessionEngine } from '../session/engine'
import { SessionHandle, attach, clearData } from '../session/handle'
import { blankSession, copyData, sessionPrototype } from '../session/session'
import type { SessionState } from '../session/state'
import { isPending } from '../util/awaitable'
import { plainHttpHost, warnIfDropped } from './insecure'
import { bindSession, installSessionAccessors, isBound, type SessionBinding } from './request-binding'
import type { CommitHooks } from './response-gate'
import { gateResponse, installResponseHooks } from './response-hooks'

export type NextFunction = (error?: unknown) => void

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
}

/**
 * One request's session in the middleware: the handle its methods use, what `req.session`
 * reads and assigns, and the hooks its response calls. One object, since every request
 * makes one.
 */
class RequestSession extends SessionHandle implements SessionBinding, CommitHooks {
  constructor (engine: SessionEngine, state: SessionState, data: Record<string, unknown> | undefined,
    private next: NextFunction, private readonly plainHttp: string | undefined) {
    super(engine, state)
    attach(data ?? blank(), this)
  }

  id (): string {
    return this.engine.sessionId(this.state)
  }

  commit (): string[] | Promise<string[]> {
    const cookies = this.engine.commit(this.state, this.session)
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

  onSettled (): void {
    // Express's next reaches req and res: held here, it would keep them (through the WeakMap
    // this object is a value of) from the young-generation GC.
    this.next = settled
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
  // Before any request: middleware that captures res.write/res.end early must capture the hooks.
  installResponseHooks()
  installSessionAccessors()

  function start (req: IncomingMessage, res: ServerResponse, next: NextFunction, state: SessionState, data: Record<string, unknown> | undefined): boolean {
    try {
      const current = new RequestSession(engine, state, data, next, plainHttpHost(req, secure))
      bindSession(req, current)
      gateResponse(res, current)
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
      if (start(req, res, next, loaded.state, loaded.data)) callNext(next)
    }, (error: unknown) => { next(sessionFailure(error)) })
  }

  const ready = async (): Promise<void> => { await store.ready?.() }
  return Object.assign(middleware, createApi(engine), { ready })
}

/**
 * next() runs outside the load's promise chain: whatever the route throws (a plain node:http
 * handler has no router to catch it) surfaces as it would without this middleware, rather than
 * as an unhandled rejection, and the route is never run twice.
 */
function callNext (next: NextFunction): void {
  try {
    next()
  } catch (error) {
    process.nextTick(() => { throw error })
  }
}
