import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Server as SocketServer, type Socket as ServerSocket } from 'socket.io'
import { io as connectClient, type Socket as ClientSocket } from 'socket.io-client'
import request from 'supertest'
import { arcSession, type Session } from 'arc-session'
import {
  EXPRESS_VERSIONS, REQUEST_TIMEOUT, SECRET, STORES, browser, errorHandler, isDynamo, liveSessionCookie, listen, plain, useStores,
  type ExpressFactory
} from './support'

/**
 * socket.io 4 sharing the session with the HTTP side through its documented pattern,
 * `io.engine.use(sessionMiddleware)`: the handshake request carries the session cookie, and
 * `socket.request.session` is that request's session for the whole connection.
 */

const stores = useStores('socketio')

type Running = Awaited<ReturnType<typeof listen>>
type Transports = 'websocket only' | 'polling, then upgrade'
const TRANSPORTS: readonly Transports[] = ['websocket only', 'polling, then upgrade']

interface Ack { ok: boolean, code?: string, name?: string, session?: Record<string, unknown> }

/** socket.request as a session middleware leaves it. */
type SessionRequest = IncomingMessage & { session: Session, sessionID: string }

/** Waits for one event, failing after `ms` (the connection or upgrade never came) instead of hanging. */
async function nextEvent<T = unknown> (emitter: unknown, event: string, ms = 4000): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`no ${event} within ${ms} ms`)) }, ms)
    ;(emitter as { once: (event: string, listener: (value: T) => void) => unknown }).once(event, value => { clearTimeout(timer); resolve(value) })
  })
}

async function emitWithAck (socket: ClientSocket, event: string, ...args: unknown[]): Promise<Ack> {
  return await (socket.timeout(4000).emitWithAck(event, ...args) as Promise<Ack>)
}

