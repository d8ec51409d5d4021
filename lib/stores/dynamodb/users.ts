import { createHash } from 'node:crypto'
import type { AttributeValue, DynamoDBClient, QueryCommandOutput } from '@aws-sdk/client-dynamodb'
import { sessionIdOf } from '../../crypto/ids'
import { type RegistryEntry, type Revocation, type SessionRegistry } from '../registry'
import { sender, type Send } from './call'
import { USER_ATTRIBUTE, USER_INDEX } from './layout'
import type { Sdk } from './sdk'

/**
 * A user's sessions in the session table, through the user index (`arc-session-user` on `_user`):
 * the DynamoDB store's own sessions (items without `_kind`), and the cookie store's registry
 * (items of `_kind` "entry" and "revoked", which no cookie can ever address: their keys hold `:`).
 */

/** How long revocation marks are kept: longer than any cookie can live. */
const MARK_LIFETIME = 400 * 24 * 60 * 60

type Item = Record<string, AttributeValue>

function number (attribute: AttributeValue | undefined): number | undefined {
  const value = Number(attribute?.N)
  return attribute?.N !== undefined && Number.isFinite(value) ? value : undefined
}

/** Every item of the user index for `user`, page by page. */
export async function queryUser (sdk: Sdk, send: Send, table: string, user: string): Promise<Item[]> {
  const items: Item[] = []
  let start: Item | undefined
  do {
    const page: QueryCommandOutput = await send('Query', new sdk.QueryCommand({
      TableName: table,
      IndexName: USER_INDEX,
      KeyConditionExpression: '#user = :user',
      ExpressionAttributeNames: { '#user': USER_ATTRIBUTE },
      ExpressionAttributeValues: { ':user': { S: user } },
      ...(start === undefined ? {} : { ExclusiveStartKey: start })
    }))
    items.push(...(page.Items ?? []))
    start = page.LastEvaluatedKey
  } while (start !== undefined)
  return items
}

/** A session item (or registry entry) of the index as a list entry; undefined when expired or not one. */
export function entryOf (item: Item, user: string, now: number, kind: string | undefined): RegistryEntry | undefined {
  if (item._kind?.S !== kind) return undefined
  const expiresAt = number(item._ttl)
  if (expiresAt === undefined || expiresAt <= now) return undefined
  const key = item._idx?.S
  const id = item._sid?.S ?? (key === undefined ? undefined : sessionIdOf(key))
  if (id === undefined) return undefined
  const createdAt = number(item._created) ?? number(item._touched) ?? now
  const device = item._device?.S
  const boundAt = number(item._bound)
  return { user, id, createdAt, ...(boundAt === undefined ? {} : { boundAt }), lastSeenAt: number(item._touched) ?? createdAt, expiresAt, ...(device === undefined ? {} : { device }) }
}

const ENTRY_PREFIX = 'arc-session:entry:'
const MARKS_PREFIX = 'arc-session:revoked:'

function marksKey (user: string): string {
  return `${MARKS_PREFIX}${createHash('sha256').update(user).digest('base64url')}`
}

/** The cookie store's registry in a DynamoDB table made by createTable() (it may be the DynamoDB store's own table). */
export class DynamoDBRegistry implements SessionRegistry {
  private readonly send: Send

  constructor (private readonly sdk: Sdk, client: DynamoDBClient, private readonly table: string, timeoutMs: number) {
    this.send = sender(client, () => table, timeoutMs)
  }

  async record (entry: RegistryEntry): Promise<void> {
    await this.send('PutItem', new this.sdk.PutItemCommand({
      TableName: this.table,
      Item: {
        _idx: { S: `${ENTRY_PREFIX}${entry.id}` },
        _kind: { S: 'entry' },
        [USER_ATTRIBUTE]: { S: entry.user },
        _sid: { S: entry.id },
        _created: { N: String(entry.createdAt) },
        _touched: { N: String(entry.lastSeenAt) },
        _ttl: { N: String(entry.expiresAt) },
        ...(entry.boundAt === undefined ? {} : { _bound: { N: String(entry.boundAt) } }),
        ...(entry.device === undefined ? {} : { _device: { S: entry.device } })
      }
    }))
  }

  async forget (_user: string, id: string): Promise<void> {
    await this.send('DeleteItem', new this.sdk.DeleteItemCommand({ TableName: this.table, Key: { _idx: { S: `${ENTRY_PREFIX}${id}` } } }))
  }

  /** The user's entries, revoked ones included (the middleware hides those with the marks it reads beside). */
  async list (user: string): Promise<RegistryEntry[]> {
    const now = Math.floor(Date.now() / 1000)
    return (await queryUser(this.sdk, this.send, this.table, user))
      .map(item => entryOf(item, user, now, 'entry'))
      .filter((entry): entry is RegistryEntry => entry !== undefined)
  }

  async revocations (user: string): Promise<Revocation | undefined> {
    const { Item: item } = await this.send<{ Item?: Item }>('GetItem', new this.sdk.GetItemCommand({
      TableName: this.table, Key: { _idx: { S: marksKey(user) } }, ConsistentRead: true
    }))
    if (item === undefined) return undefined
    const before = number(item.before)
    const ids = item.ids?.SS ?? item.ids?.L?.map(value => value.S).filter((id): id is string => id !== undefined)
    const except = item.except?.L?.map(value => value.S).filter((id): id is string => id !== undefined)
    return { ...(ids === undefined ? {} : { ids }), ...(before === undefined ? {} : { before }), ...(except === undefined ? {} : { except }) }
  }

  /**
   * One UpdateItem: ids join a string set (concurrent revocations on two servers both stay),
   * `before`/`except` are replaced. The entries it covers stay until their TTL: list() hides them.
   */
  async revoke (user: string, revocation: Revocation): Promise<void> {
    const now = Math.floor(Date.now() / 1000)
    const names: Record<string, string> = { '#kind': '_kind', '#ttl': '_ttl' }
    const values: Record<string, AttributeValue> = { ':kind': { S: 'revoked' }, ':ttl': { N: String(now + MARK_LIFETIME) } }
    const sets = ['#kind = :kind', '#ttl = :ttl']
    if (revocation.before !== undefined) {
      names['#before'] = 'before'
      names['#except'] = 'except'
      values[':before'] = { N: String(revocation.before) }
      values[':except'] = { L: (revocation.except ?? []).map(S => ({ S })) }
      sets.push('#before = :before', '#except = :except')
    }
    const ids = [...new Set(revocation.ids ?? [])]
    if (ids.length > 0) {
      names['#ids'] = 'ids'
      values[':ids'] = { SS: ids }
    }
    await this.send('UpdateItem', new this.sdk.UpdateItemCommand({
      TableName: this.table,
      Key: { _idx: { S: marksKey(user) } },
      UpdateExpression: `SET ${sets.join(', ')}${ids.length > 0 ? ' ADD #ids :ids' : ''}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values
    }))
  }
}
