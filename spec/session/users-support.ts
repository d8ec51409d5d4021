/**
 * Shared by the users-and-devices specs (spec/session/users-*.spec.ts): the three ways a
 * deployment can keep track of a user's sessions (the DynamoDB store's own index, the cookie
 * store with an in-memory registry, the cookie store with a DynamoDB registry table), a
 * registry that counts its calls and can go down, a browser on the test clock, and one app.
 */
import express from 'express'
import request from 'supertest'
import { arcSession, type ArcSessionMiddleware, type ArcSessionOptions, type RegistryEntry, type Revocation, type SessionRegistry } from 'arc-session'
import { MemoryRegistry } from '../../examples/memory-registry'
import { testOptions } from '../support/apps'
import { TimedJar, type TestClock } from '../support/clock'
import { REGION, errorHandler, newClient, testEndpoint } from '../support/dynamo-helpers'

export type Backend = 'DynamoDB store' | 'cookie store + MemoryRegistry' | 'cookie store + DynamoDB registry'
export const BACKENDS: readonly Backend[] = ['DynamoDB store', 'cookie store + MemoryRegistry', 'cookie store + DynamoDB registry']

export type RegistryMethod = 'record' | 'forget' | 'list' | 'revoke' | 'revocations'

/**
 * A SessionRegistry in front of another (a MemoryRegistry by default) that counts each call
 * made to it (not the inner registry's calls to itself) and, while `down` is set, fails them:
 * 'reject' answers with a rejected promise (a network failure), 'throw' throws synchronously.
 */
export class CountingRegistry implements SessionRegistry {
  readonly calls: Array<{ method: RegistryMethod, user: string }> = []
  down: false | 'reject' | 'throw' = false

  constructor (readonly inner: SessionRegistry = new MemoryRegistry()) {}

  count (method?: RegistryMethod): number {
    return method === undefined ? this.calls.length : this.calls.filter(call => call.method === method).length
  }

  writes (): number {
    return this.count('record') + this.count('forget') + this.count('revoke')
  }

  reset (): void {
    this.calls.length = 0
  }

  private call<T> (method: RegistryMethod, user: string, run: () => T): T | Promise<never> {
    this.calls.push({ method, user })
    if (this.down === 'throw') throw new Error(`registry down (${method})`)
    if (this.down === 'reject') return Promise.reject(new Error(`registry down (${method})`))
    return run()
  }

  record (entry: RegistryEntry): ReturnType<SessionRegistry['record']> {
    return this.call('record', entry.user, () => this.inner.record(entry))
  }

  forget (user: string, id: string): ReturnType<SessionRegistry['forget']> {
    return this.call('forget', user, () => this.inner.forget(user, id))
  }

  list (user: string): ReturnType<SessionRegistry['list']> {
    return this.call('list', user, () => this.inner.list(user))
  }

  revoke (user: string, revocation: Revocation): ReturnType<SessionRegistry['revoke']> {
    return this.call('revoke', user, () => this.inner.revoke(user, revocation))
  }

  revocations (user: string): ReturnType<SessionRegistry['revocations']> {
    return this.call('revocations', user, () => this.inner.revocations(user))
  }
}

/**
 * The options of one "server" of a backend. Servers made with the same `shared` see the same
 * sessions: the same DynamoDB table, or the same registry (object or table).
 */
export interface Shared {
  readonly table: string
  readonly registry: SessionRegistry
}

export function backendOptions (backend: Backend, shared: Shared, extra: ArcSessionOptions = {}): ArcSessionOptions {
  switch (backend) {
    case 'DynamoDB store':
      return testOptions({ table: shared.table, dynamodb: { client: newClient() }, user: 'userId', ...extra })
    case 'cookie store + MemoryRegistry':
      return testOptions({ user: 'userId', registry: shared.registry, ...extra })
    case 'cookie store + DynamoDB registry':
      return testOptions({ user: 'userId', registry: shared.table, dynamodb: { endpoint: testEndpoint(), region: REGION }, ...extra })
  }
}

export interface Server {
  readonly app: express.Express
  readonly sessions: ArcSessionMiddleware
  /** Lets the held routes (/held-*) go on. */
  release (): void
  /** Resolves once a held route has loaded its session and is waiting. */
  holding (): Promise<void>
}

/**
 * One server: the middleware and the routes every users spec needs.
 *
 * - POST /login/:user binds (sets the user key), answers { id }
 * - GET /me is read-only: { user } (never touches req.sessionID, so an anonymous visit makes no cookie)
 * - GET /count writes the session on every request
 * - GET /devices lists the signed-in user's sessions, the current one marked
 * - POST /logout deletes the user key, then regenerate()s (passport's order)
 * - POST /held-write and GET /held-reload load the session, wait for release(), then write / reload()
 * - then `routes`, then the error handler
 */
