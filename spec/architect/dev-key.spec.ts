import { randomBytes } from 'node:crypto'
import { chmod, chown, lstat, mkdir, readFile, readdir, stat, symlink, unlink, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, arcSession } from 'arc-session'
import { ROOT, baseChildEnv, resultOf, runNode, tempDirs, tsxArgs } from './support/local'
import { thrown } from '../support/config-error'

/**
 * Without ARC_APP_SECRET, outside production and Lambda, the key is kept in
 * `${ARC_SESSION_DEV_KEY_DIR ?? join(TMPDIR ?? os.tmpdir(), 'arc-session-' + uid)}/${ARC_APP_NAME ?? 'default'}.key`
 * (folder 0700, file 0600), made once and reused by later processes, so sessions survive restarts.
 * A file or folder that is not private to this user is never used (a per-process key instead), and
 * production never uses (or makes) one.
 */

const INVOKE = join(ROOT, 'spec', 'architect', 'fixtures', 'invoke.ts')
const KEY_TEXT = /^[A-Za-z0-9_-]{43}\n?$/

interface Warned { code?: string, message: string }
interface Invocation {
  response?: { statusCode: number, cookies: string[], body: string }
  error?: { name: string, message: string, code?: string, setting?: string }
  warnings: Warned[]
  pid: number
}

const dirs = tempDirs()
afterAll(async () => { await dirs.cleanup() })

/** One process, as a restart or a Sandbox invocation: the counter handler on a v2 event carrying `cookies`. */
async function invoke (env: Record<string, string>, cookies: readonly string[] = []): Promise<Invocation> {
  const event = { version: '2.0', rawPath: '/', headers: {}, cookies, requestContext: { http: { method: 'GET', path: '/' } } }
  const result = await runNode(tsxArgs(INVOKE, JSON.stringify(event)), { env: { ...baseChildEnv(), ...env }, timeoutMs: 20000 })
  return resultOf<Invocation>(result)
}

function countOf (invocation: Invocation): number {
  if (invocation.response === undefined) throw new Error(`the invocation failed: ${JSON.stringify(invocation.error)}`)
  return (JSON.parse(invocation.response.body) as { count: number }).count
}

function pairOf (invocation: Invocation): string {
  const cookie = invocation.response?.cookies[0]
  if (cookie === undefined) throw new Error(`no cookie: ${JSON.stringify(invocation)}`)
  return cookie.split(';')[0] as string
}

function codes (invocation: Invocation): Array<string | undefined> {
  return invocation.warnings.map(warning => warning.code)
}

function plain (value: object): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>
}

async function modeOf (path: string): Promise<number> {
  return (await stat(path)).mode & 0o777
}


