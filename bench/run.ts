/**
 * arc-session's benchmark, one command:
 *
 *   npm run bench            the full run (about 30 minutes on a quiet 2-core machine): writes
 *                            bench/results/latest.json, bench/results/chart.svg and the results
 *                            block of BENCHMARKS.md
 *   npm run bench:quick      a SMOKE TEST (a few minutes): every part runs, with windows too short
 *                            and rounds too few to read anything into; writes the same three files
 *                            under artifacts/bench-quick/ and leaves the committed ones alone
 *
 * Throughput is measured in two shapes of traffic, in the same run, in interleaved rounds (a round
 * of many sessions, a round of one cookie, again, ...), each server in a fresh child process each
 * time, bare Express first in every round and the libraries in a different order each round:
 *
 *   sessions     /read and /counter cycle through --sessions=N (10,000) distinct sessions, each a
 *                cookie the server issued (primed by /counter, 16-way concurrent; cookies that stay
 *                valid in a new process of the same server are primed once per run)
 *   one-cookie   the same primed cookie on every request (issue 5's shape)
 *
 * Ratios are against the median bare Express of the same shape; the spread is min–max across rounds.
 *
 * Options (after `--`): --only=kind,kind (bare Express is always run), --skip=part,part (micro,
 * cold, sessions, one-cookie, hostile, memory, tokens, mix), --rounds=N, --connections=N,
 * --duration=S, --warmup=S, --sessions=N, --prime-concurrency=N, --out=DIR, --render-only (redraw
 * the chart and BENCHMARKS.md from the out folder's latest.json, measuring nothing),
 * --update=micro (re-measure the seal/open micro-benchmark alone into that latest.json). Only a
 * complete full run (no --only or --skip, 10,000 sessions, 3 rounds or more) writes bench/results/
 * and BENCHMARKS.md; anything else writes artifacts/bench-quick/.
 *
 * Order: the seal/open micro-benchmark (in this process, before anything else runs), cold start
 * (fresh node processes), the rounds (dynalite in a child of its own for the DynamoDB rows), the
 * hostile Cookie headers, the memory check under load, the token cache's memory (a child with
 * --expose-gc), the DynamoDB operations mix.
 */
import { cpus, loadavg, totalmem } from 'node:os'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { ROUTES, SERVERS, SERVER_KINDS, type Route, type ServerKind } from './apps'
import { formatColdStart, runColdStart } from './cold-start'
import { median, subtractOps, summarizeOps } from './common'
import { formatOpsMix, formatRegistryMix, runOpsMix, runRegistryMix } from './dynamodb-ops'
import { cookieHeader, createTables, get, load, prime, settledStats, startChild, type Child } from './harness'
import { formatHostile, runHostile } from './hostile'
import { formatMicro, runMicro } from './micro'
import {
  SHAPE_TITLES, SMOKE_NOTICE, evaluateTargets, figuresTable, ratioTable, renderChart, updateBenchmarksMd,
  type Machine, type MemoryResult, type RouteResult, type RunResult, type ServerResult, type Settings, type ShapeId, type ShapeResult
} from './report'
import { formatTokenMemory, runTokenMemory } from './token-memory'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

const ROOT = join(__dirname, '..')
const PARTS = ['micro', 'cold', 'sessions', 'one-cookie', 'hostile', 'memory', 'tokens', 'mix'] as const

interface Args {
  quick: boolean
  only: ServerKind[] | undefined
  skip: Set<string>
  connections: number
  duration: number
  warmup: number
  rounds: number
  out: string | undefined
  /** Re-render chart and BENCHMARKS.md from the out folder's latest.json; measure nothing. */
  renderOnly: boolean
  /** Re-measure only this part (micro) into the out folder's latest.json, then re-render. */
  update: string | undefined
  /** Distinct sessions of the many-sessions shape. */
  sessions: number
  /** Concurrent requests while priming sessions. */
  primeConcurrency: number
}

