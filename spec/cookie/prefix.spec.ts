/**
 * Cookie-name prefixes and CHIPS (finding 6). Browsers silently drop a `__Host-` cookie that has
 * a Domain, a Path other than `/` or no Secure, and a `__Secure-` cookie without Secure, matching
 * the prefix without regard to case: the session would never stick, with no error anywhere.
 * arcSession() now refuses such a configuration at once with a ConfigError naming
 * options.cookie.name and saying what to change. `cookie.partitioned` adds `; Partitioned` to
 * every Set-Cookie, expired ones included, and needs Secure.
 */
import express from 'express'
import request from 'supertest'
import { arcSession, ConfigError, type ArcSessionOptions } from 'arc-session'
import { SECRET, isExpired, parseSetCookie, setCookiesIn, type ParsedCookie, blobText } from '../support/apps'
import { configErrorOf } from '../support/config-error'

function options (cookie: ArcSessionOptions['cookie'], extra: ArcSessionOptions = {}): ArcSessionOptions {
  return { secret: SECRET, env: {}, ...extra, cookie }
}


function appWith (opts: ArcSessionOptions): express.Express {
  const app = express()
  app.use(arcSession(opts))
  app.get('/', (req, res) => { res.json({ size: typeof req.session.blob === 'string' ? req.session.blob.length : 0 }) })
  app.get('/fill/:size', (req, res) => { req.session.blob = blobText(Number(req.params.size)); res.json({ ok: true }) })
  app.get('/logout', (req, res, next) => { req.session.destroy().then(() => { res.json({}) }, next) })
  return app
}

function cookiesOf (res: { headers: Record<string, unknown> }): ParsedCookie[] {
  return setCookiesIn(res.headers).map(parseSetCookie)
}

function header (cookies: readonly ParsedCookie[]): string {
  return cookies.filter(cookie => !isExpired(cookie)).map(cookie => cookie.pair).join('; ')
}

describe('__Host- and __Secure- names', () => {
  test.each<[string, ArcSessionOptions, RegExp]>([
    ['__Host- with a domain', options({ name: '__Host-sid', secure: true, domain: 'example.com' }), /Domain/],
    ['__Host- with a domain from ARC_SESSION_DOMAIN', options({ name: '__Host-sid', secure: true }, { env: { ARC_SESSION_DOMAIN: 'example.com' } }), /Domain/],
    ['__Host- with path /app', options({ name: '__Host-sid', secure: true, path: '/app' }), /Path=\//],
    ['__Host- with secure: false', options({ name: '__Host-sid', secure: false }), /Secure/],
    ['__Host- without Secure by default (NODE_ENV=development)', options({ name: '__Host-sid' }, { env: { NODE_ENV: 'development' } }), /Secure/],
    ['__Host- without Secure by default (ARC_ENV=testing)', options({ name: '__Host-sid' }, { env: { ARC_ENV: 'testing' } }), /Secure/],
    ['__Secure- with secure: false', options({ name: '__Secure-sid', secure: false }), /Secure/],
    ['__Secure- without Secure by default (NODE_ENV=development)', options({ name: '__Secure-sid' }, { env: { NODE_ENV: 'development' } }), /Secure/],
    ['lower case __host-x with secure: false', options({ name: '__host-x', secure: false }), /Secure/],
    ['lower case __host-x with a domain', options({ name: '__host-x', secure: true, domain: 'example.com' }), /Domain/],
    ['upper case __SECURE-x with secure: false', options({ name: '__SECURE-x', secure: false }), /Secure/],
    ['the DynamoDB store too: __Host- with secure: false', options({ name: '__Host-sid', secure: false }, { table: 'sessions', dynamodb: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1' } }), /Secure/]
  ])('%s: a ConfigError at arcSession() naming options.cookie.name and what to fix', (_name, opts, fix) => {
    const error = configErrorOf(opts)
    expect(error.setting).toBe('options.cookie.name')
    expect(error.code).toBe('ARC_SESSION_CONFIG')
    expect(error.message).toMatch(fix)
    expect(error.message).toMatch(/cookie\.(secure|domain|path)/)
  })

  test('a __Host- name that follows the rules works, chunks included, and each of its cookies keeps the rules', async () => {
    // Refused when it breaks them (see above); accepted as browsers accept it.
    expect(() => arcSession(options({ name: '__Host-sid', secure: false }))).toThrow(ConfigError)
    const app = appWith(options({ name: '__Host-sid', secure: true }))

    const small = cookiesOf(await request(app).get('/fill/100').expect(200))
    expect(small.map(cookie => cookie.name)).toEqual(['__Host-sid'])
    const big = cookiesOf(await request(app).get('/fill/8000').expect(200))
    expect(big.map(cookie => cookie.name)).toEqual(['__Host-sid.0', '__Host-sid.1', '__Host-sid.2'])
    for (const cookie of [...small, ...big]) {
      expect(cookie.attributes.secure).toBe(true)
      expect(cookie.attributes.path).toBe('/')
      expect(cookie.attributes.domain).toBeUndefined()
    }
    await request(app).get('/').set('Cookie', header(small)).expect(200, { size: 100 })
    await request(app).get('/').set('Cookie', header(big)).expect(200, { size: 8000 })
  })
})

describe('cookie.partitioned', () => {
  test('adds `; Partitioned` to every Set-Cookie: the cookie, its chunks, and the ones that expire', async () => {
    const app = appWith(options({ partitioned: true, secure: true }))
    const all: ParsedCookie[] = []

    const small = cookiesOf(await request(app).get('/fill/100').expect(200))
    all.push(...small)
    // Growing into chunks expires the single cookie.
    const big = cookiesOf(await request(app).get('/fill/8000').set('Cookie', header(small)).expect(200))
    all.push(...big)
    expect(big.filter(isExpired).map(cookie => cookie.name)).toEqual(['_idx'])
    // Logging out expires every chunk.
    const out = cookiesOf(await request(app).get('/logout').set('Cookie', header(big)).expect(200))
    all.push(...out)
    expect(out.filter(isExpired).map(cookie => cookie.name).sort()).toEqual(['_idx.0', '_idx.1', '_idx.2'])
    // A refused cookie is expired too.
    const refused = cookiesOf(await request(app).get('/').set('Cookie', '_idx=garbage').expect(200))
    all.push(...refused)
    expect(refused.map(cookie => [cookie.name, isExpired(cookie)])).toEqual([['_idx', true]])

    expect(all.length).toBeGreaterThanOrEqual(9)
    for (const cookie of all) {
      expect({ cookie: cookie.raw, partitioned: cookie.attributes.partitioned }).toEqual({ cookie: cookie.raw, partitioned: true })
      expect(cookie.attributes.secure).toBe(true)
    }
    // And the session reads back.
    await request(app).get('/').set('Cookie', header(big)).expect(200, { size: 8000 })
  })

  test('needs Secure: partitioned with secure: false is a ConfigError; without secure it is Secure even in development', async () => {
    const error = configErrorOf(options({ partitioned: true, secure: false }))
    expect(error.setting).toBe('options.cookie.secure')
    expect(error.message).toMatch(/Partitioned/)

    const app = appWith(options({ partitioned: true }, { env: { NODE_ENV: 'development' } }))
    const cookies = cookiesOf(await request(app).get('/fill/100').expect(200))
    expect(cookies).toHaveLength(1)
    expect(cookies[0]?.attributes.secure).toBe(true)
    expect(cookies[0]?.attributes.partitioned).toBe(true)
  })
})