describe('the development key file', () => {
  it('the first process makes it: folder 0700, file 0600, one warning that names the file and never the key', async () => {
    const keyDir = join(await dirs.make(), 'keys')
    const first = await invoke({ ARC_SESSION_DEV_KEY_DIR: keyDir, SPEC_EXTRA_INSTANCES: '2' })
    expect(countOf(first)).toBe(1)

    const path = join(keyDir, 'default.key')
    expect(await modeOf(keyDir)).toBe(0o700)
    expect(await modeOf(path)).toBe(0o600)
    expect((await lstat(path)).isFile()).toBe(true)
    const key = (await readFile(path, 'utf8')).trim()
    expect(`${key}\n`).toMatch(KEY_TEXT)
    expect(await readdir(keyDir)).toEqual(['default.key'])

    // Three configurations resolved in that process, one warning.
    const development = first.warnings.filter(warning => warning.code === 'ARC_SESSION_DEVELOPMENT_KEY')
    expect(development).toHaveLength(1)
    expect(development[0]?.message).toContain(path)
    expect(development[0]?.message).toContain('ARC_APP_SECRET')
    expect(codes(first)).not.toContain('ARC_SESSION_EPHEMERAL_KEY')
    for (const warning of first.warnings) expect(warning.message).not.toContain(key)

    // The file's key is the one that sealed the cookie.
    expect(plain(await arcSession({ env: {}, secret: key }).read({ cookies: [pairOf(first)] }))).toEqual({ count: 1 })
  })

  it('later processes reuse it: a cookie made by process 1 is read by process 2, and 3', async () => {
    const keyDir = join(await dirs.make(), 'keys')
    const env = { ARC_SESSION_DEV_KEY_DIR: keyDir }
    const first = await invoke(env)
    const path = join(keyDir, 'default.key')
    const before = await stat(path)
    const key = await readFile(path, 'utf8')

    const second = await invoke(env, [pairOf(first)])
    expect(second.pid).not.toBe(first.pid)
    expect(countOf(second)).toBe(2)
    const third = await invoke(env, [pairOf(second)])
    expect(countOf(third)).toBe(3)

    const after = await stat(path)
    expect(await readFile(path, 'utf8')).toBe(key)
    expect(after.ino).toBe(before.ino)
    expect(after.mtimeMs).toBe(before.mtimeMs)
    expect(second.warnings.filter(warning => warning.code === 'ARC_SESSION_DEVELOPMENT_KEY')).toHaveLength(1)
    expect(second.warnings[0]?.message).toContain(path)
    expect(codes(third)).not.toContain('ARC_SESSION_EPHEMERAL_KEY')

    // An arcSession() with `env` pointing at the folder uses the same key.
    const sessions = arcSession({ env: { ARC_SESSION_DEV_KEY_DIR: keyDir } })
    expect(plain(await sessions.read({ cookies: [pairOf(third)] }))).toEqual({ count: 3 })
  })

  it('ARC_APP_NAME names the file', async () => {
    const keyDir = join(await dirs.make(), 'keys')
    const invocation = await invoke({ ARC_SESSION_DEV_KEY_DIR: keyDir, ARC_APP_NAME: 'my-app' })
    expect(countOf(invocation)).toBe(1)
    expect(await readdir(keyDir)).toEqual(['my-app.key'])
    expect(await modeOf(join(keyDir, 'my-app.key'))).toBe(0o600)
    expect(invocation.warnings.find(warning => warning.code === 'ARC_SESSION_DEVELOPMENT_KEY')?.message).toContain(join(keyDir, 'my-app.key'))
    // Another app's name is another key.
    const other = await invoke({ ARC_SESSION_DEV_KEY_DIR: keyDir, ARC_APP_NAME: 'other-app' }, [pairOf(invocation)])
    expect(countOf(other)).toBe(1)
    expect((await readdir(keyDir)).sort()).toEqual(['my-app.key', 'other-app.key'])
  })

  it('without ARC_SESSION_DEV_KEY_DIR it lives in $TMPDIR/arc-session-<uid>/', async () => {
    const tmp = await dirs.make()
    const invocation = await invoke({ TMPDIR: tmp })
    expect(countOf(invocation)).toBe(1)
    const folder = join(tmp, `arc-session-${String(process.getuid?.() ?? '')}`)
    expect(await modeOf(folder)).toBe(0o700)
    expect(await modeOf(join(folder, 'default.key'))).toBe(0o600)
    expect(countOf(await invoke({ TMPDIR: tmp }, [pairOf(invocation)]))).toBe(2)
  })

  it('processes starting together agree on one key', async () => {
    const keyDir = join(await dirs.make(), 'keys')
    const all = await Promise.all([1, 2, 3, 4].map(async () => await invoke({ ARC_SESSION_DEV_KEY_DIR: keyDir })))
    expect(await readdir(keyDir)).toEqual(['default.key'])
    const key = (await readFile(join(keyDir, 'default.key'), 'utf8')).trim()
    const sessions = arcSession({ env: {}, secret: key })
    for (const invocation of all) {
      expect(codes(invocation)).toContain('ARC_SESSION_DEVELOPMENT_KEY')
      expect(plain(await sessions.read({ cookies: [pairOf(invocation)] }))).toEqual({ count: 1 })
    }
  })
})