export function makeServer (options: ArcSessionOptions, userKey: (session: Record<string, unknown>) => unknown = session => session.userId,
  routes: (app: express.Express, sessions: ArcSessionMiddleware) => void = () => undefined): Server {
  const sessions = arcSession(options)
  const app = express()
  app.use(sessions)
  let gate = resolvers()
  let held = resolvers()
  const wait = async (): Promise<void> => {
    held.resolve()
    await gate.promise
  }
  app.post('/login/:user', (req, res) => {
    req.session.userId = req.params.user
    res.json({ id: req.sessionID })
  })
  app.get('/me', (req, res) => {
    res.json({ user: userKey(req.session) ?? null })
  })
  app.get('/count', (req, res) => {
    req.session.n = ((req.session.n as number | undefined) ?? 0) + 1
    res.json({ user: userKey(req.session) ?? null, n: req.session.n })
  })
  app.get('/devices', async (req, res) => {
    res.json(await sessions.listUserSessions(userKey(req.session) as string, req))
  })
  app.post('/logout', async (req, res) => {
    delete req.session.userId
    await req.session.regenerate()
    res.json({ user: null })
  })
  app.post('/held-write', async (req, res) => {
    const user = userKey(req.session) ?? null
    await wait()
    req.session.n = ((req.session.n as number | undefined) ?? 0) + 1
    res.json({ user })
  })
  app.get('/held-reload', async (req, res) => {
    const before = userKey(req.session) ?? null
    await wait()
    await req.session.reload()
    res.json({ before, after: userKey(req.session) ?? null })
  })
  routes(app, sessions)
  app.use(errorHandler)
  return {
    app,
    sessions,
    release: () => {
      gate.resolve()
      gate = resolvers()
    },
    holding: async () => {
      await held.promise
      held = resolvers()
    }
  }
}

function resolvers (): { promise: Promise<void>, resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>(done => { resolve = done })
  return { promise, resolve }
}

export interface Reply {
  readonly status: number
  readonly body: Record<string, unknown>
  /** Set-Cookie values of the session cookie that expire it. */
  readonly expired: boolean
  /** A live session cookie was set. */
  readonly issued: boolean
  readonly headers: Record<string, unknown>
}

/** A browser on the test clock: its own jar, sending to whichever server it is told. */
export class Browser {
  readonly jar: TimedJar

  constructor (readonly clock: TestClock, readonly userAgent = 'spec-browser') {
    this.jar = new TimedJar(clock)
  }

  /** The Cookie header it would send now: a copy of its cookies, to replay later. */
  copy (): string {
    return this.jar.header()
  }

  async send (server: Server, method: 'get' | 'post', path: string, headers: Record<string, string> = {}): Promise<Reply> {
    return await sendWith(server, method, path, this.jar.header(), { 'user-agent': this.userAgent, ...headers }, response => this.jar.take(response))
  }

  async get (server: Server, path: string, headers?: Record<string, string>): Promise<Reply> {
    return await this.send(server, 'get', path, headers)
  }

  async post (server: Server, path: string, headers?: Record<string, string>): Promise<Reply> {
    return await this.send(server, 'post', path, headers)
  }
}

/** One request with a given Cookie header (a copied cookie), nothing kept. */
export async function replay (server: Server, method: 'get' | 'post', path: string, cookie: string): Promise<Reply> {
  return await sendWith(server, method, path, cookie, {}, () => undefined)
}

async function sendWith (server: Server, method: 'get' | 'post', path: string, cookie: string, headers: Record<string, string>,
  take: (response: { headers: Record<string, unknown> }) => void): Promise<Reply> {
  let call = request(server.app)[method](path)
  if (cookie !== '') call = call.set('Cookie', cookie)
  for (const [name, value] of Object.entries(headers)) call = call.set(name, value)
  const response = await call
  take(response)
  const cookies = ([] as string[]).concat((response.headers['set-cookie'] as string[] | string | undefined) ?? [])
    .filter(line => /^_idx(\.\d)?=/.test(line))
  return {
    status: response.status,
    body: response.body as Record<string, unknown>,
    expired: cookies.some(line => /;\s*Max-Age=0(;|$)/i.test(line)),
    issued: cookies.some(line => !/;\s*Max-Age=0(;|$)/i.test(line)),
    headers: response.headers as Record<string, unknown>
  }
}
