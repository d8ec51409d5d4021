/**
 * From a run's results: the SVG chart (drawn here, no charting library), the numbers
 * block of BENCHMARKS.md, and the verdict on issue 5's targets.
 */
import { ROUTES, SERVERS, SERVER_KINDS, type Route, type ServerKind } from './apps'
import type { OpSummary } from './common'
import { formatOpsMix, type MixResult } from './dynamodb-ops'
import { formatMicro, type MicroResult } from './micro'

export interface Machine {
  cpus: number
  cpuModel: string
  node: string
  platform: string
  memoryGB: number
  loadStart: [number, number, number]
  loadEnd: [number, number, number]
}

export interface Settings {
  quick: boolean
  connections: number
  warmupSeconds: number
  durationSeconds: number
  /** Distinct primed sessions /read and /counter cycle through (1: one cookie, as issue 5 specifies). */
  sessions?: number
}

export interface RouteResult {
  /** Requests per second over the measured window (autocannon: responses / elapsed). */
  rps: number
  /** Milliseconds. */
  p50: number
  p99: number
  requests: number
  errors: number
  timeouts: number
  non2xx: number
  /** rps over bare Express's rps on the same route, same run. */
  ratio: number
  /** Bytes of Set-Cookie header values on one response of this route. */
  setCookieBytes: number
  setCookieCount: number
  /** DynamoDB rows: commands counted on the server's client over the measured window, per request served. */
  opsPerRequest?: { reads: number, writes: number, total: number, byCommand: Record<string, number> }
  /**
   * CPU time the server process used per request served in the window (µs): a figure the
   * machine's other load disturbs far less than requests/s.
   */
  cpuMicrosPerRequest: number
  /** Bare Express's CPU per request on the same route over this server's (≈ the throughput ratio of a CPU-bound server). */
  cpuRatio: number
  /** Load average (1 min) when the route's measurement ended. */
  load1: number
}

export interface ServerResult {
  kind: ServerKind
  label: string
  routes: Partial<Record<Route, RouteResult>>
}

export interface MemoryResult {
  server: ServerKind
  route: Route
  firstRequests: number
  secondRequests: number
  rssFirst: number
  rssSecond: number
  heapFirst: number
  heapSecond: number
  /** (rssSecond - rssFirst) / rssFirst, in percent. */
  growthPercent: number
  errors: number
}

export interface Target {
  name: string
  wanted: string
  measured: string
  met: boolean
  /** Nothing to measure against (e.g. both sides at zero): neither met nor missed. */
  na?: boolean
  /** By how much it is missed (or cleared), in words. */
  margin: string
}

export interface RunResult {
  date: string
  machine: Machine
  /** The lib/ measured (dist/ is built from it first): its commit, and whether it had uncommitted changes. */
  build?: { commit: string, libChanged: boolean }
  settings: Settings
  /** The first row of `servers` (bare Express) is the median of these runs: first, halfway, last. */
  servers: ServerResult[]
  baselineRuns?: ServerResult[]
  micro?: MicroResult
  memory?: MemoryResult
  opsMix?: MixResult
  targets: Target[]
}

const ROUTE_TITLES: Readonly<Record<Route, string>> = {
  counter: '/counter: read + write every request',
  read: '/read: read-only, existing session',
  first: '/first: first visit, no cookie'
}

/** Colours: ours strong, peers muted, each library the same colour in every panel. */
const COLOURS: Readonly<Record<ServerKind, string>> = {
  express: '#9ca3af',
  'arc-session-jwe': '#0f766e',
  'arc-session-dynamodb': '#2563eb',
  'express-session-memory': '#d97706',
  'express-session-dynamodb': '#b45309',
  'cookie-session': '#7c3aed',
  'iron-session': '#be185d',
  'architect-functions': '#64748b'
}

const ROUTE_TARGETS: Partial<Record<Route, number>> = { counter: 0.65, read: 0.9 }

const PEERS: readonly ServerKind[] = ['express-session-memory', 'express-session-dynamodb', 'cookie-session', 'iron-session', 'architect-functions']

