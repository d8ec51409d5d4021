/**
 * Recently opened tokens and what they hold, so a browser sending the same cookie again (every
 * read-only request between two writes) costs a lookup rather than an AES-GCM open. Only tokens
 * that authenticated get in; a hit still goes through every claim and lifetime check.
 *
 * Bounded in bytes, not only entries: keys and values are copies that own their characters (a
 * token sliced from a Cookie header would keep the whole header alive). One per codec, so a key
 * that leaves the configuration takes its entries with it.
 *
 * It pays only when cookies repeat. With many distinct visitors nearly every lookup misses, and
 * each entry would live just long enough to be promoted to V8's old generation and then evicted:
 * garbage the costly collector has to find. So it watches its own hit rate, stops admitting
 * tokens while fewer than one lookup in four hits, and looks again a window later.
 */
const WINDOW = 512
const MIN_HIT_RATE = 0.25

export class TokenCache<T extends { readonly plaintext: string }> {
  private readonly entries = new Map<string, T>()
  private bytes = 0
  private lookups = 0
  private hits = 0
  private admitting = true
  /** Windows to stay closed after a poor one; doubles while the hit rate stays poor. */
  private closedFor = 0
  private pause = 4

  constructor (private readonly maxBytes = 1024 * 1024, private readonly maxTokenLength = 4096) {}

  get (token: string): T | undefined {
    // Closed and empty (many distinct visitors): not even the token's hash is worth computing.
    if (this.entries.size === 0) {
      if (++this.lookups === WINDOW) this.review()
      return undefined
    }
    const found = this.entries.get(token)
    if (found !== undefined) this.hits++
    if (++this.lookups === WINDOW) this.review()
    return found
  }

  set (token: string, value: T): void {
    if (!this.admitting || token.length > this.maxTokenLength) return
    const key = ownedCopy(token)
    this.entries.set(key, value)
    this.bytes += size(key, value)
    // Eviction by age of entry, not of last use: reordering on every hit costs more than the
    // occasional second open of a token that aged out while still in use.
    while (this.bytes > this.maxBytes) {
      const oldest = this.entries.keys().next()
      if (oldest.done === true) break
      this.bytes -= size(oldest.value, this.entries.get(oldest.value) as T)
      this.entries.delete(oldest.value)
    }
  }

  /** Bytes held, as the bound counts them (two per character). */
  get size (): number {
    return this.bytes
  }

  private review (): void {
    const rate = this.hits / this.lookups
    this.lookups = 0
    this.hits = 0
    if (!this.admitting) {
      if (--this.closedFor <= 0) this.admitting = true
      return
    }
    if (rate >= MIN_HIT_RATE || this.entries.size < WINDOW / 2) {
      this.pause = 4
      return
    }
    this.admitting = false
    this.closedFor = this.pause
    this.pause = Math.min(this.pause * 2, 64)
    this.entries.clear()
    this.bytes = 0
  }
}

function size (key: string, entry: { readonly plaintext: string }): number {
  return (key.length + entry.plaintext.length) * 2 + 64
}

/** A string that owns its characters: V8 keeps a slice's parent alive, and a cache would keep both. */
function ownedCopy (text: string): string {
  return text.length < 13 ? text : Buffer.from(text, 'utf8').toString('utf8')
}
