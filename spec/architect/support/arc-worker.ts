import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createInterface } from 'node:readline'
import { ROOT } from './local'

/**
 * The real @architect/functions in a child Node process (aws-lite's dynamic import() does not run
 * inside jest's module sandbox, and arc reads and writes process.env), taking calls one at a time:
 * arc.http.session.read / write, and a whole arc.http handler invocation.
 */

export type ArcSession = Record<string, unknown>

export interface ArcHttpResult {
  /** What arc.http's handler returned to Lambda (statusCode, headers with set-cookie, body). */
  readonly response: { statusCode?: number, headers?: Record<string, string>, body?: string }
  /** req.session as the handler saw it. */
  readonly seen: ArcSession
}

export interface ArcWorker {
  read (request: object): Promise<ArcSession>
  write (session: ArcSession): Promise<string>
  /** Runs `arc.http(async req => response)` on `event`: the handler answers `response` (e.g. `{ statusCode: 200, session: {} }`). */
  http (event: object, response: object): Promise<ArcHttpResult>
  close (): Promise<void>
}

const WORKER = String.raw`
const readline = require('node:readline')
const arc = require('@architect/functions')
const lines = readline.createInterface({ input: process.stdin })
let queue = Promise.resolve()
lines.on('line', line => { queue = queue.then(() => handle(JSON.parse(line))) })
async function handle ({ seq, op, arg }) {
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
  }
  process.stdout.write('@@arc ' + JSON.stringify(reply) + '\n')
}
`

export function startArcWorker (env: Readonly<Record<string, string>>, timeoutMs = 15000): ArcWorker {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['-e', WORKER], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => { stderr += chunk })
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

  async function call (op: 'read' | 'write' | 'http', arg: object): Promise<unknown> {
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
      child.stdin.write(`${JSON.stringify({ seq: id, op, arg })}\n`)
    })
  }

  return {
    read: async request => await call('read', request) as ArcSession,
    write: async session => await call('write', session) as string,
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

/** An API Gateway payload v2 event, as Sandbox and Lambda give arc.http. */
export function v2Event (method: string, path: string, cookies: readonly string[] = []): object {
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: '',
    cookies: [...cookies],
    headers: { host: 'localhost' },
    requestContext: { http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'spec' } },
    isBase64Encoded: false
  }
}
