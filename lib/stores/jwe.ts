import { JweCodec } from '../crypto/jwe'
import { parseObject } from './data'
import type { Algorithm, EncryptionKey } from '../crypto/keys'
import { CLOCK_SKEW, expiresAt, isExpired } from '../session/lifetime'
import type { LoadResult, SaveRequest, SaveResult, Store, StoreContext } from './store'

/**
 * The default store: the whole session, encrypted, in the cookie (compact JWE,
 * `dir` + AES-GCM, the format of @architect/functions). No database.
 *
 * Claims next to the data: `iat` (last write: the idle clock, and what arc checks),
 * `exp` (when the session ends, which arc's reader honours too) and `_created`
 * (the absolute clock, carried through every re-encryption).
 */
export class JweStore implements Store {
  private readonly codec: JweCodec

  /** `acceptArcTokens`: open tokens without a key id (arc's), tried against every key; only for arc's cookie name. */
  constructor (algorithm: Algorithm, keys: readonly EncryptionKey[], { acceptArcTokens = true }: { acceptArcTokens?: boolean } = {}) {
    this.codec = new JweCodec(algorithm, keys, { acceptArcTokens })
  }

  load (cookie: string, context: StoreContext): LoadResult {
    const opened = this.codec.open(cookie)
    if (!opened.ok) return { reject: opened.reason }
    const claims = parseObject(opened.plaintext)
    if (claims === undefined) return { reject: 'malformed' }

    const { iat, exp, _created: created = iat } = claims
    if (!isTime(iat) || !isTime(created) || (exp !== undefined && !isTime(exp))) return { reject: 'malformed' }
    if (iat > context.now + CLOCK_SKEW || created > iat) return { reject: 'malformed' }
    if (isExpired(context, created, iat) || (exp !== undefined && context.now >= exp)) return { reject: 'expired' }

    // The claims stay in `data` (deleting keys would turn it into a slow dictionary object):
    // reserved names never reach a session, its snapshot or a write.
    return { session: { data: claims, created, touched: iat, stale: !opened.key.current } }
  }

  save (request: SaveRequest, context: StoreContext): SaveResult {
    const claims = `"iat":${context.now},"exp":${expiresAt(context, request.created)},"_created":${request.created}`
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
