import { createCipheriv, createDecipheriv, randomBytes, type CipherGCMTypes } from 'node:crypto'
import type { Algorithm, EncryptionKey } from '../keys'
import type { RejectReason } from '../stores/store'
import { isCanonicalBase64url } from './base64url'

/**
 * Compact JWE (RFC 7516) with `alg: dir` and AES-GCM, on node:crypto's synchronous
 * cipher: several times faster than WebCrypto for cookie-sized payloads, and the
 * same bytes jose and @architect/functions produce and accept.
 *
 *   BASE64URL(header) . "" . BASE64URL(iv) . BASE64URL(ciphertext) . BASE64URL(tag)
 *
 * Opening is strict: the header must name exactly `dir` and the configured `enc`
 * (no `zip`, no `crit`, no PBES2, no algorithm the key was not meant for), the IV
 * must be 12 bytes, the tag 16, every segment canonical base64url, and the
 * additional authenticated data is the header segment as sent.
 */

const IV_BYTES = 12
const TAG_BYTES = 16
const IV_CHARS = 16
const TAG_CHARS = 22
const MAX_HEADER_CHARS = 256
const ALLOWED_HEADER_FIELDS = new Set(['alg', 'enc', 'kid'])
const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

const CIPHERS: Readonly<Record<Algorithm, CipherGCMTypes>> = { A256GCM: 'aes-256-gcm', A192GCM: 'aes-192-gcm', A128GCM: 'aes-128-gcm' }

export type Opened =
  | { readonly ok: true, readonly plaintext: string, readonly key: EncryptionKey }
  | { readonly ok: false, readonly reason: RejectReason }

function headerSegment (header: object): string {
  return Buffer.from(JSON.stringify(header)).toString('base64url')
}

export class JweCodec {
  private readonly cipher: CipherGCMTypes
  private readonly current: EncryptionKey
  private readonly currentHeader: string
  private readonly currentAad: Buffer
  private readonly keysByKid = new Map<string, EncryptionKey>()
  /** Header segments we can recognise without parsing: ours (one key) and arc's (every key). */
  private readonly knownHeaders = new Map<string, readonly EncryptionKey[]>()

  private readonly acceptArcTokens: boolean

  constructor (private readonly algorithm: Algorithm, keys: readonly EncryptionKey[], { acceptArcTokens = true }: { acceptArcTokens?: boolean } = {}) {
    this.acceptArcTokens = acceptArcTokens
    const current = keys[0]
    if (current === undefined) throw new TypeError('JweCodec needs at least one key')
    this.cipher = CIPHERS[algorithm]
    this.current = current
    this.currentHeader = headerSegment({ alg: 'dir', enc: algorithm, kid: current.kid })
    this.currentAad = Buffer.from(this.currentHeader, 'ascii')
    for (const key of keys) {
      this.keysByKid.set(key.kid, key)
      this.knownHeaders.set(headerSegment({ alg: 'dir', enc: algorithm, kid: key.kid }), [key])
    }
    if (acceptArcTokens) this.knownHeaders.set(headerSegment({ alg: 'dir', enc: algorithm }), keys)
  }

  seal (plaintext: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv(this.cipher, this.current.key, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(this.currentAad)
    const first = cipher.update(plaintext, 'utf8')
    const last = cipher.final()
    const ciphertext = last.length === 0 ? first : Buffer.concat([first, last])
    return `${this.currentHeader}..${iv.toString('base64url')}.${ciphertext.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`
  }

  open (token: string): Opened {
    const d1 = token.indexOf('.')
    const d2 = token.indexOf('.', d1 + 1)
    const d3 = token.indexOf('.', d2 + 1)
    const d4 = token.indexOf('.', d3 + 1)
    if (d1 < 1 || d2 < 0 || d3 < 0 || d4 < 0 || token.indexOf('.', d4 + 1) !== -1) return { ok: false, reason: 'malformed' }

    const header = token.slice(0, d1)
    const keys = this.knownHeaders.get(header) ?? this.keysForHeader(header)
    if (!Array.isArray(keys)) return { ok: false, reason: keys as RejectReason }
    // alg "dir" has no encrypted key: anything here means another algorithm.
    if (d2 !== d1 + 1) return { ok: false, reason: 'wrong-algorithm' }

    const iv = token.slice(d2 + 1, d3)
    const ciphertext = token.slice(d3 + 1, d4)
    const tag = token.slice(d4 + 1)
    if (iv.length !== IV_CHARS || tag.length !== TAG_CHARS || ciphertext.length === 0 ||
      !isCanonicalBase64url(iv) || !isCanonicalBase64url(tag) || !isCanonicalBase64url(ciphertext)) {
      return { ok: false, reason: 'malformed' }
    }

    const ivBytes = Buffer.from(iv, 'base64url')
    const tagBytes = Buffer.from(tag, 'base64url')
    const ciphertextBytes = Buffer.from(ciphertext, 'base64url')
    const aad = Buffer.from(header, 'ascii')
    for (const key of keys) {
      const plaintext = this.decrypt(key, ivBytes, ciphertextBytes, tagBytes, aad)
      if (plaintext === undefined) continue
      try {
        return { ok: true, plaintext: strictUtf8.decode(plaintext), key }
      } catch {
        return { ok: false, reason: 'malformed' }
      }
    }
    return { ok: false, reason: 'tampered' }
  }

  private decrypt (key: EncryptionKey, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Buffer | undefined {
    try {
      const decipher = createDecipheriv(this.cipher, key.key, iv, { authTagLength: TAG_BYTES })
      decipher.setAAD(aad)
      decipher.setAuthTag(tag)
      const first = decipher.update(ciphertext)
      const last = decipher.final()
      return last.length === 0 ? first : Buffer.concat([first, last])
    } catch {
      return undefined
    }
  }

  /** The slow path, for headers spelled differently from ours and arc's (other field order, spacing). */
  private keysForHeader (segment: string): readonly EncryptionKey[] | RejectReason {
    if (segment.length > MAX_HEADER_CHARS || !isCanonicalBase64url(segment)) return 'malformed'
    let header: unknown
    try {
      header = JSON.parse(strictUtf8.decode(Buffer.from(segment, 'base64url')))
    } catch {
      return 'malformed'
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) return 'malformed'
    const fields = header as Record<string, unknown>
    if (fields.alg !== 'dir' || fields.enc !== this.algorithm) return 'wrong-algorithm'
    for (const name of Object.keys(fields)) if (!ALLOWED_HEADER_FIELDS.has(name)) return 'wrong-algorithm'
    if (fields.kid === undefined) return this.acceptArcTokens ? [...this.keysByKid.values()] : 'unknown-key'
    if (typeof fields.kid !== 'string') return 'malformed'
    const key = this.keysByKid.get(fields.kid)
    return key === undefined ? 'unknown-key' : [key]
  }
}
