/**
 * Recently opened tokens and what they hold, so a browser sending the same cookie
 * again (every read-only request between two writes) costs a lookup rather than an AES-GCM
 * open. Only tokens that authenticated get in; a hit still goes through every claim and
 * lifetime check. Bounded in entries and in token size; one per codec, so a key that leaves
 * the configuration takes its entries with it.
 */
export class TokenCache<T> {
  private readonly entries = new Map<string, T>()

  constructor (private readonly capacity = 1024, private readonly maxTokenLength = 4096) {}

  get (token: string): T | undefined {
    // Eviction is by age of entry, not of last use: moving an entry on every hit costs more than
    // the occasional second open of a token that aged out while still in use.
    return this.entries.get(token)
  }

  set (token: string, value: T): void {
    if (token.length > this.maxTokenLength) return
    this.entries.set(token, value)
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string)
  }
}
