/**
 * AES-GCM IVs never repeat across processes (finding 3). IVs come from a pool of CSPRNG output
 * (lib/crypto/iv.ts). A pool is state a copy of the process would share: the old pool, filled
 * once and consumed in order, gave every process restored from one startup snapshot the same
 * IVs, in the same order, under the same key (GCM's nonce reuse: the key stream and the
 * authentication key leak). Now the pool is emptied by a startup-snapshot deserialize callback
 * and refilled whenever process.pid is not the one it was filled in.
 *
 * IVs are drawn through the JWE codec (the IV is the token's third segment), in code bundled
 * from lib/ with esbuild so that worker threads, child processes, cluster workers and a startup
 * snapshot can run it. Every child is asynchronous and has a timeout; the temp dir is removed.
 */
import { execFile, fork, type ChildProcess } from 'node:child_process'
import cluster from 'node:cluster'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Worker } from 'node:worker_threads'
import { createSecretKey } from 'node:crypto'
import { buildSync } from 'esbuild'
import { JweCodec } from '../../lib/crypto/jwe'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const cryptoModule = require('node:crypto') as typeof import('node:crypto')

const LIB_CRYPTO = resolve(__dirname, '../../lib/crypto')
const CHILD_TIMEOUT = 30_000

jest.setTimeout(90_000)

/** Drawing IVs through the codec: shared by every bundle. A codec per call, so no key object outlives it (snapshots). */
const DRAW = `
import { createSecretKey } from 'node:crypto'
import { JweCodec } from './jwe'
function draw (count: number): string[] {
  const codec = new JweCodec('A256GCM', [{ kid: 'spec-iv', key: createSecretKey(Buffer.alloc(32, 7)), current: true, public: false }] as any)
  const ivs: string[] = []
  for (let index = 0; index < count; index++) ivs.push(Buffer.from(codec.seal('{}').split('.')[2] as string, 'base64url').toString('hex'))
  return ivs
}
`

/** Worker threads and forked processes (child_process.fork, cluster): draw `count`, send them, leave. */
const CHILD = `${DRAW}
const threads = require('node:worker_threads')
if (!threads.isMainThread) {
  threads.parentPort.postMessage(draw(threads.workerData.count))
} else {
  process.send(draw(Number(process.env.ARC_IV_COUNT)), () => { process.disconnect() })
}
`

/**
 * A startup snapshot: IVs drawn while it is built (so the pool is full in the snapshot), written to
 * BUILD_OUT; a process started from it prints 1,000 IVs, one hex line each.
 */
const SNAPSHOT = `${DRAW}
const v8 = require('node:v8')
require('node:fs').writeFileSync(process.env.BUILD_OUT, draw(50).join('\\n'))
v8.startupSnapshot.setDeserializeMainFunction(() => {
  process.stdout.write(draw(1000).join('\\n') + '\\n')
})
`

function bundle (source: string): string {
  const result = buildSync({
    stdin: { contents: source, resolveDir: LIB_CRYPTO, loader: 'ts', sourcefile: 'iv-spec-entry.ts' },
    bundle: true, platform: 'node', format: 'cjs', write: false, logLevel: 'silent'
  })
  return (result.outputFiles[0] as { text: string }).text
}

let dir: string
let childScript: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'arc-session-iv-'))
  childScript = join(dir, 'child.js')
  writeFileSync(childScript, bundle(CHILD))
})

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

/** All the IVs are 12 bytes and no two are the same. */
function expectUnique (groups: readonly (readonly string[])[], expected: number): void {
  const all = groups.flat()
  expect(all).toHaveLength(expected)
  for (const iv of all) expect(iv).toMatch(/^[0-9a-f]{24}$/)
  const seen = new Set<string>()
  const repeats: string[] = []
  for (const iv of all) {
    if (seen.has(iv)) repeats.push(iv)
    seen.add(iv)
  }
  expect(repeats).toEqual([])
}

function withTimeout<T> (what: string, promise: Promise<T>, onTimeout: () => void): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    const timer = setTimeout(() => { onTimeout(); reject(new Error(`${what} did not answer within ${CHILD_TIMEOUT} ms`)) }, CHILD_TIMEOUT)
    promise.then(value => { clearTimeout(timer); resolvePromise(value) }, (error: unknown) => { clearTimeout(timer); reject(error) })
  })
}

/** The first message of a forked process (child_process or cluster), then its exit. */
function firstMessage (child: ChildProcess | import('node:cluster').Worker, what: string, kill: () => void): Promise<string[]> {
  const answer = new Promise<string[]>((resolvePromise, reject) => {
    let got: string[] | undefined
    child.once('message', (message: unknown) => { got = message as string[] })
    child.once('error', reject)
    child.once('exit', (code: number | null) => {
      if (got !== undefined) resolvePromise(got)
      else reject(new Error(`${what} exited (${String(code)}) without sending IVs`))
    })
  })
  return withTimeout(what, answer, kill)
}