function parseArgs (argv: string[]): Args {
  const value = (name: string): string | undefined => argv.find(arg => arg.startsWith(`--${name}=`))?.slice(name.length + 3)
  const quick = argv.includes('--quick')
  const only = value('only')?.split(',').map(kind => {
    if (!(SERVER_KINDS as readonly string[]).includes(kind)) throw new Error(`--only: unknown server ${kind}; one of ${SERVER_KINDS.join(', ')}`)
    return kind as ServerKind
  })
  const skip = new Set(value('skip')?.split(',').filter(part => part !== '') ?? [])
  for (const part of skip) if (!(PARTS as readonly string[]).includes(part)) throw new Error(`--skip: unknown part ${part}; any of ${PARTS.join(', ')}`)
  const number = (name: string, fallback: number): number => {
    const text = value(name)
    if (text === undefined) return fallback
    const n = Number(text)
    if (!(n > 0)) throw new Error(`--${name}: expected a positive number, got ${text}`)
    return n
  }
  return {
    quick,
    only,
    skip,
    connections: number('connections', 10),
    duration: number('duration', quick ? 1 : 5),
    warmup: number('warmup', quick ? 0.3 : 1),
    rounds: Math.round(number('rounds', quick ? 2 : 3)),
    out: value('out'),
    renderOnly: argv.includes('--render-only'),
    update: value('update'),
    sessions: Math.round(number('sessions', quick ? 2_000 : 10_000)),
    primeConcurrency: Math.round(number('prime-concurrency', 16))
  }
}

function log (message: string): void {
  process.stderr.write(`${message}\n`)
}

const load1 = (): number => loadavg()[0] ?? 0
const triple = (): [number, number, number] => { const [a = 0, b = 0, c = 0] = loadavg(); return [a, b, c] }

function machine (): Machine {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    memoryGB: totalmem() / 2 ** 30,
    loadStart: triple(),
    loadEnd: triple()
  }
}

/** Which lib/ was measured: the commit, and whether lib/ had changes not committed. */
function buildInfo (): RunResult['build'] {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    return { commit: git('rev-parse', '--short', 'HEAD'), libChanged: git('status', '--porcelain', '--', 'lib').length > 0 }
  } catch {
    return undefined
  }
}

/**
 * A private copy of dist/ for the run (under artifacts/, so its requires still find node_modules):
 * a rebuild of dist/ while the run is going (other work in the same tree) cannot change what is measured.
 */
function snapshotDist (): string | undefined {
  if (process.env.BENCH_ARC_SESSION_DIST !== undefined && process.env.BENCH_ARC_SESSION_DIST !== '') return undefined
  const source = join(ROOT, 'dist')
  if (!existsSync(join(source, 'index.js'))) throw new Error('dist/ is missing: run `npm run build` (npm run bench does it first)')
  const copy = join(ROOT, 'artifacts', `bench-dist-${process.pid}`)
  cpSync(source, copy, { recursive: true })
  process.env.BENCH_ARC_SESSION_DIST = copy
  return copy
}

function check (condition: boolean, message: string): void {
  if (!condition) throw new Error(message)
}

interface Shape {
  id: ShapeId
  sessions: number
}

