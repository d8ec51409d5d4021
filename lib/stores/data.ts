/**
 * Names a session can never hold: the JWT claims and arc's DynamoDB attributes
 * that share the top level with user data on the wire. They are dropped when a
 * session is read, and ignored when one is written, so data can neither see nor
 * overwrite them.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['iat', 'exp', 'nbf', '_idx', '_secret', '_ttl', '_touched', '_created'])

function dropProto (key: string, value: unknown): unknown {
  return key === '__proto__' ? undefined : value
}

/**
 * JSON.parse for text that must be a plain object. Own `__proto__` keys are
 * dropped at every depth (JSON.parse makes them own properties, which a later
 * Object.assign or deep merge would turn into prototype pollution).
 */
export function parseObject (text: string): Record<string, unknown> | undefined {
  let value: unknown
  try {
    // A reviver costs; only text that could spell __proto__ (directly or via \u escapes) pays it.
    value = text.includes('__proto__') || text.includes('\\u') ? JSON.parse(text, dropProto) : JSON.parse(text)
  } catch {
    return undefined
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
}
