import type { IncomingMessage, ServerResponse } from 'node:http'
import { createApi, type SessionApi } from '../api'
import { isPending } from '../util/awaitable'
import { resolveConfig } from '../config/config'
import { SessionEngine, type SessionState } from '../session/engine'
import { HeadersSentError, sessionFailure } from '../errors'
import type { ArcSessionOptions } from '../config/options'
import { cookieHeaderOf } from './request-cookies'
import { bindSession, installSessionAccessor, isBound, type SessionBinding } from './request-binding'
import { gateResponse, installResponseHooks } from './response-hooks'
import type { CommitHooks } from './response-gate'
import { SessionHandle, clearData, copyData, createSession, type Session } from '../session/session'

export type NextFunction = (error?: unknown) => void

const settled: NextFunction = () => {}

export interface ArcSessionMiddleware extends SessionApi {
  (req: IncomingMessage, res: ServerResponse, next: NextFunction): void
}

/**
 * One request's session in the middleware: the handle its methods use, what `req.session`
 * reads and assigns, and the hooks its response calls. One object, since every request
 * makes one.
 */
class RequestSession extends SessionHandle implements SessionBinding, CommitHooks {
  readonly session: Session

  constructor (engine: SessionEngine, state: SessionState, private next: NextFunction) {
    super(engine, state)
    this.session = createSession(this, state.stored?.data, true)
  }

  commit (): string[] | Promise<string[]> {
    return this.engine.commit(this.state, this.session)
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
    if (this.committed) throw new HeadersSentError(value === null || value === undefined ? 'destroy' : 'replace')
    clearData(this.session)
    if (value === null || value === undefined) {
      this.engine.regenerate(this.state)
      return
    }
    if (typeof value !== 'object') throw new TypeError('req.session can be set to null (destroy) or an object of session data')
    copyData(this.session, value as Record<string, unknown>)
  }
}

/**
 * Express/Connect middleware: `req.session` holds the session during the route and is
 * written back (Set-Cookie, and the store) just before the response headers go out.
 * Every setting is checked here, once: a bad one throws now, never on a request.
 */
export function arcSession (options?: ArcSessionOptions): ArcSessionMiddleware {
  const engine = new SessionEngine(resolveConfig(options))
  // Before any request: middleware that captures res.write/res.end early must capture the hooks.
  installResponseHooks()
  installSessionAccessor()

  function start (req: IncomingMessage, res: ServerResponse, next: NextFunction, state: SessionState): void {
    const current = new RequestSession(engine, state, next)
    bindSession(req, current)
    gateResponse(res, current)
  }

  function middleware (req: IncomingMessage, res: ServerResponse, next: NextFunction): void {
    if (isBound(req)) { next(); return }
    let loading
    try {
      loading = engine.load(cookieHeaderOf(req), req)
    } catch (error) {
      next(sessionFailure(error))
      return
    }
    // The cookie store answers at once: the route runs in the same tick.
    if (!isPending(loading)) {
      start(req, res, next, loading)
      next()
      return
    }
    Promise.resolve(loading).then(state => {
      start(req, res, next, state)
      callNext(next)
    }, error => { next(sessionFailure(error)) })
  }

  return Object.assign(middleware, createApi(engine))
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
