import { randomBytes } from 'node:crypto'
import { closeSync, fstatSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Env } from './environment'

/**
 * The development key: what Rails does for its development secret. Without ARC_APP_SECRET,
 * outside production and Lambda, a random key is made once and kept in a file only this user can
 * read, then reused, so sessions survive restarts (nodemon, tsx watch) and Architect Sandbox's
 * process per invocation. It lives in the OS temp folder (never in the project, so never
 * committed), in a folder named after the user id, one file per ARC_APP_NAME.
 *
 * Anything off about the folder or the file (someone else's, a link, readable by others) and it is
 * not used: the caller falls back to a key for this process alone.
 */

export interface DevelopmentKey {
  readonly secret: string
  readonly path: string
  /** True when this call made the file. */
  readonly created: boolean
}

const KEY = /^[A-Za-z0-9_-]{43}$/

export function developmentKeyFolder (env: Env): string {
  const uid = typeof process.getuid === 'function' ? String(process.getuid()) : (env.USERNAME ?? env.USER ?? 'user').replace(/[^\w.-]/g, '_')
  return env.ARC_SESSION_DEV_KEY_DIR ?? join(env.TMPDIR ?? tmpdir(), `arc-session-${uid}`)
}

export function developmentKey (env: Env): DevelopmentKey | undefined {
  const folder = developmentKeyFolder(env)
  const app = (env.ARC_APP_NAME ?? 'default').replace(/[^\w.-]/g, '_').slice(0, 64) || 'default'
  const path = join(folder, `${app}.key`)
  try {
    mkdirSync(folder, { recursive: true, mode: 0o700 })
    if (!privateToUs(folder, true)) return undefined
    const existing = readKey(path)
    if (existing !== undefined) return { secret: existing, path, created: false }
    // Made beside the final name, then linked into place: of two processes starting together, one
    // link wins and both read the same key.
    const secret = randomBytes(32).toString('base64url')
    const draft = join(folder, `.${app}.${process.pid}.${randomBytes(6).toString('hex')}`)
    const fd = openSync(draft, 'wx', 0o600)
    try {
      writeSync(fd, `${secret}\n`)
    } finally {
      closeSync(fd)
    }
    try {
      linkSync(draft, path)
      return { secret, path, created: true }
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error
      const winner = readKey(path)
      return winner === undefined ? undefined : { secret: winner, path, created: false }
    } finally {
      unlinkSync(draft)
    }
  } catch {
    return undefined
  }
}

function readKey (path: string): string | undefined {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined
    throw error
  }
  try {
    const stats = fstatSync(fd)
    if (!stats.isFile() || !ours(stats.uid) || (stats.mode & 0o077) !== 0 || lstatSync(path).isSymbolicLink()) throw new Error('not private')
    const text = readFileSync(fd, 'utf8').trim()
    if (!KEY.test(text)) throw new Error('not a key')
    return text
  } finally {
    closeSync(fd)
  }
}

function privateToUs (path: string, folder: boolean): boolean {
  const stats = lstatSync(path)
  if (stats.isSymbolicLink() || (folder ? !stats.isDirectory() : !stats.isFile())) return false
  return ours(stats.uid) && (process.platform === 'win32' || (stats.mode & 0o077) === 0)
}

function ours (uid: number): boolean {
  return typeof process.getuid !== 'function' || uid === process.getuid()
}
