import { SESSION_ID } from '../crypto/ids'
import { SessionDataError } from '../errors'
import { MAX_DEPTH, RESERVED_NAMES, nestsDeeper } from '../stores/data'
import type { OwnLifetime } from './lifetime'

/**
 * What changed in a session, measured the cheap way: the whole data's JSON against the JSON it
 * was loaded with. A read-only request costs one JSON.stringify at the end and nothing per key;
 * only a session that changed is looked at key by key (and only if its store asks which keys).
 */

/** Names the session object's own methods and accessors hold: data can never take them. */
export const SESSION_MEMBERS: ReadonlySet<string> = new Set([
  'id', 'cookie', 'regenerate', 'destroy', 'save', 'reload', 'touch', 'resetMaxAge'
])

/** True for a key that is session data (not a reserved wire name, not a method, not `__proto__`). */
export function isDataKey (key: string): boolean {
  return key !== '__proto__' && !RESERVED_NAMES.has(key) && !SESSION_MEMBERS.has(key)
}

/**
 * Copies the data keys of `data` onto `target` and gives the JSON they came from, read off
 * `text` (the stored JSON) when the keys the session does not show all stand at its end (where
 * the stores put them), else by one JSON.stringify. Undefined when the data cannot be shown (too
 * deep, or a value JSON refuses): the caller treats that session as malformed.
 */
export function fillSession (target: Record<string, unknown>, data: Record<string, unknown>, text: string | undefined): string | undefined {
  const keys = Object.keys(data)
  let lastData = -1
  let tailOnly = true
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string
    if (isDataKey(key)) {
      target[key] = data[key]
      if (lastData !== index - 1) tailOnly = false
      lastData = index
    }
  }
  if (text !== undefined && tailOnly) {
    const baseline = stripTail(text, keys, data, lastData)
    if (baseline !== undefined) return baseline
  }
  try {
    const json = JSON.stringify(target)
    return nestsDeeper(json) ? undefined : json
  } catch {
    return undefined
  }
}

/** `"name":` for the reserved names, quoted once. */
const QUOTED = new Map([...RESERVED_NAMES].map(name => [name, `${JSON.stringify(name)}:`]))

/** `text` without the reserved keys after the last data key, checked against their parsed values. */
function stripTail (text: string, keys: readonly string[], data: Record<string, unknown>, lastData: number): string | undefined {
  let end = text.length - 1
  if (text.charCodeAt(end) !== 0x7d) return undefined
  for (let index = keys.length - 1; index > lastData; index--) {
    const key = keys[index] as string
    const value = data[key]
    // What JSON.stringify would write, without calling it for the common claims (numbers).
    let piece = `${QUOTED.get(key) ?? `${JSON.stringify(key)}:`}${typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : JSON.stringify(value)}`
    if (index > 0) piece = `,${piece}`
    if (!text.startsWith(piece, end - piece.length)) return undefined
    end -= piece.length
  }
  return `${text.slice(0, end)}}`
}

/** The session's data as JSON now. Throws SessionDataError for what JSON cannot hold. */
export function dataJson (session: object): string {
  try {
    return JSON.stringify(session)
  } catch (error) {
    throw new SessionDataError(`the session cannot be stored: ${(error as Error).message}`, { cause: error })
  }
}

/**
 * The JSON to store for a session that changed: its data keys only (reserved names a route set
 * are left out, as they always were), refused when it nests past MAX_DEPTH or hides a method.
 */
export function storableJson (session: Record<string, unknown>, json: string): string {
  let clean = json
  const keys = Object.keys(session)
  if (!keys.every(isDataKey)) {
    const member = keys.find(key => SESSION_MEMBERS.has(key))
    if (member !== undefined) throw new SessionDataError(`session.${member} is a session method or property; it cannot be a data key`)
    const kept: Record<string, unknown> = {}
    for (const key of keys) if (isDataKey(key)) kept[key] = session[key]
    clean = dataJson(kept)
  }
  if (nestsDeeper(clean)) {
    throw new SessionDataError(`the session nests deeper than ${MAX_DEPTH} levels (objects and arrays, the session itself included); ` +
      'it could not be read back: keep it flatter')
  }
  return clean
}

/** The keys the session layer keeps with the data. */
export interface SessionMeta {
  readonly sid?: string
  readonly own: OwnLifetime
  readonly user?: string
  readonly device?: string
  readonly seen?: number
  /** When the session was bound to its user (epoch seconds): what "sign out everywhere" compares. */
  readonly bound?: number
}

/** The meta keys as stored, from a loaded session's data (anything unexpected is ignored). */
export function metaOf (data: Record<string, unknown>): SessionMeta {
  const { _sid: sid, _maxAge: own, _user: user, _device: device, _seen: seen, _bound: bound } = data
  // One shape for every session (absent fields undefined): this runs on every request.
  return {
    sid: typeof sid === 'string' && SESSION_ID.test(sid) ? sid : undefined,
    own: own === null || (typeof own === 'number' && Number.isSafeInteger(own) && own > 0) ? own : undefined,
    user: typeof user === 'string' && user !== '' ? user : undefined,
    device: typeof device === 'string' ? device : undefined,
    seen: typeof seen === 'number' && Number.isSafeInteger(seen) ? seen : undefined,
    bound: typeof bound === 'number' && Number.isSafeInteger(bound) ? bound : undefined
  }
}

/** The JSON a store keeps: the data, then the meta keys. */
export function withMeta (json: string, meta: SessionMeta): string {
  let tail = ''
  // The id is base64url (made here, or checked when loaded): nothing in it needs escaping.
  if (meta.sid !== undefined) tail += `,"_sid":"${meta.sid}"`
  if (meta.own !== undefined) tail += `,"_maxAge":${meta.own === null ? 'null' : String(meta.own)}`
  if (meta.user !== undefined) tail += `,"_user":${JSON.stringify(meta.user)}`
  if (meta.device !== undefined) tail += `,"_device":${JSON.stringify(meta.device)}`
  if (meta.seen !== undefined) tail += `,"_seen":${String(meta.seen)}`
  if (meta.bound !== undefined) tail += `,"_bound":${String(meta.bound)}`
  if (tail === '') return json
  return json === '{}' ? `{${tail.slice(1)}}` : `${json.slice(0, -1)}${tail}}`
}

/** Top-level keys set or removed between two stored JSON texts (each value compared as JSON). */
export function keyChanges (before: string | undefined, after: string): { changed: string[], removed: string[] } {
  const old = before === undefined ? {} : JSON.parse(before) as Record<string, unknown>
  const now = JSON.parse(after) as Record<string, unknown>
  const changed: string[] = []
  for (const key of Object.keys(now)) {
    if (!Object.hasOwn(old, key) || JSON.stringify(old[key]) !== JSON.stringify(now[key])) changed.push(key)
  }
  const removed = Object.keys(old).filter(key => !Object.hasOwn(now, key))
  return { changed, removed }
}
