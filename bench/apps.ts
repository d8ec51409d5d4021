/**
 * The servers under test: one Express 5 app per library, each with the same three routes
 *
 *   /counter  reads the session and writes it back with count + 1
 *   /read     reads the session (the client sends a cookie primed by one /counter call)
 *   /first    a first visit: no cookie, the route reads the (empty) session, sets nothing
 *
 * and the same response bodies (the count as text). Each library is loaded only by the
 * server that uses it, so no process carries another's code.
 */
import type { Express, Request, Response } from 'express'
import type * as ArcSession from 'arc-session'
import { ARC_TABLE, EXPRESS_HASH_KEY, EXPRESS_TABLE, SECRET, WEEK_SECONDS, countingClient, distModule, type OpCounts } from './common'
import { stubClient, type StubClient } from './dynamodb-stub'
import { mountFloor } from './floor'
import { loadConnectDynamoDB, loadCookieSession, loadExpressSession } from './peers'

export const SERVER_KINDS = [
  'express',
  'floor',
  'arc-session-jwe',
  'arc-session-dynamodb',
  'arc-session-dynamodb-stub',
  'express-session-memory',
  'express-session-dynamodb',
  'express-session-dynamodb-stub',
  'cookie-session',
  'iron-session',
  'architect-functions'
] as const

export type ServerKind = typeof SERVER_KINDS[number]

export const ROUTES = ['counter', 'read', 'first'] as const
export type Route = typeof ROUTES[number]

export interface ServerInfo {
  readonly label: string
  /** What the server does, for BENCHMARKS.md. */
  readonly setup: string
  /** Counts DynamoDB commands (on dynalite, or on the in-memory stub). */
  readonly dynamodb: boolean
  /** Needs dynalite (BENCH_DYNAMODB_ENDPOINT). */
  readonly endpoint: boolean
  /**
   * Its cookies stay valid in a new process of the same kind (the data is in the cookie, or in
   * dynalite): primed once per run. Otherwise (memory stores) each process is primed anew.
   */
  readonly reusableCookies: boolean
  /** baseline: bare Express; floor: the least a cookie session can do; ours; peer; stub: a DynamoDB row on the in-memory client. */
  readonly role: 'baseline' | 'floor' | 'ours' | 'peer' | 'stub'
}

export const SERVERS: Readonly<Record<ServerKind, ServerInfo>> = {
  express: { label: 'Express (no session)', setup: 'Express 5, the same routes and bodies, no session and no cookie handling: the baseline (100%).', dynamodb: false, endpoint: false, reusableCookies: true, role: 'baseline' },
  floor: { label: 'floor (node:crypto, no library)', setup: 'bare Express plus, on /read, one AES-256-GCM open of the request\'s token (node:crypto) and one JSON.parse of its plaintext; on /counter the same, then one JSON.stringify, one seal and a Set-Cookie (bench/floor.ts). No session library, no checks: what no cookie session can go below.', dynamodb: false, endpoint: false, reusableCookies: true, role: 'floor' },
  'arc-session-jwe': { label: 'arc-session JWE', setup: '`arcSession({ secret })` from dist/: the session in an encrypted cookie (compact JWE, dir + A256GCM).', dynamodb: false, endpoint: false, reusableCookies: true, role: 'ours' },
  'arc-session-dynamodb': { label: 'arc-session DynamoDB', setup: '`arcSession({ secret, table, dynamodb: { client } })` from dist/, on dynalite: a signed id in the cookie, the data in DynamoDB.', dynamodb: true, endpoint: true, reusableCookies: true, role: 'ours' },
  'arc-session-dynamodb-stub': { label: 'arc-session DynamoDB (stub client)', setup: 'the same as arc-session DynamoDB, given a client whose send() answers from memory inside the server process (bench/dynamodb-stub.ts): the store without the AWS SDK and without dynalite.', dynamodb: true, endpoint: false, reusableCookies: false, role: 'stub' },
  'express-session-memory': { label: 'express-session Memory', setup: 'express-session 1.19 with its MemoryStore; `resave: false, saveUninitialized: false`, cookie maxAge one week.', dynamodb: false, endpoint: false, reusableCookies: false, role: 'peer' },
  'express-session-dynamodb': { label: 'express-session DynamoDB', setup: 'express-session 1.19 + connect-dynamodb 3 on the same dynalite, same client settings; `resave: false, saveUninitialized: false`, cookie maxAge one week.', dynamodb: true, endpoint: true, reusableCookies: true, role: 'peer' },
  'express-session-dynamodb-stub': { label: 'express-session DynamoDB (stub client)', setup: 'express-session + connect-dynamodb as above, on the in-memory stub client.', dynamodb: true, endpoint: false, reusableCookies: false, role: 'stub' },
  'cookie-session': { label: 'cookie-session', setup: 'cookie-session 2.1 (signed, not encrypted: two cookies, the data and its HMAC), maxAge one week.', dynamodb: false, endpoint: false, reusableCookies: true, role: 'peer' },
  'iron-session': { label: 'iron-session', setup: 'iron-session 8: `getIronSession(req, res, { password, cookieName })` in each route, `session.save()` on /counter.', dynamodb: false, endpoint: false, reusableCookies: true, role: 'peer' },
  'architect-functions': { label: '@architect/functions', setup: '@architect/functions 8: `arc.http.session.read(req)` in each route, `write(session)` into Set-Cookie on /counter; JWE mode (ARC_SESSION_TABLE_NAME=jwe, ARC_APP_SECRET set).', dynamodb: false, endpoint: false, reusableCookies: true, role: 'peer' }
}

