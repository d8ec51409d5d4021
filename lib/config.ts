import { MAX_CHUNKS, type CookieAttributes, type SameSite } from './cookie'
import { MAX_COOKIE_PAIR_BYTES } from './chunks'
import { ConfigError } from './errors'
import { ALGORITHMS, encryptionKeys, signingKeys, type Algorithm } from './keys'
import type { ArcSessionOptions } from './options'
import { isProduction, resolveSecrets } from './secrets'
import { describe, matching, oneOf, pick, seconds } from './settings'
import { createDynamoDBStore } from './stores/dynamodb'
import { JweStore } from './stores/jwe'
import type { RejectReason, Store } from './stores/store'

/** Options and environment, resolved once: validated, frozen, and the only thing the rest of the code reads. */
export interface Config {
  readonly store: Store
  readonly storeKind: 'jwe' | 'dynamodb' | 'custom'
  readonly table?: string
  readonly ttl: number
  readonly maxLifetime: number
  readonly cookieName: string
  readonly cookie: CookieAttributes
  readonly maxBytes: number
  readonly onReject?: (reason: RejectReason, req: unknown) => void
  /** Epoch seconds. */
  readonly now: () => number
}

export const DEFAULT_TTL = 7 * 24 * 60 * 60
export const DEFAULT_MAX_LIFETIME = 30 * 24 * 60 * 60
export const DEFAULT_MAX_BYTES = 3 * MAX_COOKIE_PAIR_BYTES

const COOKIE_NAME = /^[!#$%&'*+\-^_`|~0-9A-Za-z]{1,64}$/
const COOKIE_DOMAIN = /^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/
const COOKIE_PATH = /^\/[\x21-\x3a\x3c-\x7e]*$/
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/

export function resolveConfig (options: ArcSessionOptions = {}): Config {
  if (typeof options !== 'object' || options === null) throw new ConfigError('options', `expected an object, got ${describe(options)}`)
  const env = options.env ?? process.env

  const ttl = seconds(pick(options.ttl, 'options.ttl', env, ['ARC_SESSION_TTL', 'SESSION_TTL']) ?? { value: DEFAULT_TTL, name: 'ttl' },
    { min: 1, fix: 'It is the idle lifetime: 604800 is one week.' })
  const maxLifetime = seconds(pick(options.maxLifetime, 'options.maxLifetime', env, ['ARC_SESSION_MAX_LIFETIME']) ?? { value: DEFAULT_MAX_LIFETIME, name: 'maxLifetime' },
    { min: 0, fix: 'It is the absolute lifetime from creation; 0 turns it off.' })

  const cookieOptions = options.cookie ?? {}
  const cookieName = matching({ value: cookieOptions.name ?? '_idx', name: 'options.cookie.name' }, COOKIE_NAME, 'a cookie name (letters, digits, !#$%&\'*+-^_`|~)')
  const domainSetting = pick(cookieOptions.domain, 'options.cookie.domain', env, ['ARC_SESSION_DOMAIN', 'SESSION_DOMAIN'])
  const domain = domainSetting === undefined ? undefined : matching(domainSetting, COOKIE_DOMAIN, 'a domain such as example.com')
  const path = matching({ value: cookieOptions.path ?? '/', name: 'options.cookie.path' }, COOKIE_PATH, 'a path starting with /')
  const sameSite = oneOf<SameSite>(pick(cookieOptions.sameSite, 'options.cookie.sameSite', env, ['ARC_SESSION_SAME_SITE']) ?? { value: 'lax', name: 'sameSite' },
    ['lax', 'strict', 'none'], { caseless: true })
  const secure = resolveSecure(cookieOptions.secure, sameSite, env)
  const maxBytes = resolveMaxBytes(cookieOptions.maxBytes)

  if (options.onReject !== undefined && typeof options.onReject !== 'function') throw new ConfigError('options.onReject', `expected a function, got ${describe(options.onReject)}`)
  if (options.clock !== undefined && typeof options.clock !== 'function') throw new ConfigError('options.clock', `expected a function returning milliseconds, got ${describe(options.clock)}`)
  const clock = options.clock ?? Date.now

  const { store, storeKind, table } = resolveStore(options, env)
  return Object.freeze({
    store,
    storeKind,
    ...(table === undefined ? {} : { table }),
    ttl,
    maxLifetime,
    cookieName,
    cookie: Object.freeze({ ...(domain === undefined ? {} : { domain }), path, sameSite, secure, httpOnly: true }),
    maxBytes,
    ...(options.onReject === undefined ? {} : { onReject: options.onReject }),
    now: () => Math.floor(clock() / 1000)
  })
}

function resolveSecure (option: boolean | undefined, sameSite: SameSite, env: Readonly<Record<string, string | undefined>>): boolean {
  if (option !== undefined && typeof option !== 'boolean') throw new ConfigError('options.cookie.secure', `expected true or false, got ${describe(option)}`)
  if (sameSite === 'none') {
    if (option === false) throw new ConfigError('options.cookie.secure', 'SameSite=None cookies must be Secure (browsers drop them otherwise); use sameSite lax or strict, or leave secure on')
    return true
  }
  if (option !== undefined) return option
  const arcEnv = env.ARC_ENV
  if (arcEnv === undefined || arcEnv === '') return isProduction(env)
  return arcEnv !== 'testing'
}

function resolveMaxBytes (option: number | undefined): number {
  if (option === undefined) return DEFAULT_MAX_BYTES
  const limit = MAX_CHUNKS * MAX_COOKIE_PAIR_BYTES
  if (typeof option !== 'number' || !Number.isSafeInteger(option) || option < 256 || option > limit) {
    throw new ConfigError('options.cookie.maxBytes', `expected a whole number of bytes from 256 to ${limit}, got ${describe(option)}`)
  }
  return option
}

function resolveStore (options: ArcSessionOptions, env: Readonly<Record<string, string | undefined>>): Pick<Config, 'store' | 'storeKind' | 'table'> {
  if (options.store !== undefined) {
    const store = options.store as Partial<Store> | null
    if (typeof store !== 'object' || store === null || typeof store.load !== 'function' || typeof store.save !== 'function' || typeof store.destroy !== 'function') {
      throw new ConfigError('options.store', 'expected a Store: an object with load(), save() and destroy() methods')
    }
    return { store: options.store, storeKind: 'custom' }
  }

  const envTables = [env.ARC_SESSION_TABLE_NAME, env.SESSION_TABLE_NAME]
  // arc's rule: either variable set to 'jwe' selects the cookie store.
  const tableSetting = options.table !== undefined || !envTables.includes('jwe')
    ? pick(options.table, 'options.table', env, ['ARC_SESSION_TABLE_NAME', 'SESSION_TABLE_NAME'])
    : undefined
  const algorithm = oneOf<Algorithm>(pick(options.algorithm, 'options.algorithm', env, ['ARC_APP_SECRET_ALGO']) ?? { value: 'A256GCM', name: 'algorithm' }, ALGORITHMS)

  if (tableSetting === undefined || tableSetting.value === 'jwe') {
    const secrets = resolveSecrets(options.secret, env, { keyBytes: { algorithm } })
    return { store: new JweStore(algorithm, encryptionKeys(secrets, algorithm)), storeKind: 'jwe' }
  }
  const table = matching(tableSetting, TABLE_NAME, 'a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -), or \'jwe\' for the cookie store')
  const secrets = resolveSecrets(options.secret, env, {})
  return { store: createDynamoDBStore({ table, keys: signingKeys(secrets), options: options.dynamodb ?? {}, env }), storeKind: 'dynamodb', table }
}
