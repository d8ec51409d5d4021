/**
 * DynamoDB cookies are bound to their cookie name (finding 5). Two middlewares sharing a secret
 * and a table (visitors on `_idx`, staff on `admin`) used to sign ids the same way, so a
 * visitor's cookie value presented as `admin=<value>` opened that visitor's item as a staff
 * session (and the other way round). A name other than arc's `_idx` now has the name inside its
 * HMAC; under `_idx` the format stays arc's `<id>.<HMAC-SHA256(secret, id), base64 without =>`.
 */
import { createHmac, createSecretKey } from 'node:crypto'
import express from 'express'
import request from 'supertest'
import { arcSession } from 'arc-session'
import { sign } from '../../lib/crypto/signature'
import { SECRET, errorHandler, getItem, makeTable, newClient, setCookies, signId } from '../support/dynamo-helpers'
import { captureRejects } from '../support/tokens'

let table: string
const rejects = { visitor: captureRejects(), staff: captureRejects() }
let visitors: express.Express
let staff: express.Express

function appFor (name: string | undefined, log: ReturnType<typeof captureRejects>): express.Express {
  const app = express()
  app.use(arcSession({
    secret: SECRET, env: {}, table, dynamodb: { client: newClient() }, onReject: log.onReject,
    cookie: { secure: false, ...(name === undefined ? {} : { name }) }
  }))
  app.get('/', (req, res) => { res.json(req.session) })
  app.get('/login/:role', (req, res) => { req.session.role = req.params.role; res.json(req.session) })
  app.use(errorHandler)
  return app
}

beforeAll(async () => {
  table = await makeTable('binding')
  visitors = appFor(undefined, rejects.visitor)
  staff = appFor('admin', rejects.staff)
})

beforeEach(() => {
  rejects.visitor.clear()
  rejects.staff.clear()
})

/** The value (as on the wire) of the live `name` cookie a response sets. */
function valueOf (res: { headers: Record<string, unknown> }, name: string): string {
  const cookie = setCookies(res).find(c => c.startsWith(`${name}=`) && !/;\s*Max-Age=0(;|$)/i.test(c))
  if (cookie === undefined) throw new Error(`no ${name} cookie in ${JSON.stringify(setCookies(res))}`)
  return (cookie.split(';')[0] as string).slice(name.length + 1)
}

function idIn (wire: string): string {
  const value = decodeURIComponent(wire)
  return value.slice(0, value.lastIndexOf('.'))
}

test('a visitor\'s `_idx` value presented as `admin=<value>` opens nothing on the staff middleware', async () => {
  const visitor = valueOf(await request(visitors).get('/login/visitor').expect(200), '_idx')
  await request(visitors).get('/').set('Cookie', `_idx=${visitor}`).expect(200, { role: 'visitor' })
  // The item is there, in the shared table: only the cookie name differs.
  expect(await getItem(newClient(), table, idIn(visitor))).toBeDefined()

  const res = await request(staff).get('/').set('Cookie', `admin=${visitor}`).expect(200)
  expect(res.body).toEqual({})
  expect(rejects.staff.reasons).toEqual(['tampered'])
})

test('a staff `admin` value presented as `_idx=<value>` opens nothing on the visitor middleware', async () => {
  const admin = valueOf(await request(staff).get('/login/admin').expect(200), 'admin')
  await request(staff).get('/').set('Cookie', `admin=${admin}`).expect(200, { role: 'admin' })
  expect(await getItem(newClient(), table, idIn(admin))).toBeDefined()

  const res = await request(visitors).get('/').set('Cookie', `_idx=${admin}`).expect(200)
  expect(res.body).toEqual({})
  expect(rejects.visitor.reasons).toEqual(['tampered'])
  // The admin cookie is not arc's format: its signature is not HMAC(secret, id).
  const value = decodeURIComponent(admin)
  expect(value).not.toBe(signId(idIn(admin), SECRET))
})

test('under `_idx` the cookie stays arc\'s `<id>.<HMAC-SHA256(secret, id) base64 without =>`, and the staff one differs', async () => {
  // DESIGN.md section 4's vector, with node:crypto and with the library's signer (no binding under `_idx`).
  const vectorId = 'HJd_3PfEyFEEXvhitnVEflys'
  const expected = 'HJd_3PfEyFEEXvhitnVEflys.CFOD41+0jBDCQvjjryYm2pxkO0aiZWGToBDMLpbEkZk'
  expect(`${vectorId}.${createHmac('sha256', 'myapp').update(vectorId).digest('base64').replace(/=+$/, '')}`).toBe(expected)
  const key = { secret: createSecretKey(Buffer.from('myapp')), current: true, public: false }
  expect(sign(vectorId, key)).toBe(expected)
  expect(sign(vectorId, key, 'admin')).not.toBe(expected)

  const visitor = decodeURIComponent(valueOf(await request(visitors).get('/login/visitor').expect(200), '_idx'))
  expect(visitor).toBe(signId(idIn(visitor), SECRET))
  const admin = decodeURIComponent(valueOf(await request(staff).get('/login/admin').expect(200), 'admin'))
  expect(admin).toMatch(/^[A-Za-z0-9_-]{24}\.[A-Za-z0-9+/]{43}$/)
  expect(admin).not.toBe(signId(idIn(admin), SECRET))
})
