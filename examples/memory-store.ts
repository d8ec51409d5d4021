import { randomBytes } from 'node:crypto'
import type { LoadResult, SaveRequest, SaveResult, Store, StoreContext } from 'arc-session'

interface Entry {
  json: string
  created: number
  touched: number
  expires: number
}

/**
 * A store of your own: sessions in a Map, for tests and single-process apps. The cookie
 * holds a random 144-bit id; the middleware does the rest (cookie attributes, change
 * tracking, lifetimes, ids, regenerate/destroy). It answers at once, without promises; a
 * store that waits on a database returns promises instead.
 */
export class MemoryStore implements Store {
  readonly sessions = new Map<string, Entry>()

  load (cookie: string, { now }: StoreContext): LoadResult {
    const entry = this.sessions.get(cookie)
    if (entry === undefined) return { reject: 'expired' }
    if (now >= entry.expires) {
      this.sessions.delete(cookie)
      return { reject: 'expired' }
    }
    const { json, created, touched, expires } = entry
    return { session: { id: cookie, data: JSON.parse(json), text: json, created, touched, expires } }
  }

  save (request: SaveRequest, { now }: StoreContext): SaveResult {
    // Destroyed since this request loaded it (a logout in another tab): say so, rather than bring it back.
    if (request.id !== undefined && !this.sessions.has(request.id)) return { cookie: '', gone: true }
    const id = request.id ?? randomBytes(18).toString('base64url')
    this.sessions.set(id, { json: request.json, created: request.created, touched: now, expires: request.expires })
    return { cookie: id, id }
  }

  destroy (id: string): void {
    this.sessions.delete(id)
  }
}
