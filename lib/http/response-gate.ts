import { ServerResponse } from 'node:http'
import { log } from '../util/log'

export interface CommitHooks {
  /** The Set-Cookie values to add: now (an array) or once the store has answered (a promise). */
  commit (): string[] | Promise<string[]>
  /** The session can no longer change the response. */
  onCommitted (): void
  /** The commit failed: the held response was dropped, the error goes to the app's error handler. */
  onFailed (error: unknown): void
  /** Nothing more will be asked: let go of what the request held (its `next`). */
  onSettled (): void
  /** The response went out well: the gate has nothing left to do (drop it, where it was registered). */
  onDetached? (): void
}

/** A response method as the gate calls it: the real one, with the route's arguments. */
export type Method = (this: ServerResponse, ...args: unknown[]) => unknown

export const GATED_METHODS = ['writeHead', 'write', 'end', 'flushHeaders'] as const
export type GatedMethod = typeof GATED_METHODS[number]

/** The methods behind the gate: what a response would call without it. */
export type Originals = Readonly<Record<GatedMethod, Method>>

type Phase = 'open' | 'holding' | 'done'

const NOTHING: readonly string[] = Object.freeze([])

/**
 * Runs the session commit at the moment a response would send its headers, whichever way
 * it gets there: writeHead, write, end, flushHeaders (and so send, json, redirect, sendFile,
 * render, pipe). When the store needs time, everything the route wrote is held, in order,
 * until the store has acknowledged, so no client sees a response (a 2xx, or a redirect it
 * could follow) whose session write was lost. If the write fails, the held response is
 * discarded and the error goes to `next(err)`.
 */
export class ResponseGate {
  private phase: Phase = 'open'
  /** Calls waiting for the store, in order; made only when something has to wait. */
  private held: Array<() => unknown> | undefined
  private owesDrain = false
  /** Drain listeners registered through this response while a write was held (see noteDrainListener). */
  private drainListeners: Array<(...args: unknown[]) => unknown> | undefined
  private failed = false
  /** A response call of the route's threw (an invalid status code). */
  private routeThrew = false
  /** The Set-Cookie values this gate added. */
  private added: readonly string[] = NOTHING
  /**
   * Headers set before the session was loaded (by earlier middleware): the only ones an error
   * response keeps. The route's own (Location, Cache-Control, Content-Type, its cookies) describe
   * a response that is being discarded: a cached or redirecting error page would be worse than none.
   */
  private readonly headersBefore: Readonly<Record<string, unknown>>

  /**
   * `registered`, when the caller finds the gate through the hooks (the request's binding): the gate removes
   * itself once it has nothing left to do for a response that went out well. (A gate holds its
   * response, and an entry whose value reaches its own key costs V8's young-generation GC dearly
   * until it is removed.)
   */
  constructor (private readonly res: ServerResponse, private readonly hooks: CommitHooks, private readonly originals: Originals,
    private readonly registered: boolean) {
    this.headersBefore = headersOf(res)
  }

  /**
   * A `drain` listener the caller registered through `res.on`. Middleware in front of the response
   * (compression) may move it elsewhere (onto its zlib stream), where the drain owed for a held
   * write would never reach it: release() then calls it itself.
   */
  noteDrainListener (listener: unknown): void {
    if (this.phase === 'done' || typeof listener !== 'function') return
    (this.drainListeners ??= []).push(listener as (...args: unknown[]) => unknown)
  }

  // After a failed commit, calls that still come through the gate belong to the discarded
  // response (the route, or a compression stream built for it): they go nowhere.

  writeHead (args: unknown[]): unknown {
    if (this.failed) return this.res
    // Response-like objects that are not Node's (engine.io's WebSocket upgrade) call writeHead() bare.
    if (args[0] === undefined && !(this.res instanceof ServerResponse)) {
      if (this.ready(200)) return this.now(this.originals.writeHead, args)
      this.hold(() => this.originals.writeHead.apply(this.res, args))
      return this.res
    }
    // A status Node refuses: let it throw now, before the session is committed or any header moved.
    if (!isValidStatus(args[0])) {
      this.routeThrew = true
      return this.originals.writeHead.apply(this.res, args)
    }
    // Headers passed here would replace ours in Node's writeHead: move them onto the response first.
    const call = absorbHeaders(this.res, args)
    if (this.ready((args[0] as number) | 0)) return this.now(this.originals.writeHead, call)
    // Middleware such as compression calls writeHead again on every write until headers are out: replay it once.
    this.hold(() => this.res.headersSent ? this.res : this.originals.writeHead.apply(this.res, call))
    return this.res
  }

