import express from 'express'
import request from 'supertest'
import { arcSession, ConfigError, type ArcSessionOptions } from 'arc-session'
import { sessionCookies, type ParsedCookie } from '../support/apps'
import { testClock } from '../support/clock'
import { captureRejects, jose, type RejectLog } from '../support/tokens'
import { configErrorOf } from '../support/config-error'

// Settings that would be ignored in silence, key lists that would shadow their own current key,
// the Secure default, and tokens that would open under a cookie name they were not made for:
// all refused or decided when arcSession() is called.

/** 32 ASCII characters that look like nothing else in these messages. */
const K = 'Zq8vN2xL5tR7wB4mK9pC3hF6jD1sG0aY'
const DYNAMODB = { table: 'sessions', dynamodb: { region: 'us-east-1', endpoint: 'http://127.0.0.1:9' } } satisfies ArcSessionOptions

describe('a misspelt or unknown setting fails at arcSession(), naming it', () => {
  test.each<[string, ArcSessionOptions, string, string]>([
    ['maxLifeTime', { maxLifeTime: 3600 } as ArcSessionOptions, 'options.maxLifeTime', 'maxLifetime'],
    ['cookie.samesite', { cookie: { samesite: 'strict' } } as unknown as ArcSessionOptions, 'options.cookie.samesite', 'sameSite'],
    ['cookie.MaxBytes', { cookie: { MaxBytes: 2048 } } as unknown as ArcSessionOptions, 'options.cookie.MaxBytes', 'maxBytes'],
    ['dynamodb.timeOut', { ...DYNAMODB, dynamodb: { ...DYNAMODB.dynamodb, timeOut: 2 } } as unknown as ArcSessionOptions, 'options.dynamodb.timeOut', 'timeout'],
    ['TTL', { TTL: 60 } as unknown as ArcSessionOptions, 'options.TTL', 'ttl']
  ])('%s: suggests the right name', (_what, options, setting, meant) => {
    const error = configErrorOf({ secret: K, env: {}, ...options })
    expect(error.setting).toBe(setting)
    expect(error.message).toContain(setting)
    expect(error.message).toMatch(new RegExp(`did you mean ${meant}\\?`))
  })

  test('an unknown top-level key: the message lists the settings', () => {
    const error = configErrorOf({ secret: K, env: {}, expires: 3600 } as unknown as ArcSessionOptions)
    expect(error.setting).toBe('options.expires')
    expect(error.message).toMatch(/is not a setting/)
    for (const name of ['secret', 'table', 'ttl', 'maxLifetime', 'cookie', 'dynamodb', 'onReject']) expect(error.message).toContain(name)
  })

  test('an unknown cookie attribute: the message lists the cookie settings', () => {
    const error = configErrorOf({ secret: K, env: {}, cookie: { httpOnly: false } } as unknown as ArcSessionOptions)
    expect(error.setting).toBe('options.cookie.httpOnly')
    for (const name of ['name', 'domain', 'path', 'sameSite', 'secure', 'maxBytes']) expect(error.message).toContain(name)
  })

  test.each<[string, ArcSessionOptions]>([
    ['no table at all', { dynamodb: { region: 'us-east-1' } }],
    ['table: \'jwe\'', { table: 'jwe', dynamodb: { region: 'us-east-1' } }],
    ['ARC_SESSION_TABLE_NAME=jwe', { env: { ARC_SESSION_TABLE_NAME: 'jwe' }, dynamodb: { region: 'us-east-1' } }]
  ])('dynamodb options with the cookie store (%s) are refused, saying to set table', (_how, options) => {
    const error = configErrorOf({ secret: K, env: {}, ...options })
    expect(error.setting).toBe('options.dynamodb')
    expect(error.message).toMatch(/cookie store/)
    expect(error.message).toMatch(/options\.table/)
  })

  test('the right names are accepted', () => {
    expect(() => arcSession({ secret: K, env: {}, maxLifetime: 3600, cookie: { sameSite: 'strict', maxBytes: 2048 } })).not.toThrow()
    expect(() => arcSession({ secret: K, env: {}, ...DYNAMODB, dynamodb: { ...DYNAMODB.dynamodb, timeout: 2 } })).not.toThrow()
  })
})

