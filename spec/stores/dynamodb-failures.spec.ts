import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { createServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import express from 'express'
import request from 'supertest'
import { arcSession, createTable, type ArcSessionOptions } from 'arc-session'
import { startDynalite, type LocalDynamo } from '../support/dynalite'
import {
  REGION, SECRET, cookieFor, countingClient, errorHandler, express4, getItem, idOf, itemCount, listen, makeTable, newClient,
  randomId, sessionPair, sessionSetCookie, uniqueTable
} from '../support/dynamo-helpers'

/**
 * When DynamoDB cannot do what a request needs, the request fails through next(err) with a
 * typed error and a fitting status, in bounded time; everything else keeps working; and no
 * response (least of all a redirect) leaves before its session write is acknowledged.
 */

/** Generous bound for tests that wait on a 1-second store timeout; not a timing assertion. */
const SLOW = 30_000

type Make = typeof express

function buildApp (options: ArcSessionOptions, make: Make = express): express.Express {
  const app = make()
  app.get('/health', (_req, res) => { res.send('up') })
  app.use(arcSession({ env: { NODE_ENV: 'test' }, secret: SECRET, ...options }))
  app.get('/get', (req, res) => { res.json(req.session) })
  app.get('/plain', (_req, res) => { res.send('no session used') })
  app.post('/set', make.json(), (req, res) => {
    Object.assign(req.session, req.body)
    res.send('ok')
  })
  app.post('/big', (req, res) => {
    req.session[String(req.query.key)] = 'x'.repeat(Number(req.query.kb) * 1024)
    res.send('ok')
  })
  app.post('/login', (req, res) => {
    req.session.user = 'x'
    res.redirect('/next')
  })
  app.use(errorHandler)
  return app
}

/** A TCP server that accepts connections and never says a word: a DynamoDB endpoint that hangs. */
async function silentEndpoint (): Promise<{ url: string, close: () => Promise<void>, connections: () => number }> {
  const sockets = new Set<Socket>()
  let connections = 0
  const server: Server = createServer(socket => {
    connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => { /* the client gave up */ })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

/**
 * POST `path` with raw node:http and run `inspect` the moment the response head arrives,
 * before its body is read: what the store holds at the instant a browser could act on it.
 */
async function postAndInspect<T> (url: string, path: string, cookie: string | undefined, inspect: (headers: IncomingHttpHeaders, status: number) => Promise<T>): Promise<{ status: number, headers: IncomingHttpHeaders, body: string, inspected: T }> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method: 'POST', headers: cookie === undefined ? {} : { cookie } }, res => {
      const status = res.statusCode ?? 0
      const inspection = inspect(res.headers, status)
      let body = ''
      res.setEncoding('utf8')
      res.on('data', chunk => { body += chunk as string })
      res.on('end', () => { inspection.then(inspected => resolve({ status, headers: res.headers, body, inspected }), reject) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

function sessionIdFrom (headers: IncomingHttpHeaders): string | undefined {
  const cookie = (headers['set-cookie'] ?? []).find(line => line.startsWith('_idx=') && !/Max-Age=0;/.test(line))
  return cookie === undefined ? undefined : idOf(cookie).id
}

describe('DynamoDB stopping mid-test', () => {
  let local: LocalDynamo | undefined
  let table: string

  afterAll(async () => { await local?.close() })

  it('fails requests that need the store with 503, keeps serving the rest, and recovers when DynamoDB is back', async () => {
    local = await startDynalite()
    const port = local.port
    table = await makeTable('failover', local.endpoint)
    const app = buildApp({ table, dynamodb: { endpoint: local.endpoint, region: REGION, timeout: 1 } })

    const created = await request(app).post('/set').send({ user: 'ada' }).expect(200)
    const cookie = sessionPair(created)
    await request(app).get('/get').set('Cookie', cookie).expect(200, { user: 'ada' })

    await local.close()
    local = undefined

    // Reading the session needs the store: 503 through the app's error handler, the cause attached.
    const read = await request(app).get('/get').set('Cookie', cookie)
    expect(read.status).toBe(503)
    expect(read.body).toMatchObject({ error: 'StoreUnavailableError', code: 'ARC_SESSION_STORE_UNAVAILABLE' })
    expect(read.body.cause).not.toBeNull()
    expect(read.body.message).toContain(table)

    // Creating a session needs the store too: 503, and no cookie for a session that was never stored.
    const write = await request(app).post('/set').send({ user: 'bob' })
    expect(write.status).toBe(503)
    expect(write.body.error).toBe('StoreUnavailableError')
    expect(sessionSetCookie(write)).toBeUndefined()

    // Requests without a session cookie, and routes before the middleware, do not need DynamoDB.
    await request(app).get('/health').expect(200, 'up')
    await request(app).get('/plain').expect(200, 'no session used')
    await request(app).get('/get').expect(200, {})
    await request(app).get('/get').set('Cookie', 'theme=dark').expect(200, {})

    // DynamoDB comes back on the same port (in memory: empty, so the table is made again).
    local = await startDynalite(port)
    await createTable(table, { endpoint: local.endpoint, region: REGION })

    // The old session's item is gone with the old process: an empty session, not an error.
    await request(app).get('/get').set('Cookie', cookie).expect(200, {})
    const again = await request(app).post('/set').send({ user: 'carol' }).expect(200)
    await request(app).get('/get').set('Cookie', sessionPair(again)).expect(200, { user: 'carol' })
  }, SLOW)

  it('a write that is under way when DynamoDB stops gives the error response, never the redirect', async () => {
    const own = await startDynalite()
    const ownTable = await makeTable('stop-during-write', own.endpoint)
    const counter = countingClient(own.endpoint)
    let closed = false
    try {
      counter.slowDown(['PutItem', 'UpdateItem'], 300)
      const app = buildApp({ table: ownTable, dynamodb: { client: counter.client, timeout: 1 } })
      const server = await listen(app)
      try {
        const response = request(server.url).post('/login').then(res => res)
        // Stop DynamoDB while the PutItem is held back by the slow middleware.
        while (counter.count('PutItem') === 0) await new Promise(resolve => setTimeout(resolve, 5))
        await own.close()
        closed = true
        const res = await response
        expect(res.status).toBe(503)
        expect(res.headers.location).toBeUndefined()
        expect(res.body.error).toBe('StoreUnavailableError')
        expect(sessionSetCookie(res)).toBeUndefined()
      } finally {
        await server.close()
      }
    } finally {
      counter.client.destroy()
      if (!closed) await own.close()
    }
  }, SLOW)
})

describe('a DynamoDB endpoint that accepts connections and never answers', () => {
  it('fails a session read with 503 within the configured timeout instead of hanging', async () => {
    const dead = await silentEndpoint()
    try {
      const app = buildApp({ table: 'sessions', dynamodb: { endpoint: dead.url, region: REGION, timeout: 1 } })
      const res = await request(app).get('/get').set('Cookie', cookieFor(randomId()))
      expect(res.status).toBe(503)
      expect(res.body.error).toBe('StoreUnavailableError')
      expect(res.body.cause).not.toBeNull()
      expect(dead.connections()).toBeGreaterThan(0)
    } finally {
      await dead.close()
    }
  }, SLOW)

  it('fails a session write with 503 and sends no session cookie', async () => {
    const dead = await silentEndpoint()
    try {
      const app = buildApp({ table: 'sessions', dynamodb: { endpoint: dead.url, region: REGION, timeout: 1 } })
      const res = await request(app).post('/set').send({ user: 'ada' })
      expect(res.status).toBe(503)
      expect(res.body.error).toBe('StoreUnavailableError')
      expect(sessionSetCookie(res)).toBeUndefined()
      await request(app).get('/health').expect(200, 'up')
    } finally {
      await dead.close()
    }
  }, SLOW)
})

describe.each<[string, Make]>([['Express 5', express], ['Express 4', express4]])('store errors through %s', (_name, make) => {
  const inspector = newClient()
  afterAll(() => { inspector.destroy() })

  it('a missing table is a StoreError (500) naming the table and how to create it', async () => {
    const missing = uniqueTable('no-such-table')
    const client = newClient()
    try {
      const app = buildApp({ table: missing, dynamodb: { client } }, make)
      const read = await request(app).get('/get').set('Cookie', cookieFor(randomId()))
      expect(read.status).toBe(500)
      expect(read.body).toMatchObject({ error: 'StoreError', code: 'ARC_SESSION_STORE' })
      expect(read.body.message).toContain(`"${missing}"`)
      expect(read.body.message).toContain(`npx arc-session create-table ${missing}`)
      expect(read.body.cause).toBe('ResourceNotFoundException')

      const write = await request(app).post('/set').send({ user: 'ada' })
      expect(write.status).toBe(500)
      expect(write.body.error).toBe('StoreError')
      expect(write.body.message).toContain(missing)
      expect(sessionSetCookie(write)).toBeUndefined()
    } finally {
      client.destroy()
    }
  })

  it('a new session over 400 KB is a SessionTooLargeError (413), and nothing is stored', async () => {
    const table = await makeTable('too-large')
    const app = buildApp({ table, dynamodb: { client: inspector } }, make)
    const res = await request(app).post('/big?key=blob&kb=410')
    expect(res.status).toBe(413)
    expect(res.body).toMatchObject({ error: 'SessionTooLargeError', code: 'ARC_SESSION_TOO_LARGE' })
    expect(sessionSetCookie(res)).toBeUndefined()
    expect(await itemCount(inspector, table)).toBe(0)
  })

  it('growing an existing session past 400 KB is a 413 and leaves the stored item as it was', async () => {
    const table = await makeTable('too-large')
    const app = buildApp({ table, dynamodb: { client: inspector } }, make)
    const first = await request(app).post('/big?key=a&kb=250').expect(200)
    const cookie = sessionPair(first)
    const res = await request(app).post('/big?key=b&kb=200').set('Cookie', cookie)
    expect(res.status).toBe(413)
    expect(res.body.error).toBe('SessionTooLargeError')
    const item = await getItem(inspector, table, idOf(cookie).id)
    expect(item?.a?.S).toHaveLength(250 * 1024)
    expect(item?.b).toBeUndefined()
    const back = await request(app).get('/get').set('Cookie', cookie).expect(200)
    expect(Object.keys(back.body as object)).toEqual(['a'])
  })
})

describe('the response is held until the session write is acknowledged', () => {
  let table: string
  const inspector = newClient()
  const counter = countingClient()

  beforeAll(async () => { table = await makeTable('held') })
  afterAll(() => {
    inspector.destroy()
    counter.client.destroy()
  })

  it.each<[string, Make]>([['Express 5', express], ['Express 4', express4]])('%s: a redirect after creating a session arrives only once the item exists', async (_name, make) => {
    counter.slowDown(['PutItem', 'UpdateItem'], 400)
    const server = await listen(buildApp({ table, dynamodb: { client: counter.client } }, make))
    try {
      const res = await postAndInspect(server.url, '/login', undefined, async headers => {
        const id = sessionIdFrom(headers)
        return id === undefined ? undefined : await getItem(inspector, table, id)
      })
      expect(res.status).toBe(302)
      expect(res.headers.location).toBe('/next')
      expect(res.inspected?.user).toEqual({ S: 'x' })
    } finally {
      counter.slowDown([], 0)
      await server.close()
    }
  }, SLOW)

  it.each<[string, Make]>([['Express 5', express], ['Express 4', express4]])('%s: a redirect after changing an existing session arrives only once the change is stored', async (_name, make) => {
    const server = await listen(buildApp({ table, dynamodb: { client: counter.client } }, make))
    try {
      const created = await request(server.url).post('/set').send({ visits: 1 }).expect(200)
      const cookie = sessionPair(created)
      const id = idOf(cookie).id
      counter.slowDown(['PutItem', 'UpdateItem'], 400)
      const res = await postAndInspect(server.url, '/login', cookie, async () => await getItem(inspector, table, id))
      expect(res.status).toBe(302)
      expect(res.headers.location).toBe('/next')
      expect(res.inspected?.user).toEqual({ S: 'x' })
      expect(res.inspected?.visits).toEqual({ N: '1' })
    } finally {
      counter.slowDown([], 0)
      await server.close()
    }
  }, SLOW)

  it('with a failing write (missing table) the client gets the error response, never the 302', async () => {
    const client = newClient()
    const server = await listen(buildApp({ table: uniqueTable('missing-for-redirect'), dynamodb: { client } }))
    try {
      const res = await postAndInspect(server.url, '/login', undefined, async () => undefined)
      expect(res.status).toBe(500)
      expect(res.headers.location).toBeUndefined()
      expect(sessionIdFrom(res.headers)).toBeUndefined()
      expect(JSON.parse(res.body)).toMatchObject({ error: 'StoreError' })
    } finally {
      client.destroy()
      await server.close()
    }
  })
})