/** One route of one server: a sample request (checked), warm-up, then the measured window. */
async function measureRoute (kind: ServerKind, child: Child, route: Route, cookies: readonly string[], args: Args): Promise<RouteResult> {
  const path = `/${route}`
  const sendCookie = route === 'first' || cookies.length === 0 ? undefined : cookies
  const sample = await get(child.port, path, sendCookie?.[0])
  check(sample.status === 200, `${kind} ${path}: status ${sample.status} (${sample.body.slice(0, 200)})`)
  // The bodies prove the session was really read: a server that lost its cookie would answer 0.
  // (A DynamoDB session primed in an earlier round has been counted up since: /read answers 1 or more.)
  const count = Number(sample.body)
  if (route === 'first') check(count === 0, `${kind} /first answered "${sample.body}", expected 0`)
  if (route === 'read') check(count >= 1, `${kind} /read answered "${sample.body}", expected 1 or more: the primed session was not read`)
  if (route === 'counter') check(count >= 2, `${kind} /counter answered "${sample.body}", expected 2 or more`)

  const cookie = sendCookie === undefined ? {} : { cookie: sendCookie }
  await load({ port: child.port, path, ...cookie, connections: args.connections, duration: args.warmup })
  const before = await settledStats(child.port)
  const result = await load({ port: child.port, path, ...cookie, connections: args.connections, duration: args.duration, latencies: true })
  const after = await settledStats(child.port)

  const served = Math.max(1, after.requests - before.requests)
  const wall = Math.max(1, after.wallMicros - before.wallMicros)
  const routeResult: RouteResult = {
    rps: result.requests.total / result.duration,
    p50: result.precise?.p50 ?? result.latency.p50,
    p99: result.precise?.p99 ?? result.latency.p99,
    requests: result.requests.total,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    ratio: 0,
    setCookieBytes: sample.setCookieBytes,
    setCookieCount: sample.setCookies.length,
    cpuMicrosPerRequest: (after.cpuMicros - before.cpuMicros) / served,
    cpuRatio: 0,
    gcShare: (after.gcMicros - before.gcMicros) / wall,
    gcMicrosPerRequest: (after.gcMicros - before.gcMicros) / served,
    load1: load1()
  }
  if (SERVERS[kind].role === 'stub') routeResult.stubMicrosPerRequest = (after.stubMicros - before.stubMicros) / served
  if (SERVERS[kind].dynamodb) {
    const ops = summarizeOps(subtractOps(after.ops, before.ops))
    const byCommand: Record<string, number> = {}
    for (const [name, n] of Object.entries(ops.byCommand)) byCommand[name] = n / served
    routeResult.opsPerRequest = { reads: ops.reads / served, writes: ops.writes / served, total: (ops.reads + ops.writes) / served, byCommand }
  }
  log(`    /${route}: ${Math.round(routeResult.rps)} req/s, CPU ${routeResult.cpuMicrosPerRequest.toFixed(0)} µs/request, ` +
    `p50 ${routeResult.p50.toFixed(2)} ms, p99 ${routeResult.p99.toFixed(2)} ms, GC ${(routeResult.gcShare * 100).toFixed(1)}%` +
    `${routeResult.stubMicrosPerRequest === undefined ? '' : `, stub ${routeResult.stubMicrosPerRequest.toFixed(1)} µs/request`}` +
    `, errors ${routeResult.errors}, non-2xx ${routeResult.non2xx}` +
    `${routeResult.opsPerRequest === undefined ? '' : `, ops/request ${routeResult.opsPerRequest.total.toFixed(2)}`}` +
    `, load ${routeResult.load1.toFixed(2)}`)
  return routeResult
}

/** `_idx=` and a value shaped like arc-session's token (header, IV, ciphertext, tag), `count` of them, all distinct. */
function baselineCookies (count: number): string[] {
  const header = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid: 'baseline' })).toString('base64url')
  return Array.from({ length: count }, () => `_idx=${header}..${randomBytes(12).toString('base64url')}.${randomBytes(100).toString('base64url')}.${randomBytes(16).toString('base64url')}`)
}

/** Cookies primed once per run, for servers whose cookies stay valid in a new process (SERVERS[kind].reusableCookies). */
const cookiePools = new Map<ServerKind, string[]>()

