import { createCipheriv, createDecipheriv, type CipherGCMTypes } from 'node:crypto'
import { inspect } from 'node:util'
import type { RejectReason } from '../errors'
import { isCanonicalBase64url } from './base64url'
import { nextIv } from './iv'
import { rawKey, type Algorithm, type EncryptionKey } from './keys'
import { TokenCache } from './token-cache'

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

/** A key as the codec uses it. Its raw bytes live in a private field: no inspection or logging reaches them. */
class CodecKey {
  readonly #bytes: Buffer
  constructor (readonly source: EncryptionKey) { this.#bytes = rawKey(source) }
  get bytes (): Buffer { return this.#bytes }
  [inspect.custom] (): string { return `[key ${this.source.kid}]` }
}

/** A header segment recognised without parsing: the keys it may use, and its bytes for the AAD. */
interface KnownHeader {
  readonly keys: readonly CodecKey[]
  readonly aad: Buffer
}

export class JweCodec {
  private readonly cipher: CipherGCMTypes
  private readonly current: CodecKey
  private readonly currentHeader: string
  private readonly currentAad: Buffer
  private readonly keysByKid = new Map<string, CodecKey>()
  /** Header segments recognised without parsing: ours (one key each) and arc's (every key). */
  private readonly knownHeaders = new Map<string, KnownHeader>()
  private readonly acceptArcTokens: boolean
  private readonly recent = new TokenCache<{ readonly plaintext: string, readonly key: EncryptionKey }>()

  constructor (private readonly algorithm: Algorithm, keys: readonly EncryptionKey[], { acceptArcTokens = true }: { acceptArcTokens?: boolean } = {}) {
    this.acceptArcTokens = acceptArcTokens
    const codecKeys = keys.map(key => new CodecKey(key))
    const current = codecKeys[0]
    if (current === undefined || !current.source.current || current.source.public) throw new TypeError('JweCodec needs a current, non-public key first')
    this.cipher = CIPHERS[algorithm]
    this.current = current
    this.currentHeader = headerSegment({ alg: 'dir', enc: algorithm, kid: current.source.kid })
    this.currentAad = Buffer.from(this.currentHeader, 'ascii')
    const know = (segment: string, known: readonly CodecKey[]): void => {
      this.knownHeaders.set(segment, { keys: known, aad: Buffer.from(segment, 'ascii') })
    }
    for (const key of codecKeys) {
      this.keysByKid.set(key.source.kid, key)
      know(headerSegment({ alg: 'dir', enc: algorithm, kid: key.source.kid }), [key])
    }
    if (acceptArcTokens) know(headerSegment({ alg: 'dir', enc: algorithm }), codecKeys)
  }

  /** Bytes the cache of opened tokens holds. */
  get cacheBytes (): number {
    return this.recent.size
  }

  seal (plaintext: string): string {
    const iv = nextIv()
    const cipher = createCipheriv(this.cipher, this.current.bytes, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(this.currentAad)
    const first = cipher.update(plaintext, 'utf8')
    const last = cipher.final()
    const ciphertext = last.length === 0 ? first : Buffer.concat([first, last])
    // Not cached here: a token kept from every write outlives the young generation, and costs a
    // counter route more in garbage collection than the next request's open would.
    return `${this.currentHeader}..${iv.toString('base64url')}.${ciphertext.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`
  }

  open (token: string): Opened {
    const recent = this.recent.get(token)
    if (recent !== undefined) return { ok: true, ...recent }
    const opened = this.openToken(token)
    if (opened.ok) this.recent.set(token, { plaintext: opened.plaintext, key: opened.key })
    return opened
  }

  private openToken (token: string): Opened {
    const d1 = token.indexOf('.')
    const d2 = token.indexOf('.', d1 + 1)
    const d3 = token.indexOf('.', d2 + 1)
    const d4 = token.indexOf('.', d3 + 1)
    if (d1 < 1 || d2 < 0 || d3 < 0 || d4 < 0 || token.indexOf('.', d4 + 1) !== -1) return { ok: false, reason: 'malformed' }

    const header = token.slice(0, d1)
    const known = this.knownHeaders.get(header) ?? this.parseHeader(header)
    if (typeof known === 'string') return { ok: false, reason: known }
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
    for (const key of known.keys) {
      const plaintext = this.decrypt(key, ivBytes, ciphertextBytes, tagBytes, known.aad)
      if (plaintext === undefined) continue
      try {
        return { ok: true, plaintext: strictUtf8.decode(plaintext), key: key.source }
      } catch {
        return { ok: false, reason: 'malformed' }
      }
    }
    return { ok: false, reason: 'tampered' }
  }

  private decrypt (key: CodecKey, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Buffer | undefined {
    try {
      const decipher = createDecipheriv(this.cipher, key.bytes, iv, { authTagLength: TAG_BYTES })
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
  private parseHeader (segment: string): KnownHeader | RejectReason {
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
    const aad = Buffer.from(segment, 'ascii')
    if (fields.kid === undefined) return this.acceptArcTokens ? { keys: [...this.keysByKid.values()], aad } : 'unknown-key'
    if (typeof fields.kid !== 'string') return 'malformed'
    const key = this.keysByKid.get(fields.kid)
    return key === undefined ? 'unknown-key' : { keys: [key], aad }
  }
}
