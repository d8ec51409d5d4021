import { blobText } from '../support/apps'
/**
 * Big sessions, end to end through Express. The JWE cookie store splits a cookie whose
 * name and value would pass 4,096 bytes into `_idx.0`, `_idx.1`, ... and joins them on the next
 * request; only exact chunk names count, a missing or foreign chunk fails closed, and chunks
 * the browser no longer needs are expired. Above `cookie.maxBytes` (default 12,288, sized so the
 * next request fits Node's 16 KiB header limit) the response is a 413 via next(err), with no
 * cookie; the DynamoDB store does the same above DynamoDB's 400 KB item limit.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import express from 'express'
import request from 'supertest'
import { SessionTooLargeError, arcSession, createTable, type ArcSessionOptions, type RejectReason } from 'arc-session'
import { TimedJar, setCookiesOf, testClock, type SetCookie } from '../support/clock'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const express4 = require('express4') as typeof express

const FRAMEWORKS = [['Express 5', express], ['Express 4', express4]] as const
const SECRET = 'chunks-spec-secret-5c7e9a1b3d5f7a9c1e3b5d7f'
const BROWSER_LIMIT = 4096

interface App {
  readonly app: express.Express
  readonly rejects: RejectReason[]
}

/**
 * `/` shows what the session holds: `{ tag, size }` of its blob.
 * `/fill/:size/:tag` stores a blob of `size` characters marked with `tag`.
 * `/save/:size` tries save() with a blob that size, and reports what save() threw.
 * `/logout` destroys the session.
 */
function makeApp (options: ArcSessionOptions = {}, framework: typeof express = express): App {
  const rejects: RejectReason[] = []
  const app = framework()
  app.use(arcSession({ env: {}, secret: SECRET, clock: testClock(), ...options, onReject: reason => { rejects.push(reason) } }))
  app.get('/', (req, res) => {
    const blob = req.session.blob as string | undefined
    res.json(blob === undefined ? {} : { tag: blob.slice(0, blob.indexOf(':')), size: blob.length })
  })
  app.get('/fill/:size/:tag', (req, res) => {
    const size = Number(req.params.size)
    const tag = req.params.tag as string
    req.session.blob = `${tag}:${blobText(size - tag.length - 1)}`
    res.json({ tag, size })
  })
  app.get('/save/:size', (req, res, next) => {
    req.session.blob = `s:${blobText(Number(req.params.size) - 2)}`
    req.session.save().then(() => { res.json({ saved: true }) }, (error: unknown) => {
      delete req.session.blob
      res.json({ saved: false, error: (error as Error).name, status: (error as { status?: number }).status, typed: error instanceof SessionTooLargeError })
    }).catch(next)
  })
  app.get('/logout', (req, res, next) => {
    req.session.destroy().then(() => { res.json({}) }, next)
  })
  app.use(((error, _req, res, _next) => {
    res.status((error as { status?: number }).status ?? 500).json({
      error: (error as Error).name, typed: error instanceof SessionTooLargeError
    })
  }) as express.ErrorRequestHandler)
  return { app, rejects }
}


function sessionCookies (response: { headers: Record<string, unknown> }): SetCookie[] {
  return setCookiesOf(response).filter(c => c.name === '_idx' || c.name.startsWith('_idx.'))
}

/** [name, Max-Age] of each session Set-Cookie, sorted by name. */
function summary (response: { headers: Record<string, unknown> }): Array<[string, number | undefined]> {
  return sessionCookies(response).map(c => [c.name, c.maxAge] as [string, number | undefined]).sort((a, b) => a[0].localeCompare(b[0]))
}

function live (response: { headers: Record<string, unknown> }): SetCookie[] {
  return sessionCookies(response).filter(c => c.maxAge !== 0)
}

function cookieHeader (cookies: readonly SetCookie[]): string {
  return cookies.map(c => c.pair).join('; ')
}

