/**
 * The parent's tools: fork a child (server or dynalite) and wait for its port, make
 * single HTTP requests (priming, samples, /__stats), create the DynamoDB tables, and
 * drive load with autocannon.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import autocannon from 'autocannon'
import type * as ArcSession from 'arc-session'
import { ARC_TABLE, EXPRESS_HASH_KEY, EXPRESS_TABLE, countingClient, distModule } from './common'
import type { ServerStats } from './server'

export interface Child {
  readonly port: number
  readonly process: ChildProcess
  stop (): Promise<void>
}

/** The TypeScript loader, explicitly, so children run the same way however the parent was started. */
const TSX = pathToFileURL(require.resolve('tsx')).href

export async function startChild (script: string, args: string[], env: Record<string, string> = {}, nodeFlags: string[] = []): Promise<Child> {
  const child = fork(join(__dirname, script), args, {
    execArgv: [...nodeFlags, '--import', TSX],
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${script} ${args.join(' ')} did not start within 30 s`)) }, 30_000)
    child.once('message', (message: { type?: string, port?: number }) => {
      clearTimeout(timer)
      if (message.type === 'ready' && typeof message.port === 'number') resolve(message.port)
      else reject(new Error(`unexpected message from ${script}: ${JSON.stringify(message)}`))
    })
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`${script} ${args.join(' ')} exited with ${String(code)} before it was ready`)) })
  })
  return {
    port,
    process: child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
      child.disconnect()
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
  }
}

export interface Reply {
  status: number
  body: string
  setCookies: string[]
  /** Bytes of the Set-Cookie header values (name=value and attributes), summed. */
  setCookieBytes: number
}

export async function get (port: number, path: string, cookie?: string, agent?: Agent): Promise<Reply> {
  return await new Promise<Reply>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', headers: cookie === undefined ? {} : { cookie }, ...(agent === undefined ? {} : { agent }) }, res => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const setCookies = res.headers['set-cookie'] ?? []
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          setCookies,
          setCookieBytes: setCookies.reduce((sum, value) => sum + Buffer.byteLength(value), 0)
        })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.setTimeout(10_000, () => { req.destroy(new Error(`GET ${path} timed out`)) })
    req.end()
  })
}

/** The Cookie header a browser would send back after these Set-Cookie values. */
export function cookieHeader (setCookies: readonly string[]): string {
  return setCookies.map(value => value.split(';', 1)[0]?.trim() ?? '').filter(pair => pair !== '').join('; ')
}

export async function stats (port: number): Promise<ServerStats> {
  const reply = await get(port, '/__stats')
  if (reply.status !== 200) throw new Error(`/__stats answered ${reply.status}`)
  return JSON.parse(reply.body) as ServerStats
}

/**
 * The server's stats once every request it received has been answered: autocannon stops
 * by closing its connections, and the server may still be finishing (and calling DynamoDB
 * for) the last few, which belong to the window that just ended.
 */
export async function settledStats (port: number): Promise<ServerStats> {
  const deadline = Date.now() + 15_000
  for (;;) {
    const current = await stats(port)
    if (current.active === 0) return current
    if (Date.now() > deadline) throw new Error(`the server still has ${current.active} requests in flight after 15 s`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/**
 * `count` sessions made by the server itself: one GET /counter each, `concurrency` at a time on
 * keep-alive connections; each cookie is the Cookie header a browser would send back. In the order
 * the requests were made. The server may set no cookie (bare Express): then the list is empty.
 */
export async function prime (port: number, count: number, { concurrency = 16, label = String(port) }: { concurrency?: number, label?: string } = {}): Promise<string[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const cookies: Array<string | undefined> = new Array(count)
  let next = 0
  let failed: Error | undefined
  const worker = async (): Promise<void> => {
    while (next < count && failed === undefined) {
      const index = next++
      const reply = await get(port, '/counter', undefined, agent)
      if (reply.status !== 200) failed = new Error(`${label}: priming /counter answered ${reply.status} (${reply.body.slice(0, 200)})`)
      if (reply.setCookies.length > 0) cookies[index] = cookieHeader(reply.setCookies)
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  } finally {
    agent.destroy()
  }
  if (failed !== undefined) throw failed
  return cookies.filter((cookie): cookie is string => cookie !== undefined)
}

export interface LoadOptions {
  port: number
  path: string
  /** One Cookie header for every request, or several used in turn (request i gets cookie i mod n). */
  cookie?: string | readonly string[]
  connections: number
  /** Seconds; ignored when `amount` is given. */
  duration?: number
  amount?: number
  /** Record every response's latency (autocannon's own percentiles are whole milliseconds). */
  latencies?: boolean
}

export interface LoadResult extends autocannon.Result {
  /** Percentiles of the response times, in milliseconds to the microsecond (when `latencies` was asked for). */
  precise?: { p50: number, p90: number, p99: number, max: number, samples: number }
}

function percentile (sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number
}

/** Where each list of cookies is in its cycle: a later load with the same list goes on from there (a warm-up, then the measured window). */
const cycles = new WeakMap<readonly string[], number>()

export async function load (options: LoadOptions): Promise<LoadResult> {
  const cookies = options.cookie === undefined ? [] : typeof options.cookie === 'string' ? [options.cookie] : options.cookie
  let next = cycles.get(cookies) ?? 0
  const times: number[] = []
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({
      url: `http://127.0.0.1:${options.port}${options.path}`,
      connections: options.connections,
      pipelining: 1,
      ...(options.amount === undefined ? { duration: options.duration ?? 10 } : { amount: options.amount }),
      headers: cookies.length === 1 ? { cookie: cookies[0] as string } : {},
      ...(cookies.length > 1
        ? {
            requests: [{
              setupRequest: (request: autocannon.Request) => {
                request.headers = { ...request.headers, cookie: cookies[next++ % cookies.length] as string }
                return request
              }
            }]
          }
        : {}),
      timeout: 10
    }, (error: unknown, done: autocannon.Result) => { if (error !== null && error !== undefined) reject(error); else resolve(done) })
    if (options.latencies === true) instance.on('response', (_client, _status, _bytes, responseTime) => { times.push(responseTime) })
  })
  if (cookies.length > 1) cycles.set(cookies, next % cookies.length)
  if (options.latencies !== true) return result
  const sorted = Float64Array.from(times).sort()
  return { ...result, precise: { p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), p99: percentile(sorted, 0.99), max: sorted[sorted.length - 1] ?? 0, samples: sorted.length } }
}

/** Both session tables on the given DynamoDB endpoint: arc-session's (through its createTable) and connect-dynamodb's. */
export async function createTables (endpoint: string): Promise<void> {
  const sdk = require('@aws-sdk/client-dynamodb') as typeof import('@aws-sdk/client-dynamodb')
  const { createTable } = require(distModule('index.js')) as typeof ArcSession
  const client = countingClient(endpoint, {})
  try {
    await createTable(ARC_TABLE, { client })
    try {
      await client.send(new sdk.CreateTableCommand({
        TableName: EXPRESS_TABLE,
        AttributeDefinitions: [{ AttributeName: EXPRESS_HASH_KEY, AttributeType: 'S' }],
        KeySchema: [{ AttributeName: EXPRESS_HASH_KEY, KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST'
      }))
    } catch (error) {
      if ((error as { name?: string }).name !== 'ResourceInUseException') throw error
    }
  } finally {
    client.destroy()
  }
}
