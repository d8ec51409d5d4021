import { handleFrom } from './handle'
import { expiresAt } from './lifetime'

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

/** What a session is, for display and diagnostics; never its key or token. */
export function sessionInfo (session: unknown): SessionInfo {
  const handle = handleFrom(session)
  if (handle === undefined) throw new TypeError('sessionInfo() takes req.session or an object read() returned')
  const { policy } = handle.engine
  const { stored, renew, own } = handle.state
  if (renew || stored === undefined) return { store: policy.storeKind, saved: false }
  const end = expiresAt(handle.engine.context(), stored.created, stored.touched, own)
  return { store: policy.storeKind, saved: true, createdAt: new Date(stored.created * 1000), expiresAt: new Date(Math.min(end, stored.expires ?? end) * 1000) }
}
