import express from 'express'
import request from 'supertest'
import { arcSession } from 'arc-session'
import { startArcDiscovery, startArcWorker, type ArcDiscovery, type ArcWorker } from '../support/arc-discovery'
import { CREDENTIALS, REGION, errorHandler, getItem, idOf, makeTable, newClient, putItem, wireValue, sessionPair, signId, testEndpoint } from '../support/dynamo-helpers'

/**
 * Both ways between arc-session and @architect/functions' own DynamoDB session provider
 * (the real package, in a child process), on the same dynalite table: sessions, data,
 * hidden attributes and the signed `_idx` cookie.
 */

const ARC_SECRET = 'myapp'
const ID = /^[A-Za-z0-9_-]{24}$/

/** DESIGN.md section 4: cookie-signature's output for these ids and secrets. */
const MYAPP_VECTOR = { id: 'HJd_3PfEyFEEXvhitnVEflys', secret: 'myapp', signed: 'HJd_3PfEyFEEXvhitnVEflys.CFOD41+0jBDCQvjjryYm2pxkO0aiZWGToBDMLpbEkZk' }
const FALLBACK_VECTOR = { id: 'LbyL0kPK2xOLfdm_WnESzlsG', secret: 'fallback', signed: 'LbyL0kPK2xOLfdm_WnESzlsG.5BcJDMbXKnLvm3xiDFGjqMc5ohM2AH+L+O9TbefAWys' }

function ourApp (table: string, secret: string | string[], client: ReturnType<typeof newClient>): express.Express {
  const app = express()
  // `env: {}`: no NODE_ENV=production, so arc's short development secrets are accepted.
  app.use(arcSession({ env: {}, secret, table, dynamodb: { client } }))
  app.get('/get', (req, res) => { res.json(req.session) })
  app.post('/set', express.json(), (req, res) => {
    Object.assign(req.session, req.body)
    res.send('ok')
  })
  app.use(errorHandler)
  return app
}

/** The `_idx=...` pair of a Set-Cookie header value, as a browser sends it back. */
function pairOf (setCookie: string): string {
  return setCookie.split(';')[0] as string
}

