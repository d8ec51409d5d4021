/**
 * arc's public fallbacks (finding 7): the DynamoDB signing secret arc uses when ARC_APP_SECRET is
 * unset ('fallback', or the value of ARC_APP_NAME) and its public default JWE key
 * ('12345678901234567890123456789012', or any secret that starts with its first 16 bytes, which
 * makes the same AES-128 key). Anyone can forge sessions with them, so:
 *
 * - as the CURRENT secret they are a ConfigError naming the setting, in every environment;
 * - in the previous list (options.secret[1..], ARC_APP_SECRET_PREVIOUS) they are accepted, with a
 *   process warning, only to verify existing cookies;
 * - a session opened with one is re-issued at once under the current secret with a new identity
 *   (DynamoDB: a new id, the old item deleted; JWE: a token the public key cannot open).
 *
 * Nothing is ever signed or sealed with a public secret.
 */
import express from 'express'
import request from 'supertest'
import { arcSession, type ArcSessionOptions } from 'arc-session'
import { configErrorOf } from '../support/config-error'
import { getItem, makeTable, newClient, putItem, randomId, setCookies, signId } from '../support/dynamo-helpers'
import { SECRET, captureRejects, cookieValue, nowSeconds, openToken, rawKey, sealClaims } from '../support/tokens'

const PUBLIC_JWE_KEY = '12345678901234567890123456789012'
const WARNINGS = Symbol.for('arc-session.warnings')

let table: string
let emitWarning: jest.SpyInstance

beforeAll(async () => {
  table = await makeTable('fallbacks')
})

beforeEach(() => {
  delete (process as unknown as Record<symbol, unknown>)[WARNINGS]
  emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
})

afterEach(() => {
  emitWarning.mockRestore()
})

/** DynamoDB store options; the table is looked up when the options are made (the config-only cases never reach it). */
function dynamo (extra: ArcSessionOptions, tableName = 'config-only-table'): ArcSessionOptions {
  return { env: {}, table: tableName, dynamodb: { client: newClient() }, cookie: { secure: false }, ...extra }
}

/** The warnings arc-session emitted: [message, code]. */
function warnings (): Array<[string, string | undefined]> {
  return emitWarning.mock.calls.map(([message, options]) => [String(message), typeof options === 'object' && options !== null ? (options as { code?: string }).code : undefined])
}

describe('as the current secret: a ConfigError naming the setting, in every environment', () => {
  test.each<[string, ArcSessionOptions, string]>([
    ['options.secret \'fallback\' (DynamoDB, no NODE_ENV)', dynamo({ secret: 'fallback' }), 'options.secret'],
    ['options.secret \'fallback\' (DynamoDB, NODE_ENV=development)', dynamo({ secret: 'fallback', env: { NODE_ENV: 'development' } }), 'options.secret'],
    ['options.secret[0] \'fallback\' with a real secret after it', dynamo({ secret: ['fallback', 'a-real-secret-0123456789-abcdefghijkl'] }), 'options.secret[0]'],
    ['ARC_APP_SECRET=fallback', dynamo({ env: { ARC_APP_SECRET: 'fallback' } }), 'ARC_APP_SECRET'],
    ['ARC_APP_SECRET equal to ARC_APP_NAME', dynamo({ env: { ARC_APP_NAME: 'my-arc-app', ARC_APP_SECRET: 'my-arc-app' } }), 'ARC_APP_SECRET'],
    ['options.secret equal to ARC_APP_NAME', dynamo({ secret: 'my-arc-app', env: { ARC_APP_NAME: 'my-arc-app', NODE_ENV: 'test' } }), 'options.secret']
  ])('%s', (_name, options, setting) => {
    const error = configErrorOf(options)
    expect(error.setting).toBe(setting)
    expect(error.message).toMatch(/forge/)
    expect(error.message).not.toMatch(/my-arc-app/)
  })

  test('arc\'s public JWE key (and any secret starting with its first 16 bytes): refused as current, accepted in the previous list with a warning', () => {
    for (const secret of [PUBLIC_JWE_KEY, '1234567890123456-my-own-suffix-abcdefgh']) {
      expect(configErrorOf({ secret, env: {} }).setting).toBe('options.secret')
      expect(configErrorOf(dynamo({ secret })).setting).toBe('options.secret')
      expect(configErrorOf({ env: { ARC_APP_SECRET: secret } }).setting).toBe('ARC_APP_SECRET')
    }
    expect(() => arcSession({ secret: [SECRET, PUBLIC_JWE_KEY], env: {} })).not.toThrow()
    expect(() => arcSession({ env: { ARC_APP_SECRET: SECRET, ARC_APP_SECRET_PREVIOUS: PUBLIC_JWE_KEY } })).not.toThrow()
    expect(warnings().map(([, code]) => code)).toContain('ARC_SESSION_PUBLIC_SECRET_1')
  })
})

