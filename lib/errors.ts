/**
 * Every error arc-session raises is an ArcSessionError with a stable `code` and an HTTP
 * `status` (mirrored as `statusCode`, the name Express and finalhandler read), so an app's
 * error handler can answer properly. Messages never contain key, secret, token or id bytes.
 */

/** Every `code` an ArcSessionError can carry: `switch (error.code)` narrows to the class. */
export type ArcSessionErrorCode =
  | 'ARC_SESSION_CONFIG'
  | 'ARC_SESSION_TOO_LARGE'
  | 'ARC_SESSION_STORE_UNAVAILABLE'
  | 'ARC_SESSION_STORE'
  | 'ARC_SESSION_DATA'
  | 'ARC_SESSION_HEADERS_SENT'

/** Why a session cookie was not accepted. Logged and passed to `onReject`; never the cookie itself. */
export type RejectReason = 'malformed' | 'tampered' | 'expired' | 'unknown-key' | 'wrong-algorithm' | 'too-large' | 'revoked'

export class ArcSessionError extends Error {
  readonly code: ArcSessionErrorCode
  readonly status: number
  get statusCode (): number { return this.status }

  constructor (message: string, code: ArcSessionErrorCode, status: number, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.status = status
  }
}

/** A setting is missing or wrong. Thrown when arcSession() or a store is created, never per request. HTTP 500. */
export class ConfigError extends ArcSessionError {
  declare readonly code: 'ARC_SESSION_CONFIG'
  readonly setting: string
  constructor (setting: string, message: string) {
    super(`${setting}: ${message}`, 'ARC_SESSION_CONFIG', 500)
    this.setting = setting
  }
}

/** The session would not fit: the cookie cap, or DynamoDB's 400 KB item limit. HTTP 413. */
export class SessionTooLargeError extends ArcSessionError {
  declare readonly code: 'ARC_SESSION_TOO_LARGE'
  readonly size: number
  readonly limit: number
  constructor (message: string, size: number, limit: number, options?: { cause?: unknown }) {
    super(message, 'ARC_SESSION_TOO_LARGE', 413, options)
    this.size = size
    this.limit = limit
  }
}

/** The session store (or the user registry) could not be reached in time, or refused for load. HTTP 503. */
export class StoreUnavailableError extends ArcSessionError {
  declare readonly code: 'ARC_SESSION_STORE_UNAVAILABLE'
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, 'ARC_SESSION_STORE_UNAVAILABLE', 503, options)
  }
}

/** The store failed for a reason retrying will not fix (missing table, permissions). HTTP 500. */
export class StoreError extends ArcSessionError {
  declare readonly code: 'ARC_SESSION_STORE'
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, 'ARC_SESSION_STORE', 500, options)
  }
}

/** Session data the store cannot represent (a BigInt, a cycle, too deep, a reserved name). HTTP 500. */
export class SessionDataError extends ArcSessionError {
  declare readonly code: 'ARC_SESSION_DATA'
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, 'ARC_SESSION_DATA', 500, options)
  }
}

/** save()/regenerate()/destroy() when the response headers are sent and the change needs a new cookie. HTTP 500. */
export class HeadersSentError extends ArcSessionError {
  declare readonly code: 'ARC_SESSION_HEADERS_SENT'
  /** `operation` names the call (`save`); `action`, when given, says what it was doing instead. */
  constructor (operation: string, action?: string) {
    super(`${action ?? `session.${operation}()`} after the response headers were sent: the cookie can no longer be set` +
      (operation === 'save' ? ' (on the DynamoDB store a save that needs no new cookie still works then)' : ''), 'ARC_SESSION_HEADERS_SENT', 500)
  }
}

/**
 * What reaches `next(err)` when the session could not be loaded or saved: the error itself, or a
 * StoreError carrying a non-Error value thrown by a store (`next(undefined)` would carry on as if
 * nothing failed, and `next('route')` would skip routes).
 */
export function sessionFailure (error: unknown): Error {
  return error instanceof Error ? error : new StoreError('the session store failed without an Error', { cause: error })
}