  write (args: unknown[]): unknown {
    if (this.failed) return false
    if (this.ready(this.res.statusCode)) return this.now(this.originals.write, args)
    this.hold(() => this.originals.write.apply(this.res, args))
    this.owesDrain = true
    return false
  }

  end (args: unknown[]): unknown {
    if (this.failed) return this.res
    if (this.ready(this.res.statusCode)) return this.now(this.originals.end, args)
    this.hold(() => this.originals.end.apply(this.res, args))
    return this.res
  }

  flushHeaders (args: unknown[]): unknown {
    if (this.failed) return undefined
    if (this.ready(this.res.statusCode)) return this.now(this.originals.flushHeaders, args)
    this.hold(() => this.originals.flushHeaders.apply(this.res, args))
    return undefined
  }

  private hold (call: () => unknown): void {
    (this.held ??= []).push(call)
  }

  /**
   * The route's call, made now. If it throws before the headers are out (an invalid status code,
   * say), the request fails as it would without sessions, and the session cookie is taken back:
   * the error page that replaces the response does not carry the route's session changes.
   */
  private now (method: Method, args: unknown[]): unknown {
    try {
      return method.apply(this.res, args)
    } catch (error) {
      this.routeThrew = true
      if (this.res.headersSent !== true && this.added.length > 0) {
        const kept = ([this.res.getHeader?.('set-cookie')].flat() as unknown[]).filter(value => value !== undefined && !this.added.includes(String(value)))
        if (kept.length === 0) this.res.removeHeader?.('set-cookie')
        else this.res.setHeader('Set-Cookie', kept as string[])
        this.added = NOTHING
      }
      throw error
    }
  }

  /** True when the caller may go ahead now; false when its call must wait in `held`. */
  private ready (status: unknown): boolean {
    if (this.phase !== 'open') return this.phase === 'done'
    // The route's own response call threw, and this is the error page that replaces it: the
    // route's session changes are not saved. (A route that catches and answers itself saves them.)
    if (this.routeThrew && Number(status) >= 500) return this.done([])
    let result: string[] | Promise<string[]>
    try {
      result = this.hooks.commit()
    } catch (error) {
      result = Promise.reject(error)
    }
    if (Array.isArray(result)) return this.done(result)
    this.phase = 'holding'
    // The cookie is being decided: a save()/regenerate()/destroy() from now on could not reach this response.
    this.hooks.onCommitted()
    result.then(cookies => { this.applyCookies(cookies); this.release() }, error => { this.fail(error) })
      .catch((error: unknown) => { this.abort(error) })
    return false
  }

  /** Committed at once: the cookies go on the response, and the call goes ahead. */
  private done (cookies: readonly string[]): true {
    this.phase = 'done'
    this.applyCookies(cookies)
    this.hooks.onCommitted()
    this.settle()
    return true
  }

  private applyCookies (cookies: readonly string[]): void {
    if (cookies.length === 0 || this.res.headersSent === true) return
    try {
      const existing = this.res.getHeader?.('set-cookie')
      this.res.setHeader('Set-Cookie', existing === undefined ? cookies as string[] : [...(Array.isArray(existing) ? existing : [String(existing)]), ...cookies])
      this.added = cookies
    } catch (error) {
      // A response-like object whose headers have gone (engine.io's, once the upgrade answered): the
      // session is stored, but this response can carry no cookie.
      log('the session cookie could not be set on this response: %s', (error as Error)?.message)
    }
  }

