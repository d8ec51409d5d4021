/**
 * At most four GetItems per request on the DynamoDB store, every candidate counted (finding 4).
 * The last four `_idx` values are the candidates, without repeats (the same cookie sent four
 * times is looked up once), and chunk cookies (`_idx.0`, `_idx.1`, ...) are the cookie store's:
 * they are never joined or looked up on DynamoDB. Before, the joined chunks were a fifth
 * candidate, and a repeated cookie cost a GetItem each time.
 *
 * Counted on a real DynamoDBClient (a middleware on its stack records each command it sends).
 */
import express from 'express'
import request from 'supertest'
import { arcSession } from 'arc-session'
import { SECRET, cookieFor, countingClient, errorHandler, makeTable, randomId, signId, type CountingClient } from '../support/dynamo-helpers'
import { captureRejects } from '../support/tokens'

let table: string
let counting: CountingClient
let app: express.Express
const rejects = captureRejects()

beforeAll(async () => {
  table = await makeTable('lookups')
  counting = countingClient()
  app = express()
  app.use(arcSession({ secret: SECRET, env: {}, table, dynamodb: { client: counting.client }, cookie: { secure: false }, onReject: rejects.onReject }))
  app.get('/', (req, res) => { res.json(req.session) })
  app.get('/set', (req, res) => { req.session.user = 'alice'; res.json(req.session) })
  app.use(errorHandler)
})

beforeEach(() => {
  counting.reset()
  rejects.clear()
})

/** `_idx.0=2~<id>; _idx.1=.<signature>`: the two halves of a validly signed cookie, as chunk cookies. */
function asChunks (id: string): string {
  const encoded = encodeURIComponent(signId(id, SECRET))
  return `_idx.0=2~${encoded.slice(0, id.length)}; _idx.1=${encoded.slice(id.length)}`
}

/** A real session: its id, from the Set-Cookie of a write. */
async function realSession (): Promise<{ id: string, pair: string }> {
  const res = await request(app).get('/set').expect(200)
  const setCookie = ([] as string[]).concat(res.headers['set-cookie'] as unknown as string[] ?? []).find(c => c.startsWith('_idx=') && !/Max-Age=0/.test(c))
  if (setCookie === undefined) throw new Error('no session cookie')
  const pair = setCookie.split(';')[0] as string
  const value = decodeURIComponent(pair.slice('_idx='.length))
  counting.reset()
  return { id: value.slice(0, value.lastIndexOf('.')), pair }
}

test('six validly signed _idx cookies (items that do not exist) and chunk cookies: at most 4 GetItems', async () => {
  const header = [...Array.from({ length: 6 }, () => cookieFor(randomId())), asChunks(randomId())].join('; ')
  const res = await request(app).get('/').set('Cookie', header).expect(200)
  expect(res.body).toEqual({})
  expect(counting.count('GetItem')).toBeLessThanOrEqual(4)
  expect(counting.reads()).toBeLessThanOrEqual(4)
  expect(rejects.reasons).toEqual(['expired'])
})

test('chunk cookies are never looked up on DynamoDB, even when they join into a valid cookie of a live session', async () => {
  const { id } = await realSession()
  const res = await request(app).get('/').set('Cookie', asChunks(id)).expect(200)
  expect(res.body).toEqual({})
  expect(counting.reads()).toBe(0)

  // Next to four `_idx` cookies, the chunks are not a fifth candidate: four GetItems, not five.
  counting.reset()
  const header = [...Array.from({ length: 4 }, () => cookieFor(randomId())), asChunks(id)].join('; ')
  const mixed = await request(app).get('/').set('Cookie', header).expect(200)
  expect(mixed.body).toEqual({})
  expect(counting.count('GetItem')).toBe(4)
})

test('the same valid cookie sent four times is looked up once', async () => {
  const { pair } = await realSession()
  const res = await request(app).get('/').set('Cookie', [pair, pair, pair, pair].join('; ')).expect(200)
  expect(res.body).toEqual({ user: 'alice' })
  expect(counting.count('GetItem')).toBe(1)

  // And a missing one sent four times: one GetItem, one refusal.
  counting.reset()
  rejects.clear()
  const missing = cookieFor(randomId())
  await request(app).get('/').set('Cookie', [missing, missing, missing, missing].join('; ')).expect(200, {})
  expect(counting.count('GetItem')).toBe(1)
  expect(rejects.reasons).toEqual(['expired'])
})
