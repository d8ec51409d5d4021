import type { AttributeValue, DynamoDBClient, GetItemCommandOutput } from '@aws-sdk/client-dynamodb'
import { encodeCookieValue } from '../../cookie/serialize'
import { randomToken } from '../../crypto/ids'
import type { SigningKey } from '../../crypto/keys'
import { sign, unsign } from '../../crypto/signature'
import { SessionTooLargeError } from '../../errors'
import { STORE_ATTRIBUTES } from '../data'
import type { RegistryEntry, UserSessionStore } from '../registry'
import type { LoadResult, SaveRequest, SaveResult, Store, StoreContext } from '../store'
import { MAX_ITEM_BYTES, TooDeep, attributeName, fromAttributeMap, mapBytes, toAttribute, toAttributeMap } from './item'
import { checkTable } from './ready'
import { loadSdk, type Sdk } from './sdk'
import { sender, type Send } from './call'
import { entryOf, queryUser } from './users'

/** arc fixes an item's _ttl a week after its last write. */
const ARC_WEEK = 604800

/** SET/REMOVE clauses per UpdateItem, well inside DynamoDB's expression limits (4 KB, 300 operators). */
const MAX_CLAUSES = 100

/** arc's cookie name: its signatures cover the id alone. */
const ARC_COOKIE_NAME = '_idx'

/** A top-level attribute to set (with its value) or remove (without). */
interface Clause {
  readonly key: string
  readonly value?: AttributeValue
}

/** What arc's ids look like (uid-safe, 18 bytes: 24 characters), with room for other writers' ids. */
const SESSION_KEY = /^[A-Za-z0-9_-]{16,128}$/

/** The item attributes that are the store's, not the session's. */
const OWN_ATTRIBUTES: ReadonlySet<string> = new Set(STORE_ATTRIBUTES)

export interface DynamoDBStoreSettings {
  /** The physical table name, or how to find it (Architect's service discovery) once, at the first call. */
  readonly table: string | (() => Promise<string>)
  readonly keys: readonly SigningKey[]
  readonly client: DynamoDBClient
  /** Milliseconds each call may take, retries included. */
  readonly timeoutMs: number
  /** The session cookie's name: any but `_idx` is bound into the signature. */
  readonly cookieName: string
  /** A DynamoDB on this machine (dynalite, Sandbox): ready() does not look for TTL there. */
  readonly local?: boolean
}

/**
 * Sessions in a DynamoDB table, arc's layout: `{ _idx (hash key), _secret, _ttl, ...data }`, the
 * cookie holding only `id.signature`. One consistent GetItem to read; writes send only the
 * top-level attributes that changed, so concurrent requests editing different keys keep both
 * edits; nothing is created until a session holds data.
 */
export class DynamoDBStore implements Store, UserSessionStore {
  readonly chunked = false
  private readonly sdk: Sdk = loadSdk()
  private readonly keys: readonly SigningKey[]
  private readonly client: DynamoDBClient
  private readonly timeoutMs: number
  /** The signature's context: undefined under arc's cookie name, so arc's cookies stay as they are. */
  private readonly binding: string | undefined
  private tableName: string | undefined
  private finding: Promise<string> | undefined
  private readonly findTable: (() => Promise<string>) | undefined
  private readonly send: Send
  private readonly local: boolean

  constructor (settings: DynamoDBStoreSettings) {
    this.keys = settings.keys
    this.client = settings.client
    this.timeoutMs = settings.timeoutMs
    this.binding = settings.cookieName === ARC_COOKIE_NAME ? undefined : settings.cookieName
    if (typeof settings.table === 'string') this.tableName = settings.table
    else this.findTable = settings.table
    this.send = sender(this.client, () => this.table(), this.timeoutMs)
    this.local = settings.local === true
  }

  /** The table, once it is known: discovery runs once per process, and again only after it failed. */
  table (): string | Promise<string> {
    if (this.tableName !== undefined) return this.tableName
    this.finding ??= (this.findTable as () => Promise<string>)().then(name => {
      this.tableName = name
      return name
    }, (error: unknown) => {
      this.finding = undefined
      throw error
    })
    return this.finding
  }

