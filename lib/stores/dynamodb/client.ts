import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { ArcSessionError, ConfigError, SessionTooLargeError, StoreError, StoreUnavailableError } from '../../errors'
import type { DynamoDBOptions } from '../../config/options'
import { describe } from '../../config/settings'
import { MAX_ITEM_BYTES } from './item'

type Env = Readonly<Record<string, string | undefined>>
type Sdk = typeof import('@aws-sdk/client-dynamodb')

export const DEFAULT_TIMEOUT = 5

let sdk: Sdk | undefined
/** The AWS SDK loads only when a DynamoDB store is made: cookie-store apps never pay for it. */
export function loadSdk (): Sdk {
  sdk ??= require('@aws-sdk/client-dynamodb') as Sdk
  return sdk
}

export interface ClientSettings {
  readonly client: DynamoDBClient
  /** Milliseconds an operation may take, retries included. */
  readonly timeoutMs: number
}

export function resolveClient (options: DynamoDBOptions, env: Env): ClientSettings {
  const timeout = options.timeout ?? DEFAULT_TIMEOUT
  if (typeof timeout !== 'number' || !(timeout > 0) || timeout > 300) {
    throw new ConfigError('options.dynamodb.timeout', `expected seconds between 0 and 300 (fractions allowed), got ${describe(timeout)}`)
  }
  const timeoutMs = Math.round(timeout * 1000)
  if (options.client !== undefined) {
    if (typeof options.client !== 'object' || options.client === null || typeof (options.client as { send?: unknown }).send !== 'function') {
      throw new ConfigError('options.dynamodb.client', 'expected a DynamoDBClient from @aws-sdk/client-dynamodb')
    }
    return { client: options.client, timeoutMs }
  }

  const endpoint = options.endpoint ?? nonEmpty(env.AWS_ENDPOINT_URL_DYNAMODB) ?? nonEmpty(env.AWS_ENDPOINT_URL)
  if (endpoint !== undefined && !isHttpUrl(endpoint)) {
    throw new ConfigError(options.endpoint !== undefined ? 'options.dynamodb.endpoint' : 'AWS_ENDPOINT_URL_DYNAMODB', `expected an http(s) URL such as http://localhost:4567, got ${describe(endpoint)}`)
  }
  const region = options.region ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION)
  if (region === undefined && !hasSharedConfig(env)) {
    throw new ConfigError('AWS_REGION', 'no AWS region for the DynamoDB session table: set AWS_REGION, or options.dynamodb.region, or pass options.dynamodb.client')
  }
  const { DynamoDBClient } = loadSdk()
  const client = new DynamoDBClient({
    ...(region === undefined ? {} : { region }),
    ...(endpoint === undefined ? {} : { endpoint }),
    maxAttempts: 3,
    requestHandler: { connectionTimeout: Math.min(timeoutMs, 3000), requestTimeout: timeoutMs }
  })
  return { client, timeoutMs }
}

function nonEmpty (value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

function isHttpUrl (text: string): boolean {
  try {
    const url = new URL(text)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}

function hasSharedConfig (env: Env): boolean {
  return existsSync(env.AWS_CONFIG_FILE ?? join(homedir(), '.aws', 'config'))
}

const UNAVAILABLE = new Set([
  'AbortError', 'TimeoutError', 'ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded',
  'InternalServerError', 'ServiceUnavailable', 'LimitExceededException', 'TransactionInProgressException'
])
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED'])

/** A DynamoDB failure as the typed error a request fails with. Messages name the operation, never ids or data. */
export function storeFailure (error: unknown, operation: string, table: string): ArcSessionError {
  if (error instanceof ArcSessionError) return error
  const failure = (error ?? {}) as { name?: string, code?: string, message?: string, $metadata?: { httpStatusCode?: number } }
  const name = failure.name ?? 'Error'
  const status = failure.$metadata?.httpStatusCode
  // The SDK's retry layer re-wraps errors from another realm (jest, vm) as a plain Error that keeps only
  // the text ("AWS SDK error wrapper for Error: connect ECONNREFUSED ..."): find the code there too.
  const code = failure.code ?? /\b(E[A-Z]{4,})\b/.exec(failure.message ?? '')?.[1] ?? ''
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