function escapeXml (text: string): string {
  return text.replace(/[<>&"']/g, c => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' }[c] as string))
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
const pct = (ratio: number): string => `${Math.round(ratio * 100)}%`

export function machineLine (result: RunResult): string {
  const m = result.machine
  return `${m.cpus} × ${m.cpuModel}, Node ${m.node}, load ${m.loadStart.map(l => l.toFixed(2)).join(' ')} at start`
}

/** Horizontal bars: each library's requests/s as % of bare Express, one panel per route. */
export function renderChart (result: RunResult): string {
  const kinds = SERVER_KINDS.filter(kind => kind !== 'express' && result.servers.some(s => s.kind === kind))
  const width = 960
  const labelWidth = 210
  const barLeft = labelWidth + 10
  const valueWidth = 200
  const barMax = width - barLeft - valueWidth
  const barHeight = 18
  const gap = 6
  const panelTitle = 36
  const top = 78
  const routes = ROUTES.filter(route => result.servers.some(s => s.routes[route] !== undefined))
  let maxRatio = 1.1
  for (const server of result.servers) for (const route of routes) maxRatio = Math.max(maxRatio, server.routes[route]?.ratio ?? 0)
  const scale = barMax / maxRatio
  const panelHeight = panelTitle + kinds.length * (barHeight + gap) + 26
  const legendTop = top + routes.length * panelHeight + 6
  const legendRows = Math.ceil(kinds.length / 4)
  const height = legendTop + legendRows * 22 + 34

  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="13">`)
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`)
  out.push(`<text x="16" y="28" font-size="18" font-weight="600" fill="#111827">Session middleware throughput, % of bare Express (higher is better)</text>`)
  out.push(`<text x="16" y="50" fill="#4b5563">${escapeXml(`${result.date.slice(0, 10)} · ${result.settings.quick ? 'quick run' : 'full run'}: ${result.settings.connections} connections, ${result.settings.durationSeconds} s per route · ${machineLine(result)}`)}</text>`)
  out.push(`<text x="16" y="68" fill="#6b7280" font-size="12">Bare Express (100%, median of its runs) on each route: ${escapeXml(routes.map(route => `${route} ${fmt(result.servers.find(s => s.kind === 'express')?.routes[route]?.rps ?? 0)} req/s`).join(', '))}. Dashed line: issue 5's target for arc-session JWE.</text>`)

  routes.forEach((route, panel) => {
    const y0 = top + panel * panelHeight
    out.push(`<text x="16" y="${y0 + 18}" font-size="14" font-weight="600" fill="#111827">${escapeXml(ROUTE_TITLES[route])}</text>`)
    const barsTop = y0 + panelTitle
    const barsBottom = barsTop + kinds.length * (barHeight + gap) - gap
    // Grid first, bars over it, then the 100% line and the target on top.
    const step = maxRatio > 2.5 ? 0.5 : 0.25
    for (let tick = 0; tick <= maxRatio + 1e-9; tick += step) {
      const x = barLeft + tick * scale
      if (Math.abs(tick - 1) > 1e-9) out.push(`<line x1="${x.toFixed(1)}" y1="${barsTop - 4}" x2="${x.toFixed(1)}" y2="${barsBottom + 4}" stroke="#e5e7eb"/>`)
      out.push(`<text x="${x.toFixed(1)}" y="${barsBottom + 18}" text-anchor="middle" font-size="11" fill="#6b7280">${Math.round(tick * 100)}%</text>`)
    }
    kinds.forEach((kind, index) => {
      const y = barsTop + index * (barHeight + gap)
      const routeResult = result.servers.find(s => s.kind === kind)?.routes[route]
      const ours = kind.startsWith('arc-session')
      out.push(`<text x="${labelWidth}" y="${y + 13}" text-anchor="end" fill="#111827"${ours ? ' font-weight="600"' : ''}>${escapeXml(SERVERS[kind].label)}</text>`)
      if (routeResult === undefined) {
        out.push(`<text x="${barLeft + 4}" y="${y + 13}" fill="#9ca3af">not run</text>`)
        return
      }
      const w = Math.max(1, routeResult.ratio * scale)
      const failed = routeResult.errors + routeResult.non2xx > 0
      out.push(`<rect x="${barLeft}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" rx="2" fill="${COLOURS[kind]}"/>`)
      const value = `${pct(routeResult.ratio)} · ${fmt(routeResult.rps)} req/s${failed ? ' · errors!' : ''}`
      // A white halo keeps the value readable where it crosses the 100% or target line.
      const textX = barLeft + w + 6
      out.push(`<text x="${textX.toFixed(1)}" y="${y + 13}" fill="#111827" stroke="#ffffff" stroke-width="3" paint-order="stroke"${ours ? ' font-weight="600"' : ''}>${escapeXml(value)}</text>`)
    })
    const full = barLeft + scale
    out.push(`<line x1="${full.toFixed(1)}" y1="${barsTop - 4}" x2="${full.toFixed(1)}" y2="${barsBottom + 4}" stroke="#111827" stroke-width="1.5"/>`)
    out.push(`<text x="${(full + 4).toFixed(1)}" y="${barsTop - 8}" font-size="11" fill="#111827">Express</text>`)
    const target = ROUTE_TARGETS[route]
    if (target !== undefined) {
      const x = barLeft + target * scale
      out.push(`<line x1="${x.toFixed(1)}" y1="${barsTop - 4}" x2="${x.toFixed(1)}" y2="${barsBottom + 4}" stroke="#dc2626" stroke-width="1.5" stroke-dasharray="5 4"/>`)
      out.push(`<text x="${(x - 4).toFixed(1)}" y="${barsTop - 8}" text-anchor="end" font-size="11" fill="#dc2626">target ${pct(target)}</text>`)
    }
  })

  // Legend.
  kinds.forEach((kind, index) => {
    const x = 16 + (index % 4) * 235
    const y = legendTop + Math.floor(index / 4) * 22
    out.push(`<rect x="${x}" y="${y}" width="14" height="14" rx="2" fill="${COLOURS[kind]}"/>`)
    out.push(`<text x="${x + 20}" y="${y + 12}" fill="#111827">${escapeXml(SERVERS[kind].label)}</text>`)
  })
  out.push(`<text x="16" y="${height - 12}" font-size="11" fill="#6b7280">Generated by bench/run.ts from its own results (latest.json): autocannon against each server in its own process, one at a time, same machine.</text>`)
  out.push('</svg>')
  return `${out.join('\n')}\n`
}

function opsCell (ops: RouteResult['opsPerRequest']): string {
  if (ops === undefined) return ''
  return `${fmt(ops.total, 2)} (${fmt(ops.reads, 2)} R + ${fmt(ops.writes, 2)} W)`
}

export function throughputTable (result: RunResult): string {
  const lines = [
    '| server | route | req/s | % of Express | p50 ms | p99 ms | errors / non-2xx | Set-Cookie bytes | server CPU µs / request (Express ÷ this) | DynamoDB ops / request |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|'
  ]
  for (const server of result.servers) {
    for (const route of ROUTES) {
      const r = server.routes[route]
      if (r === undefined) continue
      const name = server.kind.startsWith('arc-session') ? `**${server.label}**` : server.label
      lines.push(`| ${name} | /${route} | ${fmt(r.rps)} | ${pct(r.ratio)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${r.errors + r.timeouts} / ${r.non2xx} | ${r.setCookieBytes}${r.setCookieCount > 1 ? ` (${r.setCookieCount} cookies)` : ''} | ${fmt(r.cpuMicrosPerRequest)} (${pct(r.cpuRatio)}) | ${opsCell(r.opsPerRequest)} |`)
    }
  }
  return lines.join('\n')
}

/** Percent-of-Express summary: one row per library, one column per route. */
export function ratioTable (result: RunResult): string {
  const lines = ['| | /counter | /read | /first |', '|---|---:|---:|---:|']
  for (const server of result.servers) {
    const cells = ROUTES.map(route => {
      const r = server.routes[route]
      return r === undefined ? '' : `${pct(r.ratio)}`
    })
    const name = server.kind.startsWith('arc-session') ? `**${server.label}**` : server.label
    lines.push(`| ${name} | ${cells.join(' | ')} |`)
  }
  return lines.join('\n')
}

function perRequest (summary: OpSummary, requests: number): string {
  return `${fmt((summary.reads + summary.writes) / requests, 2)}`
}

export function evaluateTargets (result: RunResult): Target[] {
  const targets: Target[] = []
  const server = (kind: ServerKind): ServerResult | undefined => result.servers.find(s => s.kind === kind)
  const jwe = server('arc-session-jwe')

  for (const [route, wanted] of [['counter', 0.65], ['read', 0.9]] as const) {
    const r = jwe?.routes[route]
    if (r === undefined) continue
    targets.push({
      name: `JWE /${route} ≥ ${pct(wanted)} of bare Express`,
      wanted: `≥ ${pct(wanted)}`,
      measured: pct(r.ratio),
      met: r.ratio >= wanted,
      margin: `${Math.abs(Math.round((r.ratio - wanted) * 100))} points ${r.ratio >= wanted ? 'over' : 'short'}`
    })
    const peers = PEERS.map(kind => ({ kind, ratio: server(kind)?.routes[route]?.ratio })).filter((p): p is { kind: ServerKind, ratio: number } => p.ratio !== undefined)
    if (peers.length > 0) {
      const best = peers.reduce((a, b) => (b.ratio > a.ratio ? b : a))
      targets.push({
        name: `JWE /${route} ahead of every peer`,
        wanted: 'ahead of all',
        measured: `${pct(r.ratio)} vs best peer ${SERVERS[best.kind].label} ${pct(best.ratio)}`,
        met: r.ratio > best.ratio,
        margin: `${Math.abs(Math.round((r.ratio - best.ratio) * 100))} points ${r.ratio > best.ratio ? 'ahead' : 'behind'}`
      })
    }
  }

  const micro = result.micro?.rows.find(row => row.name === 'arc-session JweCodec')
  if (micro !== undefined) {
    targets.push({
      name: 'JWE seal + open within 1.5× of bare node:crypto AES-256-GCM',
      wanted: '≤ 1.50×',
      measured: `${micro.ratio.toFixed(2)}× (${fmt(micro.totalNs)} ns vs ${fmt(result.micro?.rows[0]?.totalNs ?? 0)} ns)`,
      met: micro.ratio <= 1.5,
      margin: micro.ratio <= 1.5 ? `${fmt((1.5 - micro.ratio) * 100)} points to spare` : `over by ${fmt((micro.ratio - 1.5) * 100)} points`
    })
  }

  const ours = server('arc-session-dynamodb')
  const theirs = server('express-session-dynamodb')
  if (ours !== undefined && theirs !== undefined) {
    for (const route of ROUTES) {
      const a = ours.routes[route]?.opsPerRequest
      const b = theirs.routes[route]?.opsPerRequest
      if (a === undefined || b === undefined) continue
      // Per-request averages over thousands of requests: compare them as printed (2 decimals).
      const mine = Math.round(a.total * 100) / 100
      const peer = Math.round(b.total * 100) / 100
      const fewer = mine < peer
      const equalAtZero = mine === 0 && peer === 0
      targets.push({
        name: `DynamoDB /${route}: fewer store ops per request than express-session + connect-dynamodb`,
        wanted: `< ${fmt(b.total, 2)}`,
        measured: `${fmt(a.total, 2)} vs ${fmt(b.total, 2)}`,
        met: fewer,
        ...(equalAtZero ? { na: true } : {}),
        margin: equalAtZero ? 'both make none: nothing to undercut' : fewer ? `${fmt(peer - mine, 2)} fewer per request` : mine === peer ? 'as many' : `${fmt(mine - peer, 2)} more per request`
      })
    }
    for (const route of ['read', 'first'] as const) {
      const a = ours.routes[route]?.opsPerRequest
      if (a === undefined) continue
      targets.push({
        name: `DynamoDB /${route}: no write`,
        wanted: '0 writes',
        measured: `${fmt(a.writes, 3)} writes per request`,
        met: a.writes === 0,
        margin: a.writes === 0 ? 'none' : `${fmt(a.writes, 3)} per request`
      })
    }
  }
  const mix = result.opsMix
  if (mix !== undefined) {
    const a = mix.rows.find(row => row.kind === 'arc-session-dynamodb')
    const b = mix.rows.find(row => row.kind === 'express-session-dynamodb')
    if (a !== undefined && b !== undefined) {
      const total = a.total.reads + a.total.writes
      targets.push({
        name: 'DynamoDB mix (issue 3): ≤ 600 operations, ≤ 100 writes per 1,000 requests',
        wanted: '≤ 600, ≤ 100 W',
        measured: `${total} ops, ${a.total.writes} W (express-session + connect-dynamodb: ${b.total.reads + b.total.writes}, ${b.total.writes} W)`,
        met: total <= 600 && a.total.writes <= 100,
        margin: `${perRequest(a.total, 1000)} vs ${perRequest(b.total, 1000)} ops per request`
      })
    }
  }

  const memory = result.memory
  if (memory !== undefined) {
    targets.push({
      name: `RSS after ${fmt(memory.secondRequests)} /counter requests within 10% of RSS after ${fmt(memory.firstRequests)}`,
      wanted: '≤ +10%',
      measured: `${fmt(memory.rssFirst / 1048576, 1)} MB → ${fmt(memory.rssSecond / 1048576, 1)} MB (${memory.growthPercent >= 0 ? '+' : ''}${fmt(memory.growthPercent, 1)}%)`,
      met: memory.growthPercent <= 10,
      margin: memory.growthPercent <= 10 ? `${fmt(10 - memory.growthPercent, 1)} points to spare` : `over by ${fmt(memory.growthPercent - 10, 1)} points`
    })
  }
  return targets
}

export const RESULTS_START = '<!-- bench:results:start (generated by bench/run.ts: edit outside these markers) -->'
export const RESULTS_END = '<!-- bench:results:end -->'

/** The generated part of BENCHMARKS.md. */
export function resultsBlock (result: RunResult): string {
  const m = result.machine
  const s = result.settings
  const parts: string[] = []
  parts.push(RESULTS_START)
  parts.push('')
  parts.push(`### This run`)
  parts.push('')
  parts.push(`- Date: ${result.date} (${s.quick ? '`npm run bench:quick`' : '`npm run bench`'})`)
  if (result.build !== undefined) parts.push(`- arc-session measured: dist/ built from commit ${result.build.commit}${result.build.libChanged ? ' with uncommitted changes in lib/' : ''}`)
  parts.push(`- Machine: ${m.cpus} CPUs (\`nproc\`), ${m.cpuModel}, ${fmt(m.memoryGB, 1)} GB RAM, ${m.platform}, Node ${m.node}`)
  parts.push(`- Load average (1, 5, 15 min): ${m.loadStart.map(l => l.toFixed(2)).join(', ')} at the start, ${m.loadEnd.map(l => l.toFixed(2)).join(', ')} at the end (the run itself keeps two processes busy, the server and the load generator: about 2 of the end figure is its own)`)
  parts.push(`- Load generator: autocannon, ${s.connections} connections, pipelining 1, ${s.warmupSeconds} s warm-up then ${s.durationSeconds} s measured per route; ${(s.sessions ?? 1) > 1 ? `/read and /counter cycle through ${s.sessions ?? 1} primed sessions` : '/read and /counter send the one primed cookie on every request'}`)
  parts.push('')
  parts.push('### Throughput, % of bare Express (same route, same run)')
  parts.push('')
  const runs = result.baselineRuns ?? []
  if (runs.length > 1) {
    const spread = ROUTES.map(route => {
      const values = runs.map(run => run.routes[route]?.rps ?? 0)
      return `/${route} ${fmt(Math.min(...values))}–${fmt(Math.max(...values))}`
    })
    parts.push(`Bare Express was run ${runs.length} times (first, halfway through, last); the ratios use its median. Its own spread across the run, in requests/s: ${spread.join(', ')}. Differences smaller than that spread are noise.`)
    parts.push('')
  }
  parts.push(ratioTable(result))
  parts.push('')
  parts.push('![Throughput as % of bare Express, per route and library](bench/results/chart.svg)')
  parts.push('')
  parts.push('### All figures')
  parts.push('')
  parts.push(throughputTable(result))
  parts.push('')
  parts.push('Server CPU: user + system CPU time of the server process over the measured window, per request served; "Express ÷ this" is what the throughput ratio would be if the server alone were the bottleneck, and moves much less than requests/s with the machine\'s other load.')
  parts.push('')
  parts.push('Set-Cookie bytes: the Set-Cookie header values (name, value and attributes) of one response of the route, summed over the cookies set. DynamoDB ops / request: commands counted on the server\'s DynamoDB client during the measured window, over the requests served in it (R = GetItem, W = PutItem/UpdateItem/DeleteItem).')
  if (result.micro !== undefined) {
    parts.push('')
    parts.push('### Seal and open, per operation (tinybench, medians)')
    parts.push('')
    if (result.micro.date !== undefined && result.micro.date.slice(0, 16) !== result.date.slice(0, 16)) {
      parts.push(`Measured on its own at ${result.micro.date} (load ${(result.micro.load ?? 0).toFixed(2)}), after the rest of this run (\`--update=micro\`).`)
      parts.push('')
    }
    parts.push(`Plaintext: ${result.micro.plaintext.length} bytes (a counter session with its claims); arc-session's token: ${result.micro.tokenChars} characters; ${result.micro.timeMsPerTask} ms per task; each open takes the next of ${fmt(result.micro.tokens ?? 1)} distinct tokens (no cache can answer it); the floor's IVs come from a random pool, as arc-session's do.`)
    parts.push('')
    parts.push(formatMicro(result.micro))
  }
  if (result.memory !== undefined) {
    const mem = result.memory
    parts.push('')
    parts.push('### Memory')
    parts.push('')
    parts.push(`arc-session JWE, a fresh server, /${mem.route} with the same cookie at ${s.connections} connections; RSS and V8 heap read inside the server process (\`process.memoryUsage()\`, no forced GC):`)
    parts.push('')
    parts.push('| after | RSS | heap used |')
    parts.push('|---:|---:|---:|')
    parts.push(`| ${fmt(mem.firstRequests)} requests | ${fmt(mem.rssFirst / 1048576, 1)} MB | ${fmt(mem.heapFirst / 1048576, 1)} MB |`)
    parts.push(`| ${fmt(mem.secondRequests)} requests | ${fmt(mem.rssSecond / 1048576, 1)} MB | ${fmt(mem.heapSecond / 1048576, 1)} MB |`)
    parts.push(`| growth | ${mem.growthPercent >= 0 ? '+' : ''}${fmt(mem.growthPercent, 1)}% | ${fmt(((mem.heapSecond - mem.heapFirst) / mem.heapFirst) * 100, 1)}% |`)
    if (mem.errors > 0) parts.push(`\n${mem.errors} errors or non-2xx responses during the memory run.`)
  }
  if (result.opsMix !== undefined) {
    parts.push('')
    parts.push('### DynamoDB operations for 1,000 requests (issue 3\'s mix)')
    parts.push('')
    parts.push(formatOpsMix(result.opsMix))
  }
  parts.push('')
  parts.push('### Targets (issue 5)')
  parts.push('')
  parts.push('| target | wanted | measured | verdict |')
  parts.push('|---|---|---|---|')
  for (const t of result.targets) parts.push(`| ${t.name} | ${t.wanted} | ${t.measured} | ${t.na === true ? 'n/a' : t.met ? 'met' : '**missed**'}: ${t.margin} |`)
  parts.push('')
  parts.push(RESULTS_END)
  return parts.join('\n')
}

/** BENCHMARKS.md with its generated block replaced (or the whole file, the first time). */
export function updateBenchmarksMd (existing: string | undefined, result: RunResult): string {
  const block = resultsBlock(result)
  if (existing !== undefined) {
    const start = existing.indexOf(RESULTS_START)
    const end = existing.indexOf(RESULTS_END)
    if (start >= 0 && end > start) return existing.slice(0, start) + block + existing.slice(end + RESULTS_END.length)
  }
  return `# Benchmarks\n\nHow to run: \`npm run bench\` (about 10 minutes) or \`npm run bench:quick\` (CI-sized).\n\n${block}\n`
}
