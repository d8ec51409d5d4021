export { arcSession, type ArcSessionMiddleware, type NextFunction, type SessionRequest } from './http/middleware'
export { read, write, writeCookies, destroy } from './arc'
export { sessionInfo, type SessionInfo } from './session/info'
export type { SessionApi } from './api'
export { createTable, type CreateTableOptions, type CreateTableResult } from './table'
export type { ArcSessionOptions, CookieOptions, DynamoDBOptions } from './config/options'
export type { Session, SessionData, SessionMethods, RegenerateOptions } from './session/session'
export type { SessionCookie } from './session/cookie'
export type { UserSession } from './session/users'
export { isRevoked, mergeRevocations, type SessionRegistry, type RegistryEntry, type Revocation } from './stores/registry'
export type { Store, StoreContext, StoredSession, StoredData, LoadResult, SaveRequest, SaveResult } from './stores/store'
export type { Algorithm } from './crypto/keys'
export type { Awaitable } from './util/awaitable'
export type { SameSite } from './cookie/serialize'
export type { Callback } from './util/callback'
export {
  ArcSessionError, ConfigError, SessionTooLargeError, StoreUnavailableError, StoreError, SessionDataError, HeadersSentError,
  type ArcSessionErrorCode, type RejectReason
} from './errors'

import type { Session } from './session/session'

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The session: read and assign its data; regenerate(), destroy(), save(), reload(), touch(). `= null` destroys it. */
      get session (): Session
      set session (value: Session | Record<string, unknown> | null)
      /** The session's id, as express-session's req.sessionID: the same as req.session.id. Read-only. */
      readonly sessionID: string
    }
  }
}
