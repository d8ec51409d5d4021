import { spawn } from 'node:child_process'
import { lookup } from 'node:dns/promises'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, request as httpRequest, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Local stand-ins for what Architect Sandbox offers a function (its SSM service discovery on
 * `ports._arc`, its DynamoDB on `ports.tables`), child processes bounded in time, and temp folders.
 *
 * arc-session (like arc) reaches Sandbox at `http://localhost:<port>`: every server here listens on
 * every address `localhost` resolves to (127.0.0.1, and ::1 where the resolver gives it), on one port.
 */

export interface LocalServer {
  readonly port: number
  /** The addresses listened on (what `localhost` resolves to here). */
  readonly addresses: readonly string[]
  close (): Promise<void>
}

export async function localhostAddresses (): Promise<string[]> {
  const found = await lookup('localhost', { all: true })
  const addresses = [...new Set(found.map(entry => entry.address))]
  return addresses.length > 0 ? addresses : ['127.0.0.1']
}

/** One handler on every address of `localhost`, all on the same port. */
export async function listenOnLocalhost (handler: RequestListener): Promise<LocalServer> {
  const addresses = await localhostAddresses()
  // 127.0.0.1 first: the port is picked there, the others follow it.
  addresses.sort((a, b) => Number(b === '127.0.0.1') - Number(a === '127.0.0.1'))
  const servers: Server[] = []
  let port = 0
  for (const address of addresses) {
    const server = createServer(handler)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, address, () => { server.off('error', reject); resolve() })
    })
    port = (server.address() as AddressInfo).port
    servers.push(server)
  }
  return {
    port,
    addresses,
    close: async () => {
      await Promise.all(servers.map(async server => {
        server.closeAllConnections()
        await new Promise<void>(resolve => server.close(() => resolve()))
      }))
    }
  }
}

function bodyOf (req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => { body += chunk })
    req.on('end', () => resolve(body))
    req.on('error', reject)
  })
}

// ------------------------------------------------------------------------------------------ SSM

export interface SsmCall {
  readonly url: string
  readonly host: string | undefined
  readonly target: string | undefined
  readonly contentType: string | undefined
  readonly authorization: string | undefined
  readonly path: unknown
  readonly recursive: unknown
  readonly nextToken: unknown
}

export interface SsmStandIn extends LocalServer {
  /** Every GetParametersByPath call answered with 200, in order. */
  readonly calls: SsmCall[]
  /** Every request, answered or refused. */
  readonly requests: SsmCall[]
  /** Answer the next `count` calls with a 500 (the SDK retries, up to its maxAttempts). */
  failNext (count: number): void
  /** Add or replace a parameter. */
  put (name: string, value: string): void
}

export interface SsmOptions {
  /** Parameters by full name, e.g. `/MyAppTesting/tables/sessions` -> physical table name. */
  readonly parameters?: Readonly<Record<string, string>>
  /** At most this many parameters per answer, the rest behind a NextToken. Default: all at once. */
  readonly pageSize?: number
  /**
   * Answer only URLs starting with this (404 otherwise), as Sandbox routes `/_arc/ssm` (since 5.3 by
   * prefix: the AWS SDK v3 appends a slash to the endpoint's path). Default: any URL.
   */
  readonly route?: string
}

/**
 * Sandbox's SSM, as far as service discovery uses it (DESIGN.md section 9): the AWS JSON 1.1
 * protocol, POST with `X-Amz-Target: AmazonSSM.GetParametersByPath`, body `{"Path","Recursive"}`,
 * answer `{"Parameters":[{Name,Type,Value}],"NextToken"?}`. Parameters under Path are returned
 * (all levels when Recursive, one level otherwise).
 */
export async function startSsmStandIn (options: SsmOptions = {}): Promise<SsmStandIn> {
  const parameters = new Map(Object.entries(options.parameters ?? {}))
  const calls: SsmCall[] = []
  const requests: SsmCall[] = []
  let failures = 0
  const reply = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' })
    res.end(JSON.stringify(body))
  }
  const server = await listenOnLocalhost((req, res) => {
    void bodyOf(req).then(text => {
      let parsed: Record<string, unknown> = {}
      try {
        parsed = JSON.parse(text) as Record<string, unknown>
      } catch {
        parsed = {}
      }
      const call: SsmCall = {
        url: req.url ?? '',
        host: req.headers.host,
        target: req.headers['x-amz-target'] as string | undefined,
        contentType: req.headers['content-type'],
        authorization: req.headers.authorization,
        path: parsed.Path,
        recursive: parsed.Recursive,
        nextToken: parsed.NextToken
      }
      requests.push(call)
      if (options.route !== undefined && !call.url.startsWith(options.route)) {
        res.writeHead(404)
        res.end()
        return
      }
      if (req.method !== 'POST' || call.target !== 'AmazonSSM.GetParametersByPath' || typeof call.path !== 'string' || !call.path.startsWith('/')) {
        reply(res, 400, { __type: 'ValidationException', message: `unexpected request ${String(call.target)}` })
        return
      }
      if (failures > 0) {
        failures--
        reply(res, 500, { __type: 'InternalServerError', message: 'stand-in failure' })
        return
      }
      calls.push(call)
      const base = call.path.replace(/\/+$/, '')
      const matching = [...parameters]
        .filter(([name]) => name.startsWith(`${base}/`) && (call.recursive === true || !name.slice(base.length + 1).includes('/')))
        .map(([Name, Value]) => ({ Name, Type: 'String', Value }))
      const start = typeof call.nextToken === 'string' ? Number(call.nextToken) : 0
      const size = options.pageSize ?? matching.length
      const page = matching.slice(start, start + Math.max(size, 0))
      const next = start + page.length
      reply(res, 200, { Parameters: page, ...(next < matching.length ? { NextToken: String(next) } : {}) })
    })
  })
  return {
    ...server,
    calls,
    requests,
    failNext: count => { failures = count },
    put: (name, value) => { parameters.set(name, value) }
  }
}

