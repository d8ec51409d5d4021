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
  /**
   * Where the server's key comes from: the configuration, the development key file, or this process
   * alone (a restart then makes every cookie unreadable: say so when a cookie is refused).
   */
  readonly keySource: 'configured' | 'development-file' | 'ephemeral'
}

/** What a session is, for display and diagnostics; never its key or token. */
export function sessionInfo (session: unknown): SessionInfo {
  const handle = handleFrom(session)
  if (handle === undefined) throw new TypeError('sessionInfo() takes req.session or an object read() returned')
  const { policy } = handle.engine
  const { stored, renew, own } = handle.state
  const keySource = policy.keySource
  if (renew || stored === undefined) return { store: policy.storeKind, saved: false, keySource }
  const end = expiresAt(handle.engine.context(), stored.created, stored.touched, own)
  return { store: policy.storeKind, saved: true, createdAt: new Date(stored.created * 1000), expiresAt: new Date(Math.min(end, stored.expires ?? end) * 1000), keySource }
}
