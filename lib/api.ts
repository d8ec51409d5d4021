import { cookieHeaderOf } from './cookie/header'
import { isExpiring } from './cookie/serialize'
import { SessionTooLargeError } from './errors'
import type { SessionEngine } from './session/engine'
import { SessionHandle, attach, clearData, handleFrom } from './session/handle'
import { handleOfReference } from './session/reference'
import { blankSession, readPrototype, type SessionData } from './session/session'
import { settle, type Callback } from './util/callback'

/** arc's functional API: read a request's session, write a session back as Set-Cookie, destroy one. */
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
  /** End the session read(): its data dropped, any stored item deleted. Gives the Set-Cookie value that expires the cookie. */
  destroy (session: SessionData): Promise<string>
  destroy (session: SessionData, callback: Callback<string>): void
}

export function createApi (engine: SessionEngine | (() => SessionEngine)): SessionApi {
  const engineNow = typeof engine === 'function' ? engine : () => engine

  async function readSession (request: unknown): Promise<SessionData> {
    const current = engineNow()
    const blank = (): Record<string, unknown> => blankSession(readPrototype)
    const loaded = await current.load(cookieHeaderOf(request), request, blank)
    const session = loaded.data ?? blank()
    attach(session, new SessionHandle(current, loaded.state))
    return session
  }

  /**
   * The session an object stands for: a read() result or a copy of one (`{ ...session }` keeps
   * its symbol), or an object carrying its `_idx` reference (arc.http's `{ _idx, _secret, _ttl,
   * ...response.session }`). Nothing a client sent, and nothing of another configuration, counts.
   */
  function handleFor (session: SessionData, current: SessionEngine): SessionHandle | undefined {
    const found = handleFrom(session) ?? handleOfReference((session as { _idx?: unknown })._idx)
    return found !== undefined && found.engine === current ? found : undefined
  }

  function sessionObject (session: unknown, operation: string): SessionData {
    if (typeof session !== 'object' || session === null) throw new TypeError(`${operation}() takes the session object that read() returned (or a copy of it)`)
    return session as SessionData
  }

  async function writeAll (given: SessionData): Promise<string[]> {
    const session = sessionObject(given, 'write')
    const current = engineNow()
    const handle = handleFor(session, current) ?? new SessionHandle(current, current.emptyState())
    return await current.commit(handle.state, session, { force: true })
  }

  async function writeOne (session: SessionData): Promise<string> {
    const cookies = await writeAll(session)
    const live = cookies.filter(cookie => !isExpiring(cookie))
    if (live.length > 1) {
      throw new SessionTooLargeError(`the session needs ${live.length} cookies (it is over 4 KB); use writeCookies() to get them all`, live.length, 1)
    }
    return live[0] ?? cookies[0] ?? engineNow().expiredCookie()
  }

  async function destroySession (given: SessionData): Promise<string> {
    const session = sessionObject(given, 'destroy')
    const current = engineNow()
    const handle = handleFor(session, current)
    clearData(session)
    if (handle === undefined) return current.expiredCookie()
    current.regenerate(handle.state)
    const cookies = await current.commit(handle.state, {}, { force: true })
    return cookies.find(cookie => cookie.startsWith(`${current.policy.cookieName}=`)) ?? current.expiredCookie()
  }

  return {
    read: ((request: unknown, callback?: Callback<SessionData>) => returnFor(settle(readSession(request), callback), callback)) as SessionApi['read'],
    write: ((session: SessionData, callback?: Callback<string>) => returnFor(settle(writeOne(session), callback), callback)) as SessionApi['write'],
    writeCookies: ((session: SessionData, callback?: Callback<string[]>) => returnFor(settle(writeAll(session), callback), callback)) as SessionApi['writeCookies'],
    destroy: ((session: SessionData, callback?: Callback<string>) => returnFor(settle(destroySession(session), callback), callback)) as SessionApi['destroy']
  }
}

/** arc returns nothing when given a callback, and a promise otherwise. */
function returnFor<T> (promise: Promise<T>, callback: unknown): Promise<T> | undefined {
  return typeof callback === 'function' ? undefined : promise
}
