import { createHmac, timingSafeEqual } from 'node:crypto'
import type { SigningKey } from './keys'

/**
 * `value.signature` as the cookie-signature package (and so arc) writes it: the base64 HMAC-SHA256
 * of the value, `=` padding removed. With a `context` (the cookie name, for any cookie but arc's
 * `_idx`), the HMAC covers `context` too, so a value signed for one cookie does not verify as another.
 */
export function sign (value: string, key: SigningKey, context?: string): string {
  return `${value}.${signatureOf(value, key, context)}`
}

/** A SHA-256 HMAC in unpadded standard base64: 43 characters. */
const SIGNATURE = /^[A-Za-z0-9+/]{43}$/

function signatureOf (value: string, key: SigningKey, context: string | undefined): string {
  const hmac = createHmac('sha256', key.secret)
  if (context !== undefined) hmac.update(`arc-session cookie\u0000${context}\u0000`)
  return hmac.update(value).digest('base64').replace(/=+$/, '')
}

export interface Unsigned {
  readonly value: string
  readonly key: SigningKey
}

/**
 * The value a signed string carries, if one of the keys signed it. `shape` is checked first, and
 * the signature's form, so junk costs no HMAC. Every key is tried (the list is short and bounded)
 * and compared in constant time.
 */
export function unsign (signed: string, keys: readonly SigningKey[], shape: RegExp, context?: string): Unsigned | undefined {
  const dot = signed.lastIndexOf('.')
  if (dot <= 0) return undefined
  const value = signed.slice(0, dot)
  const signature = signed.slice(dot + 1)
  if (!SIGNATURE.test(signature) || !shape.test(value)) return undefined
  const given = Buffer.from(signature)
  for (const key of keys) {
    const expected = Buffer.from(signatureOf(value, key, context))
    if (expected.length === given.length && timingSafeEqual(expected, given)) return { value, key }
  }
  return undefined
}
