import { IncomingMessage } from 'node:http'
import type { Session } from '../session/session'

export interface SessionBinding {
  readonly session: Session
  /** `req.session = value`. */
  replace (value: unknown): void
}

const bindings = new WeakMap<object, SessionBinding>()
let accessorInstalled: boolean | undefined

/**
 * `req.session` as an accessor on http.IncomingMessage.prototype, installed once, finding each
 * request's session in a WeakMap: defining it on every request is slow on Node 20 (see
 * response.ts). Requests this middleware has not seen behave as if it were absent: reading
 * gives undefined, assigning makes an ordinary property.
 */
function installAccessor (): boolean {
  if (accessorInstalled !== undefined) return accessorInstalled
  accessorInstalled = Object.getOwnPropertyDescriptor(IncomingMessage.prototype, 'session') === undefined
  if (accessorInstalled) {
    Object.defineProperty(IncomingMessage.prototype, 'session', {
      configurable: true,
      enumerable: false,
      get (this: object) { return bindings.get(this)?.session },
      set (this: object, value: unknown) {
        const binding = bindings.get(this)
        if (binding !== undefined) binding.replace(value)
        else Object.defineProperty(this, 'session', { value, writable: true, configurable: true, enumerable: true })
      }
    })
  }
  return accessorInstalled
}

export function bindSession (req: object, binding: SessionBinding): void {
  installAccessor()
  bindings.set(req, binding)
  // Not an IncomingMessage, or something set req.session itself before us: an own accessor then.
  if ((req as { session?: unknown }).session !== binding.session) {
    Object.defineProperty(req, 'session', {
      configurable: true,
      enumerable: true,
      get: () => binding.session,
      set: (value: unknown) => { binding.replace(value) }
    })
  }
}

/** True when a session middleware has already bound this request (a second arcSession() in the chain). */
export function isBound (req: object): boolean {
  return bindings.has(req)
}

export { installAccessor as installSessionAccessor }
