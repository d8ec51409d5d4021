import { MAX_COOKIE_PAIR_BYTES } from '../cookie/chunks'
import { MAX_CHUNKS } from '../cookie/parse'
import { prefixProblem } from '../cookie/prefix'
import type { SameSite } from '../cookie/serialize'
import { ALGORITHMS, encryptionKeys, signingKeys, type Algorithm } from '../crypto/keys'
import { ConfigError } from '../errors'
import type { SessionPolicy } from '../session/policy'
import type { DynamoDBStore } from '../stores/dynamodb/store'
import { JweStore } from '../stores/jwe'
import type { SessionRegistry } from '../stores/registry'
import { SessionUsers } from '../session/users'
import type { Store } from '../stores/store'
import { nonEmpty, sandboxOf, type Env } from './environment'
import type { ArcSessionOptions } from './options'
import { resolveSecrets, type KeySource } from './secrets'
import { describe, matching, oneOf, pick, seconds } from './settings'
import { TABLE_NAME, TABLE_NAME_EXPECTED } from './table-name'

/** Options and environment, resolved once: validated, frozen, and the only thing the rest of the code reads. */
export interface Config extends SessionPolicy {
  readonly table?: string
}

export const DEFAULT_TTL = 7 * 24 * 60 * 60
export const DEFAULT_MAX_LIFETIME = 30 * 24 * 60 * 60
export const DEFAULT_MAX_BYTES = 3 * MAX_COOKIE_PAIR_BYTES

/** arc's cookie name: only a cookie of this name may carry arc's tokens, which have no key id. */
export const ARC_COOKIE_NAME = '_idx'

const COOKIE_NAME = /^[!#$%&'*+\-^_`|~0-9A-Za-z]{1,64}$/
const COOKIE_DOMAIN = /^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/
const COOKIE_PATH = /^\/[\x21-\x3a\x3c-\x7e]*$/

const KNOWN_SETTINGS = {
  options: ['secret', 'algorithm', 'table', 'store', 'ttl', 'maxLifetime', 'cookie', 'dynamodb', 'onReject', 'clock', 'env',
    'user', 'registry', 'revocationCheck', 'registryFailure', 'device'],
  'options.cookie': ['name', 'domain', 'path', 'sameSite', 'secure', 'partitioned', 'maxBytes'],
  'options.dynamodb': ['client', 'region', 'endpoint', 'timeout']
} as const

/** A misspelt setting (maxLifeTime, samesite) would otherwise be ignored in silence. */
function checkKnown (value: unknown, where: keyof typeof KNOWN_SETTINGS): void {
  if (value === undefined) return
  if (typeof value !== 'object' || value === null) throw new ConfigError(where, `expected an object, got ${describe(value)}`)
  const known: readonly string[] = KNOWN_SETTINGS[where]
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue
    const meant = known.find(name => name.toLowerCase() === key.toLowerCase())
    throw new ConfigError(`${where}.${key}`, `is not a setting${meant === undefined ? `; the settings here are ${known.join(', ')}` : `; did you mean ${meant}?`}`)
  }
}

