import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import express from 'express'
import request from 'supertest'
import { arcSession, createTable, sessionInfo, type ArcSessionOptions } from 'arc-session'
import { SECRET, parseSetCookie, sessionCookies, type ParsedCookie } from '../support/apps'
import { configErrorOf } from '../support/config-error'

// Every setting is checked when arcSession() is called, and named, with the fix, in the error.

type Env = Record<string, string | undefined>

/** The session cookie an app with these options sets on a first write. */
async function firstCookie (options: ArcSessionOptions): Promise<ParsedCookie & { store: string }> {
  const app = express()
  app.use(arcSession(options))
  app.get('/', (req, res) => {
    req.session.hello = 'world'
    res.json({ store: sessionInfo(req.session).store })
  })
  const response = await request(app).get('/').expect(200)
  const [cookie] = sessionCookies(response)
  if (cookie === undefined) throw new Error('no session cookie was set')
  return { ...cookie, store: response.body.store as string }
}

/** The process warnings emitted while `run` runs, as code and message (the warnings still go out as usual). */
async function emittedWarnings (run: () => void): Promise<Array<{ code: string, message: string }>> {
  const spy = jest.spyOn(process, 'emitWarning')
  try {
    run()
    await new Promise(resolve => setImmediate(resolve))
    return spy.mock.calls.map(([warning, options]) => ({
      code: typeof options === 'object' && options !== null ? String((options as { code?: string }).code) : String(options),
      message: String(warning)
    }))
  } finally {
    spy.mockRestore()
  }
}

/** The codes of the process warnings emitted while `run` runs. */
async function warningsOf (run: () => void): Promise<string[]> {
  return (await emittedWarnings(run)).map(warning => warning.code)
}