async function cookiesFor (kind: ServerKind, child: Child, sessions: number, args: Args): Promise<string[]> {
  // Bare Express sets no cookie and reads none; it is sent the same traffic all the same: Cookie
  // headers of arc-session's size, distinct in the same number (so the load generator does the same
  // work, and Node parses as many header bytes), which it ignores.
  if (SERVERS[kind].role === 'baseline') return baselineCookies(sessions)
  const pool = SERVERS[kind].reusableCookies ? cookiePools.get(kind) : undefined
  if (pool !== undefined && pool.length >= sessions) return pool.slice(0, sessions)
  const started = Date.now()
  const cookies = await prime(child.port, sessions, { concurrency: args.primeConcurrency, label: kind })
  check(cookies.length === sessions, `${kind}: priming ${sessions} sessions gave ${cookies.length} cookies`)
  if (sessions > 1) log(`    primed ${sessions} sessions in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  if (SERVERS[kind].reusableCookies) cookiePools.set(kind, cookies)
  return cookies
}

async function measureServer (kind: ServerKind, shape: Shape, endpoint: string, args: Args): Promise<ServerResult> {
  log(`  ${SERVERS[kind].label}`)
  const child = await startChild('server.ts', [kind], SERVERS[kind].endpoint ? { BENCH_DYNAMODB_ENDPOINT: endpoint } : {})
  try {
    const cookies = await cookiesFor(kind, child, shape.sessions, args)
    const routes: ServerResult['routes'] = {}
    // /read before /counter: /read then still finds the count it was primed with in the DynamoDB rows.
    for (const route of ['first', 'read', 'counter'] as const) routes[route] = await measureRoute(kind, child, route, cookies, args)
    return { kind, label: SERVERS[kind].label, routes }
  } finally {
    await child.stop()
  }
}

/** One row from several rounds of the same server: the median of each figure, its range, the sum of the failures. */
function medianServer (runs: ServerResult[]): ServerResult {
  const first = runs[0] as ServerResult
  const routes: ServerResult['routes'] = {}
  for (const route of ROUTES) {
    const all = runs.map(run => run.routes[route]).filter((r): r is RouteResult => r !== undefined)
    const sample = all[0]
    if (sample === undefined) continue
    const mid = (pick: (r: RouteResult) => number): number => median(all.map(pick))
    const span = (pick: (r: RouteResult) => number): { min: number, max: number } => ({ min: Math.min(...all.map(pick)), max: Math.max(...all.map(pick)) })
    const rps = mid(r => r.rps)
    const cpu = mid(r => r.cpuMicrosPerRequest)
    const rpsRange = span(r => r.rps)
    const cpuRange = span(r => r.cpuMicrosPerRequest)
    const stub = all.every(r => r.stubMicrosPerRequest !== undefined) ? { stubMicrosPerRequest: mid(r => r.stubMicrosPerRequest ?? 0) } : {}
    routes[route] = {
      ...sample,
      rps,
      p50: mid(r => r.p50),
      p99: mid(r => r.p99),
      requests: mid(r => r.requests),
      cpuMicrosPerRequest: cpu,
      gcShare: mid(r => r.gcShare),
      gcMicrosPerRequest: mid(r => r.gcMicrosPerRequest),
      ...stub,
      errors: all.reduce((sum, r) => sum + r.errors, 0),
      timeouts: all.reduce((sum, r) => sum + r.timeouts, 0),
      non2xx: all.reduce((sum, r) => sum + r.non2xx, 0),
      load1: mid(r => r.load1),
      rounds: all.length,
      rpsRange,
      cpuRange,
      rpsSpread: (rpsRange.max - rpsRange.min) / rps,
      cpuSpread: (cpuRange.max - cpuRange.min) / cpu
    }
  }
  return { kind: first.kind, label: first.label, routes }
}

async function memoryCheck (args: Args): Promise<MemoryResult> {
  const firstRequests = 10_000
  // The target is stated at 100,000; the smoke test stops at 50,000.
  const secondRequests = args.quick ? 50_000 : 100_000
  log(`memory: arc-session JWE /counter, RSS after ${firstRequests} and ${secondRequests} requests`)
  const child = await startChild('server.ts', ['arc-session-jwe'])
  try {
    const primed = await get(child.port, '/counter')
    const cookie = cookieHeader(primed.setCookies)
    const first = await load({ port: child.port, path: '/counter', cookie, connections: args.connections, amount: firstRequests - 1 })
    const a = await settledStats(child.port)
    const second = await load({ port: child.port, path: '/counter', cookie, connections: args.connections, amount: secondRequests - a.requests })
    const b = await settledStats(child.port)
    const growthPercent = ((b.rss - a.rss) / a.rss) * 100
    log(`  after ${a.requests}: RSS ${(a.rss / 1048576).toFixed(1)} MB; after ${b.requests}: ${(b.rss / 1048576).toFixed(1)} MB (${growthPercent.toFixed(1)}%)`)
    return {
      server: 'arc-session-jwe',
      route: 'counter',
      firstRequests: a.requests,
      secondRequests: b.requests,
      rssFirst: a.rss,
      rssSecond: b.rss,
      heapFirst: a.heapUsed,
      heapSecond: b.heapUsed,
      growthPercent,
      errors: first.errors + first.non2xx + second.errors + second.non2xx
    }
  } finally {
    await child.stop()
  }
}

async function main (): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  const started = Date.now()
  const complete = !args.quick && args.only === undefined && args.skip.size === 0 && args.sessions === 10_000 && args.rounds >= 3
  const out = args.out ?? (complete ? join(ROOT, 'bench', 'results') : join(ROOT, 'artifacts', 'bench-quick'))
  if (args.renderOnly || args.update !== undefined) {
    const previous = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as RunResult
    if (previous.format !== 2) throw new Error(`${relative(ROOT, join(out, 'latest.json'))} predates the two-shape results (format 2): run the benchmark again`)
    if (args.update === 'micro') {
      const snapshot = snapshotDist()
      try {
        previous.micro = await runMicro({ quick: previous.settings.quick })
        log(formatMicro(previous.micro))
      } finally {
        if (snapshot !== undefined) rmSync(snapshot, { recursive: true, force: true })
      }
    } else if (args.update !== undefined) {
      throw new Error(`--update: only "micro" can be re-measured on its own, got ${args.update}`)
    }
    previous.targets = evaluateTargets(previous)
    writeOutputs(previous, out)
    return
  }
  const snapshot = snapshotDist()
  try {
    await measureAll(args, out, started)
  } finally {
    if (snapshot !== undefined) rmSync(snapshot, { recursive: true, force: true })
  }
}

/** Rotate the libraries by the round, so none is always measured first or last. */
function order (libraries: readonly ServerKind[], round: number): ServerKind[] {
  if (libraries.length === 0) return []
  const shift = (round * Math.max(1, Math.floor(libraries.length / 3) + 1)) % libraries.length
  return [...libraries.slice(shift), ...libraries.slice(0, shift)]
}

async function measureAll (args: Args, out: string, started: number): Promise<void> {
  const settings: Settings = { quick: args.quick, connections: args.connections, warmupSeconds: args.warmup, durationSeconds: args.duration, rounds: args.rounds, sessions: args.sessions, primeConcurrency: args.primeConcurrency }
  const kinds = SERVER_KINDS.filter(kind => kind === 'express' || args.only === undefined || args.only.includes(kind))
  const info = machine()
  if (args.quick) log(`\n*** ${SMOKE_NOTICE} ***\n`)
  log(`arc-session bench (${args.quick ? 'quick: smoke test' : 'full'}): ${info.cpus} × ${info.cpuModel}, Node ${info.node}, load ${info.loadStart.map(l => l.toFixed(2)).join(' ')}`)

  const build = buildInfo()
  const result: RunResult = { format: 2, date: new Date().toISOString(), machine: info, ...(build === undefined ? {} : { build }), settings, shapes: [], targets: [] }

  if (!args.skip.has('micro')) {
    log('micro-benchmark: seal/open')
    result.micro = await runMicro({ quick: args.quick })
    log(formatMicro(result.micro))
  }
  if (!args.skip.has('cold')) {
    log('cold start: require and first request, fresh node processes')
    result.coldStart = runColdStart({ runs: args.quick ? 5 : 21 })
    log(formatColdStart(result.coldStart))
  }

  const shapes: Shape[] = []
  if (!args.skip.has('sessions')) shapes.push({ id: 'sessions', sessions: args.sessions })
  if (!args.skip.has('one-cookie')) shapes.push({ id: 'one-cookie', sessions: 1 })

  const dynamo = await startChild('dynalite-server.ts', [])
  const endpoint = `http://127.0.0.1:${dynamo.port}`
  try {
    await createTables(endpoint)
    const libraries = kinds.filter(kind => kind !== 'express')
    const runs = new Map<ShapeId, Map<ServerKind, ServerResult[]>>(shapes.map(shape => [shape.id, new Map()]))
    for (let round = 0; round < args.rounds; round++) {
      for (const shape of shapes) {
        log(`round ${round + 1} of ${args.rounds}, ${SHAPE_TITLES[shape.id](shape.sessions)} (load ${load1().toFixed(2)})`)
        const byKind = runs.get(shape.id) as Map<ServerKind, ServerResult[]>
        for (const kind of ['express' as const, ...order(libraries, round)]) {
          const measured = await measureServer(kind, shape, endpoint, args)
          byKind.set(kind, [...(byKind.get(kind) ?? []), measured])
        }
      }
    }
    for (const shape of shapes) {
      const byKind = runs.get(shape.id) as Map<ServerKind, ServerResult[]>
      const servers = kinds.map(kind => medianServer(byKind.get(kind) ?? [])).filter(server => Object.keys(server.routes).length > 0)
      const bare = servers.find(server => server.kind === 'express')
      for (const server of servers) {
        for (const route of ROUTES) {
          const r = server.routes[route]
          const base = bare?.routes[route]
          if (r === undefined || base === undefined) continue
          r.ratio = r.rps / base.rps
          r.cpuRatio = base.cpuMicrosPerRequest / r.cpuMicrosPerRequest
        }
      }
      const shapeResult: ShapeResult = { id: shape.id, sessions: shape.sessions, servers, runs: Object.fromEntries(byKind) }
      result.shapes.push(shapeResult)
    }

    if (!args.skip.has('hostile')) {
      const stores = (['arc-session-jwe', 'arc-session-dynamodb-stub', 'arc-session-dynamodb'] as const).filter(kind => args.only === undefined || args.only.includes(kind))
      if (stores.length > 0) {
        result.hostile = await runHostile({ endpoint, warmup: args.quick ? 0.3 : 1, duration: args.quick ? 1 : 3, connections: args.connections, log }, stores)
        log(formatHostile(result.hostile))
      }
    }
    if (!args.skip.has('memory')) result.memory = await memoryCheck(args)
    if (!args.skip.has('tokens')) {
      log(`token cache memory: ${args.quick ? '100,000 invalid and 20,000 valid' : '1,000,000 invalid and 100,000 valid'} tokens through one middleware (--expose-gc)`)
      result.tokenMemory = await runTokenMemory({ quick: args.quick })
      log(formatTokenMemory(result.tokenMemory))
    }
    if (!args.skip.has('mix')) {
      log('DynamoDB operations mix (500 first visits, 400 read-only, 100 changes)')
      result.opsMix = await runOpsMix(endpoint)
      log(formatOpsMix(result.opsMix))
      log('users and devices: the cookie store with a DynamoDB registry (issue 14)')
      result.registryMix = await runRegistryMix(endpoint)
      log(formatRegistryMix(result.registryMix))
    }
  } finally {
    await dynamo.stop()
  }

  result.machine.loadEnd = triple()
  result.seconds = Math.round((Date.now() - started) / 1000)
  result.targets = evaluateTargets(result)

  writeOutputs(result, out)

  for (const shape of result.shapes) {
    console.log(`\n${SHAPE_TITLES[shape.id](shape.sessions)}: % of bare Express (req/s, CPU)\n`)
    console.log(ratioTable(shape))
    console.log()
    console.log(figuresTable(shape))
  }
  console.log()
  for (const target of result.targets) console.log(`${target.na === true ? 'n/a    ' : target.met ? 'met    ' : 'MISSED '} ${target.name}: ${target.measured} (${target.margin})`)
  if (args.quick) console.log(`\n${SMOKE_NOTICE}`)
  console.log(`\ndone in ${result.seconds} s`)

  // Missed targets are findings; failed requests are a broken benchmark (or library): CI should see those.
  const failures = result.shapes.flatMap(shape => shape.servers.flatMap(server => ROUTES.map(route => ({ shape, server, route, r: server.routes[route] }))))
    .filter(({ r }) => r !== undefined && r.errors + r.timeouts + r.non2xx > 0)
  const hostileFailures = (result.hostile?.rows ?? []).flatMap(row => Object.entries(row.cases).filter(([, m]) => m.errors > 0).map(([name, m]) => `${row.label} ${name}: ${m.errors}`))
  const wrongTokens = result.tokenMemory?.wrongAnswers ?? 0
  if (failures.length > 0 || (result.memory?.errors ?? 0) > 0 || hostileFailures.length > 0 || wrongTokens > 0) {
    for (const { shape, server, route, r } of failures) console.error(`failed requests: ${shape.id} ${server.label} /${route}: ${r?.errors ?? 0} errors, ${r?.timeouts ?? 0} timeouts, ${r?.non2xx ?? 0} non-2xx`)
    if ((result.memory?.errors ?? 0) > 0) console.error(`failed requests in the memory check: ${result.memory?.errors ?? 0}`)
    for (const failure of hostileFailures) console.error(`failed requests with hostile headers: ${failure}`)
    if (wrongTokens > 0) console.error(`token cache memory: ${wrongTokens} reads answered wrongly`)
    process.exitCode = 1
  }
}

function writeOutputs (result: RunResult, out: string): void {
  mkdirSync(out, { recursive: true })
  writeFileSync(join(out, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`)
  writeFileSync(join(out, 'chart.svg'), renderChart(result))
  const mdPath = out === join(ROOT, 'bench', 'results') ? join(ROOT, 'BENCHMARKS.md') : join(out, 'BENCHMARKS.md')
  let existing: string | undefined
  try { existing = readFileSync(mdPath, 'utf8') } catch { existing = undefined }
  let markdown = updateBenchmarksMd(existing, result)
  // The chart link in the block is relative to the repository root; elsewhere it is next to the file.
  if (mdPath !== join(ROOT, 'BENCHMARKS.md')) markdown = markdown.replace('](bench/results/chart.svg)', '](chart.svg)')
  writeFileSync(mdPath, markdown)
  log(`wrote ${relative(ROOT, join(out, 'latest.json'))}, ${relative(ROOT, join(out, 'chart.svg'))}, ${relative(ROOT, mdPath)}`)
}

main().catch(error => {
  console.error(error)
  process.exitCode = 1
})
