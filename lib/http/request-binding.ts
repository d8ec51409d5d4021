import { IncomingMessage } from 'node:http'

export interface SessionBinding {
  /** The response gate, while it has something to do (see response-hooks.ts). */
  gate?: unknown
  /** The session object the route sees (a new one after regenerate()). */
  readonly session: Record<string, unknown>
  /** `req.session = value`. */
  replace (value: unknown): void
  /** `req.sessionID`. */
  id (): string
}

const bindings = new WeakMap<object, SessionBinding>()
let accessorsInstalled: boolean | undefined

const SESSION_ID_READ_ONLY = 'req.sessionID cannot be assigned: it is the session\'s id, made by arc-session (regenerate() and destroy() give a new one)'

/** As if the accessor were absent: an ordinary own property. */
function ownValue (target: object, name: string, value: unknown): void {
  Object.defineProperty(target, name, { value, writable: true, configurable: true, enumerable: true })
}

/**
 * `req.session` and `req.sessionID` as accessors on http.IncomingMessage.prototype, installed
 * once, finding each request's session in a WeakMap: defining them on every request is slow on
 * Node 20 (see response-hooks.ts). Requests this middleware has not seen behave as if they were
 * absent: reading gives undefined, assigning makes an ordinary property (express-session, in the
 * same process, sets its own).
 */
function installAccessors (): boolean {
  if (accessorsInstalled !== undefined) return accessorsInstalled
  const prototype = IncomingMessage.prototype
  accessorsInstalled = Object.getOwnPropertyDescriptor(prototype, 'session') === undefined &&
    Object.getOwnPropertyDescriptor(prototype, 'sessionID') === undefined
  if (accessorsInstalled) {
    Object.defineProperty(prototype, 'session', {
      configurable: true,
      enumerable: false,
      get (this: object) { return bindings.get(this)?.session },
      set (this: object, value: unknown) {
        const binding = bindings.get(this)
        if (binding !== undefined) binding.replace(value)
        else ownValue(this, 'session', value)
      }
    })
    Object.defineProperty(prototype, 'sessionID', {
      configurable: true,
      enumerable: false,
      get (this: object) { return bindings.get(this)?.id() },
      set (this: object, value: unknown) {
        if (bindings.has(this)) throw new TypeError(SESSION_ID_READ_ONLY)
        ownValue(this, 'sessionID', value)
      }
    })
  }
  return accessorsInstalled
}

export function bindSession (req: object, binding: SessionBinding): void {
  installAccessors()
  bindings.set(req, binding)
  // The accessors on IncomingMessage.prototype serve it, unless something set req.session itself before us.
  if (accessorsInstalled === true && req instanceof IncomingMessage && !Object.hasOwn(req, 'session')) return
  // Not an IncomingMessage, or an own req.session in the way: own accessors then.
  if ((req as { session?: unknown }).session !== binding.session) {
    Object.defineProperty(req, 'session', {
      configurable: true,
      enumerable: true,
      get: () => binding.session,
      set: (value: unknown) => { binding.replace(value) }
    })
    Object.defineProperty(req, 'sessionID', {
      configurable: true,
      enumerable: true,
      get: () => binding.id(),
      set: () => { throw new TypeError(SESSION_ID_READ_ONLY) }
    })
  }
}

/** True when a session middleware has already bound this request (a second arcSession() in the chain). */
export function isBound (req: object): boolean {
  return bindings.has(req)
}

/** The binding of a request, if a session middleware made one. */
export function bindingOf (req: object): SessionBinding | undefined {
  return bindings.get(req)
}

export { installAccessors as installSessionAccessors }
