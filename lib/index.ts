export { arcSession, type ArcSessionMiddleware, type NextFunction } from './middleware'
export { read, write, writeCookies } from './arc'
export { sessionInfo, type SessionInfo } from './session-info'
export type { SessionApi } from './api'
export { createTable, type CreateTableOptions, type CreateTableResult } from './table'
export type { ArcSessionOptions, CookieOptions, DynamoDBOptions } from './options'
export type { Session, SessionData, SessionMethods } from './session'
export type { Store, StoreContext, StoredSession, StoredData, LoadResult, SaveRequest, SaveResult, RejectReason } from './stores/store'
export type { Algorithm } from './keys'
export type { Awaitable } from './awaitable'
export type { SameSite } from './cookie'
export type { Callback } from './callback'
export {
  ArcSessionError, ConfigError, SessionTooLargeError, StoreUnavailableError, StoreError, SessionDataError, HeadersSentError
} from './errors'

import type { Session } from './session'

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The session: read and assign its data; regenerate(), destroy(), save(). `= null` destroys it. */
      get session (): Session
      set session (value: Session | Record<string, unknown> | null)
    }
  }
}