describe('secrets that make the same key are refused', () => {
  /** Never the secret, nor a recognisable part of it, in an error message. */
  function expectNoSecretIn (error: ConfigError, secrets: readonly string[]): void {
    for (const secret of secrets) {
      for (let at = 0; at + 8 <= secret.length; at++) expect(error.message).not.toContain(secret.slice(at, at + 8))
    }
  }

  const P16 = K.slice(0, 16)
  const SAME_16 = [`${P16}-first-tail-0001-xyz`, `${P16}-other-tail-0002-abc`]

  test.each<[string, ArcSessionOptions, string, readonly string[]]>([
    ['A256GCM: the same first 32 bytes (K-2026, K-2025)', { secret: [`${K}-2026`, `${K}-2025`] }, 'options.secret[1]', [`${K}-2026`, `${K}-2025`]],
    ['A256GCM: exact duplicates', { secret: [K, K] }, 'options.secret[1]', [K]],
    ['A256GCM: a duplicate further down the list', { secret: [`${K}-2026`, 'another-secret-entirely-0123456789', `${K}-2024`] }, 'options.secret[2]', [`${K}-2026`, `${K}-2024`]],
    ['A128GCM: the same first 16 bytes', { secret: SAME_16, algorithm: 'A128GCM' }, 'options.secret[1]', SAME_16],
    ['A128GCM: exact duplicates', { secret: [K, K], algorithm: 'A128GCM' }, 'options.secret[1]', [K]],
    ['from the environment', { env: { ARC_APP_SECRET: `${K}-2026`, ARC_APP_SECRET_PREVIOUS: `${K}-2025` } }, 'ARC_APP_SECRET_PREVIOUS[0]', [`${K}-2026`, `${K}-2025`]]
  ])('%s', (_what, options, setting, secrets) => {
    const error = configErrorOf({ env: {}, ...options })
    expect(error.setting).toBe(setting)
    expect(error.message).toContain(setting)
    expect(error.message).toMatch(/same key/)
    expectNoSecretIn(error, secrets)
  })

  test('the JWE message says how many bytes make the key', () => {
    expect(configErrorOf({ env: {}, secret: [`${K}-2026`, `${K}-2025`] }).message).toMatch(/first 32 bytes/)
    expect(configErrorOf({ env: {}, secret: SAME_16, algorithm: 'A128GCM' }).message).toMatch(/first 16 bytes/)
  })

  test('the same first 16 bytes are fine for A256GCM, whose key is 32', () => {
    expect(() => arcSession({ env: {}, secret: SAME_16 })).not.toThrow()
  })

  test('the DynamoDB store refuses identical secrets', () => {
    const error = configErrorOf({ env: {}, ...DYNAMODB, secret: [K, K] })
    expect(error.setting).toBe('options.secret[1]')
    expect(error.message).toMatch(/same key/)
    expectNoSecretIn(error, [K])
  })

  test('the DynamoDB store accepts distinct secrets, even with a common start (its HMAC key is the whole secret)', () => {
    expect(() => arcSession({ env: {}, ...DYNAMODB, secret: [`${K}-2026`, `${K}-2025`] })).not.toThrow()
  })

  test('distinct JWE secrets are accepted, and the current one still reads what the old one wrote', async () => {
    const oldApp = express()
    oldApp.use(arcSession({ env: {}, secret: 'old-secret-Hk3mP8qW2zX5cV7bN1rT4yU6', cookie: { secure: false } }))
    oldApp.get('/', (req, res) => { req.session.from = 'old'; res.send('ok') })
    const newApp = express()
    newApp.use(arcSession({ env: {}, secret: [K, 'old-secret-Hk3mP8qW2zX5cV7bN1rT4yU6'], cookie: { secure: false } }))
    newApp.get('/', (req, res) => { res.json(req.session) })
    const [cookie] = sessionCookies(await request(oldApp).get('/').expect(200))
    const read = await request(newApp).get('/').set('Cookie', cookie!.pair).expect(200)
    expect(read.body).toEqual({ from: 'old' })
  })
})

