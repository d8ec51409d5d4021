import { inspect } from 'node:util'
import { settle, type Callback } from '../util/callback'
import type { SessionEngine, SessionState } from './engine'
import { HeadersSentError } from '../errors'
import { RESERVED_NAMES } from '../stores/data'

/**
 * The shape of session data. Untyped by default; declare yours by augmenting it:
 *
 *   declare module 'arc-session' { interface SessionData { count?: number, user?: string } }
 */
export interface SessionData {
  [key: string]: any // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** What `req.session` offers besides the data. Not enumerable: JSON.stringify(req.session) is the data alone. */
export interface SessionMethods {
  /** A new identity (new token or id, new absolute lifetime) for the same data; call it at login. */
  regenerate (callback?: (error: Error | null) => void): Promise<void>
  /** Drop the data, delete any stored item, expire the cookie. `req.session = null` does the same. */
  destroy (callback?: (error: Error | null) => void): Promise<void>
  /** Write now rather than when the response goes out (the cookie still leaves with the response). */
  save (callback?: (error: Error | null) => void): Promise<void>
}

export type Session = SessionData & SessionMethods

/**
 * Carries a session's identity on the object read() returns. An enumerable symbol:
 * invisible to JSON, Object.keys and for...in, but kept by `{ ...session }`, so arc's
 * habit of `write({ ...session, step: 2 })` still writes the same session.
 */
export const kSession = Symbol('arc-session')

export class SessionHandle {
  /** True once the response carrying the session has been committed: too late to change the cookie. */
  committed = false

  constructor (readonly engine: SessionEngine, readonly state: SessionState) {}

  /** console.log(session) shows the data, not the machinery behind it. */
  [inspect.custom] (): string {
    return '[arc-session]'
  }
}

type SessionObject = Record<string, unknown> & { [kSession]?: SessionHandle }

function handleOf (session: SessionObject, operation: string): SessionHandle {
  const handle = session[kSession]
  if (handle === undefined) throw new TypeError(`session.${operation}() called on an object that is not a session`)
  if (handle.committed) throw new HeadersSentError(operation)
  return handle
}

async function regenerate (this: SessionObject): Promise<void> {
  const handle = handleOf(this, 'regenerate')
  handle.engine.regenerate(handle.state)
}

async function destroy (this: SessionObject): Promise<void> {
  const handle = handleOf(this, 'destroy')
  clearData(this)
  handle.engine.regenerate(handle.state)
}

async function save (this: SessionObject): Promise<void> {
  const handle = handleOf(this, 'save')
  await handle.engine.commit(handle.state, this, { keep: true })
}

const methods = { regenerate, destroy, save }

const sessionPrototype: SessionMethods = Object.create(Object.prototype, Object.fromEntries(
  Object.entries(methods).map(([name, method]) => [name, {
    value: function (this: SessionObject, callback?: Callback<void>) { return settle(method.call(this), callback) },
    writable: true,
    configurable: true
  }])
)) as SessionMethods

/** A session object: the data as own properties, the methods on its prototype, the handle under kSession. */
export function createSession (handle: SessionHandle, data: Record<string, unknown> | undefined, withMethods: boolean): Session {
  const session = (withMethods ? Object.create(sessionPrototype) : {}) as SessionObject
  if (data !== undefined) copyData(session, data)
  session[kSession] = handle
  return session as unknown as Session
}

export function copyData (target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const key of Object.keys(source)) {
    if (key === '__proto__' || RESERVED_NAMES.has(key)) continue
    target[key] = source[key]
  }
}

export function clearData (session: Record<string, unknown>): void {
  for (const key of Object.keys(session)) delete session[key]
}

export function handleFrom (value: unknown): SessionHandle | undefined {
  return typeof value === 'object' && value !== null ? (value as SessionObject)[kSession] : undefined
}