export function resolveConfig (options: ArcSessionOptions = {}): Config {
  checkKnown(options, 'options')
  checkKnown(options.cookie, 'options.cookie')
  checkKnown(options.dynamodb, 'options.dynamodb')
  const env = options.env ?? process.env

  const ttl = seconds(pick(options.ttl, 'options.ttl', env, ['ARC_SESSION_TTL', 'SESSION_TTL']) ?? { value: DEFAULT_TTL, name: 'ttl' },
    { min: 1, fix: 'It is the idle lifetime: 604800 is one week.' })
  const maxLifetime = seconds(pick(options.maxLifetime, 'options.maxLifetime', env, ['ARC_SESSION_MAX_LIFETIME']) ?? { value: DEFAULT_MAX_LIFETIME, name: 'maxLifetime' },
    { min: 0, fix: 'It is the absolute lifetime from creation; 0 turns it off.' })

  const cookieOptions = options.cookie ?? {}
  const cookieName = matching({ value: cookieOptions.name ?? ARC_COOKIE_NAME, name: 'options.cookie.name' }, COOKIE_NAME, 'a cookie name (letters, digits, !#$%&\'*+-^_`|~)')
  const domainSetting = pick(cookieOptions.domain, 'options.cookie.domain', env, ['ARC_SESSION_DOMAIN', 'SESSION_DOMAIN'])
  const domain = domainSetting === undefined ? undefined : matching(domainSetting, COOKIE_DOMAIN, 'a domain such as example.com')
  const path = matching({ value: cookieOptions.path ?? '/', name: 'options.cookie.path' }, COOKIE_PATH, 'a path starting with /')
  const sameSite = oneOf<SameSite>(pick(cookieOptions.sameSite, 'options.cookie.sameSite', env, ['ARC_SESSION_SAME_SITE']) ?? { value: 'lax', name: 'sameSite' },
    ['lax', 'strict', 'none'], { caseless: true })
  const partitioned = resolvePartitioned(cookieOptions.partitioned)
  const secure = resolveSecure(cookieOptions.secure, sameSite, partitioned, env)
  const cookie = Object.freeze({ ...(domain === undefined ? {} : { domain }), path, sameSite, secure, httpOnly: true, partitioned })
  const prefix = prefixProblem(cookieName, cookie)
  if (prefix !== undefined) throw new ConfigError('options.cookie.name', prefix)
  const maxBytes = resolveMaxBytes(cookieOptions.maxBytes)

  if (options.onReject !== undefined && typeof options.onReject !== 'function') throw new ConfigError('options.onReject', `expected a function, got ${describe(options.onReject)}`)
  if (options.clock !== undefined && typeof options.clock !== 'function') throw new ConfigError('options.clock', `expected a function returning milliseconds, got ${describe(options.clock)}`)
  const clock = options.clock ?? Date.now

  const { store, storeKind, table, keySource } = resolveStore(options, env, cookieName)
  if (options.dynamodb !== undefined && storeKind !== 'dynamodb' && typeof options.registry !== 'string') {
    throw new ConfigError('options.dynamodb', `is set, but the store is ${storeKind === 'jwe' ? 'the cookie store (JWE)' : 'options.store'}: set options.table (or ARC_SESSION_TABLE_NAME) to a table name to use DynamoDB`)
  }
  const users = resolveUsers(options, store, storeKind, env)
  return Object.freeze({
    store,
    storeKind,
    ...(table === undefined ? {} : { table }),
    ttl,
    maxLifetime,
    cookieName,
    cookie,
    maxBytes,
    ...(options.onReject === undefined ? {} : { onReject: options.onReject }),
    now: () => Math.floor(clock() / 1000),
    keySource,
    ...(users === undefined ? {} : { users })
  })
}

const USER_SETTINGS = ['registry', 'revocationCheck', 'registryFailure', 'device'] as const