describe.each(STORES)('%s', store => {
  describe.each(EXPRESS_VERSIONS)('%s', (_name, makeExpress: ExpressFactory) => {
    describe.each(TRANSPORTS)('%s', transports => {
      let running: Running | undefined
      let io: SocketServer | undefined
      const clients: ClientSocket[] = []
      let connectionErrors: Array<{ code: number, message: string }> = []
      let url = ''

      beforeEach(async () => {
        const sessionMiddleware = arcSession(stores.options(store))
        const app = makeExpress()
        app.use(makeExpress.json())
        app.use(sessionMiddleware)
        app.post('/set', (req, res) => {
          Object.assign(req.session, req.body)
          res.json({ data: plain(req.session), sessionID: req.sessionID })
        })
        app.get('/read', (req, res) => { res.json(plain(req.session)) })
        app.use(errorHandler)

        const httpServer = createServer(app)
        io = new SocketServer(httpServer)
        io.engine.use(sessionMiddleware)
        connectionErrors = []
        io.engine.on('connection_error', (error: { code: number, message: string }) => { connectionErrors.push({ code: error.code, message: error.message }) })

        io.on('connection', (socket: ServerSocket) => {
          const req = socket.request as SessionRequest
          socket.emit('hello', { session: plain(req.session), sessionID: req.sessionID })
          socket.on('set', (value: unknown, ack: (answer: Ack) => void) => {
            req.session.fromSocket = value
            req.session.save().then(
              () => { ack({ ok: true }) },
              (error: { code?: string, name?: string }) => { ack({ ok: false, code: error.code, name: error.name }) }
            )
          })
          // socket.io's documented pattern for express-session: reload, change, save (callbacks).
          socket.on('count', (ack: (answer: Ack) => void) => {
            req.session.reload(error => {
              if (error !== null) { ack({ ok: false, code: (error as { code?: string }).code, name: error.name }); return }
              req.session.count = ((req.session.count as number | undefined) ?? 0) + 1
              req.session.save(saveError => {
                if (saveError !== null) { ack({ ok: false, code: (saveError as { code?: string }).code, name: saveError.name }); return }
                ack({ ok: true, session: plain(req.session) })
              })
            })
          })
        })

        running = await listen(httpServer)
        url = running.url
      })

      afterEach(async () => {
        for (const client of clients.splice(0)) client.disconnect()
        const server = io
        io = undefined
        if (server !== undefined) await new Promise<void>(resolve => { void server.close(() => { resolve() }) })
        running?.server.closeAllConnections()
        running = undefined
      })

      /** A socket.io client sending `cookie` on its handshake (and on every polling request and the upgrade). */
      async function connect (cookie: string | undefined): Promise<{ client: ClientSocket, hello: { session: Record<string, unknown>, sessionID: string } }> {
        const client = connectClient(url, {
          forceNew: true,
          reconnection: false,
          timeout: 4000,
          transports: transports === 'websocket only' ? ['websocket'] : ['polling', 'websocket'],
          ...(cookie === undefined ? {} : { extraHeaders: { cookie } })
        })
        clients.push(client)
        const greeting = await new Promise<{ session: Record<string, unknown>, sessionID: string }>((resolve, reject) => {
          const timer = setTimeout(() => { reject(new Error('no hello within 4000 ms')) }, 4000)
          client.once('hello', (hello: { session: Record<string, unknown>, sessionID: string }) => { clearTimeout(timer); resolve(hello) })
          client.once('connect_error', (error: Error) => { clearTimeout(timer); reject(new Error(`connect_error: ${error.message}`)) })
        })
        return { client, hello: greeting }
      }

      /**
       * An HTTP visit that leaves `data` in a session; the cookie a browser would send back. On
       * DynamoDB the cookie is id.signature with a base64 signature; about three in four contain
       * + or / (percent-encoded on the wire). `withPlusOrSlash` picks such a session, so that a
       * test depending on it is deterministic.
       */
      async function sessionWith (data: Record<string, unknown>, { withPlusOrSlash = false } = {}): Promise<{ cookie: string, sessionID: string }> {
        for (let attempt = 0; ; attempt++) {
          const res = await request(url).post('/set').send(data).timeout(REQUEST_TIMEOUT).expect(200)
          const cookie = liveSessionCookie(res)
          if (!withPlusOrSlash || !isDynamo(store) || /[+/]/.test(decodeURIComponent(cookie.value)) || attempt >= 40) {
            return { cookie: cookie.pair, sessionID: res.body.sessionID as string }
          }
        }
      }

      async function httpRead (cookie: string): Promise<Record<string, unknown>> {
        return (await request(url).get('/read').set('Cookie', cookie).timeout(REQUEST_TIMEOUT).expect(200)).body as Record<string, unknown>
      }

      it('socket.request.session is the session an earlier HTTP request of the app set', async () => {
        const { cookie, sessionID } = await sessionWith({ user: 'ada', cart: ['book'] })
        const { client, hello } = await connect(cookie)
        expect(hello.session).toEqual({ user: 'ada', cart: ['book'] })
        expect(hello.sessionID).toBe(sessionID)
        if (transports === 'websocket only') {
          expect(client.io.engine.transport.name).toBe('websocket')
        } else {
          // The upgrade to WebSocket goes through the session middleware too, and must succeed.
          if (client.io.engine.transport.name !== 'websocket') await nextEvent(client.io.engine, 'upgrade')
          expect(client.io.engine.transport.name).toBe('websocket')
        }
        expect(connectionErrors).toEqual([])
      })

      if (isDynamo(store)) {
        it('a handler that changes socket.request.session and calls save() persists it: a later HTTP request sees it', async () => {
          const { cookie } = await sessionWith({ user: 'ada' })
          const { client } = await connect(cookie)
          expect(await emitWithAck(client, 'set', 'hello from the socket')).toEqual({ ok: true })
          expect(await httpRead(cookie)).toEqual({ user: 'ada', fromSocket: 'hello from the socket' })
          expect(await emitWithAck(client, 'set', 'and again')).toEqual({ ok: true })
          expect(await httpRead(cookie)).toEqual({ user: 'ada', fromSocket: 'and again' })
          expect(connectionErrors).toEqual([])
        })

        it('the documented reload-change-save handler counts across events, and HTTP sees the count', async () => {
          const { cookie } = await sessionWith({ user: 'ada' }, { withPlusOrSlash: true })
          const { client } = await connect(cookie)
          for (const expected of [1, 2, 3]) {
            const ack = await emitWithAck(client, 'count')
            expect(ack).toEqual({ ok: true, session: { user: 'ada', count: expected } })
          }
          expect(await httpRead(cookie)).toEqual({ user: 'ada', count: 3 })
          // The HTTP side's change is seen by the next event's reload().
          await request(url).post('/set').set('Cookie', cookie).send({ count: 10 }).timeout(REQUEST_TIMEOUT).expect(200)
          expect(await emitWithAck(client, 'count')).toEqual({ ok: true, session: { user: 'ada', count: 11 } })
        })
      } else {
        it('save() from a handler rejects with HeadersSentError (the cookie cannot change any more); the server stays up', async () => {
          const { cookie } = await sessionWith({ user: 'ada' })
          const { client } = await connect(cookie)
          expect(await emitWithAck(client, 'set', 'hello from the socket')).toEqual({ ok: false, code: 'ARC_SESSION_HEADERS_SENT', name: 'HeadersSentError' })
          const count = await emitWithAck(client, 'count')
          expect(count).toEqual({ ok: false, code: 'ARC_SESSION_HEADERS_SENT', name: 'HeadersSentError' })
          expect(await httpRead(cookie)).toEqual({ user: 'ada' })
          // Still up, and the socket still works.
          expect(client.connected).toBe(true)
          expect(await emitWithAck(client, 'set', 'again')).toMatchObject({ ok: false, code: 'ARC_SESSION_HEADERS_SENT' })
          expect(connectionErrors).toEqual([])
        })
      }

      it('a socket without a session cookie gets an empty session; save() rejects with HeadersSentError; nothing crashes', async () => {
        const { client, hello } = await connect(undefined)
        expect(hello.session).toEqual({})
        expect(await emitWithAck(client, 'set', 'x')).toEqual({ ok: false, code: 'ARC_SESSION_HEADERS_SENT', name: 'HeadersSentError' })
        const after = await request(url).get('/read').timeout(REQUEST_TIMEOUT).expect(200)
        expect(after.body).toEqual({})
        expect(connectionErrors).toEqual([])
      })

      it('many clients at once, with and without sessions: every handshake and upgrade succeeds', async () => {
        const sessions = await Promise.all([1, 2, 3].map(async n => await sessionWith({ n })))
        const connected = await Promise.all([...sessions.map(session => session.cookie), undefined, undefined].map(async cookie => await connect(cookie)))
        expect(connected.map(({ hello }) => hello.session)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, {}, {}])
        if (transports !== 'websocket only') {
          await Promise.all(connected.map(async ({ client }) => {
            if (client.io.engine.transport.name !== 'websocket') await nextEvent(client.io.engine, 'upgrade')
          }))
        }
        expect(connected.map(({ client }) => client.io.engine.transport.name)).toEqual(Array(5).fill('websocket'))
        expect(connectionErrors).toEqual([])
        // The HTTP side still serves those sessions.
        expect(await httpRead(sessions[1]!.cookie)).toEqual({ n: 2 })
        await browser(url).get('/read').timeout(REQUEST_TIMEOUT).expect(200)
      })
    })
  })
})

