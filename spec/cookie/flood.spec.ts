/**
 * Percent-escape CPU flood (finding 1). A Cookie header of thousands of `_idx=%` (or `_idx=%ZZ`,
 * or `_idx.3=%` chunk cookies) once cost one decodeURIComponent call, and one thrown URIError,
 * per cookie. Now only the values that are kept (the last 4 `_idx` values, at most 10 chunk
 * values) are ever decoded, and a malformed escape is left as it is: the request is an ordinary
 * 200 with an empty session, on both stores.
 *
 * Work is counted (calls to decodeURIComponent), never timed. The headers are ~16 KB, so the
 * server is a node:http one with a larger maxHeaderSize than Node's default 16 KiB.
 */
import { createServer } from 'node:http'
import express from 'express'
import request from 'supertest'
import { arcSession, type ArcSessionOptions } from 'arc-session'
import { SECRET, listen, setCookiesIn, isExpired, parseSetCookie, type Running } from '../support/apps'
import { captureRejects, plain } from '../support/tokens'
import { makeTable, newClient } from '../support/dynamo-helpers'

const JUNK = 2_300

type StoreName = 'JWE cookie store' | 'DynamoDB store'

let table: string
beforeAll(async () => {
  table = await makeTable('flood')
})

function optionsFor (store: StoreName, extra: ArcSessionOptions = {}): ArcSessionOptions {
  const base: ArcSessionOptions = { secret: SECRET, env: {}, cookie: { secure: false }, ...extra }
  return store === 'DynamoDB store' ? { ...base, table, dynamodb: { client: newClient() } } : base
}

interface FloodApp {
  readonly running: Running
  readonly rejects: ReturnType<typeof captureRejects>
}

const servers: Running[] = []
afterAll(async () => {
  await Promise.all(servers.map(async server => { await server.close() }))
})

async function floodApp (store: StoreName): Promise<FloodApp> {
  const rejects = captureRejects()
  const app = express()
  app.use(arcSession(optionsFor(store, { onReject: rejects.onReject })))
  app.get('/', (req, res) => { res.json(req.session) })
  app.get('/set', (req, res) => { req.session.user = 'alice'; res.json(req.session) })
  app.use(((error, _req, res, _next) => { res.status(500).json({ error: String((error as Error)?.message) }) }) as express.ErrorRequestHandler)
  const running = await listen(createServer({ maxHeaderSize: 256 * 1024 }, app))
  servers.push(running)
  return { running, rejects }
}

let decodeSpy: jest.SpyInstance
beforeEach(() => {
  decodeSpy = jest.spyOn(globalThis, 'decodeURIComponent')
})
afterEach(() => {
  decodeSpy.mockRestore()
})

/** decodeURIComponent calls made while `send` runs (the whole request: client, Express and arc-session). */
async function countDecodes<T> (send: () => Promise<T>): Promise<{ result: T, decodes: number }> {
  decodeSpy.mockClear()
  const result = await send()
  return { result, decodes: decodeSpy.mock.calls.length }
}

describe.each<StoreName>(['JWE cookie store', 'DynamoDB store'])('%s', store => {
  const floods: Array<[string, string]> = [
    ['`_idx=%` x2,300 (about 16 KB)', Array.from({ length: JUNK }, () => '_idx=%').join(';')],
    ['`_idx=%ZZ` x2,300', Array.from({ length: JUNK }, () => '_idx=%ZZ').join(';')],
    ['`_idx.3=%` chunk cookies x2,300', Array.from({ length: JUNK }, () => '_idx.3=%').join(';')],
    ['every chunk name, `_idx.N=%E0%A4%A` x1,200 in all', Array.from({ length: 1_200 }, (_, i) => `_idx.${i % 10}=%E0%A4%A`).join(';')]
  ]

  test.each(floods)('%s: 200, an empty session, a handful of decodeURIComponent calls at most', async (_name, header) => {
    expect(header.length).toBeLessThan(24_000)
    const { running, rejects } = await floodApp(store)
    const { result: res, decodes } = await countDecodes(async () => await request(running.url).get('/').set('Cookie', header))
    expect(res.status).toBe(200)
    expect(res.body).toEqual({})
    // Old code: one call (and one thrown URIError) per cookie, 2,300 here.
    expect(decodes).toBeLessThanOrEqual(10)
    // A refused cookie is reported once, and the browser is told to drop what it sent.
    expect(rejects.reasons.length).toBeLessThanOrEqual(1)
    for (const cookie of setCookiesIn(res.headers).map(parseSetCookie)) expect(isExpired(cookie)).toBe(true)
  })

  test('read() on an event with 2,300 `_idx=%`: {} and at most 4 decodeURIComponent calls', async () => {
    const header = Array.from({ length: JUNK }, () => '_idx=%').join('; ')
    const rejects = captureRejects()
    const sessions = arcSession(optionsFor(store, { onReject: rejects.onReject }))
    const { result: session, decodes } = await countDecodes(async () => await sessions.read({ headers: { cookie: header } }))
    expect(plain(session)).toEqual({})
    expect(decodes).toBeLessThanOrEqual(4)
    expect(rejects.reasons).toEqual(['malformed'])
  })

  test('read() on 2,300 sound but useless escapes (`_idx=%41`): only the last 4 values are decoded', async () => {
    const header = Array.from({ length: JUNK }, () => '_idx=%41').join('; ')
    const sessions = arcSession(optionsFor(store))
    const { decodes } = await countDecodes(async () => await sessions.read({ headers: { cookie: header } }))
    expect(decodes).toBeLessThanOrEqual(4)
  })

  test('read() on 2,300 sound escapes in chunk cookies (`_idx.N=%41`, every index): at most 10 values are decoded', async () => {
    const header = Array.from({ length: JUNK }, (_, i) => `_idx.${i % 10}=%41`).join('; ')
    const sessions = arcSession(optionsFor(store))
    const { result: session, decodes } = await countDecodes(async () => await sessions.read({ headers: { cookie: header } }))
    expect(plain(session)).toEqual({})
    expect(decodes).toBeLessThanOrEqual(10)
  })

  test('a valid cookie placed last after 2,000 junk `_idx=%` still opens the session, with a handful of decodes', async () => {
    const { running, rejects } = await floodApp(store)
    const first = await request(running.url).get('/set').expect(200)
    const live = setCookiesIn(first.headers).map(parseSetCookie).filter(cookie => cookie.name === '_idx' && !isExpired(cookie))
    expect(live).toHaveLength(1)
    const header = [...Array.from({ length: 2_000 }, () => '_idx=%'), (live[0] as { pair: string }).pair].join('; ')
    const { result: res, decodes } = await countDecodes(async () => await request(running.url).get('/').set('Cookie', header))
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ user: 'alice' })
    expect(decodes).toBeLessThanOrEqual(10)
    expect(rejects.reasons).toEqual([])
  })
})
