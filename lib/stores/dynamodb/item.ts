import type { AttributeValue } from '@aws-sdk/client-dynamodb'
import { SessionDataError } from '../../errors'
import { MAX_DEPTH } from '../data'

/**
 * JSON values <-> DynamoDB attribute values, as native types (S, N, BOOL, NULL, L, M) so
 * arc, the console and other tools read the same item. Written by hand rather than with
 * @aws-sdk/util-dynamodb to refuse, with the key named, what DynamoDB cannot hold.
 */

/** DynamoDB's N type: magnitudes from 1e-130 up to just under 1e126. */
const LARGEST = 9.9999999999999999999999999999999999999e125
const SMALLEST = 1e-130

/** DynamoDB's item limit. */
export const MAX_ITEM_BYTES = 400 * 1024

/** `value` must be what JSON.parse returns. */
export function toAttribute (value: unknown, path: string): AttributeValue {
  if (value === null) return { NULL: true }
  switch (typeof value) {
    case 'string': return { S: value }
    case 'boolean': return { BOOL: value }
    case 'number': {
      const magnitude = Math.abs(value)
      if (magnitude !== 0 && (magnitude > LARGEST || magnitude < SMALLEST)) {
        throw new SessionDataError(`session.${path} is ${value}, outside the range a DynamoDB number can hold (1e-130 to 9.99e125)`)
      }
      return { N: String(value) }
    }
    case 'object':
      if (Array.isArray(value)) return { L: value.map((item, index) => toAttribute(item, `${path}[${index}]`)) }
      return { M: toAttributeMap(value as Record<string, unknown>, path) }
    default:
      throw new SessionDataError(`session.${path} is a ${typeof value}, which JSON and DynamoDB cannot hold`)
  }
}

export function toAttributeMap (object: Record<string, unknown>, path?: string): Record<string, AttributeValue> {
  const map: Record<string, AttributeValue> = {}
  for (const key of Object.keys(object)) {
    map[path === undefined ? attributeName(key) : key] = toAttribute(object[key], path === undefined ? key : `${path}.${key}`)
  }
  return map
}

/** A top-level key as an attribute name: DynamoDB requires at least one character. */
export function attributeName (key: string): string {
  if (key === '') throw new SessionDataError('the session has an empty key (""), which DynamoDB cannot hold as an attribute name')
  return key
}

/** Thrown inside fromAttribute when an item nests deeper than MAX_DEPTH: the store reads such an item as malformed. */
export class TooDeep extends Error {}

export function fromAttribute (attribute: AttributeValue, depth = 1): unknown {
  if (attribute.S !== undefined) return attribute.S
  if (attribute.N !== undefined) return Number(attribute.N)
  if (attribute.BOOL !== undefined) return attribute.BOOL
  if (attribute.NULL !== undefined) return null
  if (attribute.L !== undefined || attribute.M !== undefined) {
    if (depth >= MAX_DEPTH) throw new TooDeep()
    if (attribute.L !== undefined) return attribute.L.map(item => fromAttribute(item, depth + 1))
    return fromAttributeMap(attribute.M as Record<string, AttributeValue>, undefined, depth + 1)
  }
  // Sets and binaries never come from JSON; other writers of the table may use them.
  if (attribute.SS !== undefined) return [...attribute.SS]
  if (attribute.NS !== undefined) return attribute.NS.map(Number)
  if (attribute.B !== undefined) return Buffer.from(attribute.B).toString('base64')
  if (attribute.BS !== undefined) return attribute.BS.map(bytes => Buffer.from(bytes).toString('base64'))
  return null
}

/** An item (or map) as a plain object; `skip` names top-level attributes to leave out. */
export function fromAttributeMap (map: Record<string, AttributeValue>, skip?: ReadonlySet<string>, depth = 1): Record<string, unknown> {
  const object: Record<string, unknown> = {}
  for (const key of Object.keys(map)) {
    // A plain assignment to __proto__ would set the prototype, not a key.
    if (key === '__proto__' || skip?.has(key) === true) continue
    object[key] = fromAttribute(map[key] as AttributeValue, depth)
  }
  return object
}

/** DynamoDB's own measure of an attribute's size (names + values), used to refuse an item before sending it. */
export function attributeBytes (attribute: AttributeValue): number {
  if (attribute.S !== undefined) return Buffer.byteLength(attribute.S)
  if (attribute.N !== undefined) return Math.ceil(attribute.N.replace(/^-|e.*$/gi, '').length / 2) + 1
  if (attribute.L !== undefined) return attribute.L.reduce((sum, item) => sum + attributeBytes(item) + 1, 3)
  if (attribute.M !== undefined) return mapBytes(attribute.M) + 3
  return 1
}

export function mapBytes (map: Record<string, AttributeValue>): number {
  let sum = 0
  for (const key of Object.keys(map)) sum += Buffer.byteLength(key) + attributeBytes(map[key] as AttributeValue) + 1
  return sum
}
