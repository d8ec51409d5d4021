/**
 * A DynamoDB client that answers from memory, at once, inside the server process: what the
 * session stores cost without the AWS SDK (middleware stack, SigV4 signing, JSON, HTTP) and
 * without dynalite. The same routes run on it and on the real client (dynalite), so
 *
 *   our CPU per request  = CPU with this stub - bare Express's CPU - the stub's own time
 *   the SDK's (and HTTP) = CPU with the real client - CPU with this stub
 *
 * It implements what arc-session's DynamoDB store and connect-dynamodb send: GetItem, PutItem,
 * UpdateItem (SET with if_not_exists, REMOVE, ReturnValues UPDATED_NEW), DeleteItem and
 * DescribeTable, with their conditions (attribute_exists, attribute_not_exists, `#a > :v`) and
 * DynamoDB's ConditionalCheckFailedException. Expressions are parsed once per distinct string
 * (they repeat request after request), so the stub's work per call is a few Map operations; that
 * work is timed (performance.now around the synchronous part, on the main thread) and reported
 * so it can be taken out of "ours".
 *
 * Items are replaced, never mutated, so an item handed to a caller stays as it was given.
 */
import { performance } from 'node:perf_hooks'
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { OpCounts } from './common'

type Item = Readonly<Record<string, AttributeValue>>

interface Input {
  TableName?: string
  Key?: Record<string, AttributeValue>
  Item?: Record<string, AttributeValue>
  UpdateExpression?: string
  ConditionExpression?: string
  ExpressionAttributeNames?: Record<string, string>
  ExpressionAttributeValues?: Record<string, AttributeValue>
  ReturnValues?: string
}

/** One SET clause: `path = :v` or `path = if_not_exists(path, :v)`. Paths and values still as written. */
interface SetClause { path: string, value: string, ifNotExists: boolean }
interface Update { sets: SetClause[], removes: string[] }
type Condition = { kind: 'exists' | 'not-exists', path: string } | { kind: 'gt', path: string, value: string }

class ConditionalCheckFailedException extends Error {
  override readonly name = 'ConditionalCheckFailedException'
  readonly $fault = 'client'
  constructor () { super('The conditional request failed') }
}

const updates = new Map<string, Update>()
const conditions = new Map<string, Condition[]>()

/** Commas outside parentheses. */
const CLAUSE_SEPARATOR = /,\s*(?![^()]*\))/

function parseUpdate (expression: string): Update {
  const cached = updates.get(expression)
  if (cached !== undefined) return cached
  const update: Update = { sets: [], removes: [] }
  for (const part of expression.split(/\s+(?=(?:SET|REMOVE)\s)/i)) {
    const match = /^\s*(SET|REMOVE)\s+([\s\S]*)$/i.exec(part)
    if (match === null) throw new Error(`dynamodb stub: cannot parse update expression ${expression}`)
    const clauses = (match[2] as string).split(CLAUSE_SEPARATOR).map(clause => clause.trim()).filter(clause => clause !== '')
    if ((match[1] as string).toUpperCase() === 'REMOVE') {
      update.removes.push(...clauses)
      continue
    }
    for (const clause of clauses) {
      const set = /^(\S+)\s*=\s*(?:if_not_exists\(\s*(\S+?)\s*,\s*(\S+?)\s*\)|(\S+))$/i.exec(clause)
      if (set === null) throw new Error(`dynamodb stub: cannot parse SET clause ${clause}`)
      update.sets.push(set[4] !== undefined
        ? { path: set[1] as string, value: set[4], ifNotExists: false }
        : { path: set[1] as string, value: set[3] as string, ifNotExists: true })
    }
  }
  updates.set(expression, update)
  return update
}

function parseCondition (expression: string): Condition[] {
  const cached = conditions.get(expression)
  if (cached !== undefined) return cached
  const parsed = expression.split(/\s+AND\s+/i).map((term): Condition => {
    const fn = /^\s*(attribute_exists|attribute_not_exists)\(\s*(\S+?)\s*\)\s*$/i.exec(term)
    if (fn !== null) return { kind: (fn[1] as string).toLowerCase() === 'attribute_exists' ? 'exists' : 'not-exists', path: fn[2] as string }
    const gt = /^\s*(\S+)\s*>\s*(\S+)\s*$/.exec(term)
    if (gt !== null) return { kind: 'gt', path: gt[1] as string, value: gt[2] as string }
    throw new Error(`dynamodb stub: cannot parse condition ${term}`)
  })
  conditions.set(expression, parsed)
  return parsed
}

