/**
 * From a run's results: the SVG chart (drawn here, no charting library), the generated block of
 * BENCHMARKS.md, and the verdict on the targets (issues 5, 12, 13).
 */
import { ROUTES, SERVERS, SERVER_KINDS, STUB_OF, type Route, type ServerKind } from './apps'
import { COLD_LABELS, formatColdStart, type ColdResult } from './cold-start'
import type { OpSummary } from './common'
import { formatOpsMix, formatRegistryMix, type MixResult, type RegistryMixResult } from './dynamodb-ops'
import { CASES, CASE_LABELS, HOSTILE_TARGET, formatHostile, type HostileResult } from './hostile'
import { formatMicro, type MicroResult } from './micro'
import { formatTokenMemory, type TokenMemoryResult } from './token-memory'

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
  /** Interleaved rounds of each shape (bare Express measured in each). */
  rounds: number
  /** Distinct primed sessions of the many-sessions shape. */
  sessions: number
  /** Concurrent /counter requests while priming them. */
  primeConcurrency?: number
}

/** The two shapes of traffic: many distinct sessions (issue 13), and one cookie sent again and again (issue 5). */
export type ShapeId = 'sessions' | 'one-cookie'

export interface Range { min: number, max: number }

export interface RouteResult {
  /** Requests per second over the measured window (autocannon: responses / elapsed). */
  rps: number
  /** Milliseconds, from every response's time (autocannon's own percentiles are whole milliseconds). */
  p50: number
  p99: number
  requests: number
  errors: number
  timeouts: number
  non2xx: number
  /** rps over the median bare Express rps on the same route, same shape, same run. */
  ratio: number
  /** Bytes of Set-Cookie header values on one response of this route. */
  setCookieBytes: number
  setCookieCount: number
  /** DynamoDB rows: commands counted on the server's client over the measured window, per request served. */
  opsPerRequest?: { reads: number, writes: number, total: number, byCommand: Record<string, number> }
  /** CPU time (user + system) of the server process per request served in the window, µs. */
  cpuMicrosPerRequest: number
  /** Bare Express's CPU per request on the same route over this server's (≈ the throughput ratio of a CPU-bound server). */
  cpuRatio: number
  /** Garbage-collection pauses in the server over the window's wall-clock time (0..1). */
  gcShare: number
  gcMicrosPerRequest: number
  /** Stub rows: time inside the in-memory DynamoDB client's send(), µs per request. */
  stubMicrosPerRequest?: number
  /** Load average (1 min) when the route's measurement ended. */
  load1: number
  /** Across rounds (the median row only): how many, and the lowest and highest of each figure. */
  rounds?: number
  rpsRange?: Range
  cpuRange?: Range
  /** (max - min) / median, of rps and of CPU per request: the run-to-run spread. */
  rpsSpread?: number
  cpuSpread?: number
}

export interface ServerResult {
  kind: ServerKind
  label: string
  routes: Partial<Record<Route, RouteResult>>
}

export interface ShapeResult {
  id: ShapeId
  /** Distinct sessions /read and /counter cycle through (1: the same cookie on every request). */
  sessions: number
  /** One row per server: the median of its rounds, ratios against bare Express's median. */
  servers: ServerResult[]
  /** Every round of every server, in the order run. */
  runs: Partial<Record<ServerKind, ServerResult[]>>
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
  /** Nothing to measure against (e.g. both sides at zero, or not run): neither met nor missed. */
  na?: boolean
  /** By how much it is missed (or cleared), in words. */
  margin: string
}

export interface RunResult {
  /** 2: two shapes, rounds (bench/run.ts since issue 13). */
  format: 2
  date: string
  machine: Machine
  /** The lib/ measured (dist/ is built from it first): its commit, and whether it had uncommitted changes. */
  build?: { commit: string, libChanged: boolean }
  settings: Settings
  shapes: ShapeResult[]
  micro?: MicroResult
  memory?: MemoryResult
  opsMix?: MixResult
  registryMix?: RegistryMixResult
  hostile?: HostileResult
  tokenMemory?: TokenMemoryResult
  coldStart?: ColdResult
  targets: Target[]
  /** Seconds the whole run took. */
  seconds?: number
}

const ROUTE_TITLES: Readonly<Record<Route, string>> = {
  counter: '/counter: read + write every request',
  read: '/read: read-only, existing session',
  first: '/first: first visit, no cookie'
}

export const SHAPE_TITLES: Readonly<Record<ShapeId, (sessions: number) => string>> = {
  sessions: sessions => `${fmt(sessions)} sessions`,
  'one-cookie': () => 'one cookie'
}

/** Colours: ours strong, peers muted, each library the same colour in every panel. */
const COLOURS: Readonly<Record<ServerKind, string>> = {
  express: '#9ca3af',
  floor: '#374151',
  'arc-session-jwe': '#0f766e',
  'arc-session-dynamodb': '#2563eb',
  'arc-session-dynamodb-stub': '#93c5fd',
  'express-session-memory': '#d97706',
  'express-session-dynamodb': '#b45309',
  'express-session-dynamodb-stub': '#fcd34d',
  'cookie-session': '#7c3aed',
  'iron-session': '#be185d',
  'architect-functions': '#64748b'
}

