/**
 * Seal and open, per operation (tinybench), of the same plaintext: a counter session as
 * arc-session's cookie store writes it. Compared:
 *
 *   - node:crypto AES-256-GCM, bare: IV from a random pool, encrypt, tag; decrypt (the floor:
 *     no header, no AAD, no encoding);
 *   - arc-session's JweCodec from dist/ (compact JWE, dir + A256GCM, on node:crypto);
 *   - arc-session's JweStore from dist/ (the codec plus the claims and the JSON parse);
 *   - jose 6 CompactEncrypt / compactDecrypt (dir + A256GCM, WebCrypto, a CryptoKey imported once).
 *
 * Opens cycle through 4,096 distinct tokens, so no cache of recent tokens can answer them.
 *
 *   tsx bench/micro.ts [--quick]
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto'
import { loadavg } from 'node:os'
import type { JweCodec as JweCodecClass } from '../lib/crypto/jwe'
import type { encryptionKeys as encryptionKeysFn } from '../lib/crypto/keys'
import type { JweStore as JweStoreClass } from '../lib/stores/jwe'
import type { StoreContext } from '../lib/stores/store'
import { SECRET, WEEK_SECONDS, distModule } from './common'

export interface MicroRow {
  name: string
  /** Median nanoseconds per operation. */
  sealNs: number
  openNs: number
  /** Mean nanoseconds per operation (GC pauses included). */
  sealMeanNs: number
  openMeanNs: number
  /** sealNs + openNs. */
  totalNs: number
  /** totalNs over the floor's. */
  ratio: number
  samples: number
}

export interface MicroResult {
  /** When it ran, and the 1-minute load average then (medians of microsecond operations shrug off most of it). */
  date?: string
  load?: number
  plaintext: string
  tokenChars: number
  /** Distinct tokens each open cycles through. */
  tokens: number
  timeMsPerTask: number
  rows: MicroRow[]
}

interface Pair {
  name: string
  seal: () => unknown
  open: () => unknown
}

