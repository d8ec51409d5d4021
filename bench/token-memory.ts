/**
 * Issue 12, item 8: does the token cache's bound hold in bytes? arcSession middlewares from the
 * built package (cookie store), driven through their read() on synthetic requests
 * (`{ headers: { cookie } }`) in a child process run with --expose-gc. Each phase runs on a fresh
 * middleware, after a warm-up on another one (thrown away) has compiled every path; what the
 * middleware retains is the V8 heap with it minus the heap once it is dropped, both after forced
 * full collections (so the process's other drift, compiled code and the like, stays out of it):
 *
 *   unused     one read
 *   invalid    1,000,000 distinct invalid tokens: the real header segment, a random IV, ciphertext
 *              and tag, so each is tried against the key and fails (none may be kept)
 *   valid      100,000 distinct valid tokens (made by the same middleware's write()), each read
 *              twice in a row: half the lookups hit, so the cache keeps admitting and stays full,
 *              its worst case for memory
 *
 * and, the same valid tokens through a JweStore of dist/ directly, the bytes the cache itself
 * counts (`cacheBytes`: two per character plus 64 per entry) against its 1 MiB bound.
 *
 *   node --expose-gc --import tsx bench/token-memory.ts [--quick]     prints one JSON line
 *   runTokenMemory({ quick })                                         from bench/run.ts
 */
import { randomFillSync } from 'node:crypto'
import type * as ArcSession from 'arc-session'
import type { encryptionKeys as encryptionKeysFn } from '../lib/crypto/keys'
import type { JweStore as JweStoreClass } from '../lib/stores/jwe'
import { SECRET, WEEK_SECONDS, distModule } from './common'

export const CACHE_BOUND_BYTES = 1024 * 1024

export interface TokenMemoryResult {
  invalidTokens: number
  validTokens: number
  /**
   * What one middleware retains, bytes: the heap (after forced full GCs) with it, minus the heap
   * once it is dropped. Unused (one read); after the invalid tokens; after the valid tokens.
   */
  retainedEmpty: number
  retainedInvalid: number
  retainedValid: number
  /** Heap used after forced GCs, bytes: before the invalid phase, at its end, at the end of the valid phase (each phase on its own middleware). */
  heapBaseline: number
  heapAfterInvalid: number
  heapAfterValid: number
  /** The JweStore's own count of the bytes its cache holds after the valid tokens. */
  cacheBytes: number
  cacheBound: number
  /** Seconds each phase took (a per-open cost, roughly). */
  invalidSeconds: number
  validSeconds: number
  /** Reads that answered what they should (invalid: an empty session; valid: its count). */
  wrongAnswers: number
}

async function fullGc (): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('token-memory: run with --expose-gc')
  for (let i = 0; i < 4; i++) {
    gc()
    await new Promise(resolve => setImmediate(resolve))
  }
  return process.memoryUsage().heapUsed
}

