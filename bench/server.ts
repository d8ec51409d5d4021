/**
 * One server under test, in its own process (forked by bench/run.ts):
 *
 *   tsx bench/server.ts <kind>     env: BENCH_DYNAMODB_ENDPOINT for the DynamoDB rows
 *
 * Listens on a free port of 127.0.0.1 and sends `{ type: 'ready', port }` over IPC.
 * GET /__stats answers (before any session code runs) with the requests served so far,
 * the DynamoDB commands counted on the server's client, the process's memory and CPU time, and
 * the time it spent in garbage collection (a PerformanceObserver of 'gc' entries: each entry is
 * one pause of the main thread, from V8's GC prologue to its epilogue).
 */
import type { AddressInfo } from 'node:net'
import { PerformanceObserver, constants, performance, type PerformanceEntry } from 'node:perf_hooks'
import express from 'express'
import { SERVER_KINDS, mountServer, type ServerKind } from './apps'
import type { OpCounts } from './common'
import type { StubClient } from './dynamodb-stub'

export interface ServerStats {
  /** Requests received, /__stats excluded. */
  requests: number
  /** Of those, the ones whose response has not finished yet. */
  active: number
  ops: OpCounts
  rss: number
  heapUsed: number
  /** CPU time this process has used, user + system, in microseconds. */
  cpuMicros: number
  /** Wall-clock time since the process started (performance.now()), in microseconds. */
  wallMicros: number
  /** Garbage-collection pauses so far: their total duration (µs) and how many, minor (scavenges) and the rest. */
  gcMicros: number
  gcMinor: number
  gcMajor: number
  /** Time spent inside the in-memory DynamoDB stub's send() (µs), for the stub rows. */
  stubMicros: number
}

export interface ReadyMessage {
  type: 'ready'
  port: number
}

/** CPU profiling on demand (bench/profile.ts), so start-up and module loading stay out of it. */
let inspector: import('node:inspector').Session | undefined

async function post (method: string, params?: object): Promise<unknown> {
  return await new Promise((resolve, reject) => {
    inspector?.post(method, params ?? {}, (error, result) => { if (error !== null) reject(error); else resolve(result) })
  })
}

async function profileStart (): Promise<void> {
  const { Session } = require('node:inspector') as typeof import('node:inspector')
  inspector = new Session()
  inspector.connect()
  await post('Profiler.enable')
  await post('Profiler.setSamplingInterval', { interval: 100 })
  await post('Profiler.start')
  process.send?.({ type: 'profile:started' })
}

async function profileStop (): Promise<unknown> {
  const { profile } = await post('Profiler.stop') as { profile: unknown }
  inspector?.disconnect()
  inspector = undefined
  return profile
}

function main (): void {
  const kind = process.argv[2] as ServerKind
  if (!SERVER_KINDS.includes(kind)) throw new Error(`unknown server kind ${String(kind)}; one of ${SERVER_KINDS.join(', ')}`)

  const counts: OpCounts = {}
  const stubs: StubClient[] = []
  let requests = 0
  let active = 0
  let gcMs = 0
  let gcMinor = 0
  let gcMajor = 0
  const addGc = (entries: PerformanceEntry[]): void => {
    for (const entry of entries) {
      gcMs += entry.duration
      const detail = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail
      if (detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) gcMinor++
      else gcMajor++
    }
  }
  const observer = new PerformanceObserver(list => { addGc(list.getEntries()) })
  observer.observe({ entryTypes: ['gc'] })
  const app = express()
  app.get('/__stats', (_req, res) => {
    // Entries not yet delivered to the observer belong to the window that just ended.
    addGc(observer.takeRecords())
    const memory = process.memoryUsage()
    const cpu = process.cpuUsage()
    const stats: ServerStats = {
      requests,
      active,
      ops: { ...counts },
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      cpuMicros: cpu.user + cpu.system,
      wallMicros: performance.now() * 1000,
      gcMicros: gcMs * 1000,
      gcMinor,
      gcMajor,
      stubMicros: stubs.reduce((sum, stub) => sum + stub.stubMs, 0) * 1000
    }
    res.json(stats)
  })
  const endpoint = process.env.BENCH_DYNAMODB_ENDPOINT
  mountServer(kind, app, { ...(endpoint === undefined || endpoint === '' ? {} : { endpoint }), counts, stubs })
  app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    console.error(`[${kind}]`, error)
    res.status(500).send('error')
  })

  const server = app.listen(0, '127.0.0.1', () => {
    const message: ReadyMessage = { type: 'ready', port: (server.address() as AddressInfo).port }
    process.send?.(message)
  })
  server.on('request', (req: { url?: string }, res: { once (event: 'close', listener: () => void): unknown }) => {
    if (req.url === '/__stats') return
    requests++
    active++
    res.once('close', () => { active-- })
  })
  server.keepAliveTimeout = 30_000
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'profile:start') void profileStart()
    if (message.type === 'profile:stop') void profileStop().then(profile => { process.send?.({ type: 'profile', profile }) })
  })
  // The parent going away (or closing the channel) ends this server.
  process.on('disconnect', () => { server.close(); server.closeAllConnections(); process.exit(0) })
}

main()