describe('a key file that is not private to this user is never used', () => {
  const root = process.getuid?.() === 0

  interface Scene { keyDir: string, keyFile: string, key: string }

  /** A folder with a valid-looking key file (mode 0600), ready to be made untrustworthy. */
  async function scene (): Promise<Scene> {
    const base = await dirs.make()
    const keyDir = join(base, 'keys')
    await mkdir(keyDir, { mode: 0o700 })
    await chmod(keyDir, 0o700)
    const key = randomBytes(32).toString('base64url')
    const keyFile = join(keyDir, 'default.key')
    await writeFile(keyFile, `${key}\n`, { mode: 0o600 })
    await chmod(keyFile, 0o600)
    return { keyDir, keyFile, key }
  }

  type Spoil = (scene: Scene) => Promise<void>
  const CASES: ReadonlyArray<readonly [string, Spoil]> = [
    ['the file is readable by others (0644)', async ({ keyFile }) => { await chmod(keyFile, 0o644) }],
    ['the file is group-writable (0620)', async ({ keyFile }) => { await chmod(keyFile, 0o620) }],
    ['the file is a symbolic link to a private file', async ({ keyDir, keyFile, key }) => {
      const target = join(keyDir, '..', 'elsewhere.key')
      await writeFile(target, `${key}\n`, { mode: 0o600 })
      await chmod(target, 0o600)
      await unlink(keyFile)
      await symlink(target, keyFile)
    }],
    ['the folder is readable by others (0755)', async ({ keyDir }) => { await chmod(keyDir, 0o755) }]
  ]
  // Giving a file to another user needs root.
  const OWNER_CASES: ReadonlyArray<readonly [string, Spoil]> = [
    ['the file belongs to another user', async ({ keyFile }) => { await chown(keyFile, 12345, 12345) }],
    ['the folder belongs to another user', async ({ keyDir }) => { await chown(keyDir, 12345, 12345) }]
  ]

  async function expectNotUsed (spoil: Spoil): Promise<void> {
    const current = await scene()
    await spoil(current)
    const before = await lstat(current.keyFile)
    // A cookie sealed with the file's key: it opens only if the file were used.
    const sealed = (await arcSession({ env: {}, secret: current.key }).write({ count: 41 })).split(';')[0] as string

    const first = await invoke({ ARC_SESSION_DEV_KEY_DIR: current.keyDir }, [sealed])
    expect(countOf(first)).toBe(1)
    expect(codes(first)).toContain('ARC_SESSION_EPHEMERAL_KEY')
    expect(codes(first)).not.toContain('ARC_SESSION_DEVELOPMENT_KEY')
    for (const warning of first.warnings) expect(warning.message).not.toContain(current.key)

    // Per process: the next process cannot open the first one's cookie.
    const second = await invoke({ ARC_SESSION_DEV_KEY_DIR: current.keyDir }, [pairOf(first)])
    expect(countOf(second)).toBe(1)

    // In this process too, and the files are left as they were.
    expect(plain(await arcSession({ env: { ARC_SESSION_DEV_KEY_DIR: current.keyDir } }).read({ cookies: [sealed] }))).toEqual({})
    const after = await lstat(current.keyFile)
    expect(after.mode).toBe(before.mode)
    expect(after.uid).toBe(before.uid)
    expect(after.isSymbolicLink()).toBe(before.isSymbolicLink())
    expect((await readFile(current.keyFile, 'utf8')).trim()).toBe(current.key)
  }

  it.each(CASES)('%s: a per-process key and the ARC_SESSION_EPHEMERAL_KEY warning', async (_name, spoil) => { await expectNotUsed(spoil) })
  ;(root ? it.each(OWNER_CASES) : it.skip.each(OWNER_CASES))('%s: a per-process key and the ARC_SESSION_EPHEMERAL_KEY warning (needs root)',
    async (_name, spoil) => { await expectNotUsed(spoil) })

  it('the folder is a symbolic link to a private folder: not used either', async () => {
    const current = await scene()
    const link = join(current.keyDir, '..', 'link')
    await symlink(current.keyDir, link)
    const sealed = (await arcSession({ env: {}, secret: current.key }).write({ count: 41 })).split(';')[0] as string
    const invocation = await invoke({ ARC_SESSION_DEV_KEY_DIR: link }, [sealed])
    expect(countOf(invocation)).toBe(1)
    expect(codes(invocation)).toContain('ARC_SESSION_EPHEMERAL_KEY')
  })

  it('a file that holds no key is not used, and not replaced', async () => {
    const current = await scene()
    await writeFile(current.keyFile, 'not a key\n')
    const invocation = await invoke({ ARC_SESSION_DEV_KEY_DIR: current.keyDir })
    expect(countOf(invocation)).toBe(1)
    expect(codes(invocation)).toContain('ARC_SESSION_EPHEMERAL_KEY')
    expect(await readFile(current.keyFile, 'utf8')).toBe('not a key\n')
  })
})

