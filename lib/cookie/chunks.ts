import { MAX_CHUNKS } from './parse'

/**
 * Browsers drop a cookie whose name and value exceed 4,096 bytes. A longer
 * session cookie is cut into `name.0` .. `name.N-1`; chunk 0 starts with the
 * count (`3~`), so a missing chunk is detected and the session fails closed.
 */
export const MAX_COOKIE_PAIR_BYTES = 4096

const COUNT_SEPARATOR = '~'

export type CookiePair = readonly [name: string, value: string]

/** Bytes a name=value pair adds to the next request's Cookie header (with its `; ` separator). */
export function pairBytes ([name, value]: CookiePair): number {
  return name.length + value.length + 3
}

export function splitIntoChunks (name: string, value: string): CookiePair[] {
  if (name.length + 1 + value.length <= MAX_COOKIE_PAIR_BYTES) return [[name, value]]
  // Room per chunk: the longest chunk name, '=', and the count prefix on chunk 0.
  const room = MAX_COOKIE_PAIR_BYTES - (name.length + 3) - 1 - 3
  const count = Math.ceil(value.length / room)
  const pairs: CookiePair[] = []
  for (let index = 0; index < count; index++) {
    const part = value.slice(index * room, (index + 1) * room)
    pairs.push([`${name}.${index}`, index === 0 ? `${count}${COUNT_SEPARATOR}${part}` : part])
  }
  return pairs
}

/** A count as chunk 0 writes it: canonical decimal, 2 to MAX_CHUNKS (no sign, no leading zero, no hex). */
const COUNT = /^(?:[2-9]|[1-9][0-9])~/

/** The value the chunks carry, or undefined when any is missing or the count is not believable. */
export function joinChunks (chunks: ReadonlyMap<number, string>): string | undefined {
  const first = chunks.get(0)
  if (first === undefined || !COUNT.test(first)) return undefined
  const separator = first.indexOf(COUNT_SEPARATOR)
  const count = Number(first.slice(0, separator))
  if (count > MAX_CHUNKS) return undefined
  let value = first.slice(separator + 1)
  for (let index = 1; index < count; index++) {
    const part = chunks.get(index)
    if (part === undefined) return undefined
    value += part
  }
  return value
}
