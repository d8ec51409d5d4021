import { randomBytes } from 'node:crypto'
import { KEY_BYTES, MAX_SECRETS, keyBytes, type Algorithm, type KeySecret } from '../crypto/keys'
import { ConfigError } from '../errors'
import { warnOnce } from '../util/warn'
import { developmentKey } from './dev-secret'
import { isProduction, nonEmpty, onLambda, type Env } from './environment'

/** arc's default JWE keys (when ARC_APP_SECRET is unset) are prefixes of this public string: anyone can forge with them. */
const ARC_PUBLIC_JWE_KEY = '12345678901234567890123456789012'

/** arc's DynamoDB signing secret when ARC_APP_SECRET is unset: ARC_APP_NAME, else this. */
const ARC_FALLBACK = 'fallback'

export const HOW_TO_MAKE_ONE = 'Make one with: node -e "console.log(require(\'crypto\').randomBytes(24).toString(\'base64url\'))"'

/** Where the current secret came from: the configuration, the development key file, or this process alone. */
export type KeySource = 'configured' | 'development-file' | 'ephemeral'

export interface ResolvedSecrets {
  readonly secrets: readonly KeySecret[]
  readonly source: KeySource
}

export interface SecretRules {
  /** Bytes each secret must have to make a key; the JWE store needs KEY_BYTES[algorithm], the signed-id cookie any. */
  readonly keyBytes?: { readonly algorithm: Algorithm }
}

/** Why a secret is public, if it is one of arc's fallbacks: then it may only verify, to migrate. */
function publicFallback (secret: string, env: Env): string | undefined {
  if (secret === ARC_FALLBACK) return `arc's fallback signing secret ("${ARC_FALLBACK}")`
  if (secret === nonEmpty(env.ARC_APP_NAME)) return 'the app\'s name (ARC_APP_NAME), arc\'s fallback signing secret'
  // Any secret that starts like it makes (part of) the same key: the key is a prefix of the secret.
  if (secret.startsWith(ARC_PUBLIC_JWE_KEY.slice(0, 16))) return '@architect/functions\' public default JWE key'
  return undefined
}