describe('Secure by default, as arc', () => {
  /** The session cookie an app with this environment sets on a first write. */
  async function firstCookie (env: Record<string, string>): Promise<ParsedCookie> {
    const app = express()
    app.use(arcSession({ secret: K, env }))
    app.get('/', (req, res) => { req.session.hello = 'world'; res.send('ok') })
    const [cookie] = sessionCookies(await request(app).get('/').expect(200))
    if (cookie === undefined) throw new Error('no session cookie was set')
    return cookie
  }

  test.each<[string, boolean, Record<string, string>]>([
    ['no environment at all', true, {}],
    ['NODE_ENV=production', true, { NODE_ENV: 'production' }],
    ['ARC_ENV=testing', false, { ARC_ENV: 'testing' }],
    ['NODE_ENV=development', false, { NODE_ENV: 'development' }],
    ['NODE_ENV=test', false, { NODE_ENV: 'test' }],
    ['ARC_ENV=staging with NODE_ENV=development', true, { ARC_ENV: 'staging', NODE_ENV: 'development' }],
    ['ARC_ENV=testing with NODE_ENV=production', false, { ARC_ENV: 'testing', NODE_ENV: 'production' }]
  ])('%s: Secure %s', async (_what, secure, env) => {
    const cookie = await firstCookie(env)
    expect(cookie.attributes.secure === true).toBe(secure)
  })
})

describe('key ids are bound to the cookie name', () => {
  const SHARED = K
  let clock: ReturnType<typeof testClock>

  beforeEach(() => { clock = testClock() })

  function app (cookieName: string | undefined, rejects: RejectLog): express.Express {
    const the = express()
    the.use(arcSession({
      secret: SHARED,
      env: {},
      clock,
      onReject: rejects.onReject,
      cookie: { secure: false, ...(cookieName === undefined ? {} : { name: cookieName }) }
    }))
    the.get('/login', (req, res) => { req.session.user = 'alice'; res.send('in') })
    the.get('/read', (req, res) => { res.json(req.session) })
    return the
  }

  /** The token value of the session cookie a fresh login with this app sets. */
  async function tokenFrom (the: express.Express, cookieName: string): Promise<string> {
    const [cookie] = sessionCookies(await request(the).get('/login').expect(200), cookieName)
    if (cookie === undefined) throw new Error(`no ${cookieName} cookie was set`)
    return cookie.value
  }

  test('a token made for _idx is refused as the admin cookie, and the other way round', async () => {
    const userRejects = captureRejects()
    const adminRejects = captureRejects()
    const userApp = app(undefined, userRejects)
    const adminApp = app('admin', adminRejects)
    const userToken = await tokenFrom(userApp, '_idx')
    const adminToken = await tokenFrom(adminApp, 'admin')

    // Each token works where it was made.
    expect((await request(userApp).get('/read').set('Cookie', `_idx=${userToken}`).expect(200)).body).toEqual({ user: 'alice' })
    expect((await request(adminApp).get('/read').set('Cookie', `admin=${adminToken}`).expect(200)).body).toEqual({ user: 'alice' })
    expect(userRejects.reasons).toEqual([])
    expect(adminRejects.reasons).toEqual([])

    expect((await request(adminApp).get('/read').set('Cookie', `admin=${userToken}`).expect(200)).body).toEqual({})
    expect(adminRejects.reasons).toEqual(['unknown-key'])
    expect((await request(userApp).get('/read').set('Cookie', `_idx=${adminToken}`).expect(200)).body).toEqual({})
    expect(userRejects.reasons).toEqual(['unknown-key'])
  })

  test('a token without a key id (arc\'s) opens under _idx only', async () => {
    const key = Buffer.from(SHARED, 'utf8').subarray(0, 32)
    const arcToken = await new jose.CompactEncrypt(new TextEncoder().encode(JSON.stringify({ user: 'arc', iat: clock.seconds })))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .encrypt(key)
    expect(Buffer.from(arcToken.split('.')[0]!, 'base64url').toString('utf8')).toBe('{"alg":"dir","enc":"A256GCM"}')

    const userRejects = captureRejects()
    const adminRejects = captureRejects()
    const user = await request(app(undefined, userRejects)).get('/read').set('Cookie', `_idx=${arcToken}`).expect(200)
    expect(user.body).toEqual({ user: 'arc' })
    expect(userRejects.reasons).toEqual([])

    const admin = await request(app('admin', adminRejects)).get('/read').set('Cookie', `admin=${arcToken}`).expect(200)
    expect(admin.body).toEqual({})
    expect(adminRejects.reasons).toEqual(['unknown-key'])
  })
})
