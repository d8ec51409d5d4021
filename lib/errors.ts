/**
 * Every error arc-session raises is an ArcSessionError with a stable `code`
 * and an HTTP `status` (mirrored as `statusCode`, the name Express and
 * finalhandler also read), so an app's error handler can answer properly.
 * Messages never contain key, secret or token bytes.
 */
export class ArcSessionError extends Error {
  readonly code: string
  readonly status: number
  get statusCode (): number { return this.status }

  constructor (message: string, code: string, status: number, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.status = status
  }
}

/** A setting is missing or wrong. Thrown when arcSession() or a store is created, never per request. */
export class ConfigError extends ArcSessionError {
  readonly setting: string
  constructor (setting: string, message: string) {
    super(`${setting}: ${message}`, 'ARC_SESSION_CONFIG', 500)
    this.setting = setting
  }
}

/** The session would not fit: the cookie cap, or DynamoDB's 400 KB item limit. HTTP 413. */
export class SessionTooLargeError extends ArcSessionError {
  readonly size: number
  readonly limit: number
  constructor (message: string, size: number, limit: number, options?: { cause?: unknown }) {
    super(message, 'ARC_SESSION_TOO_LARGE', 413, options)
    this.size = size
    this.limit = limit
  }
}

/** The session store could not be reached in time, or refused for load (throttling). HTTP 503. */
export class StoreUnavailableError extends ArcSessionError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, 'ARC_SESSION_STORE_UNAVAILABLE', 503, options)
  }
}

/** The store failed for a reason retrying will not fix (missing table, permissions). HTTP 500. */
export class StoreError extends ArcSessionError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, 'ARC_SESSION_STORE', 500, options)
  }
}

/** Session data the store cannot represent (a BigInt, a cycle, a number DynamoDB cannot hold). HTTP 500. */
export class SessionDataError extends ArcSessionError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, 'ARC_SESSION_DATA', 500, options)
  }
}

/** save()/regenerate()/destroy() called when the response headers are already sent. HTTP 500. */
export class HeadersSentError extends ArcSessionError {
  constructor (operation: string) {
    super(`session.${operation}() was called after the response headers were sent; the cookie can no longer be set`, 'ARC_SESSION_HEADERS_SENT', 500)
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
