import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { StoreError } from '../../errors'
import { warnOnce } from '../../util/warn'
import { sender } from './call'
import type { Sdk } from './sdk'

/**
 * What `sessions.ready()` checks before traffic arrives: the table exists and is ACTIVE, its key is
 * arc's (`_idx`, a string hash key), TTL is on `_ttl`, and the credentials are accepted. Each
 * failure says what to do. TTL off is a warning, not a failure (sessions are still refused once
 * expired; they are only never deleted), and is not looked at on a local DynamoDB (dynalite has none).
 */
export async function checkTable (sdk: Sdk, client: DynamoDBClient, table: string, timeoutMs: number, local: boolean): Promise<void> {
  const send = sender(client, () => table, timeoutMs)
  const described = await send<import('@aws-sdk/client-dynamodb').DescribeTableCommandOutput>('DescribeTable', new sdk.DescribeTableCommand({ TableName: table }))
  const description = described.Table
  const hash = description?.KeySchema?.find(key => key.KeyType === 'HASH')
  const type = description?.AttributeDefinitions?.find(attribute => attribute.AttributeName === hash?.AttributeName)?.AttributeType
  if (hash?.AttributeName !== '_idx' || type !== 'S' || (description?.KeySchema?.length ?? 0) !== 1) {
    throw new StoreError(`DynamoDB table "${table}" has the wrong key: sessions need a string hash key named _idx and no sort key ` +
      `(arc's \`${table} _idx *String\`); create one with \`npx arc-session create-table ${table}\``)
  }
  if (description?.TableStatus !== undefined && description.TableStatus !== 'ACTIVE' && description.TableStatus !== 'UPDATING') {
    throw new StoreError(`DynamoDB table "${table}" is ${description.TableStatus}, not ACTIVE`)
  }
  if (local) return
  const ttl = await send<import('@aws-sdk/client-dynamodb').DescribeTimeToLiveCommandOutput>('DescribeTimeToLive', new sdk.DescribeTimeToLiveCommand({ TableName: table }))
  const { TimeToLiveStatus: status, AttributeName: attribute } = ttl.TimeToLiveDescription ?? {}
  if ((status !== 'ENABLED' && status !== 'ENABLING') || attribute !== '_ttl') {
    warnOnce(`ARC_SESSION_TTL_OFF_${table}`, `DynamoDB table "${table}" does not delete expired sessions: TTL is not on the _ttl attribute ` +
      `(it is ${status ?? 'DISABLED'}${attribute === undefined ? '' : ` on ${attribute}`}). They are refused once expired, but stay in the table; ` +
      `\`npx arc-session create-table ${table}\` turns TTL on for an existing table`)
  }
}
