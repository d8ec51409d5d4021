import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Stream } from 'node:stream'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import compression from 'compression'
import type express from 'express'
import request from 'supertest'
import { arcSession, type ArcSessionOptions } from 'arc-session'
import { EXPRESS_VERSIONS, isExpired, listen, sessionCookies, testOptions, type ExpressFactory, type Running } from '../support/apps'
import { getItem, idOf, itemCount, makeTable, newClient } from '../support/dynamo-helpers'

// While the store works out the session cookie, the response is held and then replayed. The
// replay must survive what other middleware and routes do to a response (compression calling
// writeHead on every write, an invalid status code), a failed commit must not keep the route's
// status, save() calls need not be awaited, and a route that throws runs once.

let client: DynamoDBClient
let table = ''

beforeAll(async () => {
  client = newClient()
  table = await makeTable('hold')
})

afterAll(() => { client.destroy() })

// Every app runs on a real server, closed with its connections after each test: a response that
// never comes (what several tests here guard against) fails its test without keeping jest from exiting.
const servers: Running[] = []

afterEach(async () => {
  await Promise.all(servers.splice(0).map(async server => { await server.close() }))
})

/** Serve an app on a free port until the test ends; its URL. */
async function serve (app: express.Express): Promise<string> {
  const server = await listen(app)
  servers.push(server)
  return server.url
}

type Store = 'JWE cookie store' | 'DynamoDB store'
const STORES: readonly Store[] = ['JWE cookie store', 'DynamoDB store']

function storeOptions (store: Store, extra: ArcSessionOptions = {}): ArcSessionOptions {
  return store === 'JWE cookie store' ? testOptions(extra) : testOptions({ table, dynamodb: { client }, ...extra })
}

/** The one live session cookie of a response, as a Cookie header pair. */
function livePair (response: { headers: Record<string, unknown> }): string {
  const live = sessionCookies(response).filter(cookie => !isExpired(cookie))
  expect(live).toHaveLength(1)
  return live[0]!.pair
}

/** Text long enough for compression to bother (its threshold is 1 kB), in distinct pieces. */
function piece (label: string, kb: number): string {
  return `${label}:` + Array.from({ length: kb * 16 }, (_, i) => `${label}-${i.toString(36).padStart(4, '0')}-abcdefghijklmnopqrstuvwxyz-`).join('').slice(0, kb * 1024)
}
const PIECES = ['one', 'two', 'three', 'four'].map(label => piece(label, 16))
const STREAMED = PIECES.join('')
const LARGE = piece('large', 256)

/** An app whose routes change the session and end their response with several writes or one large send. */
function compressedApp (makeExpress: ExpressFactory, options: ArcSessionOptions, order: 'after' | 'before'): express.Express {
  const app = makeExpress()
  if (order === 'before') app.use(compression())
  app.use(arcSession(options))
  if (order === 'after') app.use(compression())
  app.get('/read', (req, res) => { res.json(req.session) })
  app.get('/stream', (req, res) => {
    req.session.route = 'stream'
    res.type('text/plain')
    res.write(PIECES[0])
    res.write(Buffer.from(PIECES[1]!))
    res.write(PIECES[2])
    res.end(PIECES[3])
  })
  app.get('/stream-later', (req, res) => {
    req.session.route = 'stream-later'
    res.type('text/plain')
    res.write(PIECES[0])
    res.write(PIECES[1])
    setImmediate(() => {
      res.write(PIECES[2])
      res.end(PIECES[3])
    })
  })
  app.get('/large', (req, res) => {
    req.session.route = 'large'
    res.type('text/plain').send(LARGE)
  })
  return app
}