describe('in the previous list: accepted, with a process warning', () => {
  test.each<[string, ArcSessionOptions, string]>([
    ['options.secret[1] \'fallback\'', dynamo({ secret: [SECRET, 'fallback'] }), 'options.secret[1]'],
    ['ARC_APP_SECRET_PREVIOUS=fallback', dynamo({ env: { ARC_APP_SECRET: SECRET, ARC_APP_SECRET_PREVIOUS: 'fallback' } }), 'ARC_APP_SECRET_PREVIOUS[0]'],
    ['ARC_APP_SECRET_PREVIOUS=<ARC_APP_NAME>', dynamo({ env: { ARC_APP_NAME: 'my-arc-app', ARC_APP_SECRET: SECRET, ARC_APP_SECRET_PREVIOUS: 'my-arc-app' } }), 'ARC_APP_SECRET_PREVIOUS[0]'],
    ['options.secret[1] arc\'s public JWE key (cookie store)', { secret: [SECRET, PUBLIC_JWE_KEY], env: {} }, 'options.secret[1]']
  ])('%s', (_name, options, setting) => {
    expect(() => arcSession(options)).not.toThrow()
    const said = warnings().filter(([, code]) => code === 'ARC_SESSION_PUBLIC_SECRET_1')
    expect(said).toHaveLength(1)
    expect(said[0]?.[0]).toContain(setting)
    expect(said[0]?.[0]).toMatch(/forge/)
  })
})

describe('a session opened with a public secret is re-issued at once under the current one, with a new identity', () => {
  function appFor (options: ArcSessionOptions): { app: express.Express, ids: string[], rejects: ReturnType<typeof captureRejects> } {
    const ids: string[] = []
    const rejects = captureRejects()
    const app = express()
    app.use(arcSession({ ...options, onReject: rejects.onReject }))
    // Read-only: the route changes nothing, the migration alone re-issues.
    app.get('/', (req, res) => { ids.push(req.session.id); res.json(req.session) })
    return { app, ids, rejects }
  }

  test.each<[string, string, ArcSessionOptions]>([
    ['signed with \'fallback\' (options.secret[1])', 'fallback', { secret: [SECRET, 'fallback'] }],
    ['signed with ARC_APP_NAME (ARC_APP_SECRET_PREVIOUS)', 'my-arc-app',
      { env: { ARC_APP_NAME: 'my-arc-app', ARC_APP_SECRET: SECRET, ARC_APP_SECRET_PREVIOUS: 'my-arc-app' } }]
  ])('DynamoDB, %s: a new id signed with the current secret, the old item deleted', async (_name, publicSecret, extra) => {
    const options = dynamo(extra, table)
    const client = newClient()
    const oldId = randomId()
    const now = nowSeconds()
    await putItem(client, table, {
      _idx: { S: oldId }, _secret: { S: randomId() }, _ttl: { N: String(now + 3600) }, user: { S: 'alice' }, cart: { L: [{ S: 'book' }] }
    })
    const { app, rejects } = appFor(options)
    const res = await request(app).get('/').set('Cookie', `_idx=${encodeURIComponent(signId(oldId, publicSecret))}`).expect(200)
    expect(res.body).toEqual({ user: 'alice', cart: ['book'] })
    expect(rejects.reasons).toEqual([])

    const value = cookieValue(setCookies(res))
    expect(value).toBeDefined()
    const signed = decodeURIComponent(value as string)
    const newId = signed.slice(0, signed.lastIndexOf('.'))
    expect(newId).not.toBe(oldId)
    expect(signed).toBe(signId(newId, SECRET))
    expect(signed).not.toBe(signId(newId, publicSecret))
    expect(await getItem(client, table, oldId)).toBeUndefined()
    const item = await getItem(client, table, newId)
    expect(item?.user).toEqual({ S: 'alice' })
    expect(item?.cart).toEqual({ L: [{ S: 'book' }] })

    // The new cookie works, and is not re-issued again.
    const next = await request(app).get('/').set('Cookie', `_idx=${value as string}`).expect(200)
    expect(next.body).toEqual({ user: 'alice', cart: ['book'] })
    expect(cookieValue(setCookies(next))).toBeUndefined()
  })

  test('JWE, sealed with arc\'s public key: re-sealed with the current key, which the public key cannot open, with a new session id', async () => {
    const oldSid = 'AAAAAAAAAAAAAAAAAAAAAA'
    const token = sealClaims(PUBLIC_JWE_KEY, 'A256GCM', { user: 'alice', _sid: oldSid, iat: nowSeconds() })
    const { app, ids, rejects } = appFor({ secret: [SECRET, PUBLIC_JWE_KEY], env: {}, cookie: { secure: false } })
    const res = await request(app).get('/').set('Cookie', `_idx=${token}`).expect(200)
    expect(res.body).toEqual({ user: 'alice' })
    expect(rejects.reasons).toEqual([])

    const fresh = cookieValue(setCookies(res))
    expect(fresh).toBeDefined()
    expect(fresh).not.toBe(token)
    expect(openToken(fresh as string, rawKey(PUBLIC_JWE_KEY, 'A256GCM'))).toBeUndefined()
    expect(openToken(fresh as string, rawKey(PUBLIC_JWE_KEY, 'A128GCM'))).toBeUndefined()
    const opened = JSON.parse(openToken(fresh as string, rawKey(SECRET, 'A256GCM')) ?? 'null') as Record<string, unknown> | null
    expect(opened?.user).toBe('alice')
    expect(opened?._sid).not.toBe(oldSid)
    expect(ids[0]).not.toBe(oldSid)

    const next = await request(app).get('/').set('Cookie', `_idx=${fresh as string}`).expect(200)
    expect(next.body).toEqual({ user: 'alice' })
    expect(ids[1]).toBe(ids[0])
    expect(cookieValue(setCookies(next))).toBeUndefined()
  })
})
