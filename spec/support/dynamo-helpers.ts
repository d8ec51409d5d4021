import { createHmac, randomBytes } from 'node:crypto'
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb'
import type express from 'express'
import { createTable } from 'arc-session'

/**
 * Shared tools for the DynamoDB specs: clients on the run's dynalite, a client that counts
 * (and can slow down) the commands it sends, table and item helpers, and cookie helpers.
 */

// Express 4 ships no types of its own; its API used here is the same as Express 5's.
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const express4 = require('express4') as typeof express

/** A signing secret long enough for any environment. */
export const SECRET = 'dynamo-spec-secret-0123456789-abcdefghij'

export const REGION = 'us-east-1'
export const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' }

/** The run's dynalite, started by spec/support/global-setup.ts. */
export function testEndpoint (): string {
  const endpoint = process.env.DYNAMODB_TEST_ENDPOINT
  if (endpoint === undefined || endpoint === '') throw new Error('DYNAMODB_TEST_ENDPOINT is not set: run the specs through jest (global setup starts dynalite)')
  return endpoint
}

export function newClient (endpoint: string = testEndpoint(), extra: { maxAttempts?: number } = {}): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: REGION, credentials: CREDENTIALS, ...extra })
}

/** A table name nobody else uses in this run. */
export function uniqueTable (prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`
}

/** Make a session table with the package's own createTable() and give its name. */
export async function makeTable (prefix: string, endpoint: string = testEndpoint()): Promise<string> {
  const table = uniqueTable(prefix)
  await createTable(table, { endpoint, region: REGION })
  return table
}

export interface SentCommand {
  /** e.g. 'GetItem', 'UpdateItem'. */
  readonly name: string
  readonly input: Record<string, unknown>
}

export interface CountingClient {
  readonly client: DynamoDBClient
  /** Every command the client was asked to send since the last reset, in order. */
  readonly sent: SentCommand[]
  count (name: string): number
  /** GetItem (and any Query/Scan/BatchGet). */
  reads (): number
  /** PutItem, UpdateItem, DeleteItem (and batch writes). */
  writes (): number
  reset (): void
  /** Hold each of these commands for `ms` before it goes out (0 or none to stop). */
  slowDown (names: readonly string[], ms: number): void
}

const READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan'])
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems'])

/**
 * A real DynamoDBClient with one middleware at the `initialize` step: it records each
 * command (once per send, retries not included) and can delay chosen commands.
 */
export function countingClient (endpoint: string = testEndpoint(), extra: { maxAttempts?: number } = {}): CountingClient {
  const client = newClient(endpoint, extra)
  const sent: SentCommand[] = []
  let slow: { names: Set<string>, ms: number } = { names: new Set(), ms: 0 }
  client.middlewareStack.add((next, context) => async args => {
    const name = String(context.commandName ?? '').replace(/Command$/, '')
    sent.push({ name, input: structuredClone(args.input as Record<string, unknown>) })
    if (slow.ms > 0 && slow.names.has(name)) await new Promise(resolve => setTimeout(resolve, slow.ms))
    return await next(args)
  }, { step: 'initialize', name: 'arcSessionSpecCounter' })
  return {
    client,
    sent,
    count: name => sent.filter(command => command.name === name).length,
    reads: () => sent.filter(command => READS.has(command.name)).length,
    writes: () => sent.filter(command => WRITES.has(command.name)).length,
    reset: () => { sent.length = 0 },
    slowDown: (names, ms) => { slow = { names: new Set(names), ms } }
  }
}

export type Item = Record<string, AttributeValue>

export async function getItem (client: DynamoDBClient, table: string, id: string): Promise<Item | undefined> {
  const { Item } = await client.send(new GetItemCommand({ TableName: table, Key: { _idx: { S: id } }, ConsistentRead: true }))
  return Item
}

export async function putItem (client: DynamoDBClient, table: string, item: Item): Promise<void> {
  await client.send(new PutItemCommand({ TableName: table, Item: item }))
}

export async function deleteItem (client: DynamoDBClient, table: string, id: string): Promise<void> {
  await client.send(new DeleteItemCommand({ TableName: table, Key: { _idx: { S: id } } }))
}

export async function itemCount (client: DynamoDBClient, table: string): Promise<number> {
  let count = 0
  let start: Item | undefined
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true, ...(start === undefined ? {} : { ExclusiveStartKey: start }) }))
    count += page.Count ?? 0
    start = page.LastEvaluatedKey
  } while (start !== undefined)
  return count
}

/** A fresh id shaped like arc's: 18 random bytes, base64url, 24 characters. */
export function randomId (): string {
  return randomBytes(18).toString('base64url')
}

/** The cookie-signature package's format, computed here independently: base64 HMAC-SHA256 without padding. */
export function signId (id: string, secret: string): string {
  return `${id}.${createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '')}`
}

/** A Cookie header pair for a signed id, percent-encoded as browsers get it from arc. */
export function cookieFor (id: string, secret: string = SECRET): string {
  return `_idx=${encodeURIComponent(signId(id, secret))}`
}

export function setCookies (res: { headers: Record<string, unknown> }): string[] {
  const header = res.headers['set-cookie']
  if (header === undefined) return []
  return Array.isArray(header) ? header.map(String) : [String(header)]
}

/** The live `_idx` Set-Cookie of a response (not an expiry), or undefined. */
export function sessionSetCookie (res: { headers: Record<string, unknown> }): string | undefined {
  return setCookies(res).find(cookie => cookie.startsWith('_idx=') && !/;\s*Max-Age=0(;|$)/i.test(cookie))
}

/** `_idx=<value as sent>`: what the browser sends back in its Cookie header. */
export function sessionPair (res: { headers: Record<string, unknown> }): string {
  const cookie = sessionSetCookie(res)
  if (cookie === undefined) throw new Error(`no session cookie in the response: ${JSON.stringify(setCookies(res))}`)
  return cookie.split(';')[0] as string
}

/** The raw (wire) value of a `_idx=...` pair or Set-Cookie line. */
export function wireValue (cookie: string): string {
  return (cookie.split(';')[0] as string).slice('_idx='.length)
}

/** id and signature from a `_idx=...` pair or Set-Cookie line. */
export function idOf (cookie: string): { id: string, signature: string } {
  const value = decodeURIComponent(wireValue(cookie))
  const dot = value.lastIndexOf('.')
  return { id: value.slice(0, dot), signature: value.slice(dot + 1) }
}

/** True when the response expires the session cookie. */
export function expiresSession (res: { headers: Record<string, unknown> }): boolean {
  return setCookies(res).some(cookie => cookie.startsWith('_idx=;') && /;\s*Max-Age=0(;|$)/i.test(cookie))
}

/** A settable clock in milliseconds, for arcSession's `clock` option. */
export class TestClock {
  constructor (public ms: number = Date.UTC(2030, 0, 1)) {}
  readonly now = (): number => this.ms
  get seconds (): number { return Math.floor(this.ms / 1000) }
  advance (seconds: number): void { this.ms += seconds * 1000 }
}

/** Listen on a free port; close() ends kept-alive connections too. */
export async function listen (app: unknown): Promise<{ server: Server, url: string, close: () => Promise<void> }> {
  const server = createServer(app as RequestListener)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    server,
    url,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

/** The error handler every spec app ends with: status and error details as JSON. */
export function errorHandler (error: unknown, _req: unknown, res: express.Response, _next: unknown): void {
  const failure = error as { status?: number, name?: string, message?: string, code?: string, cause?: { name?: string, code?: string, message?: string } }
  res.status(failure.status ?? 500).json({
    error: failure.name,
    code: failure.code,
    message: failure.message,
    cause: failure.cause === undefined ? null : (failure.cause.name ?? 'unknown'),
    causeCode: failure.cause?.code ?? null,
    causeMessage: failure.cause?.message ?? null
  })
}
