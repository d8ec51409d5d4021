import type { AttributeValue, DynamoDBClient, GetItemCommandOutput } from '@aws-sdk/client-dynamodb'
import { encodeCookieValue } from '../../cookie/cookie'
import { randomToken } from '../../crypto/random'
import { sign, unsign } from '../../crypto/signature'
import { SessionTooLargeError } from '../../errors'
import { RESERVED_NAMES } from '../data'
import type { SigningKey } from '../../crypto/keys'
import { isExpired } from '../../session/lifetime'
import type { DynamoDBOptions } from '../../config/options'
import { loadSdk, resolveClient, storeFailure } from './client'
import { MAX_ITEM_BYTES, attributeName, fromAttributeMap, mapBytes, toAttribute, toAttributeMap } from './item'
import type { LoadResult, SaveRequest, SaveResult, Store, StoreContext } from '../store'

/** arc fixes an item's _ttl a week after its last write. */
const ARC_WEEK = 604800

/** SET/REMOVE clauses per UpdateItem, well inside DynamoDB's expression limits (4 KB, 300 operators). */
const MAX_CLAUSES = 100

/** A top-level attribute to set (with its value) or remove (without). */
interface Clause {
  readonly key: string
  readonly value?: AttributeValue
}

/** What arc's ids look like (uid-safe, 18 bytes), with room for other writers' ids. */
const SESSION_ID = /^[A-Za-z0-9_-]{16,128}$/

/**
 * Sessions in a DynamoDB table, arc's layout: `{ _idx (hash key), _secret, _ttl, ...data }`,
 * the cookie holding only `id.signature`. One consistent GetItem to read; writes send only
 * the top-level attributes that changed, so concurrent requests editing different keys
 * keep both edits; nothing is created until a session holds data.
 */
export class DynamoDBStore implements Store {
  private readonly sdk = loadSdk()

  constructor (
    private readonly table: string,
    private readonly keys: readonly SigningKey[],
    private readonly client: DynamoDBClient,
    private readonly timeoutMs: number
  ) {}

  async load (cookie: string, context: StoreContext): Promise<LoadResult> {
    const verified = unsign(cookie, this.keys)
    if (verified === undefined) return { reject: cookie.includes('.') ? 'tampered' : 'malformed' }
    if (!SESSION_ID.test(verified.value)) return { reject: 'malformed' }

    const { Item: item } = await this.send<GetItemCommandOutput>('GetItem', new this.sdk.GetItemCommand({
      TableName: this.table, Key: { _idx: { S: verified.value } }, ConsistentRead: true
    }))
    // A missing item, one whose _ttl has passed (DynamoDB deletes expired items up to days late),
    // or one without arc's _secret (arc would discard it too) are all the same: no session.
    const ttl = Number(item?._ttl?.N)
    if (item === undefined || !(ttl > context.now) || item._secret?.S === undefined) return { reject: 'expired' }

    // Our items say when the idle clock last restarted; arc's set _ttl a week (ARC_WEEK) after each write.
    const touched = Math.min(context.now, item._touched?.N !== undefined ? Number(item._touched.N) : ttl - ARC_WEEK)
    const created = item._created?.N !== undefined ? Number(item._created.N) : touched
    if (!Number.isFinite(touched) || !Number.isFinite(created) || isExpired(context, created, touched)) return { reject: 'expired' }
    return {
      session: { id: verified.value, data: fromAttributeMap(item, RESERVED_NAMES), created, touched, stale: !verified.key.current }
    }
  }

  async save (request: SaveRequest, context: StoreContext): Promise<SaveResult> {
    if (request.id === undefined) return await this.create(request, context)
    if (request.changed.length === 0 && request.removed.length === 0 && !request.refresh) {
      // Only the cookie changes (re-signed with the current key): the item and its _ttl stay as they are.
      return { ...this.cookieFor(request.id), ...(request.touched === undefined ? {} : { touched: request.touched }) }
    }

    if (request.changed.length > 0) this.checkSize(request)
    const data = JSON.parse(request.json) as Record<string, unknown>
    const clauses: Clause[] = [
      ...request.changed.map(key => ({ key: attributeName(key), value: toAttribute(data[key], key) })),
      ...request.removed.map(key => ({ key }))
    ]
    // DynamoDB caps an update expression (4 KB, 300 operators): a very wide change goes in several
    // updates, each as guarded as one.
    let batch = 0
    do {
      const updated = await this.update(request.id, clauses.slice(batch, batch + MAX_CLAUSES), request.created, context)
      if (!updated) return { cookie: '', gone: true }
      batch += MAX_CLAUSES
    } while (batch < clauses.length)
    return this.cookieFor(request.id)
  }

