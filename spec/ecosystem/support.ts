/**
 * Shared plumbing for the ecosystem specs: arc-session next to the companion packages people
 * mount beside a session middleware (passport, socket.io, compression, connect-flash, csurf,
 * csrf-sync, express-rate-limit), on real servers on 127.0.0.1, against both stores.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type express from 'express'
import request from 'supertest'
import type { ArcSessionOptions } from 'arc-session'
import { isExpired, listen, sessionCookies, testOptions, type ParsedCookie, type Running } from '../support/apps'
import { makeTable, newClient } from '../support/dynamo-helpers'

export { EXPRESS_VERSIONS, SECRET, testOptions, listen, sessionCookies, type ExpressFactory, type ParsedCookie } from '../support/apps'

export type StoreName = 'JWE cookie store' | 'DynamoDB store (dynalite)'
export const STORES: readonly StoreName[] = ['JWE cookie store', 'DynamoDB store (dynalite)']

export function isDynamo (store: StoreName): boolean {
  return store === 'DynamoDB store (dynalite)'
}

export interface Stores {
  /** arcSession() options for `store`, on top of testOptions(). */
  options (store: StoreName, extra?: ArcSessionOptions): ArcSessionOptions
  /** The DynamoDB client on the run's dynalite (after beforeAll). */
  readonly client: DynamoDBClient
  /** This spec file's session table (after beforeAll). */
  readonly table: string
}

/** One DynamoDB table for the spec file (made in beforeAll on the shared dynalite), and options for either store. */
export function useStores (prefix: string): Stores {
  let client: DynamoDBClient | undefined
  let table = ''
  beforeAll(async () => {
    client = newClient()
    table = await makeTable(`eco-${prefix}`)
  })
  afterAll(() => { client?.destroy() })
  return {
    options (store, extra = {}) {
      if (!isDynamo(store)) return testOptions(extra)
      if (client === undefined) throw new Error('the DynamoDB client is made in beforeAll')
      return testOptions({ table, dynamodb: { client }, ...extra })
    },
    get client () {
      if (client === undefined) throw new Error('the DynamoDB client is made in beforeAll')
      return client
    },
    get table () { return table }
  }
}

/** serve(app): a real server on 127.0.0.1 until the test ends (closed, with its connections, in afterEach). */
export function useServers (): (app: unknown) => Promise<Running> {
  const servers: Running[] = []
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(async server => { await server.close() }))
  })
  return async (app: unknown) => {
    const running = await listen(app as express.Express)
    servers.push(running)
    return running
  }
}

/** A browser: supertest's agent on a real server's URL, keeping cookies between requests. */
export function browser (url: string): ReturnType<typeof request.agent> {
  return request.agent(url)
}

/** Every request of these specs gets this timeout, well under jest's 20 s: a hang fails its test, and says so. */
export const REQUEST_TIMEOUT = 5000

/** The one live session cookie (`_idx`) a response sets; fails the test when there is none or several. */
export function liveSessionCookie (response: { headers: Record<string, unknown> }): ParsedCookie {
  const live = sessionCookies(response).filter(cookie => !isExpired(cookie))
  expect(live.map(cookie => cookie.name)).toEqual(['_idx'])
  return live[0] as ParsedCookie
}

/** The live session cookie, or undefined when the response sets none. */
export function maybeSessionCookie (response: { headers: Record<string, unknown> }): ParsedCookie | undefined {
  return sessionCookies(response).find(cookie => !isExpired(cookie))
}

/** The Set-Cookie values of a response, raw. */
export function rawSetCookies (response: { headers: Record<string, unknown> }): string[] {
  const header = response.headers['set-cookie']
  if (header === undefined) return []
  return Array.isArray(header) ? header.map(String) : [String(header)]
}

/** What an app's error handler answers: the error's status, code and message as JSON. */
export function errorHandler (error: unknown, _req: unknown, res: express.Response, _next: unknown): void {
  const failure = error as { status?: number, statusCode?: number, name?: string, message?: string, code?: string }
  res.status(failure.status ?? failure.statusCode ?? 500).json({ error: failure.name, code: failure.code, message: failure.message })
}

/** The session's data as the user sees it (own enumerable keys, through JSON). */
export function plain (session: object): Record<string, unknown> {
  return JSON.parse(JSON.stringify(session)) as Record<string, unknown>
}

export const DAY = 24 * 60 * 60
