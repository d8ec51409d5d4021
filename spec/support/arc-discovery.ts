import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

/**
 * Running @architect/functions' real DynamoDB session provider against dynalite.
 *
 * arc finds its session table through service discovery: an SSM GetParametersByPath call
 * to Sandbox's internal port (`ARC_SANDBOX.ports._arc`, path `/_arc/ssm`), answered here by
 * a small HTTP stub. It reaches DynamoDB on `ARC_SANDBOX.ports.tables` through aws-lite.
 *
 * arc runs in a child Node process: aws-lite loads its plugins with dynamic import(), which
 * jest's module sandbox refuses without --experimental-vm-modules, and arc reads and writes
 * process.env, which stays out of the test process this way.
 */

export interface ArcDiscovery {
  readonly port: number
  /** GetParametersByPath calls answered so far. */
  readonly calls: () => number
  close (): Promise<void>
}

/** Answers arc's service discovery: every table in `tables` (logical name -> physical name). */
export async function startArcDiscovery (tables: Readonly<Record<string, string>>): Promise<ArcDiscovery> {
  let calls = 0
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', chunk => { body += chunk as string })
    req.on('end', () => {
      const target = req.headers['x-amz-target']
      let path: unknown
      try {
        path = (JSON.parse(body) as { Path?: unknown }).Path
      } catch {
        path = undefined
      }
      if (req.method !== 'POST' || target !== 'AmazonSSM.GetParametersByPath' || typeof path !== 'string' || !path.startsWith('/')) {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' })
        res.end(JSON.stringify({ __type: 'ValidationException', message: `unexpected discovery request ${String(target)}` }))
        return
      }
      calls++
      const Parameters = Object.entries(tables).map(([logical, physical]) => ({ Name: `${path as string}/tables/${logical}`, Value: physical, Type: 'String' }))
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' })
      res.end(JSON.stringify({ Parameters }))
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    calls: () => calls,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

/** What arc's session read returns (its whole item, `_idx`, `_secret` and `_ttl` included). */
export type ArcSession = Record<string, unknown>

export interface ArcHttpResult {
  /** What arc.http's handler returned to Lambda (statusCode, headers with set-cookie, body). */
  readonly response: { statusCode?: number, headers?: Record<string, string>, body?: string }
  /** req.session as the handler saw it. */
  readonly seen: ArcSession
}

export interface ArcWorker {
  /** arc.http.session.read(request); `env` overrides process.env in the worker for this call (null unsets). */
  read (request: object, env?: Readonly<Record<string, string | null>>): Promise<ArcSession>
  /** arc.http.session.write(session): the Set-Cookie header value. */
  write (session: ArcSession, env?: Readonly<Record<string, string | null>>): Promise<string>
  /** Runs `arc.http(async req => response)` on `event`: the handler answers `response` (e.g. `{ statusCode: 200, session: {} }`). */
  http (event: object, response: object): Promise<ArcHttpResult>
  close (): Promise<void>
}

const WORKER = String.raw`
const readline = require('node:readline')
const arc = require('@architect/functions')
const lines = readline.createInterface({ input: process.stdin })
let queue = Promise.resolve()
lines.on('line', line => {
  queue = queue.then(() => handle(JSON.parse(line)))
})
async function handle ({ seq, op, arg, env }) {
  const saved = {}
  for (const [name, value] of Object.entries(env || {})) {
    saved[name] = process.env[name]
    if (value === null) delete process.env[name]
    else process.env[name] = value
  }
  let reply
  try {
    let result
    if (op === 'read') result = await arc.http.session.read(arg)
    else if (op === 'write') result = await arc.http.session.write(arg)
    else {
      let seen
      const handler = arc.http(async req => { seen = { ...req.session }; return JSON.parse(JSON.stringify(arg.response)) })
      const response = await handler(arg.event, {})
      result = { response, seen }
    }
    reply = { seq, ok: true, result }
  } catch (error) {
    reply = { seq, ok: false, error: String((error && error.stack) || error) }
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
  process.stdout.write('@@arc ' + JSON.stringify(reply) + '\n')
}
`

/**
 * A child process running the real @architect/functions with `env` (on top of a minimal
 * environment), taking read/write calls one at a time.
 */
export function startArcWorker (env: Readonly<Record<string, string>>, timeoutMs = 15000): ArcWorker {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['-e', WORKER], {
    cwd: join(__dirname, '..', '..'),
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', chunk => { stderr += chunk as string })
  const waiting = new Map<number, { resolve: (value: unknown) => void, reject: (error: Error) => void }>()
  let seq = 0
  let exited = false
  const exit = new Promise<void>(resolve => child.once('exit', () => {
    exited = true
    for (const { reject } of waiting.values()) reject(new Error(`arc worker exited: ${stderr}`))
    waiting.clear()
    resolve()
  }))
  createInterface({ input: child.stdout }).on('line', line => {
    if (!line.startsWith('@@arc ')) return
    const reply = JSON.parse(line.slice(6)) as { seq: number, ok: boolean, result?: unknown, error?: string }
    const pending = waiting.get(reply.seq)
    waiting.delete(reply.seq)
    if (reply.ok) pending?.resolve(reply.result)
    else pending?.reject(new Error(`arc: ${reply.error ?? 'failed'}`))
  })

  async function call (op: 'read' | 'write' | 'http', arg: object, env?: Readonly<Record<string, string | null>>): Promise<unknown> {
    if (exited) throw new Error(`arc worker is not running: ${stderr}`)
    const id = ++seq
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(id)
        reject(new Error(`arc ${op} took over ${timeoutMs} ms: ${stderr}`))
      }, timeoutMs)
      waiting.set(id, {
        resolve: value => { clearTimeout(timer); resolve(value) },
        reject: error => { clearTimeout(timer); reject(error) }
      })
      child.stdin.write(`${JSON.stringify({ seq: id, op, arg, env })}\n`)
    })
  }

  return {
    read: async (request, env) => await call('read', request, env) as ArcSession,
    write: async (session, env) => await call('write', session, env) as string,
    http: async (event, response) => await call('http', { event, response }) as ArcHttpResult,
    close: async () => {
      if (!exited) {
        child.stdin.end()
        child.kill()
      }
      await exit
    }
  }
}
