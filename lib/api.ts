import { settle, type Callback } from './util/callback'
import type { SessionEngine } from './session/engine'
import { SessionTooLargeError } from './errors'
import { cookieHeaderOf } from './http/request-cookies'
import { SessionHandle, createSession, handleFrom, type SessionData } from './session/session'

/** arc's functional API: read a request's session, write a session back as Set-Cookie. */
export interface SessionApi {
  /** The session data of a Node request or an API Gateway (v1/v2) event; `{}` when there is none. */
  read (request: unknown): Promise<SessionData>
  read (request: unknown, callback: Callback<SessionData>): void
  /** Save the session and give the Set-Cookie header value, as arc's write does. */
  write (session: SessionData): Promise<string>
  write (session: SessionData, callback: Callback<string>): void
  /** Like write(), but every Set-Cookie value: a session over 4 KB needs several cookies, a shrunk one expires old chunks. */
  writeCookies (session: SessionData): Promise<string[]>
  writeCookies (session: SessionData, callback: Callback<string[]>): void
}

export function createApi (engine: SessionEngine | (() => SessionEngine)): SessionApi {
  const engineNow = typeof engine === 'function' ? engine : () => engine

  async function readSession (request: unknown): Promise<SessionData> {
    const current = engineNow()
    const state = await current.load(cookieHeaderOf(request), request)
    return createSession(new SessionHandle(current, state), state.stored?.data, false)
  }

  async function writeAll (session: SessionData): Promise<string[]> {
    if (typeof session !== 'object' || session === null) throw new TypeError('write() takes the session object that read() returned (or a copy of it)')
    const current = engineNow()
    const found = handleFrom(session)
    const handle = found !== undefined && found.engine === current ? found : new SessionHandle(current, current.emptyState())
    return await handle.engine.commit(handle.state, session, { force: true })
  }

  async function writeOne (session: SessionData): Promise<string> {
    const cookies = await writeAll(session)
    const live = cookies.filter(cookie => !/; Max-Age=0;/.test(cookie))
    if (live.length > 1) {
      throw new SessionTooLargeError(`the session needs ${live.length} cookies (it is over 4 KB); use writeCookies() to get them all`, live.length, 1)
    }
    return live[0] ?? cookies[0] ?? engineNow().expiredCookie()
  }

  return {
    read: ((request: unknown, callback?: Callback<SessionData>) => returnFor(settle(readSession(request), callback), callback)) as SessionApi['read'],
    write: ((session: SessionData, callback?: Callback<string>) => returnFor(settle(writeOne(session), callback), callback)) as SessionApi['write'],
    writeCookies: ((session: SessionData, callback?: Callback<string[]>) => returnFor(settle(writeAll(session), callback), callback)) as SessionApi['writeCookies']
  }
}

/** arc returns nothing when given a callback, and a promise otherwise. */
function returnFor<T> (promise: Promise<T>, callback: unknown): Promise<T> | undefined {
  return typeof callback === 'function' ? undefined : promise
}
