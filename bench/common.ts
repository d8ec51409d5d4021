/**
 * Settings shared by the benchmark's parent process, its server children and the
 * DynamoDB operations mix: the secret, the table names, a DynamoDB client that counts
 * every command it sends.
 */
import { join } from 'node:path'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'

/**
 * A module of the built package (dist/), so what is measured is the JavaScript users run.
 * BENCH_ARC_SESSION_DIST may name another build (an absolute path to a dist/ folder) to compare
 * a change of lib/ A/B.
 */
export function distModule (file: string): string {
  const dist = process.env.BENCH_ARC_SESSION_DIST
  return join(dist === undefined || dist === '' ? join(__dirname, '..', 'dist') : dist, file)
}

/** 48 ASCII characters: every library here takes it (arc: first 32 bytes; iron-session: >= 32 characters). */
export const SECRET = 'bench-only-secret-do-not-use-7Qm2Lx9Vc4Rt8Wk1Nz6'

export const ARC_TABLE = 'bench-arc-sessions'
/** connect-dynamodb's layout: hash key `id`. */
export const EXPRESS_TABLE = 'bench-express-sessions'
export const EXPRESS_HASH_KEY = 'id'

/** A week, the idle lifetime every library is given where it has one. */
export const WEEK_SECONDS = 7 * 24 * 60 * 60

/** Commands by name, counted on the client. */
export type OpCounts = Record<string, number>

const READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems'])
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems'])

export interface OpSummary {
  reads: number
  writes: number
  /** Control-plane calls (DescribeTable, CreateTable, ...): once per process, never per request. */
  other: number
  byCommand: OpCounts
}

export function summarizeOps (counts: OpCounts): OpSummary {
  let reads = 0
  let writes = 0
  let other = 0
  for (const [name, count] of Object.entries(counts)) {
    if (READS.has(name)) reads += count
    else if (WRITES.has(name)) writes += count
    else other += count
  }
  return { reads, writes, other, byCommand: { ...counts } }
}

export function subtractOps (after: OpCounts, before: OpCounts): OpCounts {
  const delta: OpCounts = {}
  for (const [name, count] of Object.entries(after)) {
    const diff = count - (before[name] ?? 0)
    if (diff !== 0) delta[name] = diff
  }
  return delta
}

/**
 * A DynamoDB client for the local endpoint (dummy credentials) with a middleware that
 * adds one to `counts[CommandName]` for every command sent, before retries: the number
 * of calls the library made, which is what DynamoDB bills.
 */
export function countingClient (endpoint: string, counts: OpCounts): DynamoDBClient {
  const { DynamoDBClient } = require('@aws-sdk/client-dynamodb') as typeof import('@aws-sdk/client-dynamodb')
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3
  })
  client.middlewareStack.add((next, context) => async args => {
    const name = String(context.commandName ?? 'Unknown').replace(/Command$/, '')
    counts[name] = (counts[name] ?? 0) + 1
    return await next(args)
  }, { step: 'initialize', name: 'benchCountCommands' })
  return client
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}
