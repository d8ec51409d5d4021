import { randomBytes } from 'node:crypto'
import { ConfigError } from '../errors'
import { KEY_BYTES, MAX_SECRETS, keyBytes, type Algorithm } from '../crypto/keys'

type Env = Readonly<Record<string, string | undefined>>

/**
 * arc's fallback keys when ARC_APP_SECRET is unset are prefixes of this public string, so anyone could
 * forge sessions with them; a secret that starts the same way derives the same key.
 */
const ARC_PUBLIC_KEY_PREFIX = '1234567890123456'

const HOW_TO_MAKE_ONE = 'Make one with: node -e "console.log(require(\'crypto\').randomBytes(24).toString(\'base64url\'))"'

export function isProduction (env: Env): boolean {
  return env.NODE_ENV === 'production' || env.ARC_ENV === 'production' || env.ARC_ENV === 'staging'
}

let ephemeralSecret: string | undefined

/** One random secret per process, for development without ARC_APP_SECRET, announced once. */
function processSecret (): string {
  if (ephemeralSecret === undefined) {
    ephemeralSecret = randomBytes(32).toString('base64url')
    process.emitWarning(
      'ARC_APP_SECRET is not set: sessions are sealed with a random key made for this process and will not survive a restart. ' +
      `Set ARC_APP_SECRET (at least 32 characters) to keep them. ${HOW_TO_MAKE_ONE}`,
      { code: 'ARC_SESSION_EPHEMERAL_KEY' })
  }
  return ephemeralSecret
}

export interface SecretRules {
  /** Bytes each secret must have to make a key; the JWE store needs KEY_BYTES[algorithm], the signed-id cookie any. */
  readonly keyBytes?: { readonly algorithm: Algorithm }
}

/** The secrets, newest first, from options or the environment; validated, never echoed in errors. */
export function resolveSecrets (option: string | readonly string[] | undefined, env: Env, rules: SecretRules): string[] {
  const production = isProduction(env)
  let secrets: string[]
  let names: string[]
  if (option !== undefined) {
    secrets = typeof option === 'string' ? [option] : [...option]
    names = secrets.map((_, index) => typeof option === 'string' ? 'options.secret' : `options.secret[${index}]`)
    if (secrets.length === 0) throw new ConfigError('options.secret', 'the list is empty; give at least the current secret')
  } else {
    const current = env.ARC_APP_SECRET
    const previous = (env.ARC_APP_SECRET_PREVIOUS ?? '').split(',').map(s => s.trim()).filter(s => s !== '')
    if (current === undefined || current === '') {
      if (previous.length > 0) throw new ConfigError('ARC_APP_SECRET', 'ARC_APP_SECRET_PREVIOUS is set but ARC_APP_SECRET, the current secret, is not')
      if (production) {
        throw new ConfigError('ARC_APP_SECRET', `not set. In production sessions need a secret of at least 32 characters that stays the same across restarts. ${HOW_TO_MAKE_ONE}`)
      }
      return [processSecret()]
    }
    secrets = [current, ...previous]
    names = ['ARC_APP_SECRET', ...previous.map((_, index) => `ARC_APP_SECRET_PREVIOUS[${index}]`)]
  }

  if (secrets.length > MAX_SECRETS) {
    throw new ConfigError(names[0] ?? 'secret', `${secrets.length} secrets given, at most ${MAX_SECRETS}: retire the oldest`)
  }
  secrets.forEach((secret, index) => {
    const name = names[index] ?? 'secret'
    if (typeof secret !== 'string' || secret === '') throw new ConfigError(name, 'must be a non-empty string')
    if (secret.startsWith(ARC_PUBLIC_KEY_PREFIX)) {
      throw new ConfigError(name, `is @architect/functions' public default key, with which anyone can forge sessions. ${HOW_TO_MAKE_ONE}`)
    }
    const needed = rules.keyBytes !== undefined ? KEY_BYTES[rules.keyBytes.algorithm] : (production && index === 0 ? 32 : 1)
    const bytes = Buffer.byteLength(secret, 'utf8')
    if (bytes < needed) {
      const why = rules.keyBytes !== undefined
        ? `${rules.keyBytes.algorithm} takes its key from the first ${needed} bytes of the secret`
        : 'in production the signing secret must be at least 32 bytes (an old, shorter one can stay in ARC_APP_SECRET_PREVIOUS to verify existing cookies)'
      throw new ConfigError(name, `is ${bytes} bytes; ${why}. ${HOW_TO_MAKE_ONE}`)
    }
  })
  // Two entries that make the same key would share a key id: the older would shadow the current one,
  // and every session would look stale and be re-issued on each request.
  const seen = new Map<string, string>()
  secrets.forEach((secret, index) => {
    const identity = rules.keyBytes !== undefined ? keyBytes(secret, rules.keyBytes.algorithm).toString('hex') : secret
    const earlier = seen.get(identity)
    const name = names[index] ?? 'secret'
    if (earlier !== undefined) {
      throw new ConfigError(name, `makes the same key as ${earlier}${rules.keyBytes !== undefined ? ` (the key is the first ${KEY_BYTES[rules.keyBytes.algorithm]} bytes of a secret)` : ''}: every secret in the list must differ there`)
    }
    seen.set(identity, name)
  })
  return secrets
}