  /** One guarded UpdateItem: false when the session no longer exists (destroyed or expired since it was read). */
  private async update (id: string, clauses: readonly Clause[], created: number, context: StoreContext): Promise<boolean> {
    const names: Record<string, string> = { '#ttl': '_ttl', '#touched': '_touched', '#secret': '_secret', '#created': '_created', '#idx': '_idx' }
    const values: Record<string, AttributeValue> = {
      ':ttl': { N: String(context.now + context.ttl) },
      ':now': { N: String(context.now) },
      ':secret': { S: randomToken() },
      ':created': { N: String(created) }
    }
    const sets = ['#ttl = :ttl', '#touched = :now', '#secret = if_not_exists(#secret, :secret)', '#created = if_not_exists(#created, :created)']
    const removes: string[] = []
    clauses.forEach((clause, index) => {
      names[`#k${index}`] = clause.key
      if (clause.value === undefined) {
        removes.push(`#k${index}`)
      } else {
        values[`:v${index}`] = clause.value
        sets.push(`#k${index} = :v${index}`)
      }
    })
    try {
      await this.send('UpdateItem', new this.sdk.UpdateItemCommand({
        TableName: this.table,
        Key: { _idx: { S: id } },
        UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
        // Never resurrect a session destroyed or expired since it was read (a logout that won the race).
        ConditionExpression: 'attribute_exists(#idx) AND #ttl > :now',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values
      }))
      return true
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false
      throw error
    }
  }

  async destroy (id: string): Promise<void> {
    await this.send('DeleteItem', new this.sdk.DeleteItemCommand({ TableName: this.table, Key: { _idx: { S: id } } }))
  }

  private async create (request: SaveRequest, context: StoreContext): Promise<SaveResult> {
    const id = randomToken()
    const data = toAttributeMap(JSON.parse(request.json) as Record<string, unknown>)
    const item = {
      ...data,
      _idx: { S: id },
      _secret: { S: randomToken() },
      _ttl: { N: String(context.now + context.ttl) },
      _touched: { N: String(context.now) },
      _created: { N: String(request.created) }
    }
    const size = mapBytes(item)
    if (size > MAX_ITEM_BYTES) throw new SessionTooLargeError(`the session is ${size} bytes, over DynamoDB's ${MAX_ITEM_BYTES}-byte item limit`, size, MAX_ITEM_BYTES)
    await this.send('PutItem', new this.sdk.PutItemCommand({
      TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(#idx)', ExpressionAttributeNames: { '#idx': '_idx' }
    }))
    return this.cookieFor(id)
  }

  /** Refuse before sending when the JSON alone is already past the limit (JSON is never smaller than the item by much). */
  private checkSize (request: SaveRequest): void {
    if (request.json.length <= MAX_ITEM_BYTES) return
    const size = mapBytes(toAttributeMap(JSON.parse(request.json) as Record<string, unknown>)) + 80
    if (size > MAX_ITEM_BYTES) throw new SessionTooLargeError(`the session is about ${size} bytes, over DynamoDB's ${MAX_ITEM_BYTES}-byte item limit`, size, MAX_ITEM_BYTES)
  }

  private cookieFor (id: string): SaveResult {
    const current = this.keys[0] as SigningKey
    return { cookie: encodeCookieValue(sign(id, current)), id }
  }

  private async send<T> (operation: string, command: { input: unknown }): Promise<T> {
    try {
      return await (this.client.send as (command: unknown, options: { abortSignal: AbortSignal }) => Promise<T>)(
        command, { abortSignal: AbortSignal.timeout(this.timeoutMs) })
    } catch (error) {
      if (operation === 'UpdateItem' && (error as { name?: string }).name === 'ConditionalCheckFailedException') throw error
      throw storeFailure(error, operation, this.table)
    }
  }
}

export function createDynamoDBStore ({ table, keys, options, env }: {
  table: string
  keys: readonly SigningKey[]
  options: DynamoDBOptions
  env: Readonly<Record<string, string | undefined>>
}): DynamoDBStore {
  const { client, timeoutMs } = resolveClient(options, env)
  return new DynamoDBStore(table, keys, client, timeoutMs)
}