/** Users and devices: the `user` option, and for the cookie store its registry. */
function resolveUsers (options: ArcSessionOptions, store: Store, storeKind: SessionPolicy['storeKind'], env: Env): SessionUsers | undefined {
  const { user } = options
  if (user === undefined) {
    const stray = USER_SETTINGS.find(name => options[name] !== undefined)
    if (stray !== undefined) throw new ConfigError(`options.${stray}`, 'is set, but options.user is not: say which user a session belongs to (user: \'userId\', or a function of the data)')
    return undefined
  }
  if (typeof user !== 'function' && (typeof user !== 'string' || user === '')) {
    throw new ConfigError('options.user', `expected a key of the session data, or a function of the data returning the user's id; got ${describe(user)}`)
  }
  const revocationCheck = options.revocationCheck === undefined ? 30 : seconds({ value: options.revocationCheck, name: 'options.revocationCheck' }, { min: 0, fix: '0 checks on every request.' })
  const registryFailure = options.registryFailure ?? 'closed'
  if (registryFailure !== 'closed' && registryFailure !== 'open') throw new ConfigError('options.registryFailure', `expected 'closed' or 'open', got ${describe(registryFailure)}`)
  if (options.device !== undefined && typeof options.device !== 'function') throw new ConfigError('options.device', `expected a function of the request, got ${describe(options.device)}`)
  const device = options.device === undefined ? {} : { device: options.device }
  if (storeKind === 'dynamodb') {
    if (options.registry !== undefined) throw new ConfigError('options.registry', 'is for the cookie store; the DynamoDB store lists and ends its own sessions (through the user index): remove it')
    return new SessionUsers({ user, store: store as DynamoDBStore, revocationCheck, registryFailure, ...device })
  }
  const registry = resolveRegistry(options, env)
  return new SessionUsers({ user, registry, revocationCheck, registryFailure, ...device })
}

function resolveRegistry (options: ArcSessionOptions, env: Env): SessionRegistry {
  const given = options.registry
  if (given === undefined) {
    throw new ConfigError('options.registry', 'is needed with options.user on the cookie store: the sessions live in cookies, so listing and revoking them needs a record ' +
      'of who holds which; give a DynamoDB table made by createTable() (registry: \'sessions\'), or an object implementing SessionRegistry')
  }
  if (typeof given === 'string') {
    const table = matching({ value: given, name: 'options.registry' }, TABLE_NAME, TABLE_NAME_EXPECTED)
    const { resolveClient } = require('./dynamodb') as typeof import('./dynamodb')
    const { DynamoDBRegistry } = require('../stores/dynamodb/users') as typeof import('../stores/dynamodb/users')
    const { loadSdk } = require('../stores/dynamodb/sdk') as typeof import('../stores/dynamodb/sdk')
    const { client, timeoutMs } = resolveClient(options.dynamodb ?? {}, env, sandboxOf(env))
    return new DynamoDBRegistry(loadSdk('options.registry'), client, table, timeoutMs)
  }
  const methods = ['record', 'forget', 'list', 'revoke', 'revocations'] as const
  const missing = methods.filter(name => typeof (given as unknown as Record<string, unknown>)?.[name] !== 'function')
  if (missing.length > 0) throw new ConfigError('options.registry', `expected a table name or a SessionRegistry; this object has no ${missing.join(', ')}()`)
  return given
}

function resolvePartitioned (option: boolean | undefined): boolean {
  if (option !== undefined && typeof option !== 'boolean') throw new ConfigError('options.cookie.partitioned', `expected true or false, got ${describe(option)}`)
  return option === true
}

function resolveSecure (option: boolean | undefined, sameSite: SameSite, partitioned: boolean, env: Env): boolean {
  if (option !== undefined && typeof option !== 'boolean') throw new ConfigError('options.cookie.secure', `expected true or false, got ${describe(option)}`)
  for (const [needs, why] of [[sameSite === 'none', 'SameSite=None'], [partitioned, 'Partitioned']] as const) {
    if (!needs) continue
    if (option === false) throw new ConfigError('options.cookie.secure', `${why} cookies must be Secure (browsers drop them otherwise); leave secure on (browsers accept Secure cookies from http://localhost)`)
    return true
  }
  if (option !== undefined) return option
  // arc's rule: Secure unless ARC_ENV is 'testing'; without ARC_ENV, a development or test NODE_ENV
  // is the same signal. Browsers accept Secure cookies from http://localhost.
  const arcEnv = env.ARC_ENV
  if (arcEnv !== undefined && arcEnv !== '') return arcEnv !== 'testing'
  return env.NODE_ENV !== 'development' && env.NODE_ENV !== 'test'
}