/** The stub client's counterpart on dynalite, for the "ours vs the SDK's" split. */
export const STUB_OF: Readonly<Partial<Record<ServerKind, ServerKind>>> = {
  'arc-session-dynamodb-stub': 'arc-session-dynamodb',
  'express-session-dynamodb-stub': 'express-session-dynamodb'
}

type Data = Record<string, unknown>

/** /counter's work on the session: count + 1. Returns the body. */
export function bump (data: Data): string {
  const count = typeof data.count === 'number' ? data.count + 1 : 1
  data.count = count
  return String(count)
}

/** /read's and /first's work: look at the count. Returns the body. */
export function peek (data: Data): string {
  return String(typeof data.count === 'number' ? data.count : 0)
}

export interface MountContext {
  /** The DynamoDB endpoint (dynalite), for the DynamoDB rows. */
  readonly endpoint?: string
  /** Store operations counted on the server's DynamoDB client. */
  readonly counts: OpCounts
  /** The stub clients made (so the server can report the time spent inside them). */
  readonly stubs?: StubClient[]
}

type Handler = (req: Request, res: Response) => void | Promise<void>

function routes (app: Express, handlers: Record<Route, Handler>): void {
  for (const route of ROUTES) app.get(`/${route}`, handlers[route])
}

/** Routes for libraries that put the session on `req.session` (a middleware). */
function middlewareRoutes (app: Express): void {
  const sessionOf = (req: Request): Data => (req as unknown as { session: Data }).session
  routes(app, {
    counter: (req, res) => { res.send(bump(sessionOf(req))) },
    read: (req, res) => { res.send(peek(sessionOf(req))) },
    first: (req, res) => { res.send(peek(sessionOf(req))) }
  })
}

function needEndpoint (context: MountContext): string {
  if (context.endpoint === undefined) throw new Error('this server needs a DynamoDB endpoint (BENCH_DYNAMODB_ENDPOINT)')
  return context.endpoint
}

/** The built package (see distModule). */
export function builtArcSession (): typeof ArcSession {
  return require(distModule('index.js')) as typeof ArcSession
}

