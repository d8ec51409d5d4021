/**
 * The most recently opened tokens and what they hold, so a browser sending the same cookie
 * again (every read-only request between two writes) costs a lookup rather than an AES-GCM
 * open. Only tokens that authenticated get in; a hit still goes through every claim and
 * lifetime check. Bounded in entries and in token size; one per codec, so a key that leaves
 * the configuration takes its entries with it.
 */
export class TokenCache<T> {
  private readonly entries = new Map<string, T>()

  constructor (private readonly capacity = 1024, private readonly maxTokenLength = 4096) {}

  get (token: string): T | undefined {
    const value = this.entries.get(token)
    if (value !== undefined) {
      // Most recently used last: Map keeps insertion order.
      this.entries.delete(token)
      this.entries.set(token, value)
    }
    return value
  }

  set (token: string, value: T): void {
    if (token.length > this.maxTokenLength) return
    this.entries.delete(token)
    this.entries.set(token, value)
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string)
  }
}
