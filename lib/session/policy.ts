import type { CookieAttributes } from '../cookie/serialize'
import type { RejectReason } from '../errors'
import type { Store } from '../stores/store'
import type { SessionUsers } from './users'

/** What the session layer needs of the configuration: validated and frozen by config/, read here. */
export interface SessionPolicy {
  readonly store: Store
  readonly storeKind: 'jwe' | 'dynamodb' | 'custom'
  /** Idle lifetime, seconds (a session may carry its own: cookie.maxAge). */
  readonly ttl: number
  /** Absolute lifetime from creation, seconds; 0 = none. */
  readonly maxLifetime: number
  readonly cookieName: string
  readonly cookie: CookieAttributes
  /** Most bytes the session cookies may add to the next request's Cookie header. */
  readonly maxBytes: number
  readonly onReject?: (reason: RejectReason, req: unknown) => void
  /** Epoch seconds. */
  readonly now: () => number
  /** Users and devices (options.user); undefined when sessions are not bound to users. */
  readonly users?: SessionUsers
  /** The process made its own key (no ARC_APP_SECRET, outside production): how a refused cookie is explained. */
  readonly keySource: 'configured' | 'development-file' | 'ephemeral'
}
