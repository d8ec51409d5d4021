/**
 * What 1,000 requests cost in DynamoDB operations, counted on each library's client:
 *
 *   500 first visits without a cookie   (GET /first, no cookie)
 *   400 read-only requests              (GET /read, the cookie of an existing session)
 *   100 requests that change a session  (GET /counter, the cookie of an existing session)
 *
 * against arc-session's DynamoDB store and express-session + connect-dynamodb, on the same
 * dynalite. The 100 sessions used are made first (one /counter each, not counted). For
 * @architect/functions the figures are an estimate read from its code (see ARC_ESTIMATE).
 *
 *   tsx bench/dynamodb-ops.ts              starts its own dynalite
 *   runOpsMix(endpoint)                    from bench/run.ts, on its dynalite child
 */
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import express from 'express'
import { mountServer, type ServerKind } from './apps'
import type * as ArcSession from 'arc-session'
import { ARC_TABLE, SECRET, countingClient, distModule, subtractOps, summarizeOps, type OpCounts, type OpSummary } from './common'
import { cookieHeader, createTables, get } from './harness'

export const MIX = { first: 500, read: 400, change: 100 } as const
const SESSIONS = 100

export type MixPhase = 'first' | 'read' | 'change'

export interface MixRow {
  kind: ServerKind | 'architect-functions (estimate)'
  label: string
  phases: Record<MixPhase, OpSummary>
  total: OpSummary
  /** How the figures were obtained. */
  source: 'counted' | 'estimated'
}

export interface MixResult {
  mix: typeof MIX
  rows: MixRow[]
}

/**
 * @architect/functions 8.1, src/http/session/providers/ddb: read() with no valid cookie calls
 * create.js, which PutItems a new item (whether or not the route ever writes); with a valid
 * cookie, find.js does one consistent GetItem; write() (update.js) PutItems the whole item.
 * Discovery of the table name (SSM, or ARC_SANDBOX locally) is once per process, not counted.
 */
export const ARC_ESTIMATE: Record<MixPhase, { reads: number, writes: number, byCommand: OpCounts }> = {
  first: { reads: 0, writes: 1, byCommand: { PutItem: 1 } },
  read: { reads: 1, writes: 0, byCommand: { GetItem: 1 } },
  change: { reads: 1, writes: 1, byCommand: { GetItem: 1, PutItem: 1 } }
}

const LIBRARIES: ReadonlyArray<{ kind: ServerKind, label: string }> = [
  { kind: 'arc-session-dynamodb', label: 'arc-session (DynamoDB store)' },
  { kind: 'express-session-dynamodb', label: 'express-session + connect-dynamodb' }
]

async function inParallel (count: number, limit: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++)
  }
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker))
}

function expect (condition: boolean, message: string): void {
  if (!condition) throw new Error(`DynamoDB ops mix: ${message}`)
}

async function measure (kind: ServerKind, label: string, endpoint: string): Promise<MixRow> {
  const counts: OpCounts = {}
  const app = express()
  mountServer(kind, app, { endpoint, counts })
  const server: Server = await new Promise(resolve => { const s = app.listen(0, '127.0.0.1', () => resolve(s)) })
  const port = (server.address() as AddressInfo).port
  try {
    const cookies: string[] = []
    await inParallel(SESSIONS, 8, async () => {
      const reply = await get(port, '/counter')
      expect(reply.status === 200 && reply.setCookies.length > 0, `${kind}: priming /counter answered ${reply.status} without a cookie`)
      cookies.push(cookieHeader(reply.setCookies))
    })

    const phases = {} as Record<MixPhase, OpSummary>
    const run = async (phase: MixPhase, count: number, path: string, cookieFor: (index: number) => string | undefined, body: string): Promise<void> => {
      const before = { ...counts }
      await inParallel(count, 8, async index => {
        const reply = await get(port, path, cookieFor(index))
        expect(reply.status === 200 && reply.body === body, `${kind} ${path} answered ${reply.status} "${reply.body}", expected "${body}"`)
      })
      phases[phase] = summarizeOps(subtractOps(counts, before))
    }
    await run('first', MIX.first, '/first', () => undefined, '0')
    await run('read', MIX.read, '/read', index => cookies[index % SESSIONS], '1')
    await run('change', MIX.change, '/counter', index => cookies[index % SESSIONS], '2')

    const total = summarizeOps(Object.values(phases).reduce<OpCounts>((sum, phase) => {
      for (const [name, count] of Object.entries(phase.byCommand)) sum[name] = (sum[name] ?? 0) + count
      return sum
    }, {}))
    return { kind, label, phases, total, source: 'counted' }
  } finally {
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => { resolve() }))
  }
}