describe('JWE cookie store: chunking', () => {
  test('a cookie over 4,096 bytes is split into _idx.N chunks, each within 4,096 bytes, and joined on the next request', async () => {
    const { app, rejects } = makeApp()
    for (const [size, chunks] of [[2000, 1], [5000, 2], [8000, 3]] as const) {
      const response = await request(app).get(`/fill/${size}/t${size}`).expect(200)
      const cookies = live(response)
      expect(cookies.map(c => c.name)).toEqual(chunks === 1 ? ['_idx'] : Array.from({ length: chunks }, (_, i) => `_idx.${i}`))
      for (const cookie of cookies) {
        expect(Buffer.byteLength(cookie.pair)).toBeLessThanOrEqual(BROWSER_LIMIT)
        expect(cookie.attributes.httponly).toBe(true)
        expect(cookie.attributes.path).toBe('/')
        expect(cookie.maxAge).toBe(cookies[0]?.maxAge)
      }
      const next = await request(app).get('/').set('Cookie', cookieHeader(cookies)).expect(200, { tag: `t${size}`, size })
      expect(sessionCookies(next)).toEqual([])
      // Order on the wire does not matter.
      await request(app).get('/').set('Cookie', cookieHeader([...cookies].reverse())).expect(200, { tag: `t${size}`, size })
    }
    expect(rejects).toEqual([])
  })

  test('stray cookies named _idx.foo, _idx.x or _idxfoo never break a session, nor get expired by it', async () => {
    const { app, rejects } = makeApp()
    const strays = ['_idx.foo=bar', '_idx.x=1', '_idxfoo=eyJhbGciOiJkaXIifQ..x.y.z', '_idx.=empty', '_idx.10=ten']
    for (const size of [1000, 5000]) {
      const cookies = live(await request(app).get(`/fill/${size}/s`).expect(200))
      const pairs = cookies.map(c => c.pair)
      for (const header of [[...strays, ...pairs], [...pairs, ...strays], [strays[0], ...pairs, ...strays.slice(1)]]) {
        await request(app).get('/').set('Cookie', header.join('; ')).expect(200, { tag: 's', size })
      }
      // A write replaces the session's own cookies and leaves the others alone.
      const written = await request(app).get(`/fill/${size + 1}/w`).set('Cookie', [...strays, ...pairs].join('; ')).expect(200)
      expect(setCookiesOf(written).map(c => c.name).filter(name => !/^_idx(\.\d)?$/.test(name))).toEqual([])
    }
    expect(rejects).toEqual([])
  })

  test('chunks from two different chunk sets give an empty session, never a mix', async () => {
    const { app, rejects } = makeApp()
    const older = live(await request(app).get('/fill/5000/older').expect(200))
    // The same session written again: a new chunk set replaces the old one.
    const newer = live(await request(app).get('/fill/5000/newer').set('Cookie', cookieHeader(older)).expect(200))
    expect(newer.map(c => c.name)).toEqual(['_idx.0', '_idx.1'])
    expect(newer[1]?.value).not.toBe(older[1]?.value)

    for (const mixed of [[newer[0], older[1]], [older[0], newer[1]]] as const) {
      const response = await request(app).get('/').set('Cookie', cookieHeader(mixed as readonly SetCookie[])).expect(200, {})
      // Fails closed, and the browser is told to drop the useless chunks.
      expect(summary(response)).toEqual([['_idx.0', 0], ['_idx.1', 0]])
    }
    expect(rejects).toEqual(['tampered', 'tampered'])
  })

  test('the count is recorded: a missing chunk fails closed, a leftover one is ignored', async () => {
    const { app, rejects } = makeApp()
    const three = live(await request(app).get('/fill/8000/three').expect(200))
    const two = live(await request(app).get('/fill/5000/two').expect(200))
    expect([three.length, two.length]).toEqual([3, 2])

    for (const partial of [[two[0]], [two[1]], [three[0], three[1]], [three[0], three[2]], [three[1], three[2]]]) {
      await request(app).get('/').set('Cookie', cookieHeader(partial as SetCookie[])).expect(200, {})
    }
    expect(rejects).toEqual(['malformed', 'malformed', 'malformed', 'malformed', 'malformed'])

    // A two-chunk session with a third chunk left over from an older, bigger one: chunk 0 says two.
    await request(app).get('/').set('Cookie', cookieHeader([two[0], two[1], three[2]] as SetCookie[])).expect(200, { tag: 'two', size: 5000 })
  })

  test('growing expires the single cookie, shrinking expires the chunks the browser held, destroy expires them all', async () => {
    const clock = testClock()
    const { app, rejects } = makeApp({ clock })
    const jar = new TimedJar(clock)
    const step = async (path: string): Promise<request.Response> => {
      const response = await request(app).get(path).set('Cookie', jar.header()).expect(200)
      jar.take(response)
      return response
    }

    expect(summary(await step('/fill/1000/a'))).toEqual([['_idx', 604800]])
    expect(summary(await step('/fill/5000/b'))).toEqual([['_idx', 0], ['_idx.0', 604800], ['_idx.1', 604800]])
    expect(jar.names().sort()).toEqual(['_idx.0', '_idx.1'])
    expect((await step('/')).body).toEqual({ tag: 'b', size: 5000 })

    expect(summary(await step('/fill/8000/c'))).toEqual([['_idx.0', 604800], ['_idx.1', 604800], ['_idx.2', 604800]])
    expect((await step('/')).body).toEqual({ tag: 'c', size: 8000 })
    expect(summary(await step('/fill/5000/d'))).toEqual([['_idx.0', 604800], ['_idx.1', 604800], ['_idx.2', 0]])
    expect(jar.names().sort()).toEqual(['_idx.0', '_idx.1'])
    expect((await step('/')).body).toEqual({ tag: 'd', size: 5000 })

    expect(summary(await step('/fill/100/e'))).toEqual([['_idx', 604800], ['_idx.0', 0], ['_idx.1', 0]])
    expect(jar.names()).toEqual(['_idx'])
    expect((await step('/')).body).toEqual({ tag: 'e', size: 100 })

    await step('/fill/5000/f')
    expect(summary(await step('/logout'))).toEqual([['_idx.0', 0], ['_idx.1', 0]])
    expect(jar.names()).toEqual([])
    expect(rejects).toEqual([])
  })
})

