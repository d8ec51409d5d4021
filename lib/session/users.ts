import { SessionDataError, StoreUnavailableError } from '../errors'
import { isRevoked, mergeRevocations, type RegistryEntry, type Revocation, type SessionRegistry, type UserSessionStore } from '../stores/registry'
import { isPending, then, type Awaitable } from '../util/awaitable'
import { log } from '../util/log'

/**
 * Users and their devices: which signed-in user a session belongs to, and, for the cookie store,
 * the per-process view of each user's revocation marks. Sessions are bound to a user when their
 * data first names one, rebound when that changes, unbound at sign-out; nothing here runs on a
 * request that changes nothing.
 */

/** Which user a session's data names: a key of the data, or a function of it. */
export type UserOf = string | ((data: Record<string, unknown>) => unknown)

export interface UsersSettings {
  readonly user: UserOf
  /** The cookie store's registry; undefined for the DynamoDB store, which lists and deletes its own items. */
  readonly registry?: SessionRegistry
  /** The DynamoDB store's own listing and deletion. */
  readonly store?: UserSessionStore
  /** Seconds a process may rely on its last look at a user's revocation marks. */
  readonly revocationCheck: number
  /** When the registry cannot be reached past that: refuse the session (503) or accept it. */
  readonly registryFailure: 'closed' | 'open'
  /** What to record about the device (options.device), given the request. */
  readonly device?: (request: unknown) => unknown
}

/** One of a user's sessions, as listUserSessions() gives it. */
export interface UserSession {
  readonly id: string
  readonly createdAt: Date
  readonly lastSeenAt: Date
  readonly expiresAt: Date
  /** True for the session of the request passed to listUserSessions(). */
  readonly current: boolean
  readonly device?: string
}

const MAX_USER_LENGTH = 1024
const MAX_DEVICE_LENGTH = 200
/** Users whose revocation marks a process remembers at once. */
const CACHE_USERS = 10_000

interface Looked {
  readonly marks: Revocation | undefined
  readonly at: number
}

export class SessionUsers {
  private readonly looked = new Map<string, Looked>()
  private readonly looking = new Map<string, Promise<Revocation | undefined>>()

  constructor (readonly settings: UsersSettings) {}

  /** The user a session's data names, as a string; undefined for an anonymous session. */
  userOf (data: Record<string, unknown>): string | undefined {
    const { user } = this.settings
    const value = typeof user === 'string' ? data[user] : user(data)
    if (value === undefined || value === null || value === '' || value === false) return undefined
    if ((typeof value !== 'string' && typeof value !== 'number') || (typeof value === 'number' && !Number.isFinite(value))) {
      throw new SessionDataError(`options.user named a ${typeof value} as the session's user; a user is identified by a string or a number`)
    }
    const text = String(value)
    if (text.length > MAX_USER_LENGTH) throw new SessionDataError(`options.user named a user id of ${text.length} characters; at most ${MAX_USER_LENGTH}`)
    return text
  }

  deviceOf (request: unknown): string | undefined {
    if (this.settings.device === undefined || request === undefined) return undefined
    const value = this.settings.device(request)
    return typeof value === 'string' && value !== '' ? value.slice(0, MAX_DEVICE_LENGTH) : undefined
  }

  /** True when the registry says this session is revoked. At most one registry call per user per window. */
  revoked (user: string, id: string, created: number, now: number): Awaitable<boolean> {
    const registry = this.settings.registry
    if (registry === undefined) return false
    const seen = this.looked.get(user)
    if (seen !== undefined && now - seen.at < this.settings.revocationCheck) return isRevoked(seen.marks, id, created)
    let pending = this.looking.get(user)
    if (pending === undefined) {
      let answer: Awaitable<Revocation | undefined>
      try {
        answer = registry.revocations(user)
      } catch (error) {
        return this.unreachable(seen, error, id, created, now)
      }
      if (!isPending(answer)) {
        this.remember(user, answer, now)
        return isRevoked(answer, id, created)
      }
      pending = Promise.resolve(answer).finally(() => { this.looking.delete(user) })
      this.looking.set(user, pending)
    }
    return pending.then(marks => {
      this.remember(user, marks, now)
      return isRevoked(marks, id, created)
    }, (error: unknown) => this.unreachable(seen, error, id, created, now))
  }