function arcEstimate (): MixRow {
  const phases = {} as Record<MixPhase, OpSummary>
  const totals: OpCounts = {}
  for (const phase of ['first', 'read', 'change'] as const) {
    const per = ARC_ESTIMATE[phase]
    const count = MIX[phase]
    const byCommand: OpCounts = {}
    for (const [name, n] of Object.entries(per.byCommand)) {
      byCommand[name] = n * count
      totals[name] = (totals[name] ?? 0) + n * count
    }
    phases[phase] = { reads: per.reads * count, writes: per.writes * count, other: 0, byCommand }
  }
  return { kind: 'architect-functions (estimate)', label: '@architect/functions (estimate from its code)', phases, total: summarizeOps(totals), source: 'estimated' }
}

export async function runOpsMix (endpoint: string): Promise<MixResult> {
  const rows: MixRow[] = []
  for (const { kind, label } of LIBRARIES) rows.push(await measure(kind, label, endpoint))
  rows.push(arcEstimate())
  return { mix: MIX, rows }
}

/** Issue 14's mix: the cookie store with a DynamoDB registry, 1,000 requests by 20 users over 10 simulated minutes. */
export const REGISTRY_MIX = { users: 20, requestsPerUser: 48, minutes: 10, revocationCheck: 30 } as const

export interface RegistryMixResult {
  readonly requests: number
  readonly logins: number
  readonly logouts: number
  /** Registry refreshes the mix calls for: once per tenth of the ttl (here, the ttl is an hour: every 6 minutes). */
  readonly refreshes: number
  /** One revocation check per user per revocationCheck window that saw traffic. */
  readonly checks: number
  readonly bound: number
  readonly operations: OpSummary
}

/**
 * Each user signs in, makes 46 requests (read-only and counter, alternating) spread over the
 * simulated minutes, and signs out; the registry is a table of the shared dynalite, counted on
 * its client. The clock is simulated, so the revocation window and the refresh interval are real
 * without the run taking minutes.
 */