/** The secrets, newest first, from options or the environment; validated, never echoed in errors. */
export function resolveSecrets (option: string | readonly string[] | undefined, env: Env, rules: SecretRules): ResolvedSecrets {
  let secrets: string[]
  let names: string[]
  if (option !== undefined) {
    secrets = typeof option === 'string' ? [option] : [...option]
    names = secrets.map((_, index) => typeof option === 'string' ? 'options.secret' : `options.secret[${index}]`)
    if (secrets.length === 0) throw new ConfigError('options.secret', 'the list is empty; give at least the current secret')
  } else {
    const current = nonEmpty(env.ARC_APP_SECRET)
    const previous = (env.ARC_APP_SECRET_PREVIOUS ?? '').split(',').map(s => s.trim()).filter(s => s !== '')
    if (current === undefined) {
      if (previous.length > 0) throw new ConfigError('ARC_APP_SECRET', 'ARC_APP_SECRET_PREVIOUS is set but ARC_APP_SECRET, the current secret, is not')
      const unconfigured = unconfiguredSecret(env)
      return { secrets: [{ secret: unconfigured.secret, role: 'current' }], source: unconfigured.source }
    }
    secrets = [current, ...previous]
    names = ['ARC_APP_SECRET', ...previous.map((_, index) => `ARC_APP_SECRET_PREVIOUS[${index}]`)]
  }

  if (secrets.length > MAX_SECRETS) {
    throw new ConfigError(names[0] ?? 'secret', `${secrets.length} secrets given, at most ${MAX_SECRETS}: retire the oldest`)
  }
  const production = isProduction(env)
  const resolved: KeySecret[] = secrets.map((secret, index) => {
    const name = names[index] ?? 'secret'
    if (typeof secret !== 'string' || secret === '') throw new ConfigError(name, 'must be a non-empty string')
    const publicly = publicFallback(secret, env)
    if (publicly !== undefined && index === 0) {
      throw new ConfigError(name, `is ${publicly}, which anyone can use to forge sessions: it can never seal or sign. ` +
        `Set a secret of your own (a public fallback may stay in ARC_APP_SECRET_PREVIOUS for a migration). ${HOW_TO_MAKE_ONE}`)
    }
    const needed = rules.keyBytes !== undefined ? KEY_BYTES[rules.keyBytes.algorithm] : (production && index === 0 ? 32 : 1)
    const bytes = Buffer.byteLength(secret, 'utf8')
    if (bytes < needed) {
      const why = rules.keyBytes !== undefined
        ? `${rules.keyBytes.algorithm} takes its key from the first ${needed} bytes of the secret`
        : 'in production the signing secret must be at least 32 bytes (an old, shorter one can stay in ARC_APP_SECRET_PREVIOUS to verify existing cookies)'
      throw new ConfigError(name, `is ${bytes} bytes; ${why}. ${HOW_TO_MAKE_ONE}`)
    }
    if (publicly !== undefined) {
      warnOnce(`ARC_SESSION_PUBLIC_SECRET_${index}`,
        `${name} is ${publicly}, which anyone can use to forge sessions. It is used only to verify existing cookies, each of which is ` +
        're-issued at once under the current secret (with a new session id). End the migration by removing it once every active ' +
        'session has been re-issued: one idle lifetime (ttl, 7 days by default) after this deploy.')
      return { secret, role: 'public' as const }
    }
    return { secret, role: index === 0 ? 'current' as const : 'previous' as const }
  })
  // Two entries that make the same key would share a key id: the older would shadow the current one,
  // and every session would look stale and be re-issued on each request.
  const seen = new Map<string, string>()
  resolved.forEach(({ secret }, index) => {
    const identity = rules.keyBytes !== undefined ? keyBytes(secret, rules.keyBytes.algorithm).toString('hex') : secret
    const earlier = seen.get(identity)
    const name = names[index] ?? 'secret'
    if (earlier !== undefined) {
      throw new ConfigError(name, `makes the same key as ${earlier}${rules.keyBytes !== undefined ? ` (the key is the first ${KEY_BYTES[rules.keyBytes.algorithm]} bytes of a secret)` : ''}: every secret in the list must differ there`)
    }
    seen.set(identity, name)
  })
  return { secrets: resolved, source: 'configured' }
}

let processKey: string | undefined

/**
 * No ARC_APP_SECRET: refused in production and on Lambda (every instance would seal with a key of
 * its own, and sessions would vanish at each cold start); elsewhere the development key file, or,
 * when that cannot be used, a key for this process alone. Said once.
 */
function unconfiguredSecret (env: Env): { secret: string, source: KeySource } {
  if (isProduction(env)) {
    throw new ConfigError('ARC_APP_SECRET', `not set. In production sessions need a secret of at least 32 characters that stays the same across restarts. ${HOW_TO_MAKE_ONE}`)
  }
  if (onLambda(env)) {
    throw new ConfigError('ARC_APP_SECRET', 'not set, on AWS Lambda: each instance would seal sessions with a key of its own, and every cold start would ' +
      `sign everyone out. Set ARC_APP_SECRET (at least 32 characters) in the function's environment. ${HOW_TO_MAKE_ONE}`)
  }
  const file = developmentKey(env)
  if (file !== undefined) {
    warnOnce('ARC_SESSION_DEVELOPMENT_KEY',
      `ARC_APP_SECRET is not set: sessions are sealed with a development key kept in ${file.path} ` +
      `(${file.created ? 'made now' : 'made earlier'}, private to this user), so they survive restarts on this machine. ` +
      `Production and Lambda refuse to start without ARC_APP_SECRET. ${HOW_TO_MAKE_ONE}`)
    return { secret: file.secret, source: 'development-file' }
  }
  processKey ??= randomBytes(32).toString('base64url')
  warnOnce('ARC_SESSION_EPHEMERAL_KEY',
    'ARC_APP_SECRET is not set, and no private development key file could be kept: sessions are sealed with a random key made for ' +
    `this process and will not survive a restart. Set ARC_APP_SECRET (at least 32 characters) to keep them. ${HOW_TO_MAKE_ONE}`)
  return { secret: processKey, source: 'ephemeral' }
}
