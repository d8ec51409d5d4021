import type { IncomingMessage, ServerResponse } from 'node:http'
import { createApi, type SessionApi } from './api'
import { resolveConfig } from './config'
import { SessionEngine, type SessionState } from './engine'
import type { ArcSessionOptions } from './options'
import { HeadersSentError } from './errors'
import { cookieHeaderOf } from './request'
import { bindSession, installSessionAccessor } from './request-session'
import { gateResponse, installResponseHooks } from './response'
import { SessionHandle, clearData, copyData, createSession, handleFrom, type Session } from './session'

export type NextFunction = (error?: unknown) => void

export interface ArcSessionMiddleware extends SessionApi {
  (req: IncomingMessage, res: ServerResponse, next: NextFunction): void
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
    const handle = new SessionHandle(engine, state)
    const session = createSession(handle, state.stored?.data, true)
    bindSession(req, { session, replace: value => { replaceData(session, handle, value) } })
    gateResponse(res, {
      commit: () => engine.commit(state, session),
      committed: () => { handle.committed = true },
      failed: error => { next(error) }
    })
    callNext(next)
  }

  function middleware (req: IncomingMessage, res: ServerResponse, next: NextFunction): void {
    if (handleFrom((req as { session?: unknown }).session) !== undefined) { next(); return }
    const loading = engine.load(cookieHeaderOf(req), req)
    // No session cookie (first visits, bots, assets): no promise to wait for.
    if (!(loading instanceof Promise)) { start(req, res, next, loading); return }
    loading.then(state => { start(req, res, next, state) }, next)
  }

  return Object.assign(middleware, createApi(engine))
}

/** `req.session = null` destroys; assigning an object replaces the data, keeping the session. */
function replaceData (session: Session, handle: SessionHandle, value: unknown): void {
  if (value === session) return
  if (handle.committed) throw new HeadersSentError(value === null || value === undefined ? 'destroy' : 'replace')
  clearData(session)
  if (value === null || value === undefined) {
    handle.engine.regenerate(handle.state)
    return
  }
  if (typeof value !== 'object') throw new TypeError('req.session can be set to null (destroy) or an object of session data')
  copyData(session, value as Record<string, unknown>)
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