describe.each(STORES)('%s', store => {
  describe.each(EXPRESS_VERSIONS)('%s', (_name, makeExpress) => {
    describe.each(['after', 'before'] as const)('compression() mounted %s arcSession', order => {
      test.each([
        ['several res.write() then res.end()', '/stream', STREAMED, 'stream'],
        ['res.write() now and later, then res.end()', '/stream-later', STREAMED, 'stream-later'],
        ['res.send() of a large body', '/large', LARGE, 'large']
      ])('%s: the gzip body arrives intact with the session cookie, and the server keeps answering', async (_how, path, body, route) => {
        const url = await serve(compressedApp(makeExpress, storeOptions(store), order))
        const response = await request(url).get(path).set('Accept-Encoding', 'gzip').expect(200)
        expect(response.headers['content-encoding']).toBe('gzip')
        expect(response.text).toBe(body)
        const pair = livePair(response)

        const next = await request(url).get('/read').set('Cookie', pair).expect(200)
        expect(next.body).toEqual({ route })
      })
    })

    describe('a route that changes the session, then gives an invalid status code', () => {
      function badStatusApp (): express.Express {
        const app = makeExpress()
        app.use(arcSession(storeOptions(store)))
        app.get('/ok', (_req, res) => { res.send('still here') })
        app.get('/writehead-1000', (req, res) => {
          req.session.visited = true
          res.writeHead(1000)
          res.end('never')
        })
        app.get('/status-enoent', (req, res) => {
          req.session.visited = true
          res.status('ENOENT' as unknown as number).send()
        })
        return app
      }

      const cases: Array<[string, string]> = [['res.writeHead(1000); res.end()', '/writehead-1000']]
      // Express 5's res.status() refuses such a code itself, in the route; Express 4's takes it.
      if (makeExpress !== EXPRESS_VERSIONS[0]![1]) cases.push(['res.status(\'ENOENT\').send()', '/status-enoent'])

      test.each(cases)('%s: the client gets a 500, not a hang, and the server keeps answering', async (_how, path) => {
        const url = await serve(badStatusApp())
        const response = await request(url).get(path)
        expect(response.status).toBe(500)
        expect(sessionCookies(response).filter(cookie => !isExpired(cookie))).toEqual([])

        const next = await request(url).get('/ok').expect(200)
        expect(next.text).toBe('still here')
      })
    })

    describe('save() not awaited', () => {
      function savingApp (): express.Express {
        const app = makeExpress()
        app.use(arcSession(storeOptions(store)))
        app.get('/read', (req, res) => { res.json(req.session) })
        app.get('/save-twice', (req, res) => {
          req.session.a = 1
          void req.session.save()
          void req.session.save()
          res.end()
        })
        app.get('/save-between', (req, res) => {
          req.session.a = 1
          void req.session.save()
          req.session.b = 2
          void req.session.save()
          res.end()
        })
        app.get('/save-then-send', (req, res) => {
          req.session.a = 1
          void req.session.save()
          req.session.b = 2
          res.send('sent')
        })
        return app
      }

      test.each([
        ['a = 1; save(); save(); res.end()', '/save-twice', { a: 1 }],
        ['a = 1; save(); b = 2; save(); res.end()', '/save-between', { a: 1, b: 2 }],
        ['a = 1; save(); b = 2; res.send()', '/save-then-send', { a: 1, b: 2 }]
      ])('%s: the cookie carries everything the route set', async (_how, path, expected) => {
        const url = await serve(savingApp())
        const response = await request(url).get(path).expect(200)
        const next = await request(url).get('/read').set('Cookie', livePair(response)).expect(200)
        expect(next.body).toEqual(expected)
      })
    })

    describe('req.session = null once the response has started', () => {
      test.each([
        ['a session left unchanged', false],
        ['a session changed before the write (its commit still in flight)', true]
      ])('%s: throws HeadersSentError to the route, which can say so', async (_what, changeFirst) => {
        const app = makeExpress()
        app.use(arcSession(storeOptions(store)))
        app.get('/login', (req, res) => {
          req.session.user = 'alice'
          res.send('in')
        })
        app.get('/read', (req, res) => { res.json(req.session) })
        app.get('/logout-late', (req, res) => {
          if (changeFirst) req.session.lastSeen = 'logout-page'
          res.type('text/plain')
          res.write('bye ')
          try {
            req.session = null
            res.end('logged out')
          } catch (error) {
            const failure = error as { name?: string, code?: string }
            res.end(`${failure.name ?? 'error'} ${failure.code ?? ''}`)
          }
        })
        const url = await serve(app)
        const login = await request(url).get('/login').expect(200)
        const pair = livePair(login)

        const late = await request(url).get('/logout-late').set('Cookie', pair).expect(200)
        expect(late.text).toBe('bye HeadersSentError ARC_SESSION_HEADERS_SENT')

        // The session is what the route had made it: the route was told its logout did not happen,
        // rather than the session living on behind a 200 that says "logged out".
        const expected = changeFirst ? { user: 'alice', lastSeen: 'logout-page' } : { user: 'alice' }
        const live = sessionCookies(late).filter(cookie => !isExpired(cookie))
        const next = live.length > 0 ? live[0]!.pair : pair
        if (store === 'DynamoDB store') {
          const item = await getItem(client, table, idOf(next).id)
          expect(item?.user).toEqual({ S: 'alice' })
        }
        const after = await request(url).get('/read').set('Cookie', next).expect(200)
        expect(after.body).toEqual(expected)
      })
    })
  })
})

