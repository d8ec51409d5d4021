/**
 * Helpers for the wire-format, interop, hostile-input and property specs: keys by arc's
 * rule, a compact-JWE builder on node:crypto that can also build the malformed tokens an
 * attacker would send, cookie plumbing, reject/debug capture and raw HTTP.
 *
 * Written from RFC 7516 and DESIGN.md section 3, independently of lib/, so the specs do
 * not test lib/ against itself; jwe-wire.spec.ts checks the builder against jose.
 */
import { createCipheriv, createDecipheriv, randomBytes, type CipherGCMTypes } from 'node:crypto'
import { createServer, type RequestListener, type Server } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { format } from 'node:util'
import debug from 'debug'
import express from 'express'
import type * as Jose from 'jose' with { 'resolution-mode': 'import' }

// express4 (an npm alias of express@4) ships no type declarations; the part of its API the
// specs use is the same as Express 5's, so borrow those types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const express4 = require('express4') as typeof express

// jose 6 is ESM only: TypeScript (module node16) will not let a CommonJS spec import it, while
// jest turns it into CommonJS (jest.config.js). Its types, with a require() the compiler accepts.
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const jose = require('jose') as typeof Jose

export type Algorithm = 'A256GCM' | 'A192GCM' | 'A128GCM'
export const ALGORITHMS: readonly Algorithm[] = ['A256GCM', 'A192GCM', 'A128GCM']

/** arc's rule: the key is the first 32 / 24 / 16 bytes of the UTF-8 secret, raw. */
export const KEY_BYTES: Readonly<Record<Algorithm, number>> = { A256GCM: 32, A192GCM: 24, A128GCM: 16 }

const GCM: Readonly<Record<number, CipherGCMTypes>> = { 16: 'aes-128-gcm', 24: 'aes-192-gcm', 32: 'aes-256-gcm' }

/** 32+ characters, ASCII (so bytes = characters, as arc assumes), not arc's public default. */
export const SECRET = 'spec-secret-Qm7vK2pX9rT4wZ8yB3nL6cF1hJ5dG0sA'
export const OTHER_SECRET = 'other-secret-uE4tR8yW2qN6mB9vC3xZ7kL1pH5jD0fS'

export const REJECT_REASONS = ['malformed', 'tampered', 'expired', 'unknown-key', 'wrong-algorithm', 'too-large'] as const
export type Reason = typeof REJECT_REASONS[number]

export const WEEK = 604800

export function rawKey (secret: string, algorithm: Algorithm): Buffer {
  return Buffer.from(secret, 'utf8').subarray(0, KEY_BYTES[algorithm])
}

export function b64url (data: Buffer | Uint8Array | string): string {
  return Buffer.from(data as Buffer).toString('base64url')
}

export function segmentsOf (token: string): string[] {
  return token.split('.')
}