  private release (): void {
    this.phase = 'done'
    let lastWrite: unknown = true
    const held = this.held ?? []
    this.held = undefined
    for (const call of held) {
      try {
        lastWrite = call()
      } catch (error) {
        // What the route's call would have thrown synchronously (an invalid status code, say): the
        // route has moved on, so it goes to the error handler, or ends a response already started.
        if (this.res.headersSent === true) this.abort(error)
        else this.fail(error)
        return
      }
    }
    if (this.owesDrain && lastWrite !== false && this.res.writableEnded !== true) this.deliverDrain()
    this.drainListeners = undefined
    this.settle()
  }

  /**
   * The drain owed to whoever saw a held write return false: on the response, and to listeners
   * registered through it that something in front (compression) moved elsewhere.
   */
  private deliverDrain (): void {
    const onResponse = typeof this.res.listeners === 'function' ? this.res.listeners('drain') : []
    for (const listener of this.drainListeners ?? []) {
      if (!onResponse.includes(listener)) listener.call(this.res)
    }
    this.res.emit?.('drain')
  }

  /** The last resort of the async path: nothing may escape it as an unhandled rejection. */
  private abort (error: unknown): void {
    log('the held response could not be completed: %s', (error as Error)?.message)
    try {
      this.res.destroy?.(error as Error)
    } catch {
      // Nothing left to do for a response that cannot even be destroyed.
    }
  }

  private settle (): void {
    this.hooks.onSettled()
    if (this.registered) this.hooks.onDetached?.()
  }

  private fail (error: unknown): void {
    const res = this.res
    this.phase = 'done'
    this.failed = true
    this.held = undefined
    if (res.headersSent !== true) {
      // The error handler writes a new response on the bare methods, past anything (a compression
      // stream, say) that was wrapped around the discarded one.
      for (const name of GATED_METHODS) (res as unknown as Record<GatedMethod, Method>)[name] = this.originals[name]
      for (const name of headerNamesOf(res)) if (!(name in this.headersBefore)) res.removeHeader?.(name)
      for (const [name, value] of Object.entries(this.headersBefore)) if (value !== undefined) res.setHeader?.(name, value as string)
      // Never the route's status (a 2xx, a redirect without its Location) for a response whose session was lost.
      const status = (error as { status?: unknown })?.status
      res.statusCode = typeof status === 'number' && status >= 400 && status <= 599 ? status : 500
      res.statusMessage = ''
    }
    this.hooks.onFailed(error)
    // The gate stays, to drop what the discarded response still sends through it.
    this.hooks.onSettled()
  }
}

/** The headers a response holds, on whatever it offers (engine.io's upgrade response has no getHeaders). */
function headersOf (res: ServerResponse): Readonly<Record<string, unknown>> {
  if (typeof res.getHeaders === 'function') return res.getHeaders()
  const headers: Record<string, unknown> = {}
  for (const name of headerNamesOf(res)) headers[name] = res.getHeader(name)
  return headers
}

function headerNamesOf (res: ServerResponse): string[] {
  return typeof res.getHeaderNames === 'function' ? res.getHeaderNames() : []
}

/** Node's own test in writeHead: an integer from 100 to 999 after `| 0`. */
function isValidStatus (status: unknown): boolean {
  const code = (status as number) | 0
  return code >= 100 && code <= 999
}

function absorbHeaders (res: ServerResponse, args: unknown[]): unknown[] {
  const [statusCode, ...rest] = args
  const reason = typeof rest[0] === 'string' ? rest[0] : undefined
  const headers = reason === undefined ? rest[0] : rest[1]
  if (headers === undefined || headers === null || res.headersSent) return args
  if (Array.isArray(headers)) {
    // Node's own writeHead refuses an odd-length list: let it.
    if (headers.length % 2 !== 0) return args
    // The flat [name, value, name, value] form may repeat a name (several Set-Cookie): keep every value.
    const names = new Set<string>()
    for (let index = 0; index < headers.length; index += 2) names.add(String(headers[index]).toLowerCase())
    for (const name of names) res.removeHeader(name)
    for (let index = 0; index < headers.length; index += 2) res.appendHeader(String(headers[index]), headers[index + 1] as string)
  } else if (typeof headers === 'object') {
    for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
      if (value !== undefined) res.setHeader(name, value as string)
    }
  }
  return reason === undefined ? [statusCode] : [statusCode, reason]
}