/** Issue 13: with many sessions, arc-session JWE against bare Express, by req/s and by CPU per request. */
export const SESSIONS_TARGETS: Readonly<Record<Route, number>> = { counter: 0.75, read: 0.85, first: 0.95 }
/** Issue 5: with one cookie. */
export const ONE_COOKIE_TARGETS: Readonly<Partial<Record<Route, number>>> = { counter: 0.65, read: 0.9 }

const PEERS: readonly ServerKind[] = SERVER_KINDS.filter(kind => SERVERS[kind].role === 'peer')

function escapeXml (text: string): string {
  return text.replace(/[<>&"']/g, c => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' }[c] as string))
}

export const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
const pct = (ratio: number): string => `${Math.round(ratio * 100)}%`
const points = (ratio: number): string => `${Math.abs(Math.round(ratio * 100))} points`

export function machineLine (result: RunResult): string {
  const m = result.machine
  return `${m.cpus} × ${m.cpuModel}, Node ${m.node}, load ${m.loadStart.map(l => l.toFixed(2)).join(' ')} at start`
}

export function shapeOf (result: RunResult, id: ShapeId): ShapeResult | undefined {
  return result.shapes.find(shape => shape.id === id)
}

function shapeTitle (shape: ShapeResult): string {
  return SHAPE_TITLES[shape.id](shape.sessions)
}

const isOurs = (kind: ServerKind): boolean => SERVERS[kind].role === 'ours'
const nameCell = (server: ServerResult): string => (isOurs(server.kind) ? `**${server.label}**` : server.label)

/** Two columns (one per shape), one row of panels per route: each library's req/s as % of bare Express, with its min–max over the rounds. */
export function renderChart (result: RunResult): string {
  const shapes = result.shapes
  const kinds = SERVER_KINDS.filter(kind => kind !== 'express' && SERVERS[kind].role !== 'stub' && shapes.some(shape => shape.servers.some(s => s.kind === kind)))
  const columnWidth = 600
  const width = Math.max(1, shapes.length) * columnWidth
  const labelWidth = 200
  const valueWidth = 110
  const barMax = columnWidth - labelWidth - 10 - valueWidth - 16
  const barHeight = 16
  const gap = 6
  const panelTitle = 40
  const top = 116
  const routes = ROUTES.filter(route => shapes.some(shape => shape.servers.some(s => s.routes[route] !== undefined)))
  let maxRatio = 1.1
  for (const shape of shapes) {
    for (const route of routes) {
      const baseRps = shape.servers.find(s => s.kind === 'express')?.routes[route]?.rps ?? 0
      for (const server of shape.servers) {
        const r = server.routes[route]
        if (r === undefined || server.kind === 'express') continue
        maxRatio = Math.max(maxRatio, r.ratio, baseRps > 0 && r.rpsRange !== undefined ? r.rpsRange.max / baseRps : 0)
      }
    }
  }
  maxRatio = Math.min(maxRatio, 1.6)
  const scale = barMax / maxRatio
  const panelHeight = panelTitle + kinds.length * (barHeight + gap) + 24
  const legendTop = top + routes.length * panelHeight + 4
  const legendRows = Math.ceil(kinds.length / 5)
  const height = legendTop + legendRows * 22 + 30

  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12">`)
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`)
  out.push(`<text x="16" y="28" font-size="18" font-weight="600" fill="#111827">Session middleware throughput, % of bare Express (higher is better)${result.settings.quick ? ' · SMOKE TEST, not for reading' : ''}</text>`)
  out.push(`<text x="16" y="50" fill="#4b5563">${escapeXml(`${result.date.slice(0, 10)} · ${result.settings.quick ? 'quick run (smoke test)' : 'full run'}: ${result.settings.rounds} interleaved rounds per shape, ${result.settings.connections} connections, ${result.settings.durationSeconds} s per route per round · ${machineLine(result)}`)}</text>`)
  out.push(`<text x="16" y="66" fill="#6b7280" font-size="11">Bars: the median over the rounds, against the median of bare Express in the same shape; whiskers: the lowest and the highest round.</text>`)
  out.push(`<text x="16" y="80" fill="#6b7280" font-size="11">Dashed red: the target for arc-session JWE (issue 13 with many sessions, issue 5 with one cookie). The floor: node:crypto alone, one open (and a seal on /counter), no library.</text>`)

  shapes.forEach((shape, column) => {
    const x0 = column * columnWidth
    const bare = shape.servers.find(s => s.kind === 'express')
    out.push(`<text x="${x0 + 16}" y="${top - 12}" font-size="15" font-weight="700" fill="#111827">${escapeXml(shapeTitle(shape))}${shape.id === 'sessions' ? ' (realistic traffic)' : ' (the same cookie on every request)'}</text>`)
    const barLeft = x0 + labelWidth + 10
    routes.forEach((route, panel) => {
      const y0 = top + 10 + panel * panelHeight
      out.push(`<text x="${x0 + 16}" y="${y0 + 18}" font-size="13" font-weight="600" fill="#111827">${escapeXml(ROUTE_TITLES[route])}</text>`)
      const base = bare?.routes[route]
      if (base !== undefined) {
        out.push(`<text x="${x0 + columnWidth - 16}" y="${y0 + 18}" text-anchor="end" font-size="10" fill="#6b7280">${escapeXml(`bare Express (100%): ${fmt(base.rps)} req/s${base.rpsSpread === undefined ? '' : `, spread ${fmt(base.rpsSpread * 100)}%`}`)}</text>`)
      }
      const barsTop = y0 + panelTitle
      const barsBottom = barsTop + kinds.length * (barHeight + gap) - gap
      const step = maxRatio > 2.5 ? 0.5 : 0.25
      for (let tick = 0; tick <= maxRatio + 1e-9; tick += step) {
        const x = barLeft + tick * scale
        if (Math.abs(tick - 1) > 1e-9) out.push(`<line x1="${x.toFixed(1)}" y1="${barsTop - 4}" x2="${x.toFixed(1)}" y2="${barsBottom + 4}" stroke="#e5e7eb"/>`)
        out.push(`<text x="${x.toFixed(1)}" y="${barsBottom + 16}" text-anchor="middle" font-size="10" fill="#6b7280">${Math.round(tick * 100)}%</text>`)
      }
      const baseRps = bare?.routes[route]?.rps ?? 0
      kinds.forEach((kind, index) => {
        const y = barsTop + index * (barHeight + gap)
        const r = shape.servers.find(s => s.kind === kind)?.routes[route]
        const ours = isOurs(kind)
        out.push(`<text x="${x0 + labelWidth}" y="${y + 12}" text-anchor="end" fill="#111827"${ours ? ' font-weight="600"' : ''}>${escapeXml(SERVERS[kind].label)}</text>`)
        if (r === undefined) {
          out.push(`<text x="${barLeft + 4}" y="${y + 12}" fill="#9ca3af">not run</text>`)
          return
        }
        const w = Math.max(1, Math.min(maxRatio, r.ratio) * scale)
        const failed = r.errors + r.non2xx > 0
        out.push(`<rect x="${barLeft}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" rx="2" fill="${COLOURS[kind]}"/>`)
        let textX = barLeft + w + 6
        if (r.rpsRange !== undefined && baseRps > 0) {
          const lo = barLeft + Math.min(maxRatio, r.rpsRange.min / baseRps) * scale
          const hi = barLeft + Math.min(maxRatio, r.rpsRange.max / baseRps) * scale
          const mid = y + barHeight / 2
          // A white halo under each whisker keeps it visible over a dark bar.
          for (const [stroke, strokeWidth] of [['#ffffff', 3], ['#111827', 1]] as const) {
            out.push(`<path d="M${lo.toFixed(1)} ${mid}H${hi.toFixed(1)}M${lo.toFixed(1)} ${mid - 4}V${mid + 4}M${hi.toFixed(1)} ${mid - 4}V${mid + 4}" stroke="${stroke}" stroke-width="${strokeWidth}" fill="none"/>`)
          }
          textX = Math.max(textX, hi + 6)
        }
        const value = `${pct(r.ratio)}${failed ? ' · errors!' : ''}`
        out.push(`<text x="${textX.toFixed(1)}" y="${y + 12}" fill="#111827" stroke="#ffffff" stroke-width="3" paint-order="stroke"${ours ? ' font-weight="600"' : ''}>${escapeXml(value)}</text>`)
      })
      const full = barLeft + scale
      out.push(`<line x1="${full.toFixed(1)}" y1="${barsTop - 4}" x2="${full.toFixed(1)}" y2="${barsBottom + 4}" stroke="#111827" stroke-width="1.5"/>`)
      out.push(`<text x="${(full + 4).toFixed(1)}" y="${barsTop - 8}" font-size="10" fill="#111827">Express</text>`)
      const target = shape.id === 'sessions' ? SESSIONS_TARGETS[route] : ONE_COOKIE_TARGETS[route]
      if (target !== undefined) {
        const x = barLeft + target * scale
        out.push(`<line x1="${x.toFixed(1)}" y1="${barsTop - 4}" x2="${x.toFixed(1)}" y2="${barsBottom + 4}" stroke="#dc2626" stroke-width="1.5" stroke-dasharray="5 4"/>`)
        out.push(`<text x="${(x - 4).toFixed(1)}" y="${barsTop - 8}" text-anchor="end" font-size="10" fill="#dc2626">target ${pct(target)}</text>`)
      }
    })
  })

  kinds.forEach((kind, index) => {
    const x = 16 + (index % 5) * 230
    const y = legendTop + Math.floor(index / 5) * 22
    out.push(`<rect x="${x}" y="${y}" width="14" height="14" rx="2" fill="${COLOURS[kind]}"/>`)
    out.push(`<text x="${x + 20}" y="${y + 11}" fill="#111827">${escapeXml(SERVERS[kind].label)}</text>`)
  })
  out.push(`<text x="16" y="${height - 10}" font-size="10" fill="#6b7280">Generated by bench/run.ts from its own results (latest.json): autocannon against each server in its own process, one at a time, same machine.</text>`)
  out.push('</svg>')
  return `${out.join('\n')}\n`
}

function opsCell (ops: RouteResult['opsPerRequest']): string {
  if (ops === undefined) return ''
  return `${fmt(ops.total, 2)} (${fmt(ops.reads, 2)} R + ${fmt(ops.writes, 2)} W)`
}

const range = (r: Range | undefined, digits = 0): string => (r === undefined ? '' : ` (${fmt(r.min, digits)}–${fmt(r.max, digits)})`)
const spreadCell = (spread: number | undefined): string => (spread === undefined ? '' : `${fmt(spread * 100, 1)}%`)

/** Every figure of one shape: one line per server and route. */
export function figuresTable (shape: ShapeResult): string {
  const lines = [
    '| server | route | req/s: median (min–max) | × bare | CPU µs / request: median (min–max) | × bare by CPU | spread req/s · CPU | p50 ms | p99 ms | GC: % of window (µs / request) | errors / non-2xx | Set-Cookie bytes | DynamoDB ops / request |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
  ]
  for (const server of shape.servers) {
    for (const route of ROUTES) {
      const r = server.routes[route]
      if (r === undefined) continue
      lines.push(`| ${nameCell(server)} | /${route} | ${fmt(r.rps)}${range(r.rpsRange)} | ${pct(r.ratio)} | ${fmt(r.cpuMicrosPerRequest)}${range(r.cpuRange)} | ${pct(r.cpuRatio)} | ${spreadCell(r.rpsSpread)} · ${spreadCell(r.cpuSpread)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.gcShare * 100, 1)}% (${fmt(r.gcMicrosPerRequest, 1)}) | ${r.errors + r.timeouts} / ${r.non2xx} | ${r.setCookieBytes}${r.setCookieCount > 1 ? ` (${r.setCookieCount} cookies)` : ''} | ${opsCell(r.opsPerRequest)} |`)
    }
  }
  return lines.join('\n')
}

/** Percent of bare Express, by req/s and by CPU per request: one row per library, two columns per route. */
export function ratioTable (shape: ShapeResult): string {
  const lines = [
    '| | /counter req/s | /counter CPU | /read req/s | /read CPU | /first req/s | /first CPU |',
    '|---|---:|---:|---:|---:|---:|---:|'
  ]
  for (const server of shape.servers) {
    if (SERVERS[server.kind].role === 'stub') continue
    const cells = ROUTES.flatMap(route => {
      const r = server.routes[route]
      return r === undefined ? ['', ''] : [pct(r.ratio), pct(r.cpuRatio)]
    })
    lines.push(`| ${nameCell(server)} | ${cells.join(' | ')} |`)
  }
  return lines.join('\n')
}

function bareSpreadLine (shape: ShapeResult): string {
  const bare = shape.servers.find(s => s.kind === 'express')
  if (bare === undefined) return ''
  const parts = ROUTES.map(route => {
    const r = bare.routes[route]
    return r === undefined ? '' : `/${route} ${fmt(r.rpsRange?.min ?? r.rps)}–${fmt(r.rpsRange?.max ?? r.rps)} req/s (${spreadCell(r.rpsSpread)}), ${fmt(r.cpuRange?.min ?? r.cpuMicrosPerRequest)}–${fmt(r.cpuRange?.max ?? r.cpuMicrosPerRequest)} µs (${spreadCell(r.cpuSpread)})`
  }).filter(part => part !== '')
  return `Bare Express, ${bare.routes.read?.rounds ?? 1} rounds: ${parts.join('; ')}. A difference between two rows smaller than that spread is noise.`
}

/** arc-session's /read and /counter against the floor (bench/floor.ts) and bare Express. */
export function floorTable (result: RunResult): string | undefined {
  const lines = [
    '| shape | route | bare Express CPU µs | floor CPU µs (× bare req/s) | arc-session JWE CPU µs (× bare req/s) | arc-session over the floor, µs | arc-session\'s req/s ÷ the floor\'s |',
    '|---|---|---:|---:|---:|---:|---:|'
  ]
  let any = false
  for (const shape of result.shapes) {
    const find = (kind: ServerKind): ServerResult | undefined => shape.servers.find(s => s.kind === kind)
    for (const route of ['read', 'counter'] as const) {
      const bare = find('express')?.routes[route]
      const floor = find('floor')?.routes[route]
      const arc = find('arc-session-jwe')?.routes[route]
      if (bare === undefined || floor === undefined || arc === undefined) continue
      any = true
      lines.push(`| ${shapeTitle(shape)} | /${route} | ${fmt(bare.cpuMicrosPerRequest)} | ${fmt(floor.cpuMicrosPerRequest)} (${pct(floor.ratio)}) | ${fmt(arc.cpuMicrosPerRequest)} (${pct(arc.ratio)}) | ${fmt(arc.cpuMicrosPerRequest - floor.cpuMicrosPerRequest)} | ${pct(arc.rps / floor.rps)} |`)
    }
  }
  return any ? lines.join('\n') : undefined
}

/** The DynamoDB rows' CPU split: the store's own (stub − bare − the stub's time) and the SDK's (dynalite − stub). */
export function dynamoSplitTable (result: RunResult): string | undefined {
  const lines = [
    '| shape | library | route | on dynalite, CPU µs | on the stub, CPU µs | of which the stub itself | bare Express | **the library\'s own** (stub − bare − stub itself) | the AWS SDK + HTTP (dynalite − stub) |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|'
  ]
  let any = false
  for (const shape of result.shapes) {
    const find = (kind: ServerKind): ServerResult | undefined => shape.servers.find(s => s.kind === kind)
    for (const [stub, real] of Object.entries(STUB_OF) as Array<[ServerKind, ServerKind]>) {
      for (const route of ROUTES) {
        const s = find(stub)?.routes[route]
        const r = find(real)?.routes[route]
        const bare = find('express')?.routes[route]
        if (s === undefined || bare === undefined) continue
        any = true
        const own = s.cpuMicrosPerRequest - bare.cpuMicrosPerRequest - (s.stubMicrosPerRequest ?? 0)
        const calls = (s.opsPerRequest?.total ?? 0) > 0
        const sdk = r === undefined ? '' : calls ? fmt(r.cpuMicrosPerRequest - s.cpuMicrosPerRequest) : `none: no calls (${fmt(r.cpuMicrosPerRequest - s.cpuMicrosPerRequest)}, noise)`
        lines.push(`| ${shapeTitle(shape)} | ${SERVERS[real].label} | /${route} | ${r === undefined ? 'not run' : fmt(r.cpuMicrosPerRequest)} | ${fmt(s.cpuMicrosPerRequest)} | ${fmt(s.stubMicrosPerRequest ?? 0, 1)} | ${fmt(bare.cpuMicrosPerRequest)} | **${fmt(own)}** | ${sdk} |`)
      }
    }
  }
  return any ? lines.join('\n') : undefined
}

function perRequest (summary: OpSummary, requests: number): string {
  return `${fmt((summary.reads + summary.writes) / requests, 2)}`
}

function ratioTarget (targets: Target[], name: string, value: number, wanted: number): void {
  targets.push({
    name,
    wanted: `≥ ${pct(wanted)}`,
    measured: pct(value),
    met: value >= wanted,
    margin: `${points(value - wanted)} ${value >= wanted ? 'over' : 'short'}`
  })
}

export function evaluateTargets (result: RunResult): Target[] {
  const targets: Target[] = []

  // Issue 13: many sessions, arc-session JWE, Express 5.
  const sessions = shapeOf(result, 'sessions')
  if (sessions !== undefined) {
    const title = shapeTitle(sessions)
    const find = (kind: ServerKind): ServerResult | undefined => sessions.servers.find(s => s.kind === kind)
    const jwe = find('arc-session-jwe')
    const bare = find('express')
    for (const route of ROUTES) {
      const r = jwe?.routes[route]
      const base = bare?.routes[route]
      if (r === undefined || base === undefined) continue
      const wanted = SESSIONS_TARGETS[route]
      ratioTarget(targets, `${title}: JWE /${route} ≥ ${pct(wanted)} of bare Express by req/s`, r.ratio, wanted)
      ratioTarget(targets, `${title}: JWE /${route} ≥ ${pct(wanted)} of bare Express by CPU per request`, r.cpuRatio, wanted)
      const peers = PEERS.map(kind => ({ kind, r: find(kind)?.routes[route] })).filter((p): p is { kind: ServerKind, r: RouteResult } => p.r !== undefined)
      for (const [by, pick, spread] of [
        ['req/s', (x: RouteResult) => x.ratio, base.rpsSpread],
        ['CPU', (x: RouteResult) => x.cpuRatio, base.cpuSpread]
      ] as const) {
        if (peers.length === 0) break
        const best = peers.reduce((a, b) => (pick(b.r) > pick(a.r) ? b : a))
        const lead = pick(r) - pick(best.r)
        const noise = spread ?? 0
        targets.push({
          name: `${title}: JWE /${route} ahead of every peer by ${by}, by more than bare Express's spread`,
          wanted: `> ${fmt(noise * 100, 1)} points`,
          measured: `${pct(pick(r))} vs best peer ${SERVERS[best.kind].label} ${pct(pick(best.r))}`,
          met: lead > noise,
          margin: `${points(lead)} ${lead >= 0 ? 'ahead' : 'behind'}, spread ${fmt(noise * 100, 1)} points`
        })
      }
      if (r.rpsSpread !== undefined && base.rpsSpread !== undefined) {
        targets.push({
          name: `${title}: JWE /${route} req/s spread no wider than bare Express's`,
          wanted: `≤ ${fmt(base.rpsSpread * 100, 1)}%`,
          measured: `${fmt(r.rpsSpread * 100, 1)}% over ${r.rounds ?? 1} rounds`,
          met: r.rpsSpread <= base.rpsSpread,
          margin: `${fmt(Math.abs(r.rpsSpread - base.rpsSpread) * 100, 1)} points ${r.rpsSpread <= base.rpsSpread ? 'narrower' : 'wider'}`
        })
      }
    }
  }

  // Issue 5: one cookie.
  const one = shapeOf(result, 'one-cookie')
  if (one !== undefined) {
    const find = (kind: ServerKind): ServerResult | undefined => one.servers.find(s => s.kind === kind)
    for (const [route, wanted] of Object.entries(ONE_COOKIE_TARGETS) as Array<[Route, number]>) {
      const r = find('arc-session-jwe')?.routes[route]
      if (r === undefined) continue
      ratioTarget(targets, `one cookie (issue 5): JWE /${route} ≥ ${pct(wanted)} of bare Express by req/s`, r.ratio, wanted)
      const peers = PEERS.map(kind => ({ kind, ratio: find(kind)?.routes[route]?.ratio })).filter((p): p is { kind: ServerKind, ratio: number } => p.ratio !== undefined)
      if (peers.length > 0) {
        const best = peers.reduce((a, b) => (b.ratio > a.ratio ? b : a))
        targets.push({
          name: `one cookie (issue 5): JWE /${route} ahead of every peer`,
          wanted: 'ahead of all',
          measured: `${pct(r.ratio)} vs best peer ${SERVERS[best.kind].label} ${pct(best.ratio)}`,
          met: r.ratio > best.ratio,
          margin: `${points(r.ratio - best.ratio)} ${r.ratio > best.ratio ? 'ahead' : 'behind'}`
        })
      }
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

  // Store operations: per request, the same in either shape; the many-sessions shape when it ran.
  const opsShape = sessions ?? one
  const ours = opsShape?.servers.find(s => s.kind === 'arc-session-dynamodb')
  const theirs = opsShape?.servers.find(s => s.kind === 'express-session-dynamodb')
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

  const registry = result.registryMix
  if (registry !== undefined) {
    const used = registry.operations.reads + registry.operations.writes
    targets.push({
      name: 'Users and devices (issue 14): registry operations ≤ logins + logouts + refreshes + checks',
      wanted: `≤ ${registry.bound}`,
      measured: `${used} for ${registry.requests} requests`,
      met: used <= registry.bound,
      margin: `${registry.bound - used} under the bound`
    })
  }

  // Issue 12, item 1.
  for (const row of result.hostile?.rows ?? []) {
    if (row.kind === 'express') continue
    let worst: { name: typeof CASES[number], ratio: number } | undefined
    for (const name of CASES) {
      const m = row.cases[name]
      if (name === 'normal' || m === undefined) continue
      if (worst === undefined || m.ratio > worst.ratio) worst = { name, ratio: m.ratio }
    }
    if (worst === undefined) continue
    targets.push({
      name: `${row.label}: the worst Cookie header (≤ ${fmt(result.hostile?.headerBytes ?? 0)} B) within ${HOSTILE_TARGET}× the CPU of a normal request`,
      wanted: `≤ ${HOSTILE_TARGET.toFixed(2)}×`,
      measured: `${worst.ratio.toFixed(2)}× (${CASE_LABELS[worst.name]})`,
      met: worst.ratio <= HOSTILE_TARGET,
      margin: worst.ratio <= HOSTILE_TARGET ? `${fmt(HOSTILE_TARGET - worst.ratio, 2)}× to spare` : `over by ${fmt(worst.ratio - HOSTILE_TARGET, 2)}×`
    })
  }

  // Issue 12, item 8.
  const tokens = result.tokenMemory
  if (tokens !== undefined) {
    const quarter = tokens.cacheBound / 4
    const kib = (bytes: number): string => `${fmt(bytes / 1024)} KiB`
    targets.push({
      name: `token cache: a middleware retains ≤ ${kib(quarter)} after ${fmt(tokens.invalidTokens)} distinct invalid tokens (none kept)`,
      wanted: `≤ ${kib(quarter)}`,
      measured: `${kib(tokens.retainedInvalid)} (unused: ${kib(tokens.retainedEmpty)})`,
      met: tokens.retainedInvalid <= quarter,
      margin: tokens.retainedInvalid <= quarter ? `${kib(quarter - tokens.retainedInvalid)} to spare` : `over by ${kib(tokens.retainedInvalid - quarter)}`
    })
    targets.push({
      name: `token cache: a middleware retains ≤ the cache's ${fmt(tokens.cacheBound / 1048576)} MiB bound after ${fmt(tokens.validTokens)} distinct valid tokens`,
      wanted: `≤ ${kib(tokens.cacheBound)}`,
      measured: `${kib(tokens.retainedValid)} (the cache counts ${kib(tokens.cacheBytes)})`,
      met: tokens.retainedValid <= tokens.cacheBound && tokens.cacheBytes <= tokens.cacheBound,
      margin: tokens.retainedValid <= tokens.cacheBound ? `${kib(tokens.cacheBound - tokens.retainedValid)} to spare` : `over by ${kib(tokens.retainedValid - tokens.cacheBound)}`
    })
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

export const SMOKE_NOTICE = 'This is a `bench:quick` run: a SMOKE TEST that the harness and every server work end to end, with windows too short and rounds too few for its figures to mean anything. Read the figures of `npm run bench` only.'

function shapeSection (parts: string[], shape: ShapeResult, result: RunResult): void {
  const s = result.settings
  const title = shapeTitle(shape)
  parts.push(shape.id === 'sessions'
    ? `### ${title}: each request carries one of ${fmt(shape.sessions)} distinct sessions`
    : '### One cookie: every request carries the same session')
  parts.push('')
  parts.push(shape.id === 'sessions'
    ? `/read and /counter cycle through ${fmt(shape.sessions)} sessions, each a cookie the server under test issued (primed by one /counter each, ${s.primeConcurrency ?? 16} at a time, before the measurement), so no cache of recently seen tokens can answer most requests: the traffic of a site with many visitors. Bare Express is sent as many distinct Cookie headers of the same size (token-shaped; it ignores them), so the load generator's work and Node's header parsing are the same for every row. ${s.rounds} interleaved rounds; bare Express in each.`
    : `/read and /counter send the one primed cookie on every request (issue 5's shape; any cache of recently seen tokens is at its best); bare Express is sent one Cookie header of the same size. ${s.rounds} interleaved rounds; bare Express in each.`)
  parts.push('')
  const spread = bareSpreadLine(shape)
  if (spread !== '') {
    parts.push(spread)
    parts.push('')
  }
  parts.push('Median over the rounds, as % of the median bare Express of this shape (req/s: higher is faster; CPU: bare Express\'s CPU per request over this row\'s):')
  parts.push('')
  parts.push(ratioTable(shape))
  parts.push('')
  parts.push('<details><summary>All figures</summary>')
  parts.push('')
  parts.push(figuresTable(shape))
  parts.push('')
  parts.push('</details>')
  parts.push('')
}

/** The generated part of BENCHMARKS.md. */
export function resultsBlock (result: RunResult): string {
  const m = result.machine
  const s = result.settings
  const parts: string[] = []
  parts.push(RESULTS_START)
  parts.push('')
  if (s.quick) {
    parts.push(`> **${SMOKE_NOTICE}**`)
    parts.push('')
  }
  parts.push('### This run')
  parts.push('')
  parts.push(`- Date: ${result.date} (${s.quick ? '`npm run bench:quick`, a smoke test' : '`npm run bench`'}${result.seconds === undefined ? '' : `, ${fmt(result.seconds / 60, 1)} minutes`})`)
  if (result.build !== undefined) parts.push(`- arc-session measured: dist/ built from commit ${result.build.commit}${result.build.libChanged ? ' with uncommitted changes in lib/' : ''}`)
  parts.push(`- Machine: ${m.cpus} CPUs (\`nproc\`), ${m.cpuModel}, ${fmt(m.memoryGB, 1)} GB RAM, ${m.platform}, Node ${m.node}`)
  parts.push(`- Load average (1, 5, 15 min): ${m.loadStart.map(l => l.toFixed(2)).join(', ')} at the start, ${m.loadEnd.map(l => l.toFixed(2)).join(', ')} at the end (the run itself keeps two processes busy, the server and the load generator: about 2 of the end figure is its own)`)
  parts.push(`- Load generator: autocannon, ${s.connections} connections, pipelining 1, ${s.warmupSeconds} s warm-up then ${s.durationSeconds} s measured per route, per round; ${s.rounds} rounds of each shape, interleaved (a round of ${fmt(s.sessions)} sessions, then a round of one cookie, and again), every server in a fresh process each time, bare Express first in each round and the libraries in a different order each round`)
  if (!s.quick) parts.push('- `npm run bench:quick` runs every part of this in a few minutes, as a smoke test only: its windows are too short and its rounds too few for its figures to be read or compared with these')
  parts.push('')

  for (const id of ['sessions', 'one-cookie'] as const) {
    const shape = shapeOf(result, id)
    if (shape !== undefined) shapeSection(parts, shape, result)
  }
  parts.push('![Throughput as % of bare Express, per route and library, both shapes](bench/results/chart.svg)')
  parts.push('')
  parts.push('Server CPU: user + system CPU time of the server process over the measured window, per request served; "× bare by CPU" is what the throughput ratio would be if the server alone were the bottleneck, and it moves much less than req/s with the machine\'s other load. Spread: (highest − lowest) ÷ median over the rounds. p50 / p99: from every response\'s time in the measured window. GC: the server\'s garbage-collection pauses (a `perf_hooks` PerformanceObserver of `gc` entries in the server process) over the window\'s wall-clock time, and per request. Set-Cookie bytes: the Set-Cookie values of one response. DynamoDB ops: commands counted on the server\'s client, per request (R = GetItem, W = PutItem/UpdateItem/DeleteItem).')

  const floor = floorTable(result)
  if (floor !== undefined) {
    parts.push('')
    parts.push('### arc-session against the floor')
    parts.push('')
    parts.push(`The floor is ${SERVERS.floor.setup.replace(/\.$/, '')}. It is measured in the same rounds as the rest, and its tokens have arc-session's shape and size (the same header fields and claims).`)
    parts.push('')
    parts.push(floor)
  }

  const split = dynamoSplitTable(result)
  if (split !== undefined) {
    parts.push('')
    parts.push('### DynamoDB: the library\'s CPU apart from the SDK\'s')
    parts.push('')
    parts.push('Method: the DynamoDB rows run twice in each round, once on dynalite through the real AWS SDK client, once on a stub client (`bench/dynamodb-stub.ts`) whose `send()` answers GetItem, PutItem, UpdateItem and DeleteItem from a Map inside the server process, at once (the same items, conditions and errors, the expressions parsed once per distinct string). With the stub, the server does everything but the SDK and the network, so the library\'s own CPU per request is the stub row\'s CPU minus bare Express\'s, minus the time spent inside the stub\'s `send()` (timed with `performance.now()`; it runs synchronously on the main thread); what the real row costs beyond the stub row is the AWS SDK (command middleware, SigV4 signing, JSON marshalling, its HTTP client) and the sockets to dynalite. Medians over the rounds; each is a difference of two noisy figures, so read it to about ±10 µs.')
    parts.push('')
    parts.push(split)
  }

  if (result.hostile !== undefined) {
    const h = result.hostile
    parts.push('')
    parts.push('### Hostile Cookie headers (issue 12, item 1)')
    parts.push('')
    parts.push(`The worst Cookie header that fits Node's 16 KiB header limit, sent on every request of GET /read (${h.warmupSeconds} s warm-up, ${h.durationSeconds} s measured, ${h.connections} connections), against the same server with a normal request (the valid cookie alone). Server CPU µs per request, and × the normal request on the same server; target ≤ ${HOSTILE_TARGET}×. Junk values are shaped like the store's own (JWE: the real header, random IV, ciphertext and tag; DynamoDB: a random id and signature of the real lengths). The DynamoDB store never reads chunk cookies. Bare Express gets the JWE column's headers: the cost of receiving them at all. Header sizes shown are the JWE column's.`)
    parts.push('')
    parts.push(formatHostile(h))
  }

  if (result.tokenMemory !== undefined) {
    const t = result.tokenMemory
    parts.push('')
    parts.push('### Token cache memory (issue 12, item 8)')
    parts.push('')
    parts.push(`arc-session middlewares (cookie store, from dist/), driven through \`read()\` on synthetic requests in a child process with \`--expose-gc\`. Each phase runs on a fresh middleware after a warm-up on another (thrown away); what the middleware retains is the V8 heap with it minus the heap once it is dropped, both after forced full collections, so compiled code and other drift of the process stay out of the figure (read it to about ±100 KiB). Invalid tokens carry the real header and a random IV, ciphertext and tag, so each is tried against the key. Valid tokens are made by the same middleware's \`write()\`, and each is read twice in a row, so half the lookups hit and the cache keeps admitting (its worst case for memory). The cache's bound is ${fmt(t.cacheBound / 1048576)} MiB as it counts bytes (two per character, plus 64 per entry; V8 keeps these strings at one byte per character); a JweStore driven the same way counted ${fmt(t.cacheBytes / 1024)} KiB at the end.${t.wrongAnswers > 0 ? ` **${t.wrongAnswers} reads answered wrongly.**` : ''}`)
    parts.push('')
    parts.push(formatTokenMemory(t))
  }

  if (result.coldStart !== undefined) {
    parts.push('')
    parts.push('### Cold start (issue 15, item 9)')
    parts.push('')
    parts.push(`Each library required in a fresh \`node\` process (${result.coldStart.runs} runs each, in turn, after one untimed round; Node ${result.coldStart.node}): \`require\` is the time of the require call alone; "first request" runs from before the require to the end of the first response: the middleware made (${COLD_LABELS['arc-session']}: \`arcSession({ secret })\`; express-session: \`resave: false, saveUninitialized: false\`; cookie-session: \`keys\`), a node:http server, one GET that writes the session (a Set-Cookie), read by a client in the same process. The last column takes out the median of the same process with no library.`)
    parts.push('')
    parts.push(formatColdStart(result.coldStart))
  }

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
    parts.push('### Memory under load')
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
  if (result.registryMix !== undefined) {
    parts.push('')
    parts.push('### Users and devices: registry operations for a 1,000-request mix (issue 14)')
    parts.push('')
    parts.push(formatRegistryMix(result.registryMix))
    parts.push('')
    parts.push('The bound is logins + logouts + refreshes + one revocation check per user per window: a read-only or counter request between checks makes no registry call.')
  }
  parts.push('')
  parts.push('### Targets')
  parts.push('')
  if (s.quick) {
    parts.push('Smoke test: the verdicts below say the code paths work, not whether the targets are met.')
    parts.push('')
  }
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
  return `# Benchmarks\n\nHow to run: \`npm run bench\` (about 30 minutes) or \`npm run bench:quick\` (a smoke test).\n\n${block}\n`
}