export function headerOf (token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(segmentsOf(token)[0] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>
}

export function nowSeconds (): number {
  return Math.floor(Date.now() / 1000)
}

export interface CraftOptions {
  /** The key: its length picks AES-128/192/256-GCM. */
  readonly key: Uint8Array
  /** The plaintext: bytes, JSON text as is (UTF-8), or an object to JSON-encode. */
  readonly plaintext: Uint8Array | string | Record<string, unknown>
  /** The protected header: an object to JSON-encode, or the exact segment text. Default `{"alg":"dir","enc":<by key length>}`. */
  readonly header?: Record<string, unknown> | string
  /** The second segment; `dir` leaves it empty. */
  readonly encryptedKey?: string
  readonly ivBytes?: number
  readonly tagBytes?: number
}

/**
 * A compact JWE sealed with AES-GCM on node:crypto, AAD = the ASCII header segment, exactly
 * as RFC 7516 says. Every knob an attacker has is open: any header, a non-empty key segment,
 * any IV length (GCM takes them), any tag length from 4 to 16 bytes.
 */
export function craftToken (options: CraftOptions): string {
  const cipherName = GCM[options.key.length]
  if (cipherName === undefined) throw new TypeError(`no AES-GCM for a ${options.key.length}-byte key`)
  const enc = `A${options.key.length * 8}GCM`
  const header = typeof options.header === 'string' ? options.header : b64url(JSON.stringify(options.header ?? { alg: 'dir', enc }))
  const iv = randomBytes(options.ivBytes ?? 12)
  const cipher = createCipheriv(cipherName, options.key, iv, { authTagLength: options.tagBytes ?? 16 })
  cipher.setAAD(Buffer.from(header, 'ascii'))
  const plaintext = options.plaintext instanceof Uint8Array
    ? Buffer.from(options.plaintext)
    : Buffer.from(typeof options.plaintext === 'string' ? options.plaintext : JSON.stringify(options.plaintext), 'utf8')
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return `${header}.${options.encryptedKey ?? ''}.${b64url(iv)}.${b64url(ciphertext)}.${b64url(cipher.getAuthTag())}`
}

/** craftToken with arc's header and key rule: what arc (or anyone holding the secret) would send. */
export function sealClaims (secret: string, algorithm: Algorithm, claims: Uint8Array | string | Record<string, unknown>, header?: Record<string, unknown> | string): string {
  return craftToken({ key: rawKey(secret, algorithm), plaintext: claims, ...(header === undefined ? {} : { header }) })
}

/** The plaintext of a dir/AES-GCM compact JWE, or undefined when it does not open. */
export function openToken (token: string, key: Uint8Array): string | undefined {
  const [header, , iv, ciphertext, tag] = segmentsOf(token)
  const cipherName = GCM[key.length]
  if (header === undefined || iv === undefined || ciphertext === undefined || tag === undefined || cipherName === undefined) return undefined
  try {
    const decipher = createDecipheriv(cipherName, key, Buffer.from(iv, 'base64url'), { authTagLength: 16 })
    decipher.setAAD(Buffer.from(header, 'ascii'))
    decipher.setAuthTag(Buffer.from(tag, 'base64url'))
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8')
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------- cookies

/** The Set-Cookie values of a response (supertest's res.headers['set-cookie']). */
export function setCookiesOf (res: { headers: Record<string, unknown> }): string[] {
  const value = res.headers['set-cookie']
  if (value === undefined) return []
  return Array.isArray(value) ? value.map(String) : [String(value)]
}

/** `name=value` of a Set-Cookie value. */
export function pairOf (setCookie: string): string {
  return setCookie.split(';')[0]?.trim() ?? ''
}

/** The value the Set-Cookie values give the cookie `name` (the last one that is not an expiry). */
export function cookieValue (setCookies: readonly string[], name = '_idx'): string | undefined {
  let found: string | undefined
  for (const setCookie of setCookies) {
    if (/;\s*Max-Age=0(;|$)/i.test(setCookie)) continue
    const pair = pairOf(setCookie)
    const eq = pair.indexOf('=')
    if (pair.slice(0, eq) === name) found = pair.slice(eq + 1)
  }
  return found
}

/** The Cookie header a browser would send back after receiving these Set-Cookie values. */
export function cookieHeaderFrom (setCookies: readonly string[]): string {
  return setCookies.filter(c => !/;\s*Max-Age=0(;|$)/i.test(c)).map(pairOf).join('; ')
}

/** Own enumerable string keys and their values: what a user sees of a session object. */
export function plain (session: object): Record<string, unknown> {
  return JSON.parse(JSON.stringify(session)) as Record<string, unknown>
}

// ---------------------------------------------------------------- observation

export interface RejectLog {
  readonly reasons: string[]
  readonly requests: unknown[]
  readonly onReject: (reason: string, req: unknown) => void
  clear (): void
}

export function captureRejects (): RejectLog {
  const reasons: string[] = []
  const requests: unknown[] = []
  return {
    reasons,
    requests,
    onReject: (reason, req) => { reasons.push(reason); requests.push(req) },
    clear: () => { reasons.length = 0; requests.length = 0 }
  }
}

export interface DebugCapture {
  readonly lines: string[]
  stop (): void
}

/** Turn on the `arc-session` debug namespace and collect what it writes. */
export function captureDebug (): DebugCapture {
  const lines: string[] = []
  const previousNamespaces = debug.disable()
  const previousLog = debug.log
  debug.log = (...args: unknown[]) => { lines.push(format(...args)) }
  debug.enable('arc-session')
  return {
    lines,
    stop: () => {
      debug.disable()
      debug.log = previousLog
      if (previousNamespaces !== '') debug.enable(previousNamespaces)
    }
  }
}

// ---------------------------------------------------------------- servers

export interface Listening {
  readonly server: Server
  readonly port: number
  close (): Promise<void>
}

export async function listen (handler: RequestListener): Promise<Listening> {
  const server = createServer(handler)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    server,
    port,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

/** Write raw bytes to the server, read until it closes the connection; the response as latin1 text. */
export async function rawRequest (port: number, bytes: Buffer): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = connect(port, '127.0.0.1', () => { socket.end(bytes) })
    socket.on('data', chunk => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
  })
}

/** A GET with the given Cookie header bytes, `Connection: close`. */
export function rawGet (path: string, cookie: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nCookie: `, 'latin1'),
    cookie,
    Buffer.from('\r\n\r\n', 'latin1')
  ])
}

/** Status code and body of a raw HTTP/1.1 response (chunked bodies joined). */
export function parseRawResponse (text: string): { status: number, body: string } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1])
  const split = text.indexOf('\r\n\r\n')
  const head = split < 0 ? text : text.slice(0, split)
  let body = split < 0 ? '' : text.slice(split + 4)
  if (/\r\ntransfer-encoding: chunked/i.test(head)) {
    let joined = ''
    let rest = body
    for (;;) {
      const line = rest.indexOf('\r\n')
      const size = parseInt(rest.slice(0, line), 16)
      if (!(size > 0)) break
      joined += rest.slice(line + 2, line + 2 + size)
      rest = rest.slice(line + 2 + size + 2)
    }
    body = joined
  }
  return { status, body }
}
