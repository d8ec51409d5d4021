import { JweCodec } from '../crypto/jwe'
import type { Algorithm, EncryptionKey } from '../crypto/keys'
import { parseObject } from './data'
import type { LoadResult, SaveRequest, SaveResult, Store, StoreContext } from './store'

/** Tokens stamped this far in the future are refused: clocks differ, but not by this much. */
const CLOCK_SKEW = 300

/**
 * The default store: the whole session, encrypted, in the cookie (compact JWE, `dir` + AES-GCM,
 * the format of @architect/functions). No database.
 *
 * Claims after the data: `_created` (the absolute clock, carried through every re-encryption),
 * `iat` (this write: the idle clock, and what arc checks) and `exp` (when the session ends,
 * which arc's reader honours too).
 */
export class JweStore implements Store {
  readonly chunked = true
  private readonly codec: JweCodec

  /** `acceptArcTokens`: open tokens without a key id (arc's), tried against every key; only for arc's cookie name. */
  constructor (algorithm: Algorithm, keys: readonly EncryptionKey[], { acceptArcTokens = true }: { acceptArcTokens?: boolean } = {}) {
    this.codec = new JweCodec(algorithm, keys, { acceptArcTokens })
  }

  /** Bytes held by the cache of recently opened tokens. */
  get cacheBytes (): number {
    return this.codec.cacheBytes
  }

  load (cookie: string, context: StoreContext): LoadResult {
    const opened = this.codec.open(cookie)
    if (!opened.ok) return { reject: opened.reason }
    const claims = parseObject(opened.plaintext)
    if (claims === undefined) return { reject: 'malformed' }

    const { iat, exp, _created: created = iat } = claims
    if (!isTime(iat) || !isTime(created) || (exp !== undefined && !isTime(exp))) return { reject: 'malformed' }
    if (iat > context.now + CLOCK_SKEW || created > iat) return { reject: 'malformed' }
    return { session: { data: claims, text: opened.plaintext, created, touched: iat, expires: exp, stale: !opened.key.current, legacy: opened.key.public } }
  }

  save (request: SaveRequest, context: StoreContext): SaveResult {
    const claims = `"_created":${request.created},"iat":${context.now},"exp":${request.expires}`
    const plaintext = request.json === '{}' ? `{${claims}}` : `${request.json.slice(0, -1)},${claims}}`
    return { cookie: this.codec.seal(plaintext) }
  }

  destroy (): void {
    // Nothing is kept server-side: expiring the cookie is all destroy can do.
  }
}

function isTime (value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0
}
