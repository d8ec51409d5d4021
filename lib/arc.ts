import { createApi } from './api'
import { resolveConfig } from './config/config'
import { SessionEngine } from './session/engine'

/**
 * read()/write()/destroy() without middleware, configured like arc: from the environment, read at
 * call time. The configuration is resolved once per distinct environment, not per call.
 */
const SETTINGS = [
  'ARC_SESSION_TABLE_NAME', 'SESSION_TABLE_NAME', 'ARC_APP_SECRET', 'ARC_APP_SECRET_PREVIOUS', 'ARC_APP_SECRET_ALGO',
  'ARC_SESSION_TTL', 'SESSION_TTL', 'ARC_SESSION_MAX_LIFETIME', 'ARC_SESSION_DOMAIN', 'SESSION_DOMAIN', 'ARC_SESSION_SAME_SITE',
  'ARC_ENV', 'NODE_ENV', 'ARC_APP_NAME', 'ARC_STACK_NAME', 'ARC_SANDBOX', 'AWS_LAMBDA_FUNCTION_NAME', 'ARC_SESSION_DEV_KEY_DIR',
  'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL'
]

let cached: { fingerprint: string, engine: SessionEngine } | undefined

function environmentEngine (): SessionEngine {
  const fingerprint = SETTINGS.map(name => process.env[name] ?? '\u0000').join('\u0001')
  if (cached?.fingerprint !== fingerprint) cached = { fingerprint, engine: new SessionEngine(resolveConfig()) }
  return cached.engine
}

export const { read, write, writeCookies, destroy } = createApi(environmentEngine)