function resolveMaxBytes (option: number | undefined): number {
  if (option === undefined) return DEFAULT_MAX_BYTES
  const limit = MAX_CHUNKS * MAX_COOKIE_PAIR_BYTES
  if (typeof option !== 'number' || !Number.isSafeInteger(option) || option < 256 || option > limit) {
    throw new ConfigError('options.cookie.maxBytes', `expected a whole number of bytes from 256 to ${limit}, got ${describe(option)}`)
  }
  return option
}

interface ResolvedStore {
  readonly store: Store
  readonly storeKind: SessionPolicy['storeKind']
  readonly table?: string
  readonly keySource: KeySource
}

function resolveStore (options: ArcSessionOptions, env: Env, cookieName: string): ResolvedStore {
  if (options.store !== undefined) {
    const store = options.store as Partial<Store> | null
    if (typeof store !== 'object' || store === null || typeof store.load !== 'function' || typeof store.save !== 'function' || typeof store.destroy !== 'function') {
      throw new ConfigError('options.store', 'expected a Store: an object with load(), save() and destroy() methods')
    }
    return { store: options.store, storeKind: 'custom', keySource: 'configured' }
  }

  const envTables = [env.ARC_SESSION_TABLE_NAME, env.SESSION_TABLE_NAME]
  // arc's rule: either variable set to 'jwe' selects the cookie store.
  const tableSetting = options.table !== undefined || !envTables.includes('jwe')
    ? pick(options.table, 'options.table', env, ['ARC_SESSION_TABLE_NAME', 'SESSION_TABLE_NAME'])
    : undefined
  const algorithm = oneOf<Algorithm>(pick(options.algorithm, 'options.algorithm', env, ['ARC_APP_SECRET_ALGO']) ?? { value: 'A256GCM', name: 'algorithm' }, ALGORITHMS)

  if (tableSetting === undefined || tableSetting.value === 'jwe') {
    const { secrets, source } = resolveSecrets(options.secret, env, { keyBytes: { algorithm } })
    const store = new JweStore(algorithm, encryptionKeys(secrets, algorithm, cookieName), { acceptArcTokens: cookieName === ARC_COOKIE_NAME })
    return { store, storeKind: 'jwe', keySource: source }
  }
  const table = matching(tableSetting, TABLE_NAME, `${TABLE_NAME_EXPECTED}, or 'jwe' for the cookie store`)
  // The missing SDK first: a newcomer who fixes the region should not only then learn it is not installed.
  const { loadSdk } = require('../stores/dynamodb/sdk') as typeof import('../stores/dynamodb/sdk')
  loadSdk(tableSetting.name)
  const { secrets, source } = resolveSecrets(options.secret, env, {})
  // Loaded only for DynamoDB: a cookie-store app never loads the store, the client set-up or discovery.
  const { DynamoDBStore } = require('../stores/dynamodb/store') as typeof import('../stores/dynamodb/store')
  const { resolveClient } = require('./dynamodb') as typeof import('./dynamodb')
  const { checkSsmInstalled, inArchitect, tableFinder } = require('./architect') as typeof import('./architect')
  const sandbox = sandboxOf(env)
  const dynamodb = options.dynamodb ?? {}
  const { client, timeoutMs, local } = resolveClient(dynamodb, env, sandbox)
  // Under Architect a table may be named by its logical name, as arc allows; a client given by hand means a table outside it.
  const discover = dynamodb.client === undefined && dynamodb.endpoint === undefined && inArchitect(env, sandbox)
  if (discover) checkSsmInstalled(tableSetting.name)
  const store = new DynamoDBStore({
    table: discover ? tableFinder(table, env, sandbox, dynamodb.region ?? nonEmpty(env.AWS_REGION), timeoutMs) : table,
    keys: signingKeys(secrets),
    client,
    timeoutMs,
    cookieName,
    local
  })
  return { store, storeKind: 'dynamodb', table, keySource: source }
}
