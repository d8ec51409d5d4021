import { HeadersSentError } from '../errors'
import { settle, type Callback } from '../util/callback'
import { isDataKey, SESSION_MEMBERS } from './changes'
import { SessionCookie } from './cookie'
import { attach, clearData, kSession, type SessionHandle } from './handle'
import { referenceOf } from './reference'

/**
 * The shape of session data. Untyped by default; declare yours by augmenting it:
 *
 *   declare module 'arc-session' { interface SessionData { count?: number, user?: string } }
 */
export interface SessionData {
  [key: string]: any // eslint-disable-line @typescript-eslint/no-explicit-any
}

type Done = (error: Error | null) => void

export interface RegenerateOptions {
  /** Carry the data over to the new session (default false: a new session starts empty, as with express-session). */
  readonly keep?: boolean
}

/** What `req.session` offers besides the data, as express-session's Session does. Not enumerable: JSON.stringify(req.session) is the data alone. */
export interface SessionMethods {
  /** The session's id: opaque, stable across its requests, new after regenerate() and destroy(). Read-only; never a credential. */
  readonly id: string
  /** The cookie's attributes, and this session's own lifetime (`maxAge`, `expires`): see the README. */
  cookie: SessionCookie
  /**
   * A new identity (new token or id, new absolute lifetime) and a new, empty session object in
   * `req.session`; the old object keeps its data. `{ keep: true }` carries the data over. Call it at sign-in.
   */
  regenerate (callback?: Done): Promise<void>
  regenerate (options?: RegenerateOptions, callback?: Done): Promise<void>
  /** Drop the data, delete any stored item, expire the cookie. `req.session = null` does the same. */
  destroy (callback?: Done): Promise<void>
  /** Write now rather than when the response goes out (the cookie still leaves with the response). */
  save (callback?: Done): Promise<void>
  /** Read the session again from the store (the cookie store: as the request brought it, or as last saved). */
  reload (callback?: Done): Promise<void>
  /** Restart the idle clock: the next write refreshes the cookie (and the item's `_ttl`). */
  touch (callback?: Done): Promise<void>
  /** As express-session: the same as touch(). */
  resetMaxAge (callback?: Done): Promise<void>
}

export type Session = SessionData & SessionMethods

type SessionObject = Record<string, unknown> & { [kSession]?: SessionHandle }

function handleOf (session: SessionObject, operation: string): SessionHandle {
  const handle = session[kSession]
  if (handle === undefined) throw new TypeError(`session.${operation}() called on an object that is not a session`)
  if (handle.session !== session) {
    throw new TypeError(`session.${operation}() called on a session object that regenerate() replaced: use req.session, the new one`)
  }
  return handle
}

function writable (handle: SessionHandle, operation: string): void {
  if (handle.committed) throw new HeadersSentError(operation)
}

const methods = {
  async regenerate (this: SessionObject, options?: RegenerateOptions): Promise<void> {
    const handle = handleOf(this, 'regenerate')
    writable(handle, 'regenerate')
    const keep = options?.keep === true
    handle.engine.regenerate(handle.state, { keep })
    const fresh = Object.create(Object.getPrototypeOf(this) as object) as SessionObject
    if (keep) copyData(fresh, this)
    attach(fresh, handle)
    handle.cookieView = undefined
  },

  async destroy (this: SessionObject): Promise<void> {
    const handle = handleOf(this, 'destroy')
    writable(handle, 'destroy')
    clearData(this)
    handle.engine.regenerate(handle.state)
  },

  async save (this: SessionObject): Promise<void> {
    const handle = handleOf(this, 'save')
    // After the headers: only what needs no new cookie (an existing DynamoDB session) can still be saved.
    await handle.engine.commit(handle.state, this, handle.committed ? { storeOnly: true } : { keep: true })
  },

  async reload (this: SessionObject): Promise<void> {
    const handle = handleOf(this, 'reload')
    const data = await handle.engine.reload(handle.state, () => ({}))
    clearData(this)
    if (data !== undefined) copyData(this, data)
  },

  async touch (this: SessionObject): Promise<void> {
    handleOf(this, 'touch').state.touch = true
  },

  async resetMaxAge (this: SessionObject): Promise<void> {
    handleOf(this, 'resetMaxAge').state.touch = true
  }
}

type MethodName = keyof typeof methods

/** Each method as a session calls it: promise or Node-style callback, the promise never left unhandled. */
const callable = Object.fromEntries(Object.entries(methods).map(([name, method]) => [name, function (this: SessionObject, first?: unknown, second?: unknown) {
  const callback = (typeof first === 'function' ? first : second) as Callback<void> | undefined
  const options = typeof first === 'object' && first !== null ? first : undefined
  let running: Promise<void>
  try {
    running = (method as (this: SessionObject, options?: unknown) => Promise<void>).call(this, options)
  } catch (error) {
    running = Promise.reject(error)
  }
  return settle(running, callback)
}])) as Record<MethodName, (...args: unknown[]) => Promise<void>>

function readOnly (name: string, why: string): (value: unknown) => void {
  return () => { throw new TypeError(`req.session.${name} cannot be assigned: ${why}`) }
}

/** The id, the cookie view and the `_idx` reference: shared by req.session and read() results. */
const common: PropertyDescriptorMap = {
  id: {
    get (this: SessionObject) {
      const handle = this[kSession]
      return handle === undefined || handle.session !== this ? undefined : handle.engine.sessionId(handle.state)
    },
    set: readOnly('id', 'it is the session\'s id, made by arc-session (regenerate() and destroy() give a new one)'),
    enumerable: false,
    configurable: true
  },
  cookie: {
    get (this: SessionObject) {
      const handle = this[kSession]
      if (handle === undefined || handle.session !== this) return undefined
      handle.cookieView ??= new SessionCookie(handle)
      return handle.cookieView
    },
    set (this: SessionObject, value: unknown) {
      const handle = this[kSession]
      if (handle === undefined || handle.session !== this) throw new TypeError('req.session.cookie: this session object was replaced by regenerate()')
      handle.cookieView ??= new SessionCookie(handle)
      ;(handle.cookieView as SessionCookie).assign(value)
    },
    enumerable: false,
    configurable: true
  },
  _idx: {
    get (this: SessionObject) {
      const handle = this[kSession]
      return handle === undefined ? undefined : referenceOf(handle)
    },
    set: readOnly('_idx', 'it stands for the session\'s key, which arc-session keeps (copy it into write() as arc.http does; that works)'),
    enumerable: false,
    configurable: true
  }
}

const methodProperties: PropertyDescriptorMap = Object.fromEntries(Object.keys(methods).map(name => [name, {
  get: () => callable[name as MethodName],
  set: readOnly(name, `${name} is a session method; a data key cannot have its name`),
  enumerable: false,
  configurable: true
}]))

/** req.session's prototype: the methods and accessors, none enumerable, none replaceable by data. */
export const sessionPrototype: object = Object.create(Object.prototype, { ...common, ...methodProperties })

/** What read() returns: the data, its id, its cookie view and the `_idx` reference, without the request-bound methods. */
export const readPrototype: object = Object.create(Object.prototype, common)

/** A fresh, empty session object with the given prototype. */
export function blankSession (prototype: object): Record<string, unknown> {
  return Object.create(prototype) as Record<string, unknown>
}

/** Copies data keys (never reserved names, methods or `__proto__`). */
export function copyData (target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const key of Object.keys(source)) {
    if (isDataKey(key)) target[key] = source[key]
  }
}

export { SESSION_MEMBERS }
