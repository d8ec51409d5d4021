/**
 * Issue 15, item 9: cold start. Each library in a fresh `node` process (plain node, no loader),
 * many times, in turn:
 *
 *   require     process.hrtime around `require(library)` (node:http is loaded before the clock
 *               starts, so no library is charged for it)
 *   first       from the same start to the end of the first response: require, make the
 *               middleware (`arcSession({ secret })`, `session({ ... })`, `cookieSession({ ... })`),
 *               a node:http server on 127.0.0.1, one GET that writes the session (Set-Cookie)
 *               answered and read to its end by a client in the same process
 *
 * A process with no library (node:http alone) gives the part of "first" that is the server and
 * the client; the report subtracts its median.
 *
 *   tsx bench/cold-start.ts [--runs=N]
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { SECRET, distModule, median } from './common'

export const COLD_LIBRARIES = ['none', 'arc-session', 'express-session', 'cookie-session'] as const
export type ColdLibrary = typeof COLD_LIBRARIES[number]

export const COLD_LABELS: Readonly<Record<ColdLibrary, string>> = {
  none: 'node:http alone (no library)',
  'arc-session': 'arc-session (cookie store)',
  'express-session': 'express-session (MemoryStore)',
  'cookie-session': 'cookie-session'
}

export interface ColdStats { median: number, min: number, max: number }

export interface ColdRow {
  library: ColdLibrary
  label: string
  requireMs: ColdStats
  firstRequestMs: ColdStats
  /** firstRequestMs median minus the no-library process's. */
  firstRequestOverBaseMs: number
  runs: number
}

export interface ColdResult {
  runs: number
  node: string
  rows: ColdRow[]
}

const ROOT = join(__dirname, '..')

function script (library: ColdLibrary): string {
  const path = library === 'arc-session' ? distModule('index.js') : library === 'none' ? '' : require.resolve(library, { paths: [ROOT] })
  const make = {
    none: 'const mw = (req, res, next) => { req.session = {}; next() }',
    'arc-session': `const mw = lib.arcSession({ secret: ${JSON.stringify(SECRET)} })`,
    'express-session': `const mw = lib({ secret: ${JSON.stringify(SECRET)}, resave: false, saveUninitialized: false })`,
    'cookie-session': `const mw = lib({ name: 'session', keys: [${JSON.stringify(SECRET)}] })`
  }[library]
  return `
const http = require('node:http')
const t0 = process.hrtime.bigint()
const lib = ${library === 'none' ? 'null' : `require(${JSON.stringify(path)})`}
const t1 = process.hrtime.bigint()
${make}
const server = http.createServer((req, res) => mw(req, res, () => { req.session.count = 1; res.end('1') }))
server.listen(0, '127.0.0.1', () => {
  http.get({ host: '127.0.0.1', port: server.address().port, path: '/' }, res => {
    res.resume()
    res.on('end', () => {
      const t2 = process.hrtime.bigint()
      if (res.statusCode !== 200 || (${library !== 'none'} && res.headers['set-cookie'] === undefined)) { console.error('bad response', res.statusCode); process.exit(1) }
      process.stdout.write(JSON.stringify({ requireMs: Number(t1 - t0) / 1e6, firstMs: Number(t2 - t0) / 1e6 }))
      server.close()
      process.exit(0)
    })
  })
})`
}

function stats (values: number[]): ColdStats {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) }
}

export function runColdStart ({ runs = 21 }: { runs?: number } = {}): ColdResult {
  const samples = new Map<ColdLibrary, Array<{ requireMs: number, firstMs: number }>>(COLD_LIBRARIES.map(library => [library, []]))
  const scripts = new Map(COLD_LIBRARIES.map(library => [library, script(library)]))
  // One untimed round first (the file cache), then the libraries in turn, a different one first each run.
  for (let run = -1; run < runs; run++) {
    for (let i = 0; i < COLD_LIBRARIES.length; i++) {
      const library = COLD_LIBRARIES[(i + Math.max(0, run)) % COLD_LIBRARIES.length] as ColdLibrary
      const output = execFileSync(process.execPath, ['-e', scripts.get(library) as string], {
        encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT
      })
      if (run >= 0) samples.get(library)?.push(JSON.parse(output) as { requireMs: number, firstMs: number })
    }
  }
  const base = median((samples.get('none') ?? []).map(s => s.firstMs))
  const rows = COLD_LIBRARIES.map((library): ColdRow => {
    const all = samples.get(library) ?? []
    const first = stats(all.map(s => s.firstMs))
    return {
      library,
      label: COLD_LABELS[library],
      requireMs: stats(all.map(s => s.requireMs)),
      firstRequestMs: first,
      firstRequestOverBaseMs: first.median - base,
      runs: all.length
    }
  })
  return { runs, node: process.version, rows }
}

const ms = (n: number): string => n.toFixed(n < 10 ? 2 : 1)

export function formatColdStart (result: ColdResult): string {
  const lines = [
    `| fresh \`node\` process, ${result.runs} runs each | require, ms: median (min–max) | first request handled, ms: median (min–max) | first request minus node:http alone |`,
    '|---|---:|---:|---:|'
  ]
  for (const row of result.rows) {
    const name = row.library === 'arc-session' ? `**${row.label}**` : row.label
    const require = row.library === 'none' ? '—' : `${ms(row.requireMs.median)} (${ms(row.requireMs.min)}–${ms(row.requireMs.max)})`
    lines.push(`| ${name} | ${require} | ${ms(row.firstRequestMs.median)} (${ms(row.firstRequestMs.min)}–${ms(row.firstRequestMs.max)}) | ${row.library === 'none' ? '—' : ms(row.firstRequestOverBaseMs)} |`)
  }
  return lines.join('\n')
}

if (require.main === module) {
  const runs = Number(process.argv.find(arg => arg.startsWith('--runs='))?.slice('--runs='.length) ?? 21)
  console.log(formatColdStart(runColdStart({ runs })))
}