async function child (quick: boolean): Promise<TokenMemoryResult> {
  const invalidTokens = quick ? 100_000 : 1_000_000
  const validTokens = quick ? 20_000 : 100_000
  const { arcSession } = require(distModule('index.js')) as typeof ArcSession
  const options = { secret: SECRET, table: 'jwe', ttl: WEEK_SECONDS }
  let wrongAnswers = 0

  // Invalid tokens from a random pool: each distinct, none kept by this loop.
  const pool = Buffer.alloc(64 * 1024)
  let offset = pool.length
  const take = (bytes: number): string => {
    if (offset + bytes > pool.length) { randomFillSync(pool); offset = 0 }
    offset += bytes
    return pool.toString('base64url', offset - bytes, offset)
  }
  const driver = (middleware: ReturnType<typeof arcSession>): { writeValid: (count: number) => Promise<string>, read: (cookie: string) => Promise<unknown> } => ({
    writeValid: async (count: number): Promise<string> => {
      const session = await middleware.read({ headers: {} })
      session.count = count
      const setCookie = await middleware.write(session)
      return setCookie.slice('_idx='.length, setCookie.indexOf(';'))
    },
    read: async (cookie: string): Promise<unknown> => (await middleware.read({ headers: { cookie } })).count
  })

  // Warm-up on a middleware of its own, thrown away: every path compiled and optimised before the
  // baseline, and the measured middleware's cache empty at the baseline.
  let warm: ReturnType<typeof driver> | undefined = driver(arcSession(options))
  const sample = await warm.writeValid(1)
  const [header = '', , , ciphertext = ''] = sample.split('.')
  const ciphertextBytes = Buffer.from(ciphertext, 'base64url').length
  const invalid = (): string => `_idx=${header}..${take(12)}.${take(ciphertextBytes)}.${take(16)}`
  for (let i = 0; i < 50_000; i++) if (await warm.read(invalid()) !== undefined) wrongAnswers++
  for (let i = 0; i < 5_000; i++) {
    const cookie = `_idx=${await warm.writeValid(i + 1)}`
    if (await warm.read(cookie) !== i + 1) wrongAnswers++
    await warm.read(cookie)
  }
  warm = undefined

  // Each phase on a fresh middleware; what it retains is the heap with it minus the heap once it
  // is dropped (both after forced full GCs): its own size, whatever else the process does meanwhile.
  const retained = async (phase: (d: ReturnType<typeof driver>) => Promise<void>): Promise<{ before: number, with: number, without: number, seconds: number }> => {
    const before = await fullGc()
    let d: ReturnType<typeof driver> | undefined = driver(arcSession(options))
    const start = process.hrtime.bigint()
    await phase(d)
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    const withIt = await fullGc()
    d = undefined
    const without = await fullGc()
    return { before, with: withIt, without, seconds }
  }
  const empty = await retained(async d => { await d.read(invalid()) })
  const bad = await retained(async d => {
    for (let i = 0; i < invalidTokens; i++) if (await d.read(invalid()) !== undefined) wrongAnswers++
  })
  const good = await retained(async d => {
    for (let i = 0; i < validTokens; i++) {
      const cookie = `_idx=${await d.writeValid(i + 2)}`
      if (await d.read(cookie) !== i + 2) wrongAnswers++
      if (await d.read(cookie) !== i + 2) wrongAnswers++
    }
  })

  // The cache's own count, through a JweStore of dist/ (the middleware does not expose its store).
  const { JweStore } = require(distModule('stores/jwe.js')) as { JweStore: typeof JweStoreClass }
  const { encryptionKeys } = require(distModule('crypto/keys.js')) as { encryptionKeys: typeof encryptionKeysFn }
  const store = new JweStore('A256GCM', encryptionKeys([{ secret: SECRET, role: 'current' }], 'A256GCM', '_idx'))
  const now = Math.floor(Date.now() / 1000)
  const context = { now, ttl: WEEK_SECONDS, maxLifetime: 30 * 24 * 60 * 60 }
  for (let i = 0; i < validTokens; i++) {
    const json = `{"count":${i},"_sid":"bench-token-memory-${String(i).padStart(6, '0')}"}`
    const { cookie } = await store.save({ data: { count: i }, json, changed: ['count'], removed: [], refresh: true, created: now, expires: now + WEEK_SECONDS }, context)
    if ((await store.load(cookie, context)).session?.data.count !== i) wrongAnswers++
    await store.load(cookie, context)
  }
  return {
    invalidTokens,
    validTokens,
    retainedEmpty: empty.with - empty.without,
    retainedInvalid: bad.with - bad.without,
    retainedValid: good.with - good.without,
    heapBaseline: bad.before,
    heapAfterInvalid: bad.with,
    heapAfterValid: good.with,
    cacheBytes: store.cacheBytes,
    cacheBound: CACHE_BOUND_BYTES,
    invalidSeconds: bad.seconds,
    validSeconds: good.seconds,
    wrongAnswers
  }
}

/** From bench/run.ts: the measurement in a fresh child with --expose-gc. */
export async function runTokenMemory ({ quick = false }: { quick?: boolean } = {}): Promise<TokenMemoryResult> {
  const { execFileSync } = require('node:child_process') as typeof import('node:child_process')
  const { pathToFileURL } = require('node:url') as typeof import('node:url')
  const tsx = pathToFileURL(require.resolve('tsx')).href
  const output = execFileSync(process.execPath, ['--expose-gc', '--import', tsx, __filename, ...(quick ? ['--quick'] : [])], {
    encoding: 'utf8',
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1024 * 1024
  })
  const line = output.trim().split('\n').pop() ?? ''
  return JSON.parse(line) as TokenMemoryResult
}

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(2)} MiB`

export function formatTokenMemory (result: TokenMemoryResult): string {
  const kib = (bytes: number): string => `${Math.round(bytes / 1024).toLocaleString('en-US')} KiB`
  const lines = [
    '| one middleware (forced full GCs) | retained by the middleware | heap used with it | time |',
    '|---|---:|---:|---:|',
    `| unused (one read) | ${kib(result.retainedEmpty)} | | |`,
    `| after ${result.invalidTokens.toLocaleString('en-US')} distinct invalid tokens | ${kib(result.retainedInvalid)} | ${mib(result.heapAfterInvalid)} | ${result.invalidSeconds.toFixed(1)} s (${((result.invalidSeconds * 1e6) / result.invalidTokens).toFixed(1)} µs per read) |`,
    `| after ${result.validTokens.toLocaleString('en-US')} distinct valid tokens, each read twice | ${kib(result.retainedValid)} | ${mib(result.heapAfterValid)} | ${result.validSeconds.toFixed(1)} s (${((result.validSeconds * 1e6) / result.validTokens).toFixed(1)} µs per write + 2 reads) |`
  ]
  return lines.join('\n')
}

if (require.main === module) {
  child(process.argv.includes('--quick')).then(result => {
    process.stdout.write(`${JSON.stringify(result)}\n`)
  }, error => { console.error(error); process.exitCode = 1 })
}
