import { randomBytes } from 'node:crypto'

/** 18 random bytes as base64url: 24 characters, 144 bits, the shape of arc's session ids and CSRF secrets. */
export function randomToken (): string {
  return randomBytes(18).toString('base64url')
}
