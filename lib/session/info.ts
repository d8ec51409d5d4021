import { handleFrom } from './session'

export interface SessionInfo {
  /** Which store holds it: 'jwe' (the cookie), 'dynamodb', or 'custom'. */
  readonly store: 'jwe' | 'dynamodb' | 'custom'
  /** False until the session has been written once. */
  readonly saved: boolean
  /** When the session began (its absolute lifetime runs from here). */
  readonly createdAt?: Date
  /** When it ends unless used (written or refreshed) again: the earlier of the idle and absolute limits. */
  readonly expiresAt?: Date
}

/** What a session is, for display and diagnostics; never its id or token. */
export function sessionInfo (session: unknown): SessionInfo {
  const handle = handleFrom(session)
  if (handle === undefined) throw new TypeError('sessionInfo() takes req.session or an object read() returned')
  const { config } = handle.engine
  const stored = handle.state.renew ? undefined : handle.state.stored
  if (stored === undefined) return { store: config.storeKind, saved: false }
  const idle = stored.touched + config.ttl
  const end = config.maxLifetime > 0 ? Math.min(idle, stored.created + config.maxLifetime) : idle
  return { store: config.storeKind, saved: true, createdAt: new Date(stored.created * 1000), expiresAt: new Date(end * 1000) }
}
