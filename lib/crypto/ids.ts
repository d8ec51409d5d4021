import { createHash, randomBytes } from 'node:crypto'

/** 18 random bytes as base64url: 24 characters, 144 bits, the shape of arc's session ids and CSRF secrets. */
export function randomToken (): string {
  return randomBytes(18).toString('base64url')
}

/** What a session id (`req.sessionID`) looks like: 22 base64url characters. */
export const SESSION_ID = /^[A-Za-z0-9_-]{22}$/

/** A new session id: 16 random bytes (128 bits), base64url. Opaque: it opens nothing. */
export function newSessionId (): string {
  return randomBytes(16).toString('base64url')
}

/**
 * The session id of a session that was stored without one (arc's DynamoDB items): derived from
 * the store's key by a one-way hash, so the id is stable, and knowing it reveals nothing of the
 * key the cookie carries.
 */
export function sessionIdOf (storeKey: string): string {
  return createHash('sha256').update(`arc-session id\u0000${storeKey}`).digest('base64url').slice(0, 22)
}