// ------------------------------------------------------------------------------------- DynamoDB

export interface DynamoCall {
  readonly host: string | undefined
  readonly authorization: string | undefined
  /** e.g. DynamoDB_20120810.PutItem */
  readonly target: string | undefined
  readonly table: unknown
}

export interface RecordingProxy extends LocalServer {
  readonly calls: DynamoCall[]
}

/** A pass-through to `endpoint` (the run's dynalite) that records what each DynamoDB call carried. */
export async function startRecordingProxy (endpoint: string): Promise<RecordingProxy> {
  const target = new URL(endpoint)
  const calls: DynamoCall[] = []
  const server = await listenOnLocalhost((req, res) => {
    void bodyOf(req).then(body => {
      let table: unknown
      try {
        table = (JSON.parse(body) as { TableName?: unknown }).TableName
      } catch {
        table = undefined
      }
      calls.push({ host: req.headers.host, authorization: req.headers.authorization, target: req.headers['x-amz-target'] as string | undefined, table })
      const forwarded = httpRequest({
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host }
      }, upstream => {
        res.writeHead(upstream.statusCode ?? 502, upstream.headers)
        upstream.pipe(res)
      })
      forwarded.on('error', () => { res.writeHead(502); res.end() })
      forwarded.end(body)
    })
  })
  return { ...server, calls }
}

// -------------------------------------------------------------------------------- child processes

export interface ChildResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `node <args>` without blocking this process (the run's dynalite lives in jest's own
 * process), killed after `timeoutMs`.
 */
export function runNode (args: readonly string[], options: { env: Readonly<Record<string, string>>, cwd?: string, timeoutMs?: number }): Promise<ChildResult> {
  const timeoutMs = options.timeoutMs ?? 15000
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args], { cwd: options.cwd ?? ROOT, env: { ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => { stdout += chunk })
    child.stderr.on('data', (chunk: string) => { stderr += chunk })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`node ${args.join(' ')} took over ${timeoutMs} ms; stderr: ${stderr}`))
    }, timeoutMs)
    child.once('error', error => { clearTimeout(timer); reject(error) })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

export const ROOT = join(__dirname, '..', '..', '..')

/** `-r <tsx's CommonJS hook>`: a child that runs the TypeScript fixtures (and lib/) as they are now. */
export function tsxArgs (script: string, ...rest: string[]): string[] {
  return ['-r', join(ROOT, 'node_modules', 'tsx', 'dist', 'cjs', 'index.cjs'), script, ...rest]
}

/** What a child needs of this environment: PATH and HOME, no AWS or Architect settings. */
export function baseChildEnv (): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true'
  }
}

/** The `@@result {...}` line a fixture prints. */
export function resultOf<T> (result: ChildResult): T {
  const line = result.stdout.split('\n').find(text => text.startsWith('@@result '))
  if (line === undefined) throw new Error(`no result from the child (exit ${String(result.code)}): ${result.stdout}\n${result.stderr}`)
  return JSON.parse(line.slice('@@result '.length)) as T
}

// ------------------------------------------------------------------------------------ temp dirs

/** Temp folders, each removed by cleanup(). */
export function tempDirs (): { make (prefix?: string): Promise<string>, cleanup (): Promise<void> } {
  const made: string[] = []
  return {
    make: async (prefix = 'arc-session-spec-') => {
      const dir = await mkdtemp(join(tmpdir(), prefix))
      made.push(dir)
      return dir
    },
    cleanup: async () => {
      await Promise.all(made.splice(0).map(async dir => { await rm(dir, { recursive: true, force: true }) }))
    }
  }
}

/** `_idx=<value>` of a Set-Cookie value: what the browser sends back. */
export function pairOf (setCookie: string): string {
  return setCookie.split(';')[0] as string
}

/** A Set-Cookie value that expires the session cookie. */
export function isExpiring (setCookie: string): boolean {
  return /^_idx=;/.test(setCookie) && /;\s*Max-Age=0(;|$)/i.test(setCookie)
}

/** The data alone: read() results also carry their identity under a symbol. */
export function plain (value: object): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>
}