export interface StubClient {
  send (command: { input: unknown }, options?: unknown): Promise<unknown>
  destroy (): void
  /** Milliseconds spent inside send(), synchronously (the stub's own work). */
  readonly stubMs: number
}

export function stubClient (counts: OpCounts): StubClient & DynamoDBClient {
  const tables = new Map<string, Map<string, Item>>()
  let stubMs = 0
  const table = (name: string | undefined): Map<string, Item> => {
    let found = tables.get(name ?? '')
    if (found === undefined) tables.set(name ?? '', found = new Map())
    return found
  }
  const keyOf = (key: Record<string, AttributeValue> | undefined): string => {
    for (const name in key) return `${name}\u0000${(key[name] as { S?: string }).S ?? JSON.stringify(key[name])}`
    throw new Error('dynamodb stub: no key')
  }
  const check = (item: Item | undefined, input: Input): void => {
    if (input.ConditionExpression === undefined) return
    const names = input.ExpressionAttributeNames ?? {}
    const values = input.ExpressionAttributeValues ?? {}
    for (const term of parseCondition(input.ConditionExpression)) {
      const attribute = item?.[names[term.path] ?? term.path]
      let ok: boolean
      if (term.kind === 'gt') ok = attribute !== undefined && Number((attribute as { N?: string }).N) > Number((values[term.value] as { N?: string }).N)
      else ok = term.kind === 'exists' ? attribute !== undefined : attribute === undefined
      if (!ok) throw new ConditionalCheckFailedException()
    }
  }

  const answer = (name: string, input: Input): unknown => {
    switch (name) {
      case 'GetItem': {
        const item = table(input.TableName).get(keyOf(input.Key))
        return item === undefined ? { $metadata: {} } : { Item: item, $metadata: {} }
      }
      case 'PutItem': {
        const items = table(input.TableName)
        const item = input.Item as Item
        // The hash key: arc's `_idx` or connect-dynamodb's `id` (bench/common.ts, EXPRESS_HASH_KEY).
        const keyName = Object.keys(item).find(attribute => attribute === '_idx' || attribute === 'id') as string
        const key = keyOf({ [keyName]: item[keyName] as AttributeValue })
        check(items.get(key), input)
        items.set(key, { ...item })
        return { $metadata: {} }
      }
      case 'UpdateItem': {
        const items = table(input.TableName)
        const key = keyOf(input.Key)
        const old = items.get(key)
        check(old, input)
        const names = input.ExpressionAttributeNames ?? {}
        const values = input.ExpressionAttributeValues ?? {}
        const next: Record<string, AttributeValue> = { ...(old ?? input.Key) }
        const changed: Record<string, AttributeValue> = {}
        const { sets, removes } = parseUpdate(input.UpdateExpression ?? '')
        for (const set of sets) {
          const path = names[set.path] ?? set.path
          if (set.ifNotExists && next[path] !== undefined) continue
          const value = values[set.value]
          if (value === undefined) throw new Error(`dynamodb stub: no value ${set.value}`)
          next[path] = value
          changed[path] = value
        }
        for (const remove of removes) delete next[names[remove] ?? remove]
        items.set(key, next)
        return input.ReturnValues === 'UPDATED_NEW' ? { Attributes: changed, $metadata: {} } : { $metadata: {} }
      }
      case 'DeleteItem':
        table(input.TableName).delete(keyOf(input.Key))
        return { $metadata: {} }
      case 'DescribeTable':
        return {
          Table: {
            TableName: input.TableName,
            TableStatus: 'ACTIVE',
            KeySchema: [{ AttributeName: '_idx', KeyType: 'HASH' }],
            AttributeDefinitions: [{ AttributeName: '_idx', AttributeType: 'S' }]
          },
          $metadata: {}
        }
      case 'DescribeTimeToLive':
        return { TimeToLiveDescription: { TimeToLiveStatus: 'ENABLED', AttributeName: '_ttl' }, $metadata: {} }
      default:
        throw new Error(`dynamodb stub: ${name} is not implemented`)
    }
  }

  const client: StubClient = {
    send: async (command: { input: unknown }): Promise<unknown> => {
      const start = performance.now()
      try {
        const name = command.constructor.name.replace(/Command$/, '')
        counts[name] = (counts[name] ?? 0) + 1
        return answer(name, command.input as Input)
      } finally {
        stubMs += performance.now() - start
      }
    },
    destroy: () => { tables.clear() },
    get stubMs () { return stubMs }
  }
  // The stores take a DynamoDBClient and call only send(): the stub is one as far as they can tell.
  return client as StubClient & DynamoDBClient
}