describe('JWE cookie store: the size cap (cookie.maxBytes)', () => {
  describe.each(FRAMEWORKS)('%s', (_name, framework) => {
    test('above the default 12,288 bytes: 413 via next(err) with a SessionTooLargeError, no cookie, the old session intact', async () => {
      const { app } = makeApp({}, framework)
      const held = live(await request(app).get('/fill/5000/held').expect(200))

      const refused = await request(app).get('/fill/12000/big').set('Cookie', cookieHeader(held)).expect(413)
      expect(refused.body).toEqual({ error: 'SessionTooLargeError', typed: true })
      expect(refused.headers['set-cookie']).toBeUndefined()
      await request(app).get('/').set('Cookie', cookieHeader(held)).expect(200, { tag: 'held', size: 5000 })

      const fresh = await request(app).get('/fill/12000/big').expect(413)
      expect(fresh.headers['set-cookie']).toBeUndefined()
    })

    test('a configured cap is honoured, and save() rejects with the typed error', async () => {
      const { app } = makeApp({ cookie: { maxBytes: 6000 } }, framework)
      expect(live(await request(app).get('/fill/3500/fits').expect(200)).length).toBe(2)
      const refused = await request(app).get('/fill/5000/big').expect(413)
      expect(refused.body).toEqual({ error: 'SessionTooLargeError', typed: true })
      expect(refused.headers['set-cookie']).toBeUndefined()

      await request(app).get('/save/5000').expect(200, { saved: false, error: 'SessionTooLargeError', status: 413, typed: true })
      await request(app).get('/save/3000').expect(200, { saved: true })
    })
  })

  describe('the largest session the default cap accepts, on a real server', () => {
    let server: Server
    let port: number

    beforeAll(async () => {
      server = createServer(makeApp().app)
      server.listen(0, '127.0.0.1')
      await once(server, 'listening')
      port = (server.address() as AddressInfo).port
    })

    afterAll(async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    })

    /** Headers a desktop browser sends with a navigation, at their usual lengths. */
    const BROWSER_HEADERS: ReadonlyArray<readonly [string, string]> = [
      ['Connection', 'keep-alive'],
      ['sec-ch-ua', '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"'],
      ['sec-ch-ua-mobile', '?0'],
      ['sec-ch-ua-platform', '"macOS"'],
      ['Upgrade-Insecure-Requests', '1'],
      ['User-Agent', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'],
      ['Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7'],
      ['Sec-Fetch-Site', 'same-origin'],
      ['Sec-Fetch-Mode', 'navigate'],
      ['Sec-Fetch-User', '?1'],
      ['Sec-Fetch-Dest', 'document'],
      ['Referer', 'https://app.example.com/account/settings/profile?tab=security&utm_source=newsletter&utm_medium=email&utm_campaign=2025-winter-release'],
      ['Accept-Encoding', 'gzip, deflate, br, zstd'],
      ['Accept-Language', 'en-GB,en-US;q=0.9,en;q=0.8,de;q=0.7,fr;q=0.6']
    ]

    /** A GET over a plain TCP socket, as a browser would send it; resolves to the status code and body. */
    async function browserGet (cookie: string): Promise<{ status: number, body: string }> {
      const head = [`GET / HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...BROWSER_HEADERS.map(([name, value]) => `${name}: ${value}`), `Cookie: ${cookie}`]
      const socket = connect(port, '127.0.0.1')
      const chunks: Buffer[] = []
      socket.on('data', chunk => { chunks.push(chunk) })
      socket.on('error', () => { /* a refusing server may reset the connection after answering */ })
      await once(socket, 'connect')
      socket.write(`${head.join('\r\n')}\r\n\r\n`)
      await new Promise<void>(resolve => {
        socket.on('close', () => { resolve() })
        // Keep-alive: once a complete response is in, hang up ourselves.
        socket.on('data', () => {
          const text = Buffer.concat(chunks).toString('latin1')
          const end = text.indexOf('\r\n\r\n')
          const length = /\r\ncontent-length: (\d+)/i.exec(text)
          if (end >= 0 && length !== null && text.length >= end + 4 + Number(length[1])) socket.destroy()
        })
      })
      const text = Buffer.concat(chunks).toString('utf8')
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)
      if (status === null) throw new Error(`no HTTP response: ${JSON.stringify(text.slice(0, 200))}`)
      return { status: Number(status[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) }
    }

    test('fits Node\'s default 16 KiB header limit with ordinary browser headers; four full chunks would get a 431', async () => {
      const { app } = makeApp()
      // The largest blob the cap lets through, found by bisection over real requests.
      let fits = 100
      let refused = 20000
      while (refused - fits > 1) {
        const size = Math.floor((fits + refused) / 2)
        const { status } = await request(app).get(`/fill/${size}/max`)
        expect([200, 413]).toContain(status)
        if (status === 200) fits = size
        else refused = size
      }
      const cookies = live(await request(app).get(`/fill/${fits}/max`).expect(200))
      expect(cookies.map(c => c.name)).toEqual(['_idx.0', '_idx.1', '_idx.2'])
      const header = cookieHeader(cookies)
      expect(header.length).toBeLessThanOrEqual(12288)
      // Within a few bytes of the cap: one more character of data would not fit.
      expect(header.length).toBeGreaterThan(12288 - 16)

      const next = await browserGet(header)
      expect(next.status).toBe(200)
      expect(JSON.parse(next.body)).toEqual({ tag: 'max', size: fits })

      // Four chunks of a full 4,096 bytes each, with the same headers: Node refuses the request outright.
      const full = cookies.map(c => `${c.name}=${c.value.padEnd(BROWSER_LIMIT - c.name.length - 1, 'A')}`)
      full.push(`_idx.3=${'A'.repeat(BROWSER_LIMIT - 7)}`)
      expect(full.map(pair => pair.length)).toEqual([4096, 4096, 4096, 4096])
      expect((await browserGet(full.join('; '))).status).toBe(431)
    })
  })
})

describe('DynamoDB store: the 400 KB item limit', () => {
  const endpoint = process.env.DYNAMODB_TEST_ENDPOINT as string
  let client: DynamoDBClient
  let table: string

  beforeAll(async () => {
    client = new DynamoDBClient({ endpoint, region: 'us-east-1' })
    table = `chunks-${process.pid}-${Date.now()}`
    await createTable(table, { client })
  })

  afterAll(() => {
    client.destroy()
  })

  test.each(FRAMEWORKS)('%s: a session above 400 KB is a 413 with a SessionTooLargeError, and the stored one is kept', async (_name, framework) => {
    const { app } = makeApp({ table, dynamodb: { client } }, framework)
    const fresh = await request(app).get(`/fill/${410 * 1024}/huge`).expect(413)
    expect(fresh.body).toEqual({ error: 'SessionTooLargeError', typed: true })
    expect(fresh.headers['set-cookie']).toBeUndefined()

    // Big but within the limit: stored, and only a small signed id travels.
    const stored = live(await request(app).get(`/fill/${300 * 1024}/big`).expect(200))
    expect(stored.map(c => c.name)).toEqual(['_idx'])
    expect(stored[0]?.value.length).toBeLessThan(100)
    await request(app).get('/').set('Cookie', cookieHeader(stored)).expect(200, { tag: 'big', size: 300 * 1024 })

    const grown = await request(app).get(`/fill/${410 * 1024}/huge`).set('Cookie', cookieHeader(stored)).expect(413)
    expect(grown.body).toEqual({ error: 'SessionTooLargeError', typed: true })
    expect(grown.headers['set-cookie']).toBeUndefined()
    await request(app).get('/').set('Cookie', cookieHeader(stored)).expect(200, { tag: 'big', size: 300 * 1024 })
  })
})
