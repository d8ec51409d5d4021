import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { SettingNames } from './config/dynamodb'
import { sandboxOf } from './config/environment'
import { TABLE_NAME, TABLE_NAME_EXPECTED } from './config/table-name'
import { ConfigError } from './errors'
import { HASH_KEY, TTL_ATTRIBUTE, USER_ATTRIBUTE, USER_INDEX, USER_INDEX_ATTRIBUTES } from './stores/dynamodb/layout'
import type { Sdk } from './stores/dynamodb/sdk'

export interface CreateTableOptions {
  client?: DynamoDBClient
  region?: string
  endpoint?: string
  /** Seconds to wait for the table (and its user index) to become active. Default 60. */
  wait?: number
  /** Names for errors: the CLI passes its flags. */
  settingNames?: SettingNames
}

export interface CreateTableResult {
  /** False when the table was already there. */
  readonly created: boolean
  /** 'enabled' (now or before), or 'unsupported' where the local DynamoDB lacks TTL (dynalite). */
  readonly ttl: 'enabled' | 'unsupported'
  /** The user index (for listing a user's sessions): 'created' with the table, 'added' to an existing one, or 'present'. */
  readonly userIndex: 'created' | 'added' | 'present'
}

const CREATE_TABLE_NAMES: SettingNames = { region: 'region', endpoint: 'endpoint', client: 'client', timeout: 'timeout' }

/**
 * Make the session table: `_idx` string hash key, on-demand billing, TTL on `_ttl` (arc's
 * declaration), and the user index. Idempotent: on an existing table it adds what is missing (the
 * user index, TTL) and changes nothing else. For deploy scripts and tests: never on the request path.
 */
export async function createTable (name: string, options: CreateTableOptions = {}): Promise<CreateTableResult> {
  if (typeof name !== 'string' || !TABLE_NAME.test(name)) {
    throw new ConfigError('table', `expected ${TABLE_NAME_EXPECTED}, got ${JSON.stringify(name)}`)
  }
  // Loaded here, not with the package: a cookie-store app never loads the AWS SDK.
  const { loadSdk } = require('./stores/dynamodb/sdk') as typeof import('./stores/dynamodb/sdk')
  const { resolveClient } = require('./config/dynamodb') as typeof import('./config/dynamodb')
  const sdk = loadSdk()
  const { client } = resolveClient({
    ...(options.client === undefined ? {} : { client: options.client }),
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint })
  }, process.env, sandboxOf(process.env), options.settingNames ?? CREATE_TABLE_NAMES)

  try {
    return await createAndComplete(sdk, client, name, options.wait ?? 60)
  } finally {
    // A client made here is ours to close; one passed in belongs to the caller.
    if (options.client === undefined) client.destroy()
  }
}

const USER_INDEX_DEFINITION = {
  IndexName: USER_INDEX,
  KeySchema: [{ AttributeName: USER_ATTRIBUTE, KeyType: 'HASH' as const }],
  Projection: { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: [...USER_INDEX_ATTRIBUTES] }
}

async function createAndComplete (sdk: Sdk, client: DynamoDBClient, name: string, wait: number): Promise<CreateTableResult> {
  let created = true
  try {
    await client.send(new sdk.CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: HASH_KEY, AttributeType: 'S' }, { AttributeName: USER_ATTRIBUTE, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: HASH_KEY, KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [USER_INDEX_DEFINITION],
      BillingMode: 'PAY_PER_REQUEST'
    }))
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceInUseException') throw error
    created = false
  }
  await sdk.waitUntilTableExists({ client, maxWaitTime: wait, minDelay: 1, maxDelay: 2 }, { TableName: name })
  const userIndex = created ? 'created' : await addUserIndex(sdk, client, name, wait)

  try {
    await client.send(new sdk.UpdateTimeToLiveCommand({
      TableName: name, TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true }
    }))
  } catch (error) {
    const errorName = (error as { name?: string }).name
    // dynalite does not implement TTL; AWS answers ValidationException when it is already on.
    if (errorName === 'UnknownOperationException') return { created, ttl: 'unsupported', userIndex }
    if (errorName !== 'ValidationException') throw error
  }
  return { created, ttl: 'enabled', userIndex }
}

/** The one-time update of a table made before the user index existed. */
async function addUserIndex (sdk: Sdk, client: DynamoDBClient, name: string, wait: number): Promise<'added' | 'present'> {
  const { Table: table } = await client.send(new sdk.DescribeTableCommand({ TableName: name }))
  if (table?.GlobalSecondaryIndexes?.some(index => index.IndexName === USER_INDEX) === true) return 'present'
  await client.send(new sdk.UpdateTableCommand({
    TableName: name,
    AttributeDefinitions: [{ AttributeName: USER_ATTRIBUTE, AttributeType: 'S' }],
    GlobalSecondaryIndexUpdates: [{ Create: USER_INDEX_DEFINITION }]
  }))
  const deadline = Date.now() + wait * 1000
  for (;;) {
    const { Table: now } = await client.send(new sdk.DescribeTableCommand({ TableName: name }))
    const status = now?.GlobalSecondaryIndexes?.find(index => index.IndexName === USER_INDEX)?.IndexStatus
    if (status === 'ACTIVE' || status === undefined) return 'added'
    if (Date.now() > deadline) throw new Error(`the user index on table ${name} is still ${status} after ${wait} s; it keeps building in the background`)
    await new Promise(resolve => setTimeout(resolve, 1000))
  }
}
