import { once } from 'node:events'
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import type { ArcSessionOptions } from 'arc-session'

/**
 * Express 4 under its npm alias. It ships no types of its own; the parts these tests use
 * have the same shape as Express 5's, so it is typed as Express 5's factory.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const express4 = require('express4') as typeof express

export type ExpressFactory = typeof express

/** Both Express majors, for `describe.each(EXPRESS_VERSIONS)('%s', (_name, makeExpress) => ...)`. */
export const EXPRESS_VERSIONS: ReadonlyArray<readonly [string, ExpressFactory]> = [
  ['Express 5', express],
  ['Express 4', express4]
]

/** A secret of 32+ characters for the tests that are not about the secret. */
export const SECRET = 'spec-secret-7f3a9c1e5b2d8a4f6c0e9b1d3a5c7e9f'

/**
 * Options independent of the environment the tests run in: an explicit secret,
 * no environment, cookies without Secure (supertest's jar drops Secure cookies over http).
 */
export function testOptions (extra: ArcSessionOptions = {}): ArcSessionOptions {
  return { secret: SECRET, env: {}, ...extra, cookie: { secure: false, ...extra.cookie } }
}

export interface ParsedCookie {
  readonly name: string
  readonly value: string
  /** Max-Age in seconds; undefined when absent. */
  readonly maxAge: number | undefined
  /** Attribute names in lower case; flags map to true. */
  readonly attributes: Readonly<Record<string, string | true>>
  /** `name=value` as the browser sends it back. */
  readonly pair: string
  readonly raw: string
}

export function parseSetCookie (raw: string): ParsedCookie {
  const [pair = '', ...rest] = raw.split(';')
  const eq = pair.indexOf('=')
  const attributes: Record<string, string | true> = {}
  for (const part of rest) {
    const at = part.indexOf('=')
    if (at < 0) attributes[part.trim().toLowerCase()] = true
    else attributes[part.slice(0, at).trim().toLowerCase()] = part.slice(at + 1).trim()
  }
  const maxAge = attributes['max-age']
  const name = pair.slice(0, eq).trim()
  const value = pair.slice(eq + 1).trim()
  return { name, value, maxAge: typeof maxAge === 'string' ? Number(maxAge) : undefined, attributes, pair: `${name}=${value}`, raw }
}

type HeaderBag = Record<string, unknown> | undefined | null

/** Every Set-Cookie value in a header object (Node, supertest, Lambda results), whatever the key's case. */
export function setCookiesIn (headers: HeaderBag): string[] {
  if (headers === undefined || headers === null) return []
  const found: string[] = []
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== 'set-cookie') continue
    if (Array.isArray(value)) found.push(...value.map(String))
    else if (value !== undefined && value !== null) found.push(String(value))
  }
  return found
}

/** The session's Set-Cookie values (`_idx`, and chunks `_idx.N`) a response carries. */
export function sessionCookies (response: { headers: HeaderBag }, name = '_idx'): ParsedCookie[] {
  return setCookiesIn(response.headers).map(parseSetCookie).filter(cookie => isSessionCookie(cookie.name, name))
}

export function isSessionCookie (cookieName: string, name = '_idx'): boolean {
  return cookieName === name || new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.\\d$`).test(cookieName)
}

export function isExpired (cookie: ParsedCookie): boolean {
  return cookie.attributes['max-age'] === '0'
}

/** A Cookie request header made of the live cookies among Set-Cookie values. */
export function cookieHeader (setCookies: readonly (string | ParsedCookie)[]): string {
  return setCookies
    .map(cookie => typeof cookie === 'string' ? parseSetCookie(cookie) : cookie)
    .filter(cookie => !isExpired(cookie))
    .map(cookie => `${cookie.name}=${cookie.value}`)
    .join('; ')
}

/** A tiny browser-like jar for code paths supertest's agent cannot drive (Lambda events, raw http). */
export class CookieJar {
  private readonly cookies = new Map<string, string>()

  /** Take the Set-Cookie values of a response: set the live ones, drop the expired ones. */
  store (setCookies: readonly string[]): void {
    for (const cookie of setCookies.map(parseSetCookie)) {
      if (isExpired(cookie)) this.cookies.delete(cookie.name)
      else this.cookies.set(cookie.name, cookie.value)
    }
  }

  get (name: string): string | undefined {
    return this.cookies.get(name)
  }

  names (): string[] {
    return [...this.cookies.keys()]
  }

  /** For a Cookie header. */
  header (): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }

  /** For an API Gateway payload v2 event's `cookies` array. */
  list (): string[] {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`)
  }
}

export interface Running {
  readonly server: Server
  readonly url: string
  close (): Promise<void>
}

/** A real server on a free port; close() ends it and any kept-alive connections. */
export async function listen (handler: RequestListener | Server): Promise<Running> {
  const server = typeof handler === 'function' ? createServer(handler) : handler
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

/** A collector for values a route produces after its response has gone (e.g. a late save()'s outcome). */
export function deferred<T> (): { promise: Promise<T>, resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>(done => { resolve = done })
  return { promise, resolve }
}

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void

/** Data shaped the way a session holds it, with some of everything JSON has. */
export function richData (): Record<string, unknown> {
  return {
    nested: { a: { b: { c: [1, 2, { d: 'deep' }] } }, empty: {} },
    list: [0, -1, 1.5, 'two', true, false, null, [], {}],
    unicode: 'héllo wörld 你好 مرحبا 🍪🔐 \u2028 "quotes" \\ back\nslash',
    'clé 🔑': 'unicode key',
    numbers: { zero: 0, negative: -42, float: 3.14159, big: Number.MAX_SAFE_INTEGER, small: 1e-7, exp: 6.02e23 },
    empty: '',
    flag: false,
    nothing: null
  }
}

/** Text that does not compress or repeat, so sizes are honest whatever the encoding. */
export function blobText (length: number): string {
  let text = ''
  let state = 0x2545f491
  while (text.length < length) {
    state = (state * 1103515245 + 12345) >>> 0
    text += state.toString(36)
  }
  return text.slice(0, Math.max(0, length))
}