  async load (cookie: string, context: StoreContext): Promise<LoadResult> {
    const verified = unsign(cookie, this.keys, SESSION_KEY, this.binding)
    if (verified === undefined) return { reject: /^[A-Za-z0-9_-]{16,128}\.[A-Za-z0-9+/]{43}$/.test(cookie) ? 'tampered' : 'malformed' }

    const table = await this.table()
    const { Item: item } = await this.send<GetItemCommandOutput>('GetItem', new this.sdk.GetItemCommand({
      TableName: table, Key: { _idx: { S: verified.value } }, ConsistentRead: true
    }))
    // A missing item, one whose _ttl has passed (DynamoDB deletes expired items up to days late),
    // or one without arc's _secret (arc would discard it too) are all the same: no session.
    const ttl = Number(item?._ttl?.N)
    if (item === undefined || !(ttl > context.now) || item._secret?.S === undefined) return { reject: 'expired' }

    // Our items say when the idle clock last restarted; arc's set _ttl a week (ARC_WEEK) after each write.
    const touched = Math.min(context.now, item._touched?.N !== undefined ? Number(item._touched.N) : ttl - ARC_WEEK)
    const created = item._created?.N !== undefined ? Number(item._created.N) : touched
    if (!Number.isFinite(touched) || !Number.isFinite(created)) return { reject: 'malformed' }
    let data: Record<string, unknown>
    try {
      data = fromAttributeMap(item, OWN_ATTRIBUTES)
    } catch (error) {
      if (error instanceof TooDeep) return { reject: 'malformed' }
      throw error
    }
    return {
      session: { id: verified.value, data, created, touched, expires: ttl, stale: !verified.key.current, legacy: verified.key.public }
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
      const updated = await this.update(request, clauses.slice(batch, batch + MAX_CLAUSES), context)
      if (!updated) return { cookie: '', gone: true }
      batch += MAX_CLAUSES
    } while (batch < clauses.length)
    return { ...this.cookieFor(request.id), ...(request.refresh || request.touched === undefined ? {} : { touched: request.touched }) }
  }

  /** One guarded UpdateItem: false when the session no longer exists (destroyed or expired since it was read). */
  private async update (request: SaveRequest, clauses: readonly Clause[], context: StoreContext): Promise<boolean> {
    const id = request.id as string
    const names: Record<string, string> = { '#ttl': '_ttl', '#secret': '_secret', '#created': '_created', '#idx': '_idx' }
    const values: Record<string, AttributeValue> = {
      ':ttl': { N: String(request.expires) },
      ':now': { N: String(context.now) },
      ':secret': { S: randomToken() },
      ':created': { N: String(request.created) }
    }
    const sets = ['#ttl = :ttl', '#secret = if_not_exists(#secret, :secret)', '#created = if_not_exists(#created, :created)']
    if (request.refresh || request.touched === undefined) {
      names['#touched'] = '_touched'
      sets.push('#touched = :now')
    }
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
    const table = await this.table()
    try {
      await this.send('UpdateItem', new this.sdk.UpdateItemCommand({
        TableName: table,
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
    const table = await this.table()
    await this.send('DeleteItem', new this.sdk.DeleteItemCommand({ TableName: table, Key: { _idx: { S: id } } }))
  }

  /** The sessions bound to `user` (by their `_user` attribute), through the user index. */
  async listUser (user: string, now: number): Promise<RegistryEntry[]> {
    const table = await this.table()
    return (await queryUser(this.sdk, this.send, table, user))
      .map(item => entryOf(item, user, now, undefined))
      .filter((entry): entry is RegistryEntry => entry !== undefined)
  }

  /** Deletes the user's sessions with these ids: each one's next request finds nothing. */
  async endUserSessions (user: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0
    const table = await this.table()
    let ended = 0
    for (const item of await queryUser(this.sdk, this.send, table, user)) {
      const key = item._idx?.S
      const entry = entryOf(item, user, 0, undefined)
      if (key === undefined || entry === undefined || !ids.includes(entry.id)) continue
      await this.destroy(key)
      ended++
    }
    return ended
  }

  /** Checks the table exists with arc's key schema, TTL on `_ttl`, and that the credentials work. */
  async ready (): Promise<void> {
    const table = await this.table()
    await checkTable(this.sdk, this.client, table, this.timeoutMs, this.local)
  }

  private async create (request: SaveRequest, context: StoreContext): Promise<SaveResult> {
    const id = randomToken()
    const data = toAttributeMap(JSON.parse(request.json) as Record<string, unknown>)
    const item = {
      ...data,
      _idx: { S: id },
      _secret: { S: randomToken() },
      _ttl: { N: String(request.expires) },
      _touched: { N: String(context.now) },
      _created: { N: String(request.created) }
    }
    const size = mapBytes(item)
    if (size > MAX_ITEM_BYTES) throw new SessionTooLargeError(`the session is ${size} bytes, over DynamoDB's ${MAX_ITEM_BYTES}-byte item limit`, size, MAX_ITEM_BYTES)
    const table = await this.table()
    await this.send('PutItem', new this.sdk.PutItemCommand({
      TableName: table, Item: item, ConditionExpression: 'attribute_not_exists(#idx)', ExpressionAttributeNames: { '#idx': '_idx' }
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
    return { cookie: encodeCookieValue(sign(id, current, this.binding)), id }
  }

}