export function mountServer (kind: ServerKind, app: Express, context: MountContext): void {
  switch (kind) {
    case 'express': {
      // The same bodies, computed the same way, from constants instead of a session.
      routes(app, {
        counter: (_req, res) => { res.send(bump({ count: 1 })) },
        read: (_req, res) => { res.send(peek({ count: 1 })) },
        first: (_req, res) => { res.send(peek({})) }
      })
      return
    }
    case 'floor': {
      mountFloor(app, bump, peek)
      return
    }
    case 'arc-session-jwe': {
      app.use(builtArcSession().arcSession({ secret: SECRET, table: 'jwe', ttl: WEEK_SECONDS }))
      middlewareRoutes(app)
      return
    }
    case 'arc-session-dynamodb': {
      const client = countingClient(needEndpoint(context), context.counts)
      app.use(builtArcSession().arcSession({ secret: SECRET, table: ARC_TABLE, ttl: WEEK_SECONDS, dynamodb: { client } }))
      middlewareRoutes(app)
      return
    }
    case 'arc-session-dynamodb-stub': {
      const client = stubClient(context.counts)
      context.stubs?.push(client)
      app.use(builtArcSession().arcSession({ secret: SECRET, table: ARC_TABLE, ttl: WEEK_SECONDS, dynamodb: { client } }))
      middlewareRoutes(app)
      return
    }
    case 'express-session-memory': {
      const session = loadExpressSession()
      app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, cookie: { maxAge: WEEK_SECONDS * 1000 } }))
      middlewareRoutes(app)
      return
    }
    case 'express-session-dynamodb': {
      const session = loadExpressSession()
      const DynamoDBStore = loadConnectDynamoDB(session)
      const client = countingClient(needEndpoint(context), context.counts)
      const store = new DynamoDBStore({ client, table: EXPRESS_TABLE, hashKey: EXPRESS_HASH_KEY })
      app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, store, cookie: { maxAge: WEEK_SECONDS * 1000 } }))
      middlewareRoutes(app)
      return
    }
    case 'express-session-dynamodb-stub': {
      const session = loadExpressSession()
      const DynamoDBStore = loadConnectDynamoDB(session)
      const client = stubClient(context.counts)
      context.stubs?.push(client)
      const store = new DynamoDBStore({ client, table: EXPRESS_TABLE, hashKey: EXPRESS_HASH_KEY })
      app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, store, cookie: { maxAge: WEEK_SECONDS * 1000 } }))
      middlewareRoutes(app)
      return
    }
    case 'cookie-session': {
      const cookieSession = loadCookieSession()
      app.use(cookieSession({ name: 'session', keys: [SECRET], maxAge: WEEK_SECONDS * 1000 }))
      middlewareRoutes(app)
      return
    }
    case 'iron-session': {
      const { getIronSession } = require('iron-session') as typeof import('iron-session')
      const options = { password: SECRET, cookieName: 'iron', ttl: WEEK_SECONDS }
      routes(app, {
        counter: async (req, res) => {
          const session = await getIronSession<Data>(req, res, options)
          const body = bump(session)
          await session.save()
          res.send(body)
        },
        read: async (req, res) => { res.send(peek(await getIronSession<Data>(req, res, options))) },
        first: async (req, res) => { res.send(peek(await getIronSession<Data>(req, res, options))) }
      })
      return
    }
    case 'architect-functions': {
      // arc reads these on every call.
      process.env.ARC_SESSION_TABLE_NAME = 'jwe'
      process.env.ARC_APP_SECRET = SECRET
      process.env.ARC_SESSION_TTL = String(WEEK_SECONDS)
      const arc = require('@architect/functions') as typeof import('@architect/functions')
      type ArcRequest = Parameters<typeof arc.http.session.read>[0]
      const read = async (req: Request): Promise<Data> => await arc.http.session.read(req as unknown as ArcRequest) as Data
      routes(app, {
        counter: async (req, res) => {
          const session = await read(req)
          const body = bump(session)
          res.setHeader('Set-Cookie', await arc.http.session.write(session))
          res.send(body)
        },
        read: async (req, res) => { res.send(peek(await read(req))) },
        first: async (req, res) => { res.send(peek(await read(req))) }
      })
      return
    }
  }
}
