import { createHmac, timingSafeEqual } from 'node:crypto'
import type { SigningKey } from './keys'

/** `value.signature` exactly as the cookie-signature package (and so arc) writes it. */
export function sign (value: string, key: SigningKey): string {
  return `${value}.${signatureOf(value, key)}`
}

function signatureOf (value: string, key: SigningKey): string {
  return createHmac('sha256', key.secret).update(value).digest('base64').replace(/=+$/, '')
}

export interface Unsigned {
  readonly value: string
  readonly key: SigningKey
}

/**
 * The value a signed string carries, if one of the keys signed it. Every key is
 * tried (the list is short and bounded) and compared in constant time.
 */
export function unsign (signed: string, keys: readonly SigningKey[]): Unsigned | undefined {
  const dot = signed.lastIndexOf('.')
  if (dot <= 0) return undefined
  const value = signed.slice(0, dot)
  const given = Buffer.from(signed.slice(dot + 1))
  for (const key of keys) {
    const expected = Buffer.from(signatureOf(value, key))
    if (expected.length === given.length && timingSafeEqual(expected, given)) return { value, key }
  }
  return undefined
}
