import { createHmac, createSecretKey, type KeyObject } from 'node:crypto'

export type Algorithm = 'A256GCM' | 'A192GCM' | 'A128GCM'

/** arc's rule: the key is the first N bytes of the UTF-8 secret, raw, no KDF. */
export const KEY_BYTES: Readonly<Record<Algorithm, number>> = Object.freeze({ A256GCM: 32, A192GCM: 24, A128GCM: 16 })

export const ALGORITHMS = Object.keys(KEY_BYTES) as readonly Algorithm[]

/** How many secrets a list may hold: tokens without a key id are tried against each. */
export const MAX_SECRETS = 8

/** What a secret may do: `current` seals and signs; `previous` opens and verifies; `public` (a known fallback) opens and verifies only to migrate. */
export type KeyRole = 'current' | 'previous' | 'public'

export interface EncryptionKey {
  /** Short public identifier written into the JWE header: derived by HMAC, reveals nothing of the key. */
  readonly kid: string
  readonly key: KeyObject
  /** True for the first secret, the one that seals new tokens. */
  readonly current: boolean
  /** A publicly known secret (arc's fallback): sessions it opens are re-issued under the current key at once. */
  readonly public: boolean
}

/** The raw bytes behind a KeyObject, for node:crypto's ciphers: a Buffer key is faster than a KeyObject there. */
export function rawKey (key: EncryptionKey): Buffer {
  return key.key.export()
}

export interface SigningKey {
  /** A KeyObject, not a Buffer: it never prints its bytes, whatever depth a logger inspects to. */
  readonly secret: KeyObject
  readonly current: boolean
  readonly public: boolean
}

export interface KeySecret {
  readonly secret: string
  readonly role: KeyRole
}

export function keyBytes (secret: string, algorithm: Algorithm): Buffer {
  return Buffer.from(secret, 'utf8').subarray(0, KEY_BYTES[algorithm])
}

/**
 * The key id binds a token to the cookie it was made for: a token sealed for one cookie name
 * (an admin session, say) is an unknown key under another, even with the same secret.
 */
export function encryptionKeys (secrets: readonly KeySecret[], algorithm: Algorithm, cookieName: string): EncryptionKey[] {
  return secrets.map(({ secret, role }) => {
    const bytes = keyBytes(secret, algorithm)
    const kid = createHmac('sha256', bytes).update(`arc-session key id\u0000${cookieName}`).digest('base64url').slice(0, 8)
    return Object.freeze({ kid, key: createSecretKey(bytes), current: role === 'current', public: role === 'public' })
  })
}

export function signingKeys (secrets: readonly KeySecret[]): SigningKey[] {
  return secrets.map(({ secret, role }) => Object.freeze({
    secret: createSecretKey(Buffer.from(secret, 'utf8')), current: role === 'current', public: role === 'public'
  }))
}
