import { inspect } from 'node:util'
import type { SessionHandle } from './handle'

/**
 * What `session._idx` gives: an opaque reference to the session it was read from, so arc's
 * habit of `write({ _idx, _secret, _ttl, ...response.session })` (arc.http's own write, with the
 * keys copied from `req.session`) still addresses that session, and `{ session: {} }` destroys it.
 *
 * It carries no bytes of the session's key and cannot be made from request data or copied from
 * another store: only an object handed out here is recognised, through a WeakMap.
 */
class SessionReference {
  [inspect.custom] (): string {
    return '[arc-session reference]'
  }

  /** Never serialised: JSON.stringify({ _idx }) leaves it out. */
  toJSON (): undefined {
    return undefined
  }
}

const handles = new WeakMap<SessionReference, SessionHandle>()
const references = new WeakMap<SessionHandle, SessionReference>()

export function referenceOf (handle: SessionHandle): object {
  let reference = references.get(handle)
  if (reference === undefined) {
    reference = Object.freeze(new SessionReference())
    references.set(handle, reference)
    handles.set(reference, handle)
  }
  return reference
}

/** The session a value handed out by referenceOf() stands for; undefined for anything else. */
export function handleOfReference (value: unknown): SessionHandle | undefined {
  return typeof value === 'object' && value !== null ? handles.get(value as SessionReference) : undefined
}
