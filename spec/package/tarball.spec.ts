import { cp, lstat, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, posix, resolve } from 'node:path'
import { ROOT, cleanEnv, node, run, tempDir, type Run, type TempDir } from './support'

/**
 * The first hour, part one: what `npm install arc-session` gives a newcomer. The package is packed
 * the way `npm publish` packs it (`npm pack`, which runs `prepack`, the build), installed from the
 * tarball into a fresh app without the network, and used there.
 *
 * The pack runs in a copy of the package (its build inputs and its `files`, node_modules linked):
 * the build empties dist/ first, and other specs running meanwhile load the package from dist/.
 */

const PACK_TIMEOUT = 180_000
const ONE_MB = 1024 * 1024
const SECRET = 'first-hour-secret-0123456789abcdefghijklmnop'

interface PackedFile { readonly path: string, readonly size: number }
interface PackResult { readonly filename: string, readonly files: readonly PackedFile[] }

const rootPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string
  version: string
  files: string[]
  scripts?: Record<string, string>
  dependencies?: Record<string, string>
  repository?: unknown
  homepage?: unknown
  bugs?: unknown
  main: string
  types: string
  bin: Record<string, string>
}

function npm (args: readonly string[], cwd: string): Promise<Run> {
  return run('npm', args, { cwd, env: cleanEnv({ npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' }), timeout: PACK_TIMEOUT })
}

function failed (what: string, result: Run): Error {
  return new Error(`${what} failed (exit ${String(result.code)}${result.timedOut ? ', timed out' : ''}):\n${result.stdout}\n${result.stderr}`)
}

/** Bytes of every file under a folder (links counted as themselves, not followed). */
async function folderBytes (path: string): Promise<number> {
  const stats = await lstat(path)
  if (!stats.isDirectory()) return stats.size
  let total = 0
  for (const name of await readdir(path)) total += await folderBytes(join(path, name))
  return total
}

let work: TempDir
let tarball: string
let packed: PackResult
/** The tarball, unpacked: what the registry would serve. */
let unpacked: string
let app: string
/** How the app got arc-session's dependencies without the network. */
let installedHow: string
let install: Run

beforeAll(async () => {
  work = await tempDir('arc-session-first-hour-')
  const stage = join(work.path, 'stage')
  const out = join(work.path, 'out')
  await mkdir(stage)
  await mkdir(out)

  // The build's inputs, and everything `files` ships but dist/ (which the build makes).
  for (const entry of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'lib', ...rootPackage.files]) {
    if (entry === 'dist' || !existsSync(join(ROOT, entry))) continue
    await mkdir(dirname(join(stage, entry)), { recursive: true })
    await cp(join(ROOT, entry), join(stage, entry), { recursive: true })
  }
  await symlink(join(ROOT, 'node_modules'), join(stage, 'node_modules'), 'dir')

  const pack = await npm(['pack', '--json', '--pack-destination', out], stage)
  if (pack.code !== 0) throw failed('npm pack', pack)
  // npm prints the prepack script's output before the JSON.
  const json = pack.stdout.slice(pack.stdout.indexOf('[\n'))
  packed = (JSON.parse(json) as PackResult[])[0] as PackResult
  tarball = join(out, packed.filename)

  unpacked = join(work.path, 'unpacked')
  await mkdir(unpacked)
  const untar = await run('tar', ['-xzf', tarball, '-C', unpacked])
  if (untar.code !== 0) throw failed('tar', untar)
  unpacked = join(unpacked, 'package')

  app = join(work.path, 'app')
  await mkdir(app)
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'first-hour-app', version: '1.0.0', private: true }, null, 2))
  // Offline first: arc-session's dependencies (debug, ms) from npm's cache.
  install = await npm(['install', tarball, '--offline', '--no-audit', '--no-fund'], app)
  installedHow = 'the tarball, its dependencies from npm\'s cache (--offline)'
  if (install.code !== 0 && /ENOTCACHED/.test(install.stderr)) {
    // The cache holds the tarballs but not the registry's metadata for them: give npm the very
    // packages the lockfile put in node_modules, as tarballs too. Still --offline, still hermetic.
    const deps = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', out, join(ROOT, 'node_modules', 'debug'), join(ROOT, 'node_modules', 'ms')], ROOT)
    if (deps.code !== 0) throw failed('npm pack debug ms', deps)
    const names = (JSON.parse(deps.stdout.slice(deps.stdout.indexOf('[\n'))) as PackResult[]).map(result => join(out, result.filename))
    install = await npm(['install', tarball, ...names, '--offline', '--no-audit', '--no-fund'], app)
    installedHow = 'the tarball, with debug and ms packed from this repository\'s node_modules (--offline)'
  }
  if (install.code !== 0) throw failed(`npm install from ${installedHow}`, install)
}, 2 * PACK_TIMEOUT)