export async function runRegistryMix (endpoint: string): Promise<RegistryMixResult> {
  const counts: OpCounts = {}
  let now = Date.parse('2026-06-01T00:00:00Z')
  const { arcSession } = require(distModule('index.js')) as typeof ArcSession
  const ttl = 3600
  const sessions = arcSession({
    secret: SECRET, table: 'jwe', ttl, env: {}, cookie: { secure: false }, clock: () => now,
    user: 'user', registry: ARC_TABLE, revocationCheck: REGISTRY_MIX.revocationCheck, dynamodb: { client: countingClient(endpoint, counts) }
  })
  const app = express()
  app.use(sessions)
  app.get('/login', async (req, res) => { await req.session.regenerate(); req.session.user = String(req.query.user); res.send('in') })
  app.get('/logout', async (req, res) => { await req.session.destroy(); res.send('out') })
  app.get('/read', (req, res) => { res.send(String(req.session.user ?? '')) })
  app.get('/counter', (req, res) => { req.session.count = (req.session.count ?? 0) + 1; res.send(String(req.session.user ?? '')) })
  const server: Server = await new Promise(resolve => { const s = app.listen(0, '127.0.0.1', () => resolve(s)) })
  const port = (server.address() as AddressInfo).port
  try {
    const jars = Array.from({ length: REGISTRY_MIX.users }, () => '')
    const keep = (index: number, setCookies: string[]): void => { if (setCookies.length > 0) jars[index] = cookieHeader(setCookies) }
    const step = (REGISTRY_MIX.minutes * 60_000) / REGISTRY_MIX.requestsPerUser
    const windows = new Set<string>()
    let requests = 0
    for (let user = 0; user < REGISTRY_MIX.users; user++) keep(user, (await get(port, `/login?user=u${user}`)).setCookies)
    requests += REGISTRY_MIX.users
    const start = now
    for (let round = 0; round < REGISTRY_MIX.requestsPerUser - 2; round++) {
      now = start + round * step
      for (let user = 0; user < REGISTRY_MIX.users; user++) {
        const reply = await get(port, round % 2 === 0 ? '/read' : '/counter', jars[user])
        expect(reply.status === 200 && reply.body === `u${user}`, `registry mix: user u${user} answered ${reply.status} "${reply.body}"`)
        keep(user, reply.setCookies)
        windows.add(`${user}:${Math.floor((now - start) / (REGISTRY_MIX.revocationCheck * 1000))}`)
        requests++
      }
    }
    for (let user = 0; user < REGISTRY_MIX.users; user++) keep(user, (await get(port, '/logout', jars[user])).setCookies)
    requests += REGISTRY_MIX.users
    const operations = summarizeOps(counts)
    const refreshes = REGISTRY_MIX.users * Math.floor((REGISTRY_MIX.minutes * 60) / Math.floor(ttl / 10))
    const checks = windows.size
    const bound = REGISTRY_MIX.users * 2 + refreshes + checks
    return { requests, logins: REGISTRY_MIX.users, logouts: REGISTRY_MIX.users, refreshes, checks, bound, operations }
  } finally {
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => { resolve() }))
  }
}

export function formatRegistryMix (result: RegistryMixResult): string {
  const { operations: ops } = result
  return [
    `| ${result.requests} requests, cookie store + DynamoDB registry | logins | logouts | refreshes | checks (user × ${REGISTRY_MIX.revocationCheck} s window) | bound | registry operations |`,
    '|---|---:|---:|---:|---:|---:|---:|',
    `| ${REGISTRY_MIX.users} users, ${REGISTRY_MIX.minutes} simulated minutes | ${result.logins} | ${result.logouts} | ${result.refreshes} | ${result.checks} | ${result.bound} | **${ops.reads + ops.writes}** (${ops.reads} R / ${ops.writes} W: ${JSON.stringify(ops.byCommand)}) |`
  ].join('\n')
}

export function formatOpsMix (result: MixResult): string {
  const cell = (summary: OpSummary): string => `${summary.reads + summary.writes} (${summary.reads} R / ${summary.writes} W)`
  const lines = [
    `| 1,000 requests | ${result.mix.first} first visits | ${result.mix.read} read-only | ${result.mix.change} changes | total operations | of which writes |`,
    '|---|---:|---:|---:|---:|---:|'
  ]
  for (const row of result.rows) {
    lines.push(`| ${row.label} | ${cell(row.phases.first)} | ${cell(row.phases.read)} | ${cell(row.phases.change)} | **${row.total.reads + row.total.writes}** | ${row.total.writes} |`)
  }
  return lines.join('\n')
}

if (require.main === module) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  ;(async () => {
    const { default: dynalite } = await import('dynalite')
    const server = dynalite({ createTableMs: 0 })
    await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      await createTables(endpoint)
      const result = await runOpsMix(endpoint)
      console.log(formatOpsMix(result))
      console.log(formatRegistryMix(await runRegistryMix(endpoint)))
      for (const row of result.rows) console.log(row.label, JSON.stringify(row.total.byCommand))
    } finally {
      server.closeAllConnections()
      server.close()
    }
  })().catch(error => { console.error(error); process.exitCode = 1 })
}
