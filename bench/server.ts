/**
 * One server under test, in its own process (forked by bench/run.ts):
 *
 *   tsx bench/server.ts <kind>     env: BENCH_DYNAMODB_ENDPOINT for the DynamoDB rows
 *
 * Listens on a free port of 127.0.0.1 and sends `{ type: 'ready', port }` over IPC.
 * GET /__stats answers (before any session code runs) with the requests served so far,
 * the DynamoDB commands counted on the server's client, and the process's memory.
 */
import type { AddressInfo } from 'node:net'
import express from 'express'
import { SERVER_KINDS, mountServer, type ServerKind } from './apps'
import type { OpCounts } from './common'

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
  let requests = 0
  let active = 0
  const app = express()
  app.get('/__stats', (_req, res) => {
    const memory = process.memoryUsage()
    const cpu = process.cpuUsage()
    const stats: ServerStats = { requests, active, ops: { ...counts }, rss: memory.rss, heapUsed: memory.heapUsed, cpuMicros: cpu.user + cpu.system }
    res.json(stats)
  })
  const endpoint = process.env.BENCH_DYNAMODB_ENDPOINT
  mountServer(kind, app, { ...(endpoint === undefined || endpoint === '' ? {} : { endpoint }), counts })
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