afterAll(async () => {
  await work?.remove()
})

/** Run a CommonJS script in the app, as the app's own code, with no AWS account around. */
async function inApp (script: string, env: Readonly<Record<string, string | undefined>> = {}): Promise<{ result: Record<string, unknown>, run: Run }> {
  const path = join(app, `script-${Math.random().toString(36).slice(2)}.js`)
  await writeFile(path, script)
  const home = join(work.path, `home-${Math.random().toString(36).slice(2)}`)
  await mkdir(home)
  const result = await node([path], {
    cwd: app,
    env: cleanEnv({ HOME: home, NODE_ENV: undefined, NODE_PATH: undefined, NODE_OPTIONS: undefined, ARC_SESSION_DEV_KEY_DIR: join(work.path, 'dev-keys'), ...env })
  })
  const line = result.stdout.split('\n').find(text => text.startsWith('@@result '))
  if (result.code !== 0 || line === undefined) throw failed(`the app script ${path}`, result)
  return { result: JSON.parse(line.slice('@@result '.length)) as Record<string, unknown>, run: result }
}

describe('npm install arc-session, from the packed tarball, in a fresh app', () => {
  it('installs offline', () => {
    expect(install.code).toBe(0)
    expect(installedHow).toMatch(/--offline/)
  })

  it('installs arc-session and its production dependencies (debug, ms) only, under 1 MB together', async () => {
    const top = (await readdir(join(app, 'node_modules'))).filter(name => !name.startsWith('.')).sort()
    expect(top).toEqual(['arc-session', 'debug', 'ms'])
    expect(Object.keys(rootPackage.dependencies ?? {})).toEqual(['debug'])
    const sizes = Object.fromEntries(await Promise.all(top.map(async name => [name, await folderBytes(join(app, 'node_modules', name))] as const)))
    const total = Object.values(sizes).reduce((sum, size) => sum + size, 0)
    if (total >= ONE_MB) throw new Error(`installed size ${total} bytes, over 1 MB: ${JSON.stringify(sizes)}`)
    expect(total).toBeLessThan(ONE_MB)
  })

  it('does not install the AWS SDK (an optional peer dependency)', () => {
    expect(existsSync(join(app, 'node_modules', '@aws-sdk'))).toBe(false)
  })

  it('runs no install scripts, and npm says nothing about scripts', async () => {
    const lifecycle = ['preinstall', 'install', 'postinstall', 'prepare', 'preprepare', 'postprepare']
    const shipped = JSON.parse(await readFile(join(unpacked, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }
    for (const scripts of [rootPackage.scripts ?? {}, shipped.scripts ?? {}]) {
      expect(Object.keys(scripts).filter(name => lifecycle.includes(name))).toEqual([])
    }
    expect(existsSync(join(unpacked, 'binding.gyp'))).toBe(false)
    const said = `${install.stdout}\n${install.stderr}`
    expect(said).not.toMatch(/script/i)
    expect(said.split('\n').filter(line => /^npm warn/i.test(line) && /arc-session|deprecat/i.test(line))).toEqual([])
  })

  it('require(\'arc-session\') loads the installed package, and a cookie-store app serves a session', async () => {
    const { result } = await inApp(`
      const http = require('node:http')
      const { arcSession } = require('arc-session')
      const sessions = arcSession({ secret: ${JSON.stringify(SECRET)}, cookie: { secure: false } })
      const server = http.createServer((req, res) => {
        sessions(req, res, error => {
          if (error) { res.statusCode = 500; res.end(String(error)); return }
          req.session.visits = (req.session.visits || 0) + 1
          res.setHeader('content-type', 'application/json')
          res.end(JSON.stringify(req.session))
        })
      })
      server.listen(0, '127.0.0.1', async () => {
        const url = 'http://127.0.0.1:' + server.address().port + '/'
        const first = await fetch(url)
        const setCookie = first.headers.getSetCookie()
        const second = await fetch(url, { headers: { cookie: setCookie.map(cookie => cookie.split(';')[0]).join('; ') } })
        const esm = await import('arc-session')
        console.log('@@result ' + JSON.stringify({
          resolved: require.resolve('arc-session'),
          first: await first.json(),
          setCookie,
          second: await second.json(),
          esmSame: esm.arcSession === arcSession,
          awsLoaded: Object.keys(require.cache).some(path => path.includes('@aws-sdk'))
        }))
        server.close()
      })
    `)
    expect(result.resolved).toBe(join(app, 'node_modules', 'arc-session', 'dist', 'index.js'))
    expect(result.first).toEqual({ visits: 1 })
    expect(result.setCookie).toEqual([expect.stringMatching(/^_idx=[^;]+;.*HttpOnly/)])
    expect(result.second).toEqual({ visits: 2 })
    expect(result.esmSame).toBe(true)
    expect(result.awsLoaded).toBe(false)
  })

  const dynamoScript = `
    const { arcSession, ConfigError } = require('arc-session')
    let outcome
    try {
      arcSession({ table: 'sessions' })
      outcome = { threw: false }
    } catch (error) {
      outcome = { threw: true, name: error.name, isConfigError: error instanceof ConfigError, message: error.message }
    }
    console.log('@@result ' + JSON.stringify(outcome))
  `

  it('choosing the DynamoDB store there (no AWS region set, as on a newcomer\'s laptop) throws a ConfigError saying to install @aws-sdk/client-dynamodb', async () => {
    const { result } = await inApp(dynamoScript)
    expect(result).toMatchObject({ threw: true, name: 'ConfigError', isConfigError: true })
    expect(result.message).toContain('@aws-sdk/client-dynamodb')
    expect(result.message).toContain('npm install @aws-sdk/client-dynamodb')
  })

  it('choosing the DynamoDB store there with AWS_REGION set throws the same ConfigError', async () => {
    const { result } = await inApp(dynamoScript, { AWS_REGION: 'us-east-1' })
    expect(result).toMatchObject({ threw: true, name: 'ConfigError', isConfigError: true })
    expect(result.message).toContain('npm install @aws-sdk/client-dynamodb')
  })
})

describe('the package\'s metadata and contents', () => {
  it('names its repository, homepage and issue tracker', () => {
    const repository = rootPackage.repository as { type?: string, url?: string } | string | undefined
    const url = typeof repository === 'string' ? repository : repository?.url
    expect(url).toMatch(/^(git\+)?https:\/\/github\.com\/[\w.-]+\/[\w.-]+?(\.git)?$/)
    expect(rootPackage.homepage).toMatch(/^https:\/\//)
    const bugs = rootPackage.bugs as { url?: string } | string | undefined
    expect(typeof bugs === 'string' ? bugs : bugs?.url).toMatch(/^https:\/\//)
  })

  it('ships what package.json points at: main, types, every exports target, the bin', () => {
    const paths = new Set(packed.files.map(file => file.path))
    const targets = [rootPackage.main, rootPackage.types, ...Object.values(rootPackage.bin)]
    const collect = (value: unknown): void => {
      if (typeof value === 'string') targets.push(value)
      else if (typeof value === 'object' && value !== null) Object.values(value).forEach(collect)
    }
    collect((rootPackage as { exports?: unknown }).exports)
    for (const target of targets) expect(paths).toContain(posix.normalize(target))
  })

  it('ships no source map that points at sources it does not ship', async () => {
    const paths = new Set(packed.files.map(file => file.path))
    const maps = [...paths].filter(path => path.endsWith('.map'))
    for (const map of maps) {
      const { sources = [], sourceRoot = '' } = JSON.parse(await readFile(join(unpacked, map), 'utf8')) as { sources?: string[], sourceRoot?: string }
      for (const source of sources) expect(paths).toContain(posix.normalize(posix.join(posix.dirname(map), sourceRoot, source)))
    }
    // And no compiled file refers to a map that is not there.
    for (const path of [...paths].filter(name => /\.(c|m)?js$/.test(name))) {
      const text = await readFile(join(unpacked, path), 'utf8')
      const reference = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(text)?.[1]
      if (reference === undefined || reference.startsWith('data:')) continue
      expect(paths).toContain(posix.normalize(posix.join(posix.dirname(path), reference)))
    }
  })

  it('README links resolve: relative links to files in the tarball, anchors to headings, everything else absolute https', async () => {
    const readme = await readFile(join(unpacked, 'README.md'), 'utf8')
    const paths = new Set(packed.files.map(file => file.path))
    // Links inside code are code, not links.
    const prose = readme.replace(/^(```|~~~)[\s\S]*?^\1/gm, '').replace(/`[^`\n]*`/g, '')
    const targets = [
      ...[...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map(match => match[1] as string),
      ...[...prose.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map(match => match[1] as string),
      ...[...prose.matchAll(/<(?:a|img)\s[^>]*?(?:href|src)="([^"]+)"/gi)].map(match => match[1] as string)
    ]
    expect(targets.length).toBeGreaterThan(0)
    const anchors = new Set(readme.replace(/^(```|~~~)[\s\S]*?^\1/gm, '').split('\n')
      .filter(line => /^#{1,6}\s/.test(line))
      .map(line => githubSlug(line.replace(/^#{1,6}\s+/, ''))))
    const problems: string[] = []
    for (const target of targets) {
      if (target.startsWith('#')) {
        if (!anchors.has(decodeURIComponent(target.slice(1)).toLowerCase())) problems.push(`${target}: no such heading`)
      } else if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
        if (!target.startsWith('https://') && !target.startsWith('mailto:')) problems.push(`${target}: not https`)
      } else {
        const file = posix.normalize(decodeURIComponent(target.replace(/[#?].*$/, '')).replace(/^\.\//, ''))
        if (!paths.has(file)) problems.push(`${target}: not in the tarball`)
      }
    }
    expect(problems).toEqual([])
  })

  it('README links into the repository on GitHub name files the repository has', async () => {
    const readme = await readFile(join(unpacked, 'README.md'), 'utf8')
    const repository = rootPackage.repository as { url?: string } | string | undefined
    const url = (typeof repository === 'string' ? repository : repository?.url ?? '').replace(/^git\+/, '').replace(/\.git$/, '')
    if (url === '') throw new Error('package.json has no repository to compare README links with')
    const pattern = new RegExp(`${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/(?:blob|tree)/[^/\\s)]+/([^\\s)#?]+)`, 'g')
    for (const match of readme.matchAll(pattern)) {
      expect(existsSync(resolve(ROOT, decodeURIComponent(match[1] as string)))).toBe(true)
    }
  })
})

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function githubSlug (heading: string): string {
  return heading.trim().toLowerCase()
    .replace(/<[^>]+>/g, '')
    .replace(/[`*~]/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
}
