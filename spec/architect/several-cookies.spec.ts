import express from 'express'
import request from 'supertest'
import { arcSession, type ArcSessionMiddleware } from 'arc-session'
import { SECRET, makeTable, newClient } from '../support/dynamo-helpers'

/**
 * README: "When several `_idx` cookies arrive (different paths, or a stale one), the last one that
 * verifies wins, as with arc". arc takes the last `_idx` whatever it holds, so `_idx=<valid>;
 * _idx=garbage` starts a new session there (arc-destroy-interop.spec.ts shows it); arc-session
 * keeps the valid one.
 */

const client = newClient()
afterAll(() => { client.destroy() })

function pairOf (setCookie: string): string {
  return setCookie.split(';')[0] as string
}

function plain (value: object): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>
}

/** The cookie value with its last character changed: well-formed, but it no longer verifies. */
function tampered (pair: string): string {
  const last = pair.slice(-1)
  return `${pair.slice(0, -1)}${last === 'A' ? 'B' : 'A'}`
}

function app (sessions: ArcSessionMiddleware): express.Express {
  const server = express()
  server.use(sessions)
  server.get('/', (req, res) => { res.json(req.session) })
  return server
}

const STORES: ReadonlyArray<readonly [string, () => Promise<ArcSessionMiddleware>]> = [
  ['the cookie store (JWE)', async () => arcSession({ env: {}, secret: SECRET, cookie: { secure: false } })],
  ['the DynamoDB store', async () => arcSession({ env: {}, secret: SECRET, table: await makeTable('several'), dynamodb: { client }, cookie: { secure: false } })]
]

describe.each(STORES)('%s', (_name, make) => {
  let sessions: ArcSessionMiddleware
  let valid: string
  let other: string
  beforeAll(async () => {
    sessions = await make()
    valid = pairOf(await sessions.write({ who: 'valid' }))
    other = pairOf(await sessions.write({ who: 'other' }))
  })

  it.each([
    ['`_idx=<valid>; _idx=garbage`', () => `${valid}; _idx=garbage`],
    ['`_idx=garbage; _idx=<valid>`', () => `_idx=garbage; ${valid}`],
    ['`_idx=<valid>; _idx=<tampered>`', () => `${valid}; ${tampered(other)}`],
    ['`_idx=<valid>; _idx=; _idx=%zz`', () => `${valid}; _idx=; _idx=%zz`],
    ['other cookies around them', () => `a=1; ${valid}; b=2; _idx=garbage; c=3`]
  ])('%s: the valid one is used, by read() and by the middleware', async (_case, header) => {
    expect(plain(await sessions.read({ headers: { cookie: header() } }))).toEqual({ who: 'valid' })
    expect(plain(await sessions.read({ cookies: header().split('; ') }))).toEqual({ who: 'valid' })
    await request(app(sessions)).get('/').set('Cookie', header()).expect(200, { who: 'valid' })
  })

  it('of two that verify, the last wins', async () => {
    expect(plain(await sessions.read({ headers: { cookie: `${valid}; ${other}` } }))).toEqual({ who: 'other' })
    expect(plain(await sessions.read({ headers: { cookie: `${other}; ${valid}` } }))).toEqual({ who: 'valid' })
  })
})
