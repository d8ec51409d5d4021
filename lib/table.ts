import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { ConfigError } from './errors'
import { TABLE_NAME, TABLE_NAME_EXPECTED } from './config/table-name'
import { loadSdk, resolveClient } from './stores/dynamodb/client'

export interface CreateTableOptions {
  client?: DynamoDBClient
  region?: string
  endpoint?: string
  /** Seconds to wait for the table to become active. Default 60. */
  wait?: number
}

export interface CreateTableResult {
  /** False when the table was already there (nothing is changed then but TTL). */
  readonly created: boolean
  /** 'enabled' (now or before), or 'unsupported' where the local DynamoDB lacks TTL (dynalite). */
  readonly ttl: 'enabled' | 'unsupported'
}

/**
 * Make the session table: `_idx` string hash key, on-demand billing, TTL on `_ttl` (arc's
 * declaration). Idempotent. For deploy scripts and tests: never called on the request path.
 */
export async function createTable (name: string, options: CreateTableOptions = {}): Promise<CreateTableResult> {
  if (typeof name !== 'string' || !TABLE_NAME.test(name)) {
    throw new ConfigError('table', `expected ${TABLE_NAME_EXPECTED}, got ${JSON.stringify(name)}`)
  }
  const sdk = loadSdk()
  const { client } = resolveClient({
    ...(options.client === undefined ? {} : { client: options.client }),
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint })
  }, process.env)

  try {
    return await createAndEnableTtl(sdk, client, name, options.wait ?? 60)
  } finally {
    // A client made here is ours to close; one passed in belongs to the caller.
    if (options.client === undefined) client.destroy()
  }
}

async function createAndEnableTtl (sdk: ReturnType<typeof loadSdk>, client: DynamoDBClient, name: string, wait: number): Promise<CreateTableResult> {
  let created = true
  try {
    await client.send(new sdk.CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: '_idx', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: '_idx', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST'
    }))
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceInUseException') throw error
    created = false
  }
  await sdk.waitUntilTableExists({ client, maxWaitTime: wait, minDelay: 1, maxDelay: 2 }, { TableName: name })

  try {
    await client.send(new sdk.UpdateTimeToLiveCommand({
      TableName: name, TimeToLiveSpecification: { AttributeName: '_ttl', Enabled: true }
    }))
  } catch (error) {
    const errorName = (error as { name?: string }).name
    // dynalite does not implement TTL; AWS answers ValidationException when it is already on.
    if (errorName === 'UnknownOperationException') return { created, ttl: 'unsupported' }
    if (errorName !== 'ValidationException') throw error
  }
  return { created, ttl: 'enabled' }
}
