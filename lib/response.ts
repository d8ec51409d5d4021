import type { ServerResponse } from 'node:http'

export interface CommitHooks {
  /** The Set-Cookie values to add: now (an array) or once the store has answered (a promise). */
  commit (): string[] | Promise<string[]>
  /** The session can no longer change the response. */
  committed (): void
  /** The commit failed: the held response was dropped, the error goes to the app's error handler. */
  failed (error: unknown): void
}

type Phase = 'open' | 'holding' | 'done'

/**
 * Runs the session commit at the moment the response would send its headers, whichever
 * way it gets there: writeHead, write, end, flushHeaders (and so send, json, redirect,
 * sendFile, render, pipe). When the store needs time, everything the route wrote is held,
 * in order, until the store has acknowledged, so no client sees a response, a 2xx or a
 * redirect it could follow, whose session write was lost. If the write fails, the held
 * response is discarded and the error goes to `next(err)`.
 */
export function commitBeforeHeaders (res: ServerResponse, hooks: CommitHooks): void {
  const original = { writeHead: res.writeHead, write: res.write, end: res.end, flushHeaders: res.flushHeaders }
  // Headers set before the session was loaded (by earlier middleware): the only ones an error response
  // keeps. The route's own (Location, Cache-Control, Content-Type, its cookies) describe a response
  // that is being discarded: a cached or redirecting error page would be worse than none.
  const headersBefore = res.getHeaders()
  let phase: Phase = 'open'
  const held: Array<() => unknown> = []
  let owesDrain = false
  let failed = false

  function applyCookies (cookies: readonly string[]): void {
    if (cookies.length === 0 || res.headersSent) return
    const existing = res.getHeader('set-cookie')
    const mine = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)]
    res.setHeader('Set-Cookie', [...mine, ...cookies])
  }

  function release (): void {
    phase = 'done'
    let lastWrite: unknown = true
    for (const call of held.splice(0)) {
      try {
        lastWrite = call()
      } catch (error) {
        // What the route's call would have thrown synchronously (an invalid status code, say): the
        // route has moved on, so it goes to the error handler, or ends a response already started.
        held.length = 0
        if (res.headersSent) res.destroy(error as Error)
        else fail(error)
        return
      }
    }
    if (owesDrain && lastWrite !== false && !res.writableEnded) res.emit('drain')
  }

  function fail (error: unknown): void {
    phase = 'done'
    failed = true
    held.length = 0
    if (!res.headersSent) {
      for (const name of res.getHeaderNames()) if (!(name in headersBefore)) res.removeHeader(name)
      for (const [name, value] of Object.entries(headersBefore)) if (value !== undefined) res.setHeader(name, value)
      // Never the route's status (a 2xx, a redirect without its Location) for a response whose session was lost.
      const status = (error as { status?: unknown })?.status
      res.statusCode = typeof status === 'number' && status >= 400 && status <= 599 ? status : 500
      res.statusMessage = ''
    }
    hooks.failed(error)
  }

  /** True when the caller may go ahead now; false when its call must wait in `held`. */
  function ready (): boolean {
    if (phase !== 'open') return phase === 'done'
    let result: string[] | Promise<string[]>
    try {
      result = hooks.commit()
    } catch (error) {
      result = Promise.reject(error)
    }
    if (Array.isArray(result)) {
      phase = 'done'
      applyCookies(result)
      hooks.committed()
      return true
    }
    phase = 'holding'
    // The cookie is being decided: a save()/regenerate()/destroy() from now on could not reach this response.
    hooks.committed()
    result.then(cookies => { applyCookies(cookies); release() }, fail)
      .catch((error: unknown) => { res.destroy(error as Error) })
    return false
  }

  res.writeHead = function writeHead (this: ServerResponse, statusCode: number, ...rest: unknown[]) {
    // Headers passed here would replace ours in Node's writeHead: move them onto the response first.
    const args = absorbHeaders(this, statusCode, rest)
    if (ready()) return (original.writeHead as (...a: unknown[]) => ServerResponse).apply(this, args)
    // Middleware such as compression calls writeHead again on every write until headers are out: replay it once.
    held.push(() => this.headersSent ? this : (original.writeHead as (...a: unknown[]) => ServerResponse).apply(this, args))
    return this
  } as ServerResponse['writeHead']

  res.write = function write (this: ServerResponse, ...args: unknown[]) {
    // After a failed commit the error handler owns the response; a route still streaming must not write past its end.
    if (failed && this.writableEnded) return false
    if (ready()) return (original.write as (...a: unknown[]) => boolean).apply(this, args)
    held.push(() => (original.write as (...a: unknown[]) => boolean).apply(this, args))
    owesDrain = true
    return false
  } as ServerResponse['write']

  res.end = function end (this: ServerResponse, ...args: unknown[]) {
    if (ready()) return (original.end as (...a: unknown[]) => ServerResponse).apply(this, args)
    held.push(() => (original.end as (...a: unknown[]) => ServerResponse).apply(this, args))
    return this
  } as ServerResponse['end']

  res.flushHeaders = function flushHeaders (this: ServerResponse) {
    if (ready()) { original.flushHeaders.call(this); return }
    held.push(() => { original.flushHeaders.call(this) })
  }
}

function absorbHeaders (res: ServerResponse, statusCode: number, rest: unknown[]): unknown[] {
  const reason = typeof rest[0] === 'string' ? rest[0] : undefined
  const headers = reason === undefined ? rest[0] : rest[1]
  if (headers === undefined || headers === null || res.headersSent) return [statusCode, ...rest]
  if (Array.isArray(headers)) {
    // Node's own writeHead refuses an odd-length list: let it.
    if (headers.length % 2 !== 0) return [statusCode, ...rest]
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