describe('configuration errors surface when arcSession() is called', () => {
  test.each<[string, ArcSessionOptions, string, RegExp]>([
    ['a negative ttl', { ttl: -1 }, 'options.ttl', /whole number of seconds/],
    ['a fractional ttl', { ttl: 1.5 }, 'options.ttl', /whole number of seconds/],
    ['a ttl given as text', { ttl: '7d' as unknown as number }, 'options.ttl', /whole number of seconds/],
    ['ARC_SESSION_TTL that is not a number', { env: { ARC_SESSION_TTL: 'one week' } }, 'ARC_SESSION_TTL', /whole number of seconds.*604800/],
    ['SESSION_TTL that is not a number', { env: { SESSION_TTL: '-5' } }, 'SESSION_TTL', /whole number of seconds/],
    ['a negative maxLifetime', { maxLifetime: -1 }, 'options.maxLifetime', /0 turns it off/],
    ['ARC_SESSION_MAX_LIFETIME that is not a number', { env: { ARC_SESSION_MAX_LIFETIME: '30 days' } }, 'ARC_SESSION_MAX_LIFETIME', /whole number of seconds/],
    ['an unknown sameSite', { cookie: { sameSite: 'sometimes' as 'lax' } }, 'options.cookie.sameSite', /lax, strict, none/],
    ['an unknown ARC_SESSION_SAME_SITE', { env: { ARC_SESSION_SAME_SITE: 'loose' } }, 'ARC_SESSION_SAME_SITE', /lax, strict, none/],
    ['SameSite=None without Secure', { cookie: { sameSite: 'none', secure: false } }, 'options.cookie.secure', /SameSite=None.*Secure/],
    ['a domain with a scheme', { cookie: { domain: 'https://example.com' } }, 'options.cookie.domain', /a domain such as example\.com/],
    ['an ARC_SESSION_DOMAIN with a space', { env: { ARC_SESSION_DOMAIN: 'exa mple.com' } }, 'ARC_SESSION_DOMAIN', /a domain/],
    ['a SESSION_DOMAIN with a path', { env: { SESSION_DOMAIN: 'example.com/app' } }, 'SESSION_DOMAIN', /a domain/],
    ['a relative path', { cookie: { path: 'app' } }, 'options.cookie.path', /starting with \//],
    ['a path with a semicolon', { cookie: { path: '/a;b' } }, 'options.cookie.path', /starting with \//],
    ['a cookie name with a space', { cookie: { name: 'my session' } }, 'options.cookie.name', /cookie name/],
    ['a cookie name with =', { cookie: { name: 'a=b' } }, 'options.cookie.name', /cookie name/],
    ['an unknown algorithm', { algorithm: 'A512GCM' as 'A256GCM' }, 'options.algorithm', /A256GCM, A192GCM, A128GCM/],
    ['an unknown ARC_APP_SECRET_ALGO', { env: { ARC_APP_SECRET_ALGO: 'RSA-OAEP' } }, 'ARC_APP_SECRET_ALGO', /A256GCM/],
    ['a table name that is too short', { table: 'ab' }, 'options.table', /DynamoDB table name.*'jwe'/],
    ['a table name with a slash', { table: 'my/sessions' }, 'options.table', /DynamoDB table name/],
    ['an ARC_SESSION_TABLE_NAME with spaces', { env: { ARC_SESSION_TABLE_NAME: 'my sessions' } }, 'ARC_SESSION_TABLE_NAME', /DynamoDB table name/],
    ['a SESSION_TABLE_NAME with spaces', { env: { SESSION_TABLE_NAME: 'my sessions' } }, 'SESSION_TABLE_NAME', /DynamoDB table name/]
  ])('%s', (_what, options, setting, fix) => {
    const error = configErrorOf({ secret: SECRET, env: {}, ...options })
    expect(error.message).toContain(setting)
    expect(error.message).toMatch(fix)
    expect(error.setting).toBe(setting)
  })

  test('too many secrets', () => {
    const secrets = Array.from({ length: 9 }, (_, i) => `${SECRET}-${i}`)
    const error = configErrorOf({ secret: secrets, env: {} })
    expect(error.message).toMatch(/secret/)
    expect(error.message).toMatch(/at most 8.*retire the oldest/)
  })

  test('too many secrets from ARC_APP_SECRET_PREVIOUS', () => {
    const previous = Array.from({ length: 8 }, (_, i) => `${SECRET}-${i}`).join(',')
    const error = configErrorOf({ env: { ARC_APP_SECRET: SECRET, ARC_APP_SECRET_PREVIOUS: previous } })
    expect(error.message).toContain('ARC_APP_SECRET')
    expect(error.message).toMatch(/at most 8/)
  })

  test.each<[string, 'A256GCM' | 'A192GCM' | 'A128GCM', number]>([
    ['A256GCM', 'A256GCM', 32],
    ['A192GCM', 'A192GCM', 24],
    ['A128GCM', 'A128GCM', 16]
  ])('a secret shorter than %s\'s key is refused, one of exactly its length is fine', (_name, algorithm, bytes) => {
    const short = 'k'.repeat(bytes - 1)
    const error = configErrorOf({ secret: short, algorithm, env: {} })
    expect(error.message).toContain('options.secret')
    expect(error.message).toContain(`${bytes} bytes`)
    expect(error.message).toMatch(/Make one with/)
    expect(() => arcSession({ secret: 'k'.repeat(bytes), algorithm, env: {} })).not.toThrow()
  })

  test('arc\'s public fallbacks are accepted as previous secrets, to move their sessions over, with one warning that names the setting', async () => {
    const publicKey = '12345678901234567890123456789012'
    const warnings = await emittedWarnings(() => {
      for (let i = 0; i < 2; i++) expect(() => arcSession({ secret: [SECRET, publicKey], env: {} })).not.toThrow()
      expect(() => arcSession({ secret: [SECRET, publicKey, 'fallback'], table: 'sessions', dynamodb: { region: 'us-east-1' }, env: {} })).not.toThrow()
      expect(() => arcSession({ env: { ARC_APP_SECRET: SECRET, ARC_APP_SECRET_PREVIOUS: publicKey } })).not.toThrow()
    })
    for (const [index, why] of [[1, /public default JWE key/], [2, /fallback signing secret/]] as const) {
      const said = warnings.filter(warning => warning.message.includes(`options.secret[${index}]`))
      expect(said).toHaveLength(1)
      expect(said[0]?.message).toMatch(why)
      expect(said[0]?.message).toMatch(/re-issued/)
    }
  })

  test('a short ARC_APP_SECRET is refused, naming the variable', () => {
    const error = configErrorOf({ env: { ARC_APP_SECRET: 'too-short' } })
    expect(error.message).toContain('ARC_APP_SECRET')
    expect(error.message).toContain('32 bytes')
  })

  test.each<[string, ArcSessionOptions, string]>([
    ['as an option', { secret: '12345678901234567890123456789012', env: {} }, 'options.secret'],
    ['as ARC_APP_SECRET', { env: { ARC_APP_SECRET: '12345678901234567890123456789012' } }, 'ARC_APP_SECRET'],
    ['as the current of several secrets', { secret: ['12345678901234567890123456789012', SECRET], env: {} }, 'options.secret[0]'],
    ['with the DynamoDB store', { secret: '12345678901234567890123456789012', table: 'sessions', dynamodb: { region: 'us-east-1' }, env: {} }, 'options.secret']
  ])('arc\'s public default key is refused %s', (_how, options, setting) => {
    const error = configErrorOf(options)
    expect(error.message).toContain(setting)
    expect(error.message).toMatch(/public default JWE key/)
    expect(error.message).toMatch(/forge/)
  })

  test.each<[string, ArcSessionOptions, string, RegExp]>([
    ['"fallback"', { secret: 'fallback', table: 'sessions', dynamodb: { region: 'us-east-1' }, env: {} }, 'options.secret', /fallback signing secret/],
    ['the app\'s name', { table: 'sessions', dynamodb: { region: 'us-east-1' }, env: { ARC_APP_NAME: 'my-arc-app', ARC_APP_SECRET: 'my-arc-app' } }, 'ARC_APP_SECRET', /ARC_APP_NAME/],
    ['a secret that starts with arc\'s public JWE key', { secret: '1234567890123456-and-then-something-else', env: {} }, 'options.secret', /public default JWE key/]
  ])('arc\'s other public fallbacks are refused as the current secret, outside production too: %s', (_what, options, setting, why) => {
    const error = configErrorOf(options)
    expect(error.message).toContain(setting)
    expect(error.message).toMatch(why)
    expect(error.message).toMatch(/forge/)
  })

  test.each<[string, Env]>([
    ['NODE_ENV=production', { NODE_ENV: 'production' }],
    ['ARC_ENV=production', { ARC_ENV: 'production' }],
    ['ARC_ENV=staging', { ARC_ENV: 'staging' }]
  ])('%s without a secret refuses to start, saying how to make one', (_name, env) => {
    for (const options of [{ env }, { env, table: 'sessions', dynamodb: { region: 'us-east-1' } }] as ArcSessionOptions[]) {
      const error = configErrorOf(options)
      expect(error.message).toContain('ARC_APP_SECRET')
      expect(error.message).toMatch(/production/)
      expect(error.message).toMatch(/Make one with/)
    }
  })

  test('in production, a short signing secret for the DynamoDB store is refused too', () => {
    const error = configErrorOf({ secret: 'short-but-not-empty', table: 'sessions', dynamodb: { region: 'us-east-1' }, env: { NODE_ENV: 'production' } })
    expect(error.message).toContain('options.secret')
    expect(error.message).toMatch(/32 bytes/)
  })

  test('no configuration error is left for the first request to find', async () => {
    // A middleware made without throwing serves requests: the check happened at creation.
    const app = express()
    app.use(arcSession({ secret: SECRET, env: { ARC_SESSION_TTL: '60', ARC_SESSION_SAME_SITE: 'Strict', ARC_SESSION_DOMAIN: 'example.com' } }))
    app.get('/', (req, res) => { req.session.a = 1; res.send('ok') })
    await request(app).get('/').expect(200)
  })

  test('error messages and their inspection never contain the secret', () => {
    const secret = 'S3cr3t-value-that-must-never-leak-0123456789'
    const cases: ArcSessionOptions[] = [
      { secret, ttl: -1, env: {} },
      { secret, algorithm: 'nope' as 'A256GCM', env: {} },
      { secret: [secret, ...Array.from({ length: 8 }, (_, i) => `${secret}${i}`)], env: {} },
      { secret: secret.slice(0, 20), env: {} },
      { secret: [secret, secret.slice(0, 10)], env: {} },
      { env: { ARC_APP_SECRET: secret.slice(0, 12), NODE_ENV: 'production' } },
      { env: { ARC_APP_SECRET: secret, ARC_SESSION_TABLE_NAME: 'bad name!' } },
      { secret: `1234567890123456${secret}`, env: {} }
    ]
    for (const options of cases) {
      const error = configErrorOf(options)
      for (const text of [error.message, error.stack ?? '', inspect(error, { depth: 10 }), JSON.stringify(error)]) {
        expect(text).not.toContain(secret.slice(0, 10))
      }
    }
  })
})

describe('no secret outside production', () => {
  const folders: string[] = []
  /** A fresh, empty folder for the development key: each test makes its own key. */
  const keyFolder = async (): Promise<string> => {
    const folder = await mkdtemp(join(tmpdir(), 'arc-session-config-key-'))
    folders.push(folder)
    return folder
  }
  afterAll(async () => {
    await Promise.all(folders.splice(0).map(async folder => { await rm(folder, { recursive: true, force: true }) }))
  })

  // First: a warning is said once per process, so after the tests below it could no longer be seen.
  test('no warning when a secret is given', async () => {
    const warnings = await warningsOf(() => {
      jest.isolateModules(() => {
        const fresh = require('arc-session') as typeof import('arc-session')
        fresh.arcSession({ secret: SECRET, env: {} })
        fresh.arcSession({ env: { ARC_APP_SECRET: SECRET } })
      })
    })
    expect(warnings).not.toContain('ARC_SESSION_EPHEMERAL_KEY')
    expect(warnings).not.toContain('ARC_SESSION_DEVELOPMENT_KEY')
  })

  test('works with the development key file and warns exactly once, however many apps are made and the module loaded', async () => {
    const dev = { ARC_SESSION_DEV_KEY_DIR: await keyFolder() }
    const warnings = await warningsOf(() => {
      for (let load = 0; load < 2; load++) {
        jest.isolateModules(() => {
          const fresh = require('arc-session') as typeof import('arc-session')
          for (let i = 0; i < 3; i++) fresh.arcSession({ env: dev, cookie: { secure: false } })
          fresh.arcSession({ env: { ...dev, NODE_ENV: 'development' }, table: 'jwe' })
          fresh.arcSession({ env: { ...dev, ARC_ENV: 'testing' }, algorithm: 'A128GCM' })
        })
      }
    })
    expect(warnings.filter(code => code === 'ARC_SESSION_DEVELOPMENT_KEY')).toHaveLength(1)
    expect(warnings).not.toContain('ARC_SESSION_EPHEMERAL_KEY')
  })

  test('the development key is shared by every app and by the next start; another key folder holds another key', async () => {
    const dev = { ARC_SESSION_DEV_KEY_DIR: await keyFolder() }
    const elsewhere = { ARC_SESSION_DEV_KEY_DIR: await keyFolder() }
    let first: typeof import('arc-session') | undefined
    let restarted: typeof import('arc-session') | undefined
    await warningsOf(() => {
      jest.isolateModules(() => { first = require('arc-session') })
      jest.isolateModules(() => { restarted = require('arc-session') })
    })
    const appWith = (lib: typeof import('arc-session'), env: Env) => {
      const app = express()
      app.use(lib.arcSession({ env, cookie: { secure: false } }))
      app.get('/write', (req, res) => { req.session.n = 42; res.send('ok') })
      app.get('/read', (req, res) => { res.json(req.session) })
      return app
    }
    const written = await request(appWith(first!, dev)).get('/write').expect(200)
    const cookie = sessionCookies(written)[0]!
    const pair = `${cookie.name}=${cookie.value}`
    expect((await request(appWith(first!, dev)).get('/read').set('Cookie', pair).expect(200)).body).toEqual({ n: 42 })
    expect((await request(appWith(restarted!, dev)).get('/read').set('Cookie', pair).expect(200)).body).toEqual({ n: 42 })
    expect((await request(appWith(restarted!, elsewhere)).get('/read').set('Cookie', pair).expect(200)).body).toEqual({})
  })
})

describe('options win over the environment', () => {
  test('ttl, sameSite and domain options beat ARC_SESSION_TTL, ARC_SESSION_SAME_SITE and ARC_SESSION_DOMAIN', async () => {
    const env = { ARC_SESSION_TTL: '100', ARC_SESSION_SAME_SITE: 'strict', ARC_SESSION_DOMAIN: 'env.example.com' }
    const fromEnv = await firstCookie({ secret: SECRET, env })
    expect(fromEnv.attributes).toMatchObject({ 'max-age': '100', samesite: 'Strict', domain: 'env.example.com' })
    const fromOptions = await firstCookie({ secret: SECRET, env, ttl: 200, cookie: { sameSite: 'lax', domain: 'option.example.com' } })
    expect(fromOptions.attributes).toMatchObject({ 'max-age': '200', samesite: 'Lax', domain: 'option.example.com' })
  })

  test('the secret option beats ARC_APP_SECRET', async () => {
    const optionSecret = `${SECRET}-option`
    const written = await firstCookie({ secret: optionSecret, env: { ARC_APP_SECRET: `${SECRET}-environment` } })
    const app = express()
    app.use(arcSession({ secret: optionSecret, env: { ARC_APP_SECRET: 'a-completely-different-secret-0123456789' } }))
    app.get('/', (req, res) => { res.json(req.session) })
    expect((await request(app).get('/').set('Cookie', `_idx=${written.value}`)).body).toEqual({ hello: 'world' })
  })

  test('table: \'jwe\' beats a table name in ARC_SESSION_TABLE_NAME', async () => {
    const cookie = await firstCookie({ secret: SECRET, table: 'jwe', env: { ARC_SESSION_TABLE_NAME: 'sessions' } })
    expect(cookie.store).toBe('jwe')
  })

  test('ARC_SESSION_TTL wins over SESSION_TTL, and SESSION_TTL is read when it is alone', async () => {
    expect((await firstCookie({ secret: SECRET, env: { ARC_SESSION_TTL: '300', SESSION_TTL: '400' } })).attributes['max-age']).toBe('300')
    expect((await firstCookie({ secret: SECRET, env: { SESSION_TTL: '400' } })).attributes['max-age']).toBe('400')
  })
})

describe('store selection from the environment', () => {
  let client: DynamoDBClient | undefined
  const table = `config-${process.pid}-${Date.now().toString(36)}`
  beforeAll(async () => {
    client = new DynamoDBClient({ region: 'us-east-1', endpoint: process.env.DYNAMODB_TEST_ENDPOINT as string })
    await createTable(table, { client })
  })
  afterAll(() => { client?.destroy() })

  test.each<[string, Env]>([
    ['ARC_SESSION_TABLE_NAME=jwe', { ARC_SESSION_TABLE_NAME: 'jwe' }],
    ['SESSION_TABLE_NAME=jwe', { SESSION_TABLE_NAME: 'jwe' }],
    ['no table variable', {}]
  ])('%s selects the cookie store', async (_name, env) => {
    const cookie = await firstCookie({ secret: SECRET, env })
    expect(cookie.store).toBe('jwe')
    expect(cookie.value.split('.')).toHaveLength(5)
  })

  test.each(['ARC_SESSION_TABLE_NAME', 'SESSION_TABLE_NAME'])('a table name in %s selects DynamoDB', async variable => {
    const cookie = await firstCookie({ secret: SECRET, env: { [variable]: table }, dynamodb: { client: client as DynamoDBClient } })
    expect(cookie.store).toBe('dynamodb')
    // The cookie holds a signed id, not the data.
    expect(decodeURIComponent(cookie.value)).toMatch(/^[A-Za-z0-9_-]{24}\.[A-Za-z0-9+/]{43}$/)
  })

  test('DynamoDB with no client and no region says so up front', () => {
    const error = configErrorOf({ secret: SECRET, env: { ARC_SESSION_TABLE_NAME: 'sessions', AWS_CONFIG_FILE: '/nonexistent/aws-config' } })
    expect(error.message).toContain('AWS_REGION')
  })
})

describe('cookie attributes', () => {
  test.each<[string, ArcSessionOptions, boolean]>([
    ['no environment at all (arc: Secure unless ARC_ENV=testing)', { env: {} }, true],
    ['NODE_ENV=test', { env: { NODE_ENV: 'test' } }, false],
    ['ARC_ENV=testing', { env: { ARC_ENV: 'testing' } }, false],
    ['ARC_ENV=testing even with NODE_ENV=production', { env: { ARC_ENV: 'testing', NODE_ENV: 'production' } }, false],
    ['NODE_ENV=development', { env: { NODE_ENV: 'development' } }, false],
    ['NODE_ENV=production', { env: { NODE_ENV: 'production' } }, true],
    ['ARC_ENV=staging', { env: { ARC_ENV: 'staging' } }, true],
    ['ARC_ENV=production', { env: { ARC_ENV: 'production' } }, true],
    ['secure: true where it would be off', { env: {}, cookie: { secure: true } }, true],
    ['secure: false in production', { env: { NODE_ENV: 'production' }, cookie: { secure: false } }, false],
    ['sameSite none, where Secure would be off', { env: { ARC_ENV: 'testing' }, cookie: { sameSite: 'none' } }, true],
    ['ARC_SESSION_SAME_SITE=none, where Secure would be off', { env: { ARC_ENV: 'testing', ARC_SESSION_SAME_SITE: 'none' } }, true]
  ])('Secure with %s: %s', async (_name, options, secure) => {
    const cookie = await firstCookie({ secret: SECRET, ...options })
    expect(cookie.attributes.secure === true).toBe(secure)
    expect(cookie.attributes.httponly).toBe(true)
  })

  test.each<[string, Env, Record<string, string>]>([
    ['ARC_SESSION_DOMAIN', { ARC_SESSION_DOMAIN: 'arc.example.com' }, { domain: 'arc.example.com' }],
    ['SESSION_DOMAIN', { SESSION_DOMAIN: 'legacy.example.com' }, { domain: 'legacy.example.com' }],
    ['ARC_SESSION_DOMAIN over SESSION_DOMAIN', { ARC_SESSION_DOMAIN: 'arc.example.com', SESSION_DOMAIN: 'legacy.example.com' }, { domain: 'arc.example.com' }],
    ['ARC_SESSION_SAME_SITE=strict', { ARC_SESSION_SAME_SITE: 'strict' }, { samesite: 'Strict' }],
    ['ARC_SESSION_SAME_SITE=Lax (any case)', { ARC_SESSION_SAME_SITE: 'Lax' }, { samesite: 'Lax' }],
    ['ARC_SESSION_SAME_SITE=none', { ARC_SESSION_SAME_SITE: 'none' }, { samesite: 'None', secure: 'yes' }],
    ['no settings: lax, path /, no domain', {}, { samesite: 'Lax', path: '/' }]
  ])('%s appears in the Set-Cookie', async (_name, env, expected) => {
    const cookie = await firstCookie({ secret: SECRET, env })
    const seen: Record<string, string> = {}
    for (const name of Object.keys(expected)) {
      const value = cookie.attributes[name]
      seen[name] = value === true ? 'yes' : String(value)
    }
    expect(seen).toEqual(expected)
    if (expected.domain === undefined) expect(cookie.attributes.domain).toBeUndefined()
  })

  test('an explicit cookie name and path are used', async () => {
    const app = express()
    app.use(arcSession({ secret: SECRET, env: {}, cookie: { name: 'sid', path: '/app' } }))
    app.get('/app', (req, res) => { req.session.a = 1; res.send('ok') })
    const response = await request(app).get('/app').expect(200)
    const cookies = (response.headers['set-cookie'] as unknown as string[]).map(parseSetCookie)
    expect(cookies.map(cookie => [cookie.name, cookie.attributes.path])).toEqual([['sid', '/app']])
  })
})
