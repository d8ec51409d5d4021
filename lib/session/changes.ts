import { SessionDataError } from '../errors'
import { RESERVED_NAMES } from '../stores/data'

/** Each top-level key's JSON text: what a session held when it was loaded or last saved. */
export type Snapshot = ReadonlyMap<string, string>

export interface SessionDiff {
  readonly changed: readonly string[]
  readonly removed: readonly string[]
  /** The snapshot of the data as it is now. */
  readonly current: Snapshot
}

export function snapshotOf (data: Record<string, unknown>): Map<string, string> {
  return diffSession(new Map(), data).current as Map<string, string>
}

/**
 * What changed since the snapshot, by comparing each top-level key's JSON: mutations
 * deep inside objects count, key order inside them does not matter to storage.
 * Keys whose values JSON drops (undefined, functions) count as absent, as they would be after a round trip.
 */
export function diffSession (snapshot: Snapshot, data: Record<string, unknown>): SessionDiff {
  const changed: string[] = []
  const current = new Map<string, string>()
  for (const key of Object.keys(data)) {
    if (RESERVED_NAMES.has(key) || key === '__proto__') continue
    let text: string | undefined
    try {
      text = JSON.stringify(data[key])
    } catch (error) {
      throw new SessionDataError(`session.${key} cannot be stored: ${(error as Error).message}`, { cause: error })
    }
    if (text === undefined) continue
    current.set(key, text)
    if (snapshot.get(key) !== text) changed.push(key)
  }
  const removed: string[] = []
  if (snapshot.size + changed.length !== current.size || changed.length > 0) {
    for (const key of snapshot.keys()) if (!current.has(key)) removed.push(key)
  }
  return { changed, removed, current }
}

export function jsonOf (snapshot: Snapshot): string {
  let json = '{'
  for (const [key, text] of snapshot) json += `${json.length > 1 ? ',' : ''}${JSON.stringify(key)}:${text}`
  return `${json}}`
}