describe.each(EXPRESS_VERSIONS)('a commit that fails after the route chose its status (%s)', (_name, makeExpress) => {
  /** The error handler of many apps: a JSON body, and whatever status the response has. */
  function jsonErrors (error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction): void {
    res.json({ error: (error as { code?: string }).code })
  }

  function failingApp (options: ArcSessionOptions): express.Express {
    const app = makeExpress()
    app.use(arcSession(options))
    app.get('/redirect', (req, res) => {
      req.session.big = 'x'.repeat(4000)
      res.redirect(302, '/x')
    })
    app.get('/created', (req, res) => {
      req.session.big = 'x'.repeat(4000)
      res.status(201).json({ created: true })
    })
    app.use(jsonErrors)
    return app
  }

  const cases: Array<[string, () => ArcSessionOptions, number, string]> = [
    ['a session over the cookie cap', () => testOptions({ cookie: { maxBytes: 1024 } }), 413, 'ARC_SESSION_TOO_LARGE'],
    ['a missing DynamoDB table', () => testOptions({ table: 'arc-session-no-such-table', dynamodb: { client } }), 500, 'ARC_SESSION_STORE']
  ]

  describe.each(cases)('%s', (_what, options, status, code) => {
    test.each([
      ['res.redirect(302, \'/x\')', '/redirect'],
      ['res.status(201).json()', '/created']
    ])('after %s the client gets the error status, no Location and no session cookie', async (_how, path) => {
      const response = await request(await serve(failingApp(options()))).get(path).redirects(0)
      expect(response.status).toBe(status)
      expect(response.headers.location).toBeUndefined()
      expect(response.body).toEqual({ error: code })
      expect(sessionCookies(response)).toEqual([])
    })

    describe.each(['after', 'before'] as const)('with compression() mounted %s arcSession', order => {
      const ROUTE_BODY = piece('route-only', 8)

      function compressedFailingApp (): express.Express {
        const app = makeExpress()
        if (order === 'before') app.use(compression())
        app.use(arcSession(options()))
        if (order === 'after') app.use(compression())
        app.get('/stream', (req, res) => {
          req.session.big = 'x'.repeat(4000)
          res.type('text/plain')
          res.write(ROUTE_BODY.slice(0, 4096))
          res.end(ROUTE_BODY.slice(4096))
        })
        app.get('/send', (req, res) => {
          req.session.big = 'x'.repeat(4000)
          res.status(201).type('text/plain').send(ROUTE_BODY)
        })
        app.use(jsonErrors)
        return app
      }

      test.each([
        ['several res.write() then res.end()', '/stream'],
        ['res.status(201).send() of a large body', '/send']
      ])('after %s the client gets the error handler\'s body, and none of the route\'s', async (_how, path) => {
        const response = await request(await serve(compressedFailingApp())).get(path).set('Accept-Encoding', 'gzip').buffer(true).parse(binary)
        expect(response.status).toBe(status)
        const body = (response.body as Buffer).toString('latin1')
        expect(body).not.toContain('route-only')
        expect(body).toBe(JSON.stringify({ error: code }))
      })
    })
  })
})

