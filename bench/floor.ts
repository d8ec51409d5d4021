/**
 * The floor: bare Express plus the least work a cookie session can be, with node:crypto and no
 * session library. On /read, one AES-256-GCM open of the request's token (compact JWE, `dir` +
 * A256GCM, the header segment as AAD, as arc-session's) and one JSON.parse of its plaintext; on
 * /counter the same, then count + 1, the claims, one JSON.stringify, one seal (IVs from a random
 * pool, as arc-session's) and a Set-Cookie; /first is bare Express's. No checks beyond what
 * node:crypto makes (a token that does not authenticate answers 0), no chunking, no key ids
 * looked up, no lifetimes enforced.
 *
 * Its tokens have arc-session's shape: the same header fields (a key id of the same length) and
 * the same claims after the data (`_sid`, `_created`, `iat`, `exp`), so their sizes match and the
 * comparison with arc-session's /read is one open against one open.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomFillSync } from 'node:crypto'
import type { Express, Request, Response } from 'express'
import { SECRET, WEEK_SECONDS } from './common'

const KEY = Buffer.from(SECRET, 'utf8').subarray(0, 32)
const HEADER = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid: 'floor-00' })).toString('base64url')
const AAD = Buffer.from(HEADER, 'ascii')
const COOKIE = '_idx='

const ivPool = Buffer.alloc(12 * 1024)
let ivOffset = ivPool.length
function nextIv (): Buffer {
  if (ivOffset === ivPool.length) {
    randomFillSync(ivPool)
    ivOffset = 0
  }
  ivOffset += 12
  return ivPool.subarray(ivOffset - 12, ivOffset)
}

export function floorSeal (plaintext: string): string {
  const iv = nextIv()
  const cipher = createCipheriv('aes-256-gcm', KEY, iv, { authTagLength: 16 })
  cipher.setAAD(AAD)
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return `${HEADER}..${iv.toString('base64url')}.${ciphertext.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`
}

/** The plaintext of the request's `_idx` token, or undefined (no cookie, or one that does not authenticate). */
export function floorOpen (cookieHeader: string | undefined): string | undefined {
  if (cookieHeader === undefined) return undefined
  const at = cookieHeader.indexOf(COOKIE)
  if (at < 0) return undefined
  const end = cookieHeader.indexOf(';', at)
  const token = cookieHeader.slice(at + COOKIE.length, end < 0 ? undefined : end)
  const [header = '', , iv = '', ciphertext = '', tag = ''] = token.split('.')
  try {
    const decipher = createDecipheriv('aes-256-gcm', KEY, Buffer.from(iv, 'base64url'), { authTagLength: 16 })
    decipher.setAAD(Buffer.from(header, 'ascii'))
    decipher.setAuthTag(Buffer.from(tag, 'base64url'))
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8')
  } catch {
    return undefined
  }
}

type Claims = Record<string, unknown> & { count?: number }

function parse (plaintext: string | undefined): Claims | undefined {
  if (plaintext === undefined) return undefined
  try {
    return JSON.parse(plaintext) as Claims
  } catch {
    return undefined
  }
}

export function mountFloor (app: Express, bump: (data: Record<string, unknown>) => string, peek: (data: Record<string, unknown>) => string): void {
  app.get('/read', (req: Request, res: Response) => {
    res.send(peek(parse(floorOpen(req.headers.cookie)) ?? {}))
  })
  app.get('/counter', (req: Request, res: Response) => {
    const now = Math.floor(Date.now() / 1000)
    const claims = parse(floorOpen(req.headers.cookie)) ?? { _sid: randomBytes(16).toString('base64url'), _created: now }
    const body = bump(claims)
    claims.iat = now
    claims.exp = now + WEEK_SECONDS
    res.setHeader('Set-Cookie', `${COOKIE}${floorSeal(JSON.stringify(claims))}; Max-Age=${WEEK_SECONDS}; Path=/; HttpOnly; SameSite=Lax`)
    res.send(body)
  })
  app.get('/first', (_req: Request, res: Response) => { res.send(peek({})) })
}