test('worker threads: 4 workers and this thread draw 2,000 IVs each, no two the same', async () => {
  const count = 2_000
  const workers = Array.from({ length: 4 }, () => new Worker(childScript, { workerData: { count } }))
  try {
    const fromWorkers = await Promise.all(workers.map(async (worker, index) => await withTimeout(`worker ${index}`, new Promise<string[]>((resolvePromise, reject) => {
      worker.once('message', message => { resolvePromise(message as string[]) })
      worker.once('error', reject)
    }), () => { void worker.terminate() })))
    const codec = new JweCodec('A256GCM', [{ kid: 'spec-iv', key: createSecretKey(Buffer.alloc(32, 7)), current: true, public: false }] as never)
    const here = Array.from({ length: count }, () => Buffer.from(codec.seal('{}').split('.')[2] as string, 'base64url').toString('hex'))
    expectUnique([...fromWorkers, here], count * 5)
  } finally {
    await Promise.all(workers.map(async worker => await worker.terminate()))
  }
})

test('child_process.fork x2: 2,000 IVs each, no two the same', async () => {
  const count = 2_000
  const children = Array.from({ length: 2 }, () => fork(childScript, [], { execArgv: [], env: { ...process.env, ARC_IV_COUNT: String(count) }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }))
  try {
    const ivs = await Promise.all(children.map(async (child, index) => await firstMessage(child, `child ${index}`, () => child.kill())))
    expectUnique(ivs, count * 2)
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill()
  }
})

test('cluster workers x2 (cluster.setupPrimary with exec): 2,000 IVs each, no two the same', async () => {
  const count = 2_000
  cluster.setupPrimary({ exec: childScript, execArgv: [], silent: true })
  const workers = Array.from({ length: 2 }, () => cluster.fork({ ARC_IV_COUNT: String(count) }))
  try {
    const ivs = await Promise.all(workers.map(async (worker, index) => await firstMessage(worker, `cluster worker ${index}`, () => worker.kill())))
    expectUnique(ivs, count * 2)
  } finally {
    for (const worker of workers) if (!worker.isDead()) worker.kill()
  }
})

test('a startup snapshot whose pool was filled at build time: two processes started from it draw disjoint IVs, and none drawn at build', async () => {
  const entry = join(dir, 'snapshot-entry.js')
  const blob = join(dir, 'snap.blob')
  const built = join(dir, 'built.txt')
  writeFileSync(entry, bundle(SNAPSHOT))
  const run = (args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> => new Promise<string>((resolvePromise, reject) => {
    execFile(process.execPath, args, { cwd: dir, env, timeout: CHILD_TIMEOUT, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`node ${args.join(' ')} failed: ${error.message}\n${stderr}`))
      else resolvePromise(stdout)
    })
  })
  await run(['--snapshot-blob', blob, '--build-snapshot', entry], { ...process.env, BUILD_OUT: built })
  const atBuild = readFileSync(built, 'utf8').split('\n').filter(line => line !== '')
  expect(atBuild).toHaveLength(50)

  const [first, second] = await Promise.all([run(['--snapshot-blob', blob]), run(['--snapshot-blob', blob])])
  const lines = (text: string): string[] => text.split('\n').filter(line => line !== '')
  expect(lines(first as string)).toHaveLength(1000)
  expect(lines(second as string)).toHaveLength(1000)
  // Old code: both continued the pool from the snapshot, so both printed the very same 1,000 IVs.
  expectUnique([atBuild, lines(first as string), lines(second as string)], 2050)
})

test('in this process: a changed process.pid (a fork that did not exec) refills the pool before the next IV', () => {
  const codec = new JweCodec('A256GCM', [{ kid: 'spec-iv', key: createSecretKey(Buffer.alloc(32, 7)), current: true, public: false }] as never)
  const fills = jest.spyOn(cryptoModule, 'randomFillSync')
  const original = Object.getOwnPropertyDescriptor(process, 'pid') as PropertyDescriptor
  try {
    codec.seal('{}')
    fills.mockClear()
    codec.seal('{}')
    expect(fills).not.toHaveBeenCalled()

    Object.defineProperty(process, 'pid', { ...original, value: (process.pid + 7919) % 4_194_304 || 1 })
    codec.seal('{}')
    expect(fills).toHaveBeenCalledTimes(1)
    codec.seal('{}')
    expect(fills).toHaveBeenCalledTimes(1)
  } finally {
    Object.defineProperty(process, 'pid', original)
    fills.mockRestore()
  }
})
