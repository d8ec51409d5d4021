import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Tools for "the first hour" specs: child processes run asynchronously and bounded in time (the
 * run's dynalite lives in jest's main process and must keep answering), environments without an
 * AWS account, and temporary folders.
 */

export const ROOT = join(__dirname, '..', '..')

/** Generous bound for a child on a busy machine (tsx start-up, npm): not a timing assertion. */
export const CHILD_TIMEOUT = 90_000

export interface Run {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
}

export interface RunOptions {
  readonly cwd?: string
  readonly env?: NodeJS.ProcessEnv
  /** Milliseconds before the child is killed; CHILD_TIMEOUT by default. */
  readonly timeout?: number
}

/** Run a command asynchronously; never throws for a non-zero exit, and kills the child past its time. */
export async function run (command: string, args: readonly string[], options: RunOptions = {}): Promise<Run> {
  return await new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, options.timeout ?? CHILD_TIMEOUT)
    child.stdout.setEncoding('utf8').on('data', chunk => { stdout += chunk as string })
    child.stderr.setEncoding('utf8').on('data', chunk => { stderr += chunk as string })
    child.on('error', error => { clearTimeout(timer); reject(error) })
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr, timedOut }) })
  })
}

/** `node ...args`, with this Node. */
export async function node (args: readonly string[], options: RunOptions = {}): Promise<Run> {
  return await run(process.execPath, args, options)
}

/** What npm sets for scripts it runs (npm_lifecycle_*, npm_package_*...): not for a child npm of ours. npm's cache and registry settings stay. */
const NPM_KEPT = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig'])

/**
 * This process's environment without any AWS account or region (AWS_*), Architect settings
 * (ARC_*) or npm's script variables, and with the EC2 metadata service turned off, so the SDK
 * never asks it for credentials. `extra` goes on top; an undefined value removes the variable.
 */
export function cleanEnv (extra: Readonly<Record<string, string | undefined>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(AWS_|ARC_)/.test(name)) continue
    if (/^npm_/i.test(name) && !NPM_KEPT.has(name.toLowerCase())) continue
    env[name] = value
  }
  env.AWS_EC2_METADATA_DISABLED = 'true'
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name]
    else env[name] = value
  }
  return env
}

export interface TempDir {
  readonly path: string
  remove (): Promise<void>
}

export async function tempDir (prefix: string): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, remove: async () => { await rm(path, { recursive: true, force: true, maxRetries: 3 }) } }
}

/**
 * A preload (node --require) that refuses every TCP connection to a host other than loopback, and
 * every DNS lookup of a name other than localhost, and says what was tried on stderr at exit, in
 * a line `@@network <json list>`. With it, "no connection left this machine" is checked, not assumed.
 */
const NETWORK_GUARD = String.raw`
const net = require('node:net')
const dns = require('node:dns')
const attempts = []
const loopback = host => host === undefined || host === null || host === '' || host === 'localhost' ||
  /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1' || host === '[::1]'
const connect = net.Socket.prototype.connect
net.Socket.prototype.connect = function (...args) {
  let options = args[0]
  if (Array.isArray(options)) options = options[0]
  const local = typeof options === 'object' && options !== null && typeof options.path === 'string'
  const host = typeof options === 'object' && options !== null ? options.host : (typeof args[1] === 'string' ? args[1] : undefined)
  if (!local && !loopback(host)) {
    attempts.push('connect ' + String(host) + ':' + String(typeof options === 'object' && options !== null ? options.port : options))
    const error = Object.assign(new Error('network guard: no connection to ' + String(host)), { code: 'ENETUNREACH' })
    process.nextTick(() => this.destroy(error))
    return this
  }
  return connect.apply(this, args)
}
const refuse = (kind, original) => function (hostname, ...rest) {
  if (loopback(hostname)) return original.call(this, hostname, ...rest)
  attempts.push(kind + ' ' + String(hostname))
  const error = Object.assign(new Error('network guard: no lookup of ' + String(hostname)), { code: 'ENOTFOUND', hostname })
  const callback = rest.find(arg => typeof arg === 'function')
  if (callback !== undefined) { process.nextTick(callback, error); return {} }
  return Promise.reject(error)
}
dns.lookup = refuse('lookup', dns.lookup)
dns.promises.lookup = refuse('lookup', dns.promises.lookup)
process.on('exit', () => { process.stderr.write('\n@@network ' + JSON.stringify(attempts) + '\n') })
`

/** Write the network guard into `dir`; give the path to `node --require`. */
export async function writeNetworkGuard (dir: string): Promise<string> {
  const path = join(dir, 'network-guard.cjs')
  await writeFile(path, NETWORK_GUARD)
  return path
}

/** What the guard saw the child try, from its stderr. */
export function networkAttempts (stderr: string): string[] {
  const line = stderr.split('\n').reverse().find(text => text.startsWith('@@network '))
  if (line === undefined) throw new Error(`the network guard did not report (was it preloaded?); stderr:\n${stderr}`)
  return JSON.parse(line.slice('@@network '.length)) as string[]
}

/** The warnings arc-session said through process.emitWarning, by code, from a jest spy on it. */
export function warningCodes (spy: jest.SpyInstance): string[] {
  return spy.mock.calls.map(([, options]) => {
    const code = typeof options === 'object' && options !== null ? (options as { code?: unknown }).code : options
    return String(code)
  })
}

/** Forget which warnings this process has said (arc-session says each one once per process). */
export function clearWarningRegistry (): void {
  delete (process as unknown as Record<symbol, unknown>)[Symbol.for('arc-session.warnings')]
}

/**
 * A spy on process.emitWarning around each test of the file (printing nothing), with arc-session's
 * once-per-process registry cleared before and after. Call the returned function for the spy.
 */
export function useWarningSpy (): () => jest.SpyInstance {
  let spy: jest.SpyInstance | undefined
  beforeEach(() => {
    clearWarningRegistry()
    spy = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
  })
  afterEach(() => {
    spy?.mockRestore()
    clearWarningRegistry()
  })
  return () => spy as jest.SpyInstance
}