describe('@architect/functions and arc-session on one DynamoDB table', () => {
  let table: string
  let discovery: ArcDiscovery
  let arc: ArcWorker
  const client = newClient()
  let app: express.Express

  beforeAll(async () => {
    table = await makeTable('arc-interop')
    discovery = await startArcDiscovery({ [table]: table })
    const tablesPort = Number(new URL(testEndpoint()).port)
    arc = startArcWorker({
      ARC_ENV: 'testing',
      ARC_SANDBOX: JSON.stringify({ ports: { tables: tablesPort, _arc: discovery.port }, version: '6.0.0' }),
      ARC_SESSION_TABLE_NAME: table,
      ARC_APP_SECRET: ARC_SECRET,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey
    })
    app = ourApp(table, ARC_SECRET, client)
  })
  afterAll(async () => {
    await arc?.close()
    await discovery?.close()
    client.destroy()
  })

  it('a session arc creates and writes is read by arc-session, data intact and arc\'s attributes hidden', async () => {
    const fresh = await arc.read({ headers: {} })
    expect(fresh._idx).toMatch(ID)
    expect(fresh._secret).toEqual(expect.any(String))
    expect(fresh._ttl).toEqual(expect.any(Number))
    const setCookie = await arc.write({ ...fresh, name: 'ada', n: 1, tags: ['a', 'b'], profile: { admin: false, note: null } })
    expect(discovery.calls()).toBeGreaterThan(0)

    const item = await getItem(client, table, fresh._idx as string)
    expect(item?._secret).toEqual({ S: fresh._secret })

    const res = await request(app).get('/get').set('Cookie', pairOf(setCookie)).expect(200)
    expect(res.body).toEqual({ name: 'ada', n: 1, tags: ['a', 'b'], profile: { admin: false, note: null } })
  })

  it('a session arc-session creates is read by arc: its _idx is ours, its _secret is there, data intact', async () => {
    const created = await request(app).post('/set').send({ user: 'bob', cart: [1, 2], prefs: { dark: true } }).expect(200)
    const pair = sessionPair(created)
    const { id } = idOf(pair)

    const seen = await arc.read({ headers: { cookie: pair } })
    expect(seen._idx).toBe(id)
    expect(seen._secret).toMatch(ID)
    expect(seen).toMatchObject({ user: 'bob', cart: [1, 2], prefs: { dark: true } })
    // arc found our item rather than making itself a new one.
    expect(await getItem(client, table, id)).toBeDefined()
  })

  it('arc writes the same cookie for our session that we do (same id, same signature, same encoding)', async () => {
    const created = await request(app).post('/set').send({ user: 'cookie-check' }).expect(200)
    const pair = sessionPair(created)
    const seen = await arc.read({ headers: { cookie: pair } })
    const arcCookie = await arc.write(seen)
    expect(wireValue(arcCookie)).toBe(wireValue(pair))
  })

  it('changes made by arc-session are seen by arc, and changes made by arc are seen by arc-session', async () => {
    // Started by arc.
    const fresh = await arc.read({ headers: {} })
    const pair = pairOf(await arc.write({ ...fresh, step: 1, by: 'arc' }))
    const secretBefore = fresh._secret

    await request(app).post('/set').set('Cookie', pair).send({ step: 2, ours: 'yes' }).expect(200)
    const afterOurs = await arc.read({ headers: { cookie: pair } })
    expect(afterOurs).toMatchObject({ step: 2, by: 'arc', ours: 'yes', _idx: fresh._idx, _secret: secretBefore })

    await arc.write({ ...afterOurs, step: 3, by: 'arc again' })
    const res = await request(app).get('/get').set('Cookie', pair).expect(200)
    expect(res.body).toEqual({ step: 3, by: 'arc again', ours: 'yes' })

    // Started by arc-session.
    const created = await request(app).post('/set').send({ count: 1 }).expect(200)
    const ourPair = sessionPair(created)
    const seen = await arc.read({ headers: { cookie: ourPair } })
    await arc.write({ ...seen, count: 2, arcKey: 'set by arc' })
    expect((await request(app).get('/get').set('Cookie', ourPair).expect(200)).body).toEqual({ count: 2, arcKey: 'set by arc' })
    await request(app).post('/set').set('Cookie', ourPair).send({ count: 3 }).expect(200)
    expect(await arc.read({ headers: { cookie: ourPair } })).toMatchObject({ count: 3, arcKey: 'set by arc', _idx: idOf(ourPair).id })
  })

  it("arc's cookie reaches arc-session through API Gateway v2 events too", async () => {
    const fresh = await arc.read({ cookies: [] })
    const pair = pairOf(await arc.write({ ...fresh, via: 'v2' }))
    const mw = arcSession({ env: {}, secret: ARC_SECRET, table, dynamodb: { client } })
    expect(JSON.parse(JSON.stringify(await mw.read({ cookies: ['a=1', pair] })))).toEqual({ via: 'v2' })
  })

  describe("DESIGN.md's signing vectors", () => {
    async function putVectorItem ({ id, secret }: typeof MYAPP_VECTOR): Promise<void> {
      const now = Math.floor(Date.now() / 1000)
      await putItem(client, table, { _idx: { S: id }, _secret: { S: 'abcdefghijklmnopqrstuvwx' }, _ttl: { N: String(now + 3600) }, vector: { S: secret } })
    }

    it(`id ${MYAPP_VECTOR.id} with secret "myapp": both sides accept the cookie and arc-session writes it back byte for byte`, async () => {
      const { id, secret, signed } = MYAPP_VECTOR
      await putVectorItem(MYAPP_VECTOR)
      const vectorApp = ourApp(table, secret, client)

      // As arc's cookie.serialize sends it (percent-encoded) and as a raw header would carry it.
      for (const cookie of [`_idx=${encodeURIComponent(signed)}`, `_idx=${signed}`]) {
        await request(vectorApp).get('/get').set('Cookie', cookie).expect(200, { vector: secret })
      }
      // arc with that secret finds the same item.
      const arcEnv = { ARC_APP_SECRET: secret }
      const seen = await arc.read({ headers: { cookie: `_idx=${encodeURIComponent(signed)}` } }, arcEnv)
      expect(seen).toMatchObject({ _idx: id, vector: secret })

      // A change keeps the id, and the Set-Cookie carries exactly the vector.
      const changed = await request(vectorApp).post('/set').set('Cookie', `_idx=${encodeURIComponent(signed)}`).send({ touched: true }).expect(200)
      expect(wireValue(sessionPair(changed))).toBe(encodeURIComponent(signed))
      expect(wireValue(await arc.write(seen, arcEnv))).toBe(encodeURIComponent(signed))
    })

    it(`id ${FALLBACK_VECTOR.id} with arc's "fallback" as a previous secret: it verifies, and the session moves to a new id signed with the current secret`, async () => {
      const { id, secret, signed } = FALLBACK_VECTOR
      // "fallback" is public, so it can only verify: the current secret is ours.
      const vectorApp = ourApp(table, [ARC_SECRET, secret], client)

      // As arc's cookie.serialize sends it (percent-encoded) and as a raw header would carry it. Each
      // visit retires the vector's item, so each gets the item afresh.
      for (const cookie of [`_idx=${encodeURIComponent(signed)}`, `_idx=${signed}`]) {
        await putVectorItem(FALLBACK_VECTOR)
        // arc with no ARC_APP_SECRET signs with "fallback", and finds the item through the vector.
        expect(await arc.read({ headers: { cookie: `_idx=${encodeURIComponent(signed)}` } }, { ARC_APP_SECRET: null })).toMatchObject({ _idx: id, vector: secret })

        const res = await request(vectorApp).get('/get').set('Cookie', cookie).expect(200, { vector: secret })
        const reissued = sessionPair(res)
        const { id: newId } = idOf(reissued)
        expect(newId).toMatch(ID)
        expect(newId).not.toBe(id)
        expect(decodeURIComponent(wireValue(reissued))).toBe(signId(newId, ARC_SECRET))
        expect(await getItem(client, table, id)).toBeUndefined()
        expect((await getItem(client, table, newId))?.vector).toEqual({ S: secret })

        // arc with the current secret reads the re-issued cookie; the vector itself leads nowhere now.
        expect(await arc.read({ headers: { cookie: reissued } })).toMatchObject({ _idx: newId, vector: secret })
        await request(vectorApp).get('/get').set('Cookie', cookie).expect(200, {})
      }
    })
  })
})
