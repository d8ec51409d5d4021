import { ArcSessionError, SessionTooLargeError, StoreError, StoreUnavailableError } from '../../errors'
import { MAX_ITEM_BYTES } from './item'

const UNAVAILABLE = new Set([
  'AbortError', 'TimeoutError', 'ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded',
  'InternalServerError', 'ServiceUnavailable', 'LimitExceededException', 'TransactionInProgressException'
])
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED'])
const CREDENTIALS = new Set(['CredentialsProviderError', 'UnrecognizedClientException', 'InvalidSignatureException', 'ExpiredTokenException', 'MissingAuthenticationTokenException'])

export const CREDENTIALS_HINT = 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones), ' +
  'or AWS_PROFILE for a profile in ~/.aws, or run where a role provides them (Lambda, ECS, EC2); ' +
  'for a local DynamoDB any non-empty values do'

/** A DynamoDB failure as the typed error a request fails with. Messages name the operation, never ids or data. */
export function storeFailure (error: unknown, operation: string, table: string): ArcSessionError {
  if (error instanceof ArcSessionError) return error
  const failure = (error ?? {}) as { name?: string, code?: string, message?: string, $metadata?: { httpStatusCode?: number } }
  const name = failure.name ?? 'Error'
  const status = failure.$metadata?.httpStatusCode
  // The SDK's retry layer re-wraps errors from another realm (jest, vm) as a plain Error that keeps only
  // the text ("AWS SDK error wrapper for Error: connect ECONNREFUSED ..."): find the code there too.
  const code = failure.code ?? /\b(E[A-Z]{4,})\b/.exec(failure.message ?? '')?.[1] ?? ''
  if (CREDENTIALS.has(name) || /could not load credentials/i.test(failure.message ?? '')) {
    return new StoreError(`DynamoDB ${operation} on table "${table}" failed: no usable AWS credentials (${name}); ${CREDENTIALS_HINT}`, { cause: error })
  }
  if (UNAVAILABLE.has(name) || NETWORK.has(code) || (status !== undefined && status >= 500)) {
    return new StoreUnavailableError(`DynamoDB ${operation} on table "${table}" failed (${name}): the session store is unavailable`, { cause: error })
  }
  if (name === 'ResourceNotFoundException') {
    return new StoreError(`DynamoDB table "${table}" does not exist: create it with \`npx arc-session create-table ${table}\``, { cause: error })
  }
  if (name === 'ValidationException' && /item size/i.test(failure.message ?? '')) {
    return new SessionTooLargeError(`the session is larger than DynamoDB's ${MAX_ITEM_BYTES}-byte item limit`, MAX_ITEM_BYTES + 1, MAX_ITEM_BYTES, { cause: error })
  }
  return new StoreError(`DynamoDB ${operation} on table "${table}" failed (${name})`, { cause: error })
}
