/**
 * What each session library adds to a request, in process and without a network: the same
 * Express apps as the load test (bench/apps.ts), driven with requests made in memory
 * (IncomingMessage / ServerResponse on an unconnected socket), timed per request with
 * tinybench (means: garbage collection included). Bare Express's own time is subtracted from each library's.
 *
 * A CPU figure that the machine's other load disturbs far less than requests/s over real
 * sockets; it excludes the network and the kernel, so it is not a throughput prediction.
 * The DynamoDB rows are left out: their time is mostly waiting on dynalite.
 *
 *   tsx bench/overhead.ts [--quick] [--kinds=arc-session-jwe,cookie-session]
 */
import { execFileSync } from 'node:child_process'
import { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import { pathToFileURL } from 'node:url'
import express, { type Express } from 'express'
import { ROUTES, SERVERS, SERVER_KINDS, mountServer, type Route, type ServerKind } from './apps'

export interface OverheadRow {
  kind: ServerKind
  label: string
  /** Mean microseconds per request, per route. */
  micros: Partial<Record<Route, number>>
  /** Minus bare Express's mean on the same route. */
  added: Partial<Record<Route, number>>
}

export interface OverheadResult {
  timeMsPerTask: number
  rows: OverheadRow[]
}

export const OVERHEAD_KINDS: readonly ServerKind[] = SERVER_KINDS.filter(kind => !SERVERS[kind].dynamodb)

const socket = new Socket()

interface Reply { status: number, setCookies: string[] }

/** One request through the app, in memory; resolves when the response has ended. */
function inject (app: Express, path: string, cookie: string | undefined): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = new IncomingMessage(socket)
    req.method = 'GET'
    req.url = path
    req.headers = cookie === undefined ? { host: 'bench' } : { host: 'bench', cookie }
    const res = new ServerResponse(req)
    // Set before Express touches the response, as a server's own wrapper would be.
    const end = res.end
    res.end = function (this: ServerResponse, ...args: unknown[]) {
      const result = (end as (...a: unknown[]) => ServerResponse).apply(this, args)
      const setCookie = res.getHeader('set-cookie')
      resolve({ status: res.statusCode, setCookies: setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [String(setCookie)] })
      return result
    } as ServerResponse['end']
    try {
      app(req as unknown as express.Request, res as unknown as express.Response, reject)
    } catch (error) {
      reject(error)
    }
  })
}

/** One library's three routes, in this process. Microseconds per request (mean), by route. */
async function measureKind (kind: ServerKind, quick: boolean): Promise<Partial<Record<Route, number>>> {
  const { Bench } = await import('tinybench')
  const bench = new Bench({ name: kind, time: quick ? 300 : 1500, warmupTime: quick ? 100 : 300, iterations: 64 })
  const app = express()
  mountServer(kind, app, { counts: {} })
  const primed = await inject(app, '/counter', undefined)
  if (primed.status !== 200) throw new Error(`${kind}: /counter answered ${primed.status} in memory`)
  const cookie = primed.setCookies.map(value => value.split(';', 1)[0]).join('; ')
  for (const route of ROUTES) {
    const send = route === 'first' || cookie === '' ? undefined : cookie
    bench.add(route, async () => {
      const reply = await inject(app, `/${route}`, send)
      if (reply.status !== 200) throw new Error(`${kind} /${route}: ${reply.status}`)
    })
  }
  await bench.run()
  const micros: Partial<Record<Route, number>> = {}
  for (const route of ROUTES) {
    const result = bench.getTask(route)?.result
    if (result === undefined || !('latency' in result)) throw new Error(`${kind} /${route} did not complete (${result?.state ?? 'missing'})`)
    // The mean, not the median: much of what a library costs is garbage collection, which lands
    // in a few samples and which a median would leave out.
    micros[route] = result.latency.mean * 1000
  }
  return micros
}

/** Each library in a process of its own, so none is charged for another's garbage. */
export async function runOverhead ({ quick = false, kinds = OVERHEAD_KINDS }: { quick?: boolean, kinds?: readonly ServerKind[] } = {}): Promise<OverheadResult> {
  const selected = ['express' as ServerKind, ...kinds.filter(kind => kind !== 'express')]
  const tsx = pathToFileURL(require.resolve('tsx')).href
  const rows: OverheadRow[] = []
  for (const kind of selected) {
    const output = execFileSync(process.execPath, ['--import', tsx, __filename, `--child=${kind}`, ...(quick ? ['--quick'] : [])], {
      env: { ...process.env, NODE_ENV: 'production' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']
    })
    rows.push({ kind, label: SERVERS[kind].label, micros: JSON.parse(output) as Partial<Record<Route, number>>, added: {} })
  }
  const bare = rows[0] as OverheadRow
  for (const row of rows) for (const route of ROUTES) row.added[route] = (row.micros[route] ?? 0) - (bare.micros[route] ?? 0)
  return { timeMsPerTask: quick ? 300 : 1500, rows }
}

export function formatOverhead (result: OverheadResult): string {
  const cell = (row: OverheadRow, route: Route): string => {
    const micros = row.micros[route] ?? 0
    return row.kind === 'express' ? `${micros.toFixed(1)}` : `${micros.toFixed(1)} (+${(row.added[route] ?? 0).toFixed(1)})`
  }
  const lines = ['| µs per request, in memory (added to Express) | /counter | /read | /first |', '|---|---:|---:|---:|']
  for (const row of result.rows) lines.push(`| ${row.kind.startsWith('arc-session') ? `**${row.label}**` : row.label} | ${cell(row, 'counter')} | ${cell(row, 'read')} | ${cell(row, 'first')} |`)
  return lines.join('\n')
}

const child = process.argv.find(arg => arg.startsWith('--child='))?.slice('--child='.length)
if (require.main === module && child !== undefined) {
  measureKind(child as ServerKind, process.argv.includes('--quick')).then(micros => {
    process.stdout.write(JSON.stringify(micros))
  }, error => { console.error(error); process.exitCode = 1 })
} else if (require.main === module) {
  const kindsArg = process.argv.find(arg => arg.startsWith('--kinds='))?.slice('--kinds='.length)
  const kinds = kindsArg === undefined ? OVERHEAD_KINDS : kindsArg.split(',') as ServerKind[]
  runOverhead({ quick: process.argv.includes('--quick'), kinds }).then(result => {
    console.log(formatOverhead(result))
  }, error => { console.error(error); process.exitCode = 1 })
}
