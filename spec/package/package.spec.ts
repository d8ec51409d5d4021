import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

/**
 * The built package as users get it (dist/, esm/, package.json exports): `npm test` builds first.
 * Run in child processes, asynchronously, against the package's own name.
 */
const run = promisify(execFile)
const root = join(__dirname, '..', '..')

async function node (args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, args, { cwd: root, env: { ...process.env, NODE_NO_WARNINGS: '1' } })
  return stdout.trim()
}

describe('the published package', () => {
  it('works with require()', async () => {
    const names = JSON.parse(await node(['-e', "console.log(JSON.stringify(Object.keys(require('arc-session')).sort()))"])) as string[]
    expect(names).toEqual(expect.arrayContaining(['arcSession', 'read', 'write', 'writeCookies', 'sessionInfo', 'createTable', 'ArcSessionError', 'SessionTooLargeError']))
  })

  it('works with import, exporting the same names and the same objects as require()', async () => {
    const script = `
      import * as esm from 'arc-session'
      import { createRequire } from 'node:module'
      const cjs = createRequire(import.meta.url)('arc-session')
      const cjsNames = Object.keys(cjs).filter(name => name !== '__esModule').sort()
      console.log(JSON.stringify({ esm: Object.keys(esm).sort(), cjs: cjsNames, same: cjsNames.every(name => esm[name] === cjs[name]) }))`
    const result = JSON.parse(await node(['--input-type=module', '-e', script])) as { esm: string[], cjs: string[], same: boolean }
    expect(result.esm).toEqual(result.cjs)
    expect(result.same).toBe(true)
  })

  it('ships type declarations that work from CommonJS and ESM TypeScript, with typed req.session', async () => {
    const dir = await mkdtemp(join(root, '.types-check-'))
    try {
      const consumer = `
        import express from 'express'
        import { arcSession, read, write, type Store, type SessionData } from 'arc-session'
        declare module 'arc-session' { interface SessionData { visits?: number } }
        const app = express()
        app.use(arcSession({ ttl: 3600 }))
        app.get('/', async (req, res) => {
          const visits: number = (req.session.visits ?? 0) + 1
          req.session.visits = visits
          await req.session.regenerate()
          req.session = null
          res.end()
        })
        export async function lambda (event: { headers: Record<string, string> }): Promise<string> {
          const session: SessionData = await read(event)
          return await write({ ...session, visits: 1 })
        }
        export type S = Store
      `
      // The refused line: a setting of the wrong type must be a type error (ts-expect-error fails the build if not).
      const refused = `import { arcSession } from 'arc-session'\n// @ts-expect-error ttl is seconds, a number\narcSession({ ttl: '1h' })\n`
      await writeFile(join(dir, 'cjs.ts'), consumer + refused.replace("import { arcSession } from 'arc-session'\n", ''))
      await writeFile(join(dir, 'esm.mts'), consumer)
      await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, module: 'node16', moduleResolution: 'node16', target: 'es2022', types: ['node'], skipLibCheck: true, esModuleInterop: true },
        files: ['cjs.ts', 'esm.mts']
      }))
      await node([join(root, 'node_modules/typescript/bin/tsc'), '-p', dir])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 120_000)

  it('installs the arc-session command', async () => {
    const output = await node(['dist/cli.js', '--help'])
    expect(output).toMatch(/^usage: arc-session create-table <name>/)
  })
})