export async function runMicro ({ quick = false } = {}): Promise<MicroResult> {
  const { Bench } = await import('tinybench')
  const jose = await import('jose')
  const { JweCodec } = require(distModule('crypto/jwe.js')) as { JweCodec: typeof JweCodecClass }
  const { encryptionKeys } = require(distModule('crypto/keys.js')) as { encryptionKeys: typeof encryptionKeysFn }
  const { JweStore } = require(distModule('stores/jwe.js')) as { JweStore: typeof JweStoreClass }

  const now = Math.floor(Date.now() / 1000)
  const plaintext = JSON.stringify({ count: 2, iat: now, exp: now + WEEK_SECONDS, _created: now })
  const plainBytes = Buffer.from(plaintext, 'utf8')
  const keyBytes = Buffer.from(SECRET, 'utf8').subarray(0, 32)

  // Opens cycle through this many distinct tokens: more than any cache of recent tokens can hold
  // (lib's keeps 1,024), so every open is a real one, for every implementation alike.
  const TOKENS = 4096
  const cycle = <T>(items: readonly T[]): () => T => {
    let index = 0
    return () => items[index++ % items.length] as T
  }

  // The floor: IVs from a pool refilled with randomFillSync (a randomBytes(12) per seal costs more
  // than the cipher on some machines), then encrypt and tag; decrypt. No header, AAD or encoding.
  const ivPool = Buffer.alloc(12 * 1024)
  let ivOffset = ivPool.length
  const nextIv = (): Buffer => {
    if (ivOffset === ivPool.length) {
      randomFillSync(ivPool)
      ivOffset = 0
    }
    ivOffset += 12
    return ivPool.subarray(ivOffset - 12, ivOffset)
  }
  const floorSeal = (): { iv: Buffer, ciphertext: Buffer, tag: Buffer } => {
    const iv = nextIv()
    const cipher = createCipheriv('aes-256-gcm', keyBytes, iv, { authTagLength: 16 })
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    return { iv, ciphertext, tag: cipher.getAuthTag() }
  }
  const floorOpen = (sealed: { iv: Buffer, ciphertext: Buffer, tag: Buffer }): string => {
    const decipher = createDecipheriv('aes-256-gcm', keyBytes, sealed.iv, { authTagLength: 16 })
    decipher.setAuthTag(sealed.tag)
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8')
  }
  const floorSealed = Array.from({ length: TOKENS }, () => { const sealed = floorSeal(); return { ...sealed, iv: Buffer.from(sealed.iv) } })

  // Ours.
  const codec = new JweCodec('A256GCM', encryptionKeys([{ secret: SECRET, role: 'current' }], 'A256GCM', '_idx'))
  const tokens = Array.from({ length: TOKENS }, () => codec.seal(plaintext))
  const store = new JweStore('A256GCM', encryptionKeys([{ secret: SECRET, role: 'current' }], 'A256GCM', '_idx'))
  const context: StoreContext = { now, ttl: WEEK_SECONDS, maxLifetime: 30 * 24 * 60 * 60 }
  const saveRequest = { data: { count: 2 }, json: '{"count":2}', changed: ['count'], removed: [], refresh: true, created: now, expires: now + WEEK_SECONDS }
  const storeTokens: string[] = []
  for (let i = 0; i < TOKENS; i++) storeTokens.push((await store.save(saveRequest, context)).cookie)

  // jose, given its best case: a CryptoKey imported once (a raw Uint8Array would be imported on every call).
  const joseKey = await globalThis.crypto.subtle.importKey('raw', keyBytes, 'AES-GCM', false, ['encrypt', 'decrypt'])
  const joseSeal = async (): Promise<string> => await new jose.CompactEncrypt(plainBytes).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(joseKey)
  const joseTokens: string[] = []
  for (let i = 0; i < TOKENS; i++) joseTokens.push(await joseSeal())

  // Each is checked once, so a broken pair cannot post a fast time.
  const opened = codec.open(tokens[0] as string)
  if (!opened.ok || opened.plaintext !== plaintext) throw new Error('JweCodec did not open its own token')
  if (floorOpen(floorSealed[0] as { iv: Buffer, ciphertext: Buffer, tag: Buffer }) !== plaintext) throw new Error('the floor did not open its own seal')
  if (Buffer.from((await jose.compactDecrypt(joseTokens[0] as string, joseKey)).plaintext).toString('utf8') !== plaintext) throw new Error('jose did not open its own token')
  if ((await store.load(storeTokens[0] as string, context)).session?.data.count !== 2) throw new Error('JweStore did not load its own token')

  const nextFloor = cycle(floorSealed)
  const nextToken = cycle(tokens)
  const nextStoreToken = cycle(storeTokens)
  const nextJoseToken = cycle(joseTokens)
  const pairs: Pair[] = [
    { name: 'node:crypto AES-256-GCM (floor)', seal: floorSeal, open: () => floorOpen(nextFloor()) },
    { name: 'arc-session JweCodec', seal: () => codec.seal(plaintext), open: () => codec.open(nextToken()) },
    { name: 'arc-session JweStore (codec + claims + JSON)', seal: async () => await store.save(saveRequest, context), open: async () => await store.load(nextStoreToken(), context) },
    { name: 'jose 6 (WebCrypto)', seal: joseSeal, open: async () => await jose.compactDecrypt(nextJoseToken(), joseKey) }
  ]

  const timeMsPerTask = quick ? 300 : 1500
  const bench = new Bench({ name: 'seal/open', time: timeMsPerTask, warmupTime: quick ? 100 : 300, iterations: 64 })
  for (const pair of pairs) {
    bench.add(`${pair.name} seal`, pair.seal)
    bench.add(`${pair.name} open`, pair.open)
  }
  await bench.run()

  const stats = (name: string): { median: number, mean: number, samples: number } => {
    const task = bench.getTask(name)
    const result = task?.result
    if (result === undefined || !('latency' in result)) throw new Error(`micro-benchmark task "${name}" did not complete (${result?.state ?? 'missing'})`)
    return { median: result.latency.p50 * 1e6, mean: result.latency.mean * 1e6, samples: task?.runs ?? 0 }
  }
  const rows: MicroRow[] = pairs.map(pair => {
    const seal = stats(`${pair.name} seal`)
    const open = stats(`${pair.name} open`)
    return {
      name: pair.name,
      sealNs: Math.round(seal.median),
      openNs: Math.round(open.median),
      sealMeanNs: Math.round(seal.mean),
      openMeanNs: Math.round(open.mean),
      totalNs: Math.round(seal.median + open.median),
      ratio: 0,
      samples: Math.min(seal.samples, open.samples)
    }
  })
  const floor = rows[0] as MicroRow
  for (const row of rows) row.ratio = row.totalNs / floor.totalNs
  return { date: new Date().toISOString(), load: loadavg()[0] ?? 0, plaintext, tokenChars: (tokens[0] as string).length, tokens: TOKENS, timeMsPerTask, rows }
}

export function formatMicro (result: MicroResult): string {
  const lines = ['| | seal ns/op | open ns/op | seal+open | × floor |', '|---|---:|---:|---:|---:|']
  for (const row of result.rows) {
    lines.push(`| ${row.name} | ${row.sealNs.toLocaleString('en-US')} | ${row.openNs.toLocaleString('en-US')} | ${row.totalNs.toLocaleString('en-US')} | ${row.ratio.toFixed(2)} |`)
  }
  return lines.join('\n')
}

if (require.main === module) {
  runMicro({ quick: process.argv.includes('--quick') }).then(result => {
    console.log(`plaintext ${result.plaintext.length} bytes, token ${result.tokenChars} chars; medians`)
    console.log(formatMicro(result))
  }, error => { console.error(error); process.exitCode = 1 })
}