  /** What this process already knows, without asking the registry: for a session about to be re-issued. */
  knownRevoked (user: string, id: string, bound: number, now: number): boolean {
    const seen = this.looked.get(user)
    return seen !== undefined && isRevoked(seen.marks, id, bound)
  }

  /** The registry did not answer: the last answer serves one more window, then the configured failure mode. */
  private unreachable (seen: Looked | undefined, error: unknown, id: string, created: number, now: number): boolean {
    log('the session registry did not answer: %s', (error as Error)?.message)
    if (seen !== undefined && now - seen.at < 2 * this.settings.revocationCheck) return isRevoked(seen.marks, id, created)
    if (this.settings.registryFailure === 'open') return false
    throw new StoreUnavailableError('the session registry (revocations) could not be reached', { cause: error })
  }

  private remember (user: string, marks: Revocation | undefined, now: number): void {
    this.looked.delete(user)
    this.looked.set(user, { marks, at: now })
    if (this.looked.size > CACHE_USERS) this.looked.delete(this.looked.keys().next().value as string)
  }

  /** Cookie store: a session bound to `user` (or refreshed). */
  record (entry: RegistryEntry): Awaitable<void> {
    return this.settings.registry?.record(entry)
  }

  /** Cookie store: an identity retired (destroyed, or replaced by regenerate()): its cookie stops working everywhere. */
  revokeOne (user: string, id: string, now: number): Awaitable<void> {
    const registry = this.settings.registry
    if (registry === undefined) return undefined
    const mark: Revocation = { ids: [id] }
    return then(registry.revoke(user, mark), () => {
      // This process knows of its own revocation at once, without taking it for a fresh look at
      // the registry: revocations made elsewhere still show by the end of the current window.
      const seen = this.looked.get(user)
      this.remember(user, mergeRevocations(seen?.marks, mark), seen?.at ?? -Infinity)
    })
  }

  /** Cookie store: a session no longer bound. */
  forget (user: string, id: string): Awaitable<void> {
    return this.settings.registry?.forget(user, id)
  }

  async list (user: string, now: number, current: string | undefined): Promise<UserSession[]> {
    const { registry, store } = this.settings
    let entries: RegistryEntry[]
    if (store !== undefined) {
      entries = await store.listUser(user, now)
    } else {
      const [listed, marks] = await Promise.all([registry?.list(user) ?? [], registry?.revocations(user)])
      this.remember(user, marks, now)
      entries = listed.filter(entry => entry.expiresAt > now && !isRevoked(marks, entry.id, entry.boundAt ?? entry.createdAt))
    }
    return entries
      .sort((a, b) => b.lastSeenAt - a.lastSeenAt)
      .map(entry => ({
        id: entry.id,
        createdAt: new Date(entry.createdAt * 1000),
        lastSeenAt: new Date(entry.lastSeenAt * 1000),
        expiresAt: new Date(entry.expiresAt * 1000),
        current: entry.id === current,
        ...(entry.device === undefined ? {} : { device: entry.device })
      }))
  }

  /** Ends the user's sessions with these ids (all but `except` when ids is 'all'); resolves to how many there were. */
  async revoke (user: string, which: { readonly ids: readonly string[] } | { readonly allExcept: readonly string[] }, now: number): Promise<number> {
    const { registry, store } = this.settings
    const listed = await this.list(user, now, undefined)
    const ids = 'ids' in which ? listed.filter(session => which.ids.includes(session.id)).map(session => session.id)
      : listed.filter(session => !which.allExcept.includes(session.id)).map(session => session.id)
    if (store !== undefined) return await store.endUserSessions(user, ids)
    if (registry === undefined) return 0
    // Sessions created before this second: a sign-in later in this request (a password reset) keeps its new session.
    // The listed sessions by id, and any unlisted one bound before this second: a sign-in later in
    // this request (a password reset) keeps its new session.
    const mark: Revocation = 'ids' in which ? { ids: [...which.ids] } : { ids, before: now, except: [...which.allExcept] }
    await registry.revoke(user, mark)
    // This process knows at once; the others within revocationCheck seconds.
    this.remember(user, mergeRevocations(this.looked.get(user)?.marks, mark), now)
    return ids.length
  }
}
