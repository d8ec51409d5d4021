// ESM entry: the package is compiled to CommonJS once; this re-exports it, so `import` and
// `require` share one module instance (one per-process key, one set of error classes).
import cjs from '../dist/index.js'

export const {
  arcSession, read, write, writeCookies, destroy, sessionInfo, createTable, isRevoked, mergeRevocations,
  ArcSessionError, ConfigError, SessionTooLargeError, StoreUnavailableError, StoreError, SessionDataError, HeadersSentError
} = cjs