describe('production never uses a development key', () => {
  const PRODUCTION: ReadonlyArray<Record<string, string>> = [{ NODE_ENV: 'production' }, { ARC_ENV: 'production' }, { ARC_ENV: 'staging' }]
  const STORES: ReadonlyArray<Record<string, string>> = [{}, { ARC_SESSION_TABLE_NAME: 'jwe' }, { ARC_SESSION_TABLE_NAME: 'sessions', AWS_REGION: 'us-east-1' }]

  it.each(PRODUCTION.flatMap(production => STORES.map(store => [JSON.stringify({ ...production, ...store }), { ...production, ...store }] as const)))(
    '%s without a secret: ConfigError naming ARC_APP_SECRET, and no key file made', async (_name, env) => {
      const keyDir = join(await dirs.make(), 'keys')
      const error = thrown(() => arcSession({ env: { ...env, ARC_SESSION_DEV_KEY_DIR: keyDir } }))
      expect(error).toBeInstanceOf(ConfigError)
      expect(error).toMatchObject({ setting: 'ARC_APP_SECRET', code: 'ARC_SESSION_CONFIG' })
      expect((error as Error).message).toContain('ARC_APP_SECRET')
      expect(existsSync(keyDir)).toBe(false)
    })

  it('an existing development key file is not used in production', async () => {
    const keyDir = join(await dirs.make(), 'keys')
    const made = await invoke({ ARC_SESSION_DEV_KEY_DIR: keyDir })
    expect(countOf(made)).toBe(1)
    const error = thrown(() => arcSession({ env: { NODE_ENV: 'production', ARC_SESSION_DEV_KEY_DIR: keyDir } }))
    expect(error).toMatchObject({ setting: 'ARC_APP_SECRET' })

    // Nor by a production process's module-level read()/write().
    const refused = await invoke({ ARC_ENV: 'production', ARC_SESSION_DEV_KEY_DIR: keyDir }, [pairOf(made)])
    expect(refused.response).toBeUndefined()
    expect(refused.error).toMatchObject({ name: 'ConfigError', setting: 'ARC_APP_SECRET' })
    expect(refused.warnings.map(warning => warning.code)).not.toContain('ARC_SESSION_DEVELOPMENT_KEY')
  })

  it('a production process without a secret makes no key file', async () => {
    const keyDir = join(await dirs.make(), 'keys')
    const refused = await invoke({ NODE_ENV: 'production', ARC_SESSION_DEV_KEY_DIR: keyDir })
    expect(refused.error).toMatchObject({ name: 'ConfigError', setting: 'ARC_APP_SECRET' })
    expect(existsSync(keyDir)).toBe(false)
  })
})
