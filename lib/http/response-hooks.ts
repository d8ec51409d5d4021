import { ServerResponse } from 'node:http'
import { bindingOf } from './request-binding'
import { GATED_METHODS as METHODS, ResponseGate, type CommitHooks, type GatedMethod as MethodName, type Method } from './response-gate'

export type { CommitHooks } from './response-gate'

/** Hooks that also hold their gate: the request's binding, found through `res.req`. */
export type GateHolder = CommitHooks & { gate?: unknown }

/** The gate of a response, through its request's binding: one WeakMap entry a request, not two. */
function gateOf (res: ServerResponse): ResponseGate | undefined {
  const req = (res as { req?: object }).req
  return req === undefined ? undefined : bindingOf(req)?.gate as ResponseGate | undefined
}

const wrappers = new Map<MethodName, Method>()
const prototypeOriginals = {} as Record<MethodName, Method>

/**
 * The gate's hooks live on http.ServerResponse.prototype, installed once, and find each
 * response's gate through its request's binding. Patching every response instead (`res.end = ...`) is what
 * most middleware does, and on Node 20 it is slow: Express re-parents each response
 * (Object.setPrototypeOf), after which V8 takes microseconds per property added to it
 * (bench/setprototype-cliff.ts). Responses without a gate pass straight through.
 */
function installHooks (): void {
  if (wrappers.size > 0) return
  const prototype = ServerResponse.prototype as unknown as Record<MethodName, Method>
  for (const name of METHODS) {
    const original = prototype[name]
    prototypeOriginals[name] = original
    const wrapper: Method = function (this: ServerResponse, ...args: unknown[]) {
      const gate = gateOf(this)
      return gate === undefined ? original.apply(this, args) : gate[name](args)
    }
    wrappers.set(name, wrapper)
    Object.defineProperty(prototype, name, { value: wrapper, writable: true, configurable: true, enumerable: false })
  }
}

/**
 * Commit the session before this response's headers go out (see ResponseGate). `req` is the
 * request `hooks` is bound to: the prototype hooks find the gate through `res.req`.
 */
export function gateResponse (res: ServerResponse, req: object, hooks: GateHolder): void {
  installHooks()
  const methods = res as unknown as Record<MethodName, Method>
  if ((res as { req?: object }).req === req && methods.end === wrappers.get('end') && methods.writeHead === wrappers.get('writeHead') &&
    methods.write === wrappers.get('write') && methods.flushHeaders === wrappers.get('flushHeaders')) {
    hooks.gate = new ResponseGate(res, hooks, prototypeOriginals, true)
    return
  }
  // Something already stands in front of the prototype (an own property set before this
  // middleware ran, or a response class with its own methods, as serverless-http's): wrap this
  // response itself, around whatever it would call.
  const current = { writeHead: methods.writeHead, write: methods.write, end: methods.end, flushHeaders: methods.flushHeaders }
  const gate = new ResponseGate(res, hooks, current, false)
  for (const name of METHODS) {
    methods[name] = function (this: ServerResponse, ...args: unknown[]) { return gate[name](args) }
  }
  // What stands in front may also own `on` (compression moves drain listeners onto its zlib
  // stream): the gate must know who waits for the drain a held write owes.
  const on = (res as { on?: unknown }).on
  if (typeof on === 'function') {
    (res as { on: unknown }).on = function (this: ServerResponse, type: unknown, listener: unknown) {
      if (type === 'drain') gate.noteDrainListener(listener)
      return on.call(this, type, listener)
    }
  }
}

/** Install the hooks before any request, so middleware that captures res.write early captures ours. */
export { installHooks as installResponseHooks }