/** A supertest parser that keeps the body as bytes (after any gzip decoding). */
function binary (res: Stream, callback: (error: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = []
  res.on('data', (chunk: Buffer) => chunks.push(chunk))
  res.on('end', () => { callback(null, Buffer.concat(chunks)) })
}

describe.each(EXPRESS_VERSIONS)('save() not awaited, then await regenerate({ keep: true }) on DynamoDB (%s)', (_name, makeExpress) => {
  let ownTable = ''

  beforeEach(async () => {
    ownTable = await makeTable('hold-regen')
  })

  function regenApp (): express.Express {
    const app = makeExpress()
    app.use(arcSession(testOptions({ table: ownTable, dynamodb: { client } })))
    app.get('/visit', (req, res) => {
      req.session.visits = 1
      res.send('hello')
    })
    app.get('/read', (req, res) => { res.json(req.session) })
    app.get('/login', async (req, res, next) => {
      try {
        req.session.user = 'bob'
        void req.session.save()
        await req.session.regenerate({ keep: true })
        res.end()
      } catch (error) {
        next(error)
      }
    })
    return app
  }

  test('a visitor with a session: the new cookie finds user bob under a new id, the old item is gone', async () => {
    const url = await serve(regenApp())
    const visit = await request(url).get('/visit').expect(200)
    const before = livePair(visit)
    const oldId = idOf(before).id

    const login = await request(url).get('/login').set('Cookie', before).expect(200)
    const after = livePair(login)
    const newId = idOf(after).id
    expect(newId).not.toBe(oldId)

    expect(await getItem(client, ownTable, oldId)).toBeUndefined()
    expect((await getItem(client, ownTable, newId))?.user).toEqual({ S: 'bob' })
    expect(await itemCount(client, ownTable)).toBe(1)

    const read = await request(url).get('/read').set('Cookie', after).expect(200)
    expect(read.body).toEqual({ visits: 1, user: 'bob' })
    // The old cookie finds nothing.
    const stale = await request(url).get('/read').set('Cookie', before).expect(200)
    expect(stale.body).toEqual({})
  })

  test('a new visitor: one item, holding user bob, and the cookie finds it', async () => {
    const url = await serve(regenApp())
    const login = await request(url).get('/login').expect(200)
    const after = livePair(login)
    expect((await getItem(client, ownTable, idOf(after).id))?.user).toEqual({ S: 'bob' })
    // The item the unawaited save() created belongs to the identity regenerate() replaced.
    expect(await itemCount(client, ownTable)).toBe(1)

    const read = await request(url).get('/read').set('Cookie', after).expect(200)
    expect(read.body).toEqual({ user: 'bob' })
  })
})

describe('a plain node:http server calling the middleware by hand, whose route throws', () => {
  let dir = ''

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arc-session-throw-'))
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  /** Run a TypeScript file with tsx in its own process; its stdout. */
  async function runScript (file: string): Promise<{ code: number | null, stdout: string, stderr: string }> {
    const tsx = join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx')
    expect(existsSync(tsx)).toBe(true)
    return await new Promise((resolve, reject) => {
      const child = spawn(tsx, [file], { cwd: join(__dirname, '..', '..'), env: { ...process.env, DEBUG: '' }, stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
      child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
      child.on('error', reject)
      child.on('close', code => { resolve({ code, stdout, stderr }) })
    })
  }

  test.each(STORES)('%s: the route runs once, and its error surfaces as an uncaught exception', async store => {
    const lib = JSON.stringify(join(__dirname, '..', '..', 'lib', 'index.ts'))
    const options = store === 'JWE cookie store'
      ? '{ secret: "spec-secret-7f3a9c1e5b2d8a4f6c0e9b1d3a5c7e9f", env: {}, cookie: { secure: false } }'
      : `{ secret: "spec-secret-7f3a9c1e5b2d8a4f6c0e9b1d3a5c7e9f", env: {}, cookie: { secure: false }, table: ${JSON.stringify(table)}, dynamodb: { endpoint: ${JSON.stringify(process.env.DYNAMODB_TEST_ENDPOINT)}, region: 'us-east-1' } }`
    const script = join(dir, `throw-${store === 'JWE cookie store' ? 'jwe' : 'dynamodb'}.ts`)
    await writeFile(script, `
import { createServer, get } from 'node:http'
import type { AddressInfo } from 'node:net'
const { arcSession } = require(${lib})

const session = arcSession(${options})
let runs = 0
const uncaught: string[] = []
const unhandled: string[] = []
let reported = false
function report () {
  if (reported) return
  reported = true
  // Two turns of the event loop: whatever else the throw sets off has happened by then.
  setImmediate(() => setImmediate(() => {
    process.stdout.write(JSON.stringify({ runs, uncaught, unhandled }) + '\\n')
    process.exit(0)
  }))
}
process.on('uncaughtException', error => { uncaught.push(error.message); report() })
process.on('unhandledRejection', error => { unhandled.push(String((error as Error)?.message ?? error)); report() })

const server = createServer((req, res) => {
  // A hand-written route: it ignores next()'s argument, as plain handlers do.
  session(req, res, () => {
    runs++
    throw new Error('route failed')
  })
})
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  get({ port, host: '127.0.0.1', path: '/' }).on('error', () => { /* the server never answers */ })
})
`)
    const result = await runScript(script)
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual({ runs: 1, uncaught: ['route failed'], unhandled: [] })
  })
})