/**
 * The server in a process of its own (spec/ecosystem/fixtures/socket-io-server.ts), where
 * process.on('unhandledRejection') is the real one: would socket.io's documented handler,
 * `req.session.count++; req.session.save()` with neither await nor callback, crash the server?
 */
describe.each(STORES)('%s, server in its own process', store => {
  let child: ChildProcess | undefined
  let url = ''
  const clients: ClientSocket[] = []

  beforeAll(async () => {
    child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'socket-io-server.ts')], {
      cwd: join(__dirname, '..', '..'),
      env: {
        PATH: process.env.PATH ?? '',
        ECO_STORE: isDynamo(store) ? 'dynamodb' : 'jwe',
        ECO_TABLE: stores.table,
        ECO_SECRET: SECRET,
        DYNAMODB_TEST_ENDPOINT: process.env.DYNAMODB_TEST_ENDPOINT ?? '',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true'
      },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stderr = ''
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', chunk => { stderr += chunk as string })
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`the server process did not start: ${stderr}`)) }, 15000)
      child?.once('exit', code => { clearTimeout(timer); reject(new Error(`the server process exited (${String(code)}): ${stderr}`)) })
      createInterface({ input: child!.stdout! }).on('line', line => {
        const match = /^@@listening (\d+)$/.exec(line)
        if (match !== null) { clearTimeout(timer); resolve(Number(match[1])) }
      })
    })
    url = `http://127.0.0.1:${port}`
  }, 19000)

  afterEach(() => {
    for (const client of clients.splice(0)) client.disconnect()
  })

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise(resolve => child?.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
  })

  async function connect (cookie: string, transports: Transports): Promise<ClientSocket> {
    const client = connectClient(url, {
      forceNew: true,
      reconnection: false,
      timeout: 4000,
      transports: transports === 'websocket only' ? ['websocket'] : ['polling', 'websocket'],
      extraHeaders: { cookie }
    })
    clients.push(client)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('no connect within 4000 ms')) }, 4000)
      client.once('connect', () => { clearTimeout(timer); resolve() })
      client.once('connect_error', (error: Error) => { clearTimeout(timer); reject(new Error(`connect_error: ${error.message}`)) })
    })
    return client
  }

  interface ProcessReport { unhandledRejections: string[], uncaughtExceptions: string[] }
  let seen: ProcessReport = { unhandledRejections: [], uncaughtExceptions: [] }

  async function fullReport (): Promise<ProcessReport> {
    return (await request(url).get('/__process').timeout(REQUEST_TIMEOUT).expect(200)).body as ProcessReport
  }

  beforeEach(async () => { seen = await fullReport() })

  /** What the process saw since this test began (the process's spy on unhandledRejection and uncaughtException). */
  async function processReport (): Promise<ProcessReport> {
    const now = await fullReport()
    return {
      unhandledRejections: now.unhandledRejections.slice(seen.unhandledRejections.length),
      uncaughtExceptions: now.uncaughtExceptions.slice(seen.uncaughtExceptions.length)
    }
  }

  it.each(TRANSPORTS)('%s: save() from the docs\' handler, neither awaited nor given a callback, leaves no unhandled rejection', async transports => {
    const created = await request(url).post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
    const cookie = liveSessionCookie(created).pair
    const client = await connect(cookie, transports)
    await client.timeout(4000).emitWithAck('my event')
    await client.timeout(4000).emitWithAck('my event')
    // Give a rejection the turns it needs to be reported as unhandled.
    await new Promise(resolve => setTimeout(resolve, 200))
    const report = await processReport()
    expect(report.unhandledRejections).toEqual([])
    expect(report.uncaughtExceptions).toEqual([])
    expect(child?.exitCode).toBeNull()
    const read = await request(url).get('/read').set('Cookie', cookie).timeout(REQUEST_TIMEOUT).expect(200)
    expect(read.body).toEqual(isDynamo(store) ? { user: 'ada', count: 2 } : { user: 'ada' })
  })

  it.each(TRANSPORTS)('%s: save(callback) reports its outcome to the callback, nothing unhandled', async transports => {
    const created = await request(url).post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
    const cookie = liveSessionCookie(created).pair
    const client = await connect(cookie, transports)
    const outcome = await (client.timeout(4000).emitWithAck('with callback') as Promise<string>)
    expect(outcome).toBe(isDynamo(store) ? 'saved' : 'ARC_SESSION_HEADERS_SENT')
    await new Promise(resolve => setTimeout(resolve, 100))
    const report = await processReport()
    expect(report.unhandledRejections).toEqual([])
    expect(report.uncaughtExceptions).toEqual([])
  })
})
