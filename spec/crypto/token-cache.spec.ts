/**
 * The cache of recently opened JWE tokens (finding 8), lib/crypto/token-cache.ts. It used to be
 * bounded only in entries (1,024 of any size), kept the token string it was given (a token
 * sliced out of a 16 KB Cookie header keeps the whole header alive in V8), and admitted every
 * token, so a stream of distinct visitors filled it with entries that were never hit. Now:
 *
 * - it is bounded in bytes (`size`), whatever the entries weigh;
 * - an entry owns its strings: a token sliced from a big header counts, and keeps, only itself;
 * - it stops admitting entries while the hit rate is poor, and a repeated token stays cached.
 *
 * Memory is measured with V8's gc exposed for this test (v8.setFlagsFromString + a vm context),
 * by heap size after collection: an amount, not a time.
 */
import { runInNewContext } from 'node:vm'
import { setFlagsFromString } from 'node:v8'
import { TokenCache } from '../../lib/crypto/token-cache'

interface Entry { readonly plaintext: string }

function token (index: number, length = 300): string {
  const stem = `eyJhbGciOiJkaXIifQ..${index.toString(36)}.`
  return stem + 'c'.repeat(Math.max(0, length - stem.length))
}

/** What the codec does with its cache: a lookup, then a set when it missed (the token opened). */
function open (cache: TokenCache<Entry>, key: string, entry: Entry): boolean {
  if (cache.get(key) !== undefined) return true
  cache.set(key, entry)
  return false
}

describe('bounded in bytes', () => {
  test('size never passes the byte cap, whatever the entries weigh', () => {
    const cap = 10_000
    const cache = new TokenCache<Entry>(cap)
    let largest = 0
    for (let index = 0; index < 300; index++) {
      cache.set(token(index, 100 + (index * 37) % 3_900), { plaintext: 'p'.repeat((index * 53) % 2_000) })
      largest = Math.max(largest, cache.size)
      expect(cache.size).toBeLessThanOrEqual(cap)
    }
    expect(largest).toBeGreaterThan(cap / 2)
  })

  test('the default cap is about a megabyte, not 1,024 entries of any size', () => {
    const cache = new TokenCache<Entry>()
    const plaintext = 'p'.repeat(3_000)
    // 1,024 entries of ~4 KB tokens and ~3 KB plaintexts would be ~14 MB (two bytes a character).
    for (let index = 0; index < 1_024; index++) cache.set(token(index, 4_000), { plaintext })
    expect(cache.size).toBeGreaterThan(0)
    expect(cache.size).toBeLessThanOrEqual(1024 * 1024)
  })

  test('a token sliced from a 16 KB Cookie header counts only its own length', () => {
    const cache = new TokenCache<Entry>()
    const value = token(1, 200)
    const header = `theme=${'x'.repeat(16_000)}; _idx=${value}; lang=en`
    const start = header.indexOf('_idx=') + 5
    const sliced = header.slice(start, start + value.length)
    expect(sliced).toBe(value)
    const entry = { plaintext: '{"user":"alice","iat":1800000000}' }
    cache.set(sliced, entry)
    expect(cache.get(value)).toBe(entry)
    expect(cache.size).toBeGreaterThanOrEqual(value.length)
    expect(cache.size).toBeLessThan((value.length + entry.plaintext.length) * 2 + 256)
    expect(cache.size).toBeLessThan(header.length)
  })
})

describe('entries own their strings', () => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void

  test('100 tokens sliced out of 100 one-megabyte headers do not keep the headers alive', () => {
    const cache = new TokenCache<Entry>(64 * 1024 * 1024)
    const entry = { plaintext: '{"iat":1800000000}' }
    gc()
    const before = process.memoryUsage().heapUsed
    for (let index = 0; index < 100; index++) {
      // A fresh flat one-byte string each time: a slice of it is a SlicedString pointing at all of it.
      const header = `theme=${String(index).padStart(6, '0')}${'x'.repeat(1024 * 1024)}; _idx=${token(index, 300)}`
      const start = header.indexOf('_idx=') + 5
      cache.set(header.slice(start), entry)
    }
    gc()
    const grown = process.memoryUsage().heapUsed - before
    // Keeping the headers would be 100 MB and more.
    expect(grown).toBeLessThan(40 * 1024 * 1024)
    expect(cache.get(token(7, 300))).toBe(entry)
    expect(cache.size).toBeLessThan(100 * 1024)
  })
})

describe('admission by hit rate', () => {
  test('10,000 distinct tokens looked up once each: the cache ends far below its cap; afterwards a repeated token gets cached again', () => {
    const cap = 1024 * 1024
    const cache = new TokenCache<Entry>(cap)
    const entry = { plaintext: 'p'.repeat(100) }
    let peak = 0
    for (let index = 0; index < 10_000; index++) {
      open(cache, token(index), entry)
      peak = Math.max(peak, cache.size)
    }
    // Admitting everything would hold ~1 MB of entries no one asks for again.
    expect(peak).toBeLessThan(cap / 2)
    expect(cache.size).toBeLessThan(cap / 10)

    // Closed for a while, not for good: a token then repeated gets in, and hits.
    const hot = token(-1)
    let lookups = 0
    while (!open(cache, hot, entry) && lookups < 64 * 512) lookups++
    expect(cache.get(hot)).toBe(entry)
    expect(cache.size).toBeGreaterThan(0)
  })

  test('a token repeated among the distinct ones stays cached, and the cache still holds no more than its cap', () => {
    const cap = 256 * 1024
    const cache = new TokenCache<Entry>(cap)
    const hot = token(-1)
    const entry = { plaintext: 'p'.repeat(100) }
    let hotMisses = 0
    for (let index = 0; index < 10_000; index++) {
      if (!open(cache, hot, entry)) hotMisses++
      open(cache, token(index), entry)
      expect(cache.size).toBeLessThanOrEqual(cap)
    }
    expect(cache.get(hot)).toBe(entry)
    // Eviction is by age of entry: the hot token may age out now and then, never for long.
    expect(hotMisses).toBeLessThan(100)
  })
})
