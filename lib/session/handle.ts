import { inspect } from 'node:util'
import type { SessionEngine } from './engine'
import type { SessionState } from './state'

/**
 * Carries a session's identity on its object. An enumerable symbol: invisible to JSON,
 * Object.keys and for...in, but kept by `{ ...session }`, so arc's habit of
 * `write({ ...session, step: 2 })` still writes the same session.
 */
export const kSession = Symbol('arc-session')

/**
 * One session as a request (or a read()) holds it: the engine, the bookkeeping, and the object the
 * route sees. regenerate() gives it a new object; the old one keeps its data and is detached.
 */
export class SessionHandle {
  /** True once the response carrying the session has been committed: too late to change the cookie. */
  committed = false
  /** The session object in use: `req.session`, or what read() returned. */
  session: Record<string, unknown> = {}
  /** `req.session.cookie`, made when first asked for. */
  cookieView: object | undefined

  constructor (readonly engine: SessionEngine, public state: SessionState) {}

  /** console.log(session) shows the data, not the machinery behind it. */
  [inspect.custom] (): string {
    return '[arc-session]'
  }
}

type SessionObject = Record<string | symbol, unknown> & { [kSession]?: SessionHandle }

export function handleFrom (value: unknown): SessionHandle | undefined {
  return typeof value === 'object' && value !== null ? (value as SessionObject)[kSession] : undefined
}

/** Ties a session object to its handle, and makes it the handle's current one. */
export function attach (session: Record<string, unknown>, handle: SessionHandle): void {
  (session as SessionObject)[kSession] = handle
  handle.session = session
}

export function clearData (session: Record<string, unknown>): void {
  for (const key of Object.keys(session)) delete session[key]
}
