/**
 * Session data on the wire: the names it can never hold, how deep it may nest, and parsing it
 * back safely. Shared by the stores (which write it) and the session layer (which shows it).
 */

/** JWT claims written next to the data in a JWE token. */
export const CLAIM_NAMES = ['iat', 'exp', 'nbf'] as const

/** arc's DynamoDB attributes, and the two this package adds for the lifetimes. */
export const STORE_ATTRIBUTES = ['_idx', '_secret', '_ttl', '_touched', '_created'] as const

/** What the session layer keeps with the data: the session id, its own lifetime, the signed-in user, the device, the registry's last look. */
export const META_NAMES = ['_sid', '_maxAge', '_user', '_device', '_seen', '_bound'] as const

/**
 * Names a session can never hold: they share the top level with user data on the wire. They are
 * dropped when a session is read and ignored when one is written, so data can neither see nor
 * overwrite them.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set<string>([...CLAIM_NAMES, ...STORE_ATTRIBUTES, ...META_NAMES])

/**
 * How deep session data may nest, counting the session object itself: DynamoDB's own limit for
 * nested attributes, kept on both stores so a session can move between them. Deeper data is
 * refused when saved, and a session found deeper is treated as malformed: data nested thousands
 * deep would otherwise overflow the stack of every later request that touched it.
 */
export const MAX_DEPTH = 32

/** True when the JSON text nests objects and arrays deeper than `limit`. One pass, no recursion. */
export function nestsDeeper (json: string, limit = MAX_DEPTH): boolean {
  // Fewer opening brackets than the limit cannot nest past it (most sessions have a handful).
  if (json.length <= limit * 2 || !hasMoreOpenings(json, limit)) return false
  let depth = 0
  let inString = false
  for (let index = 0; index < json.length; index++) {
    const code = json.charCodeAt(index)
    if (inString) {
      if (code === 0x5c) index++
      else if (code === 0x22) inString = false
    } else if (code === 0x22) {
      inString = true
    } else if (code === 0x7b || code === 0x5b) {
      if (++depth > limit) return true
    } else if (code === 0x7d || code === 0x5d) {
      depth--
    }
  }
  return false
}

function hasMoreOpenings (json: string, limit: number): boolean {
  let count = 0
  for (let at = json.indexOf('{'); at >= 0; at = json.indexOf('{', at + 1)) if (++count > limit) return true
  for (let at = json.indexOf('['); at >= 0; at = json.indexOf('[', at + 1)) if (++count > limit) return true
  return false
}

function dropProto (key: string, value: unknown): unknown {
  return key === '__proto__' ? undefined : value
}

/**
 * JSON.parse for text that must be a plain object. Own `__proto__` keys are dropped at every
 * depth (JSON.parse makes them own properties, which a later Object.assign or deep merge would
 * turn into prototype pollution). Text nested deeper than MAX_DEPTH is refused.
 */
export function parseObject (text: string): Record<string, unknown> | undefined {
  if (nestsDeeper(text)) return undefined
  let value: unknown
  try {
    // A reviver costs; only text that could spell __proto__ (directly or via \u escapes) pays it.
    value = text.includes('__proto__') || text.includes('\\u') ? JSON.parse(text, dropProto) : JSON.parse(text)
  } catch {
    return undefined
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
}
