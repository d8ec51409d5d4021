/**
 * A/B of arc-session builds on a noisy machine: rounds of short runs, the builds (and bare
 * Express) interleaved, reporting the best and the median of each. Noise on a shared machine
 * comes in bursts and only ever slows a run down, so the best of several rounds is the
 * steadier figure for comparing two builds; the median shows the spread.
 *
 *   tsx bench/ab.ts [--kind=arc-session-jwe] [--routes=counter,read,first] [--rounds=5] [--duration=2]
 *                   label=/abs/path/to/dist [label=/other/dist ...]
 *
 * With no label, the repository's own dist/ is compared with bare Express.
 */
import { ROUTES, SERVER_KINDS, type Route, type ServerKind } from './apps'
import { median } from './common'
import { cookieHeader, get, load, settledStats, startChild } from './harness'

interface Sample { rps: number, cpu: number }

async function measure (kind: ServerKind, dist: string, routes: readonly Route[], duration: number): Promise<Record<string, Sample>> {
  const child = await startChild('server.ts', [kind], { BENCH_ARC_SESSION_DIST: dist })
  const out: Record<string, Sample> = {}
  try {
    const primed = await get(child.port, '/counter')
    const cookie = primed.setCookies.length > 0 ? cookieHeader(primed.setCookies) : undefined
    for (const route of routes) {
      const options = { port: child.port, path: `/${route}`, ...(route === 'first' || cookie === undefined ? {} : { cookie }), connections: 10 }
      await load({ ...options, duration: 0.5 })
      const before = await settledStats(child.port)
      const result = await load({ ...options, duration })
      const after = await settledStats(child.port)
      out[route] = { rps: result.requests.total / result.duration, cpu: (after.cpuMicros - before.cpuMicros) / Math.max(1, after.requests - before.requests) }
    }
  } finally {
    await child.stop()
  }
  return out
}

async function main (): Promise<void> {
  const argv = process.argv.slice(2)
  const option = (name: string): string | undefined => argv.find(arg => arg.startsWith(`--${name}=`))?.slice(name.length + 3)
  const kind = (option('kind') ?? 'arc-session-jwe') as ServerKind
  if (!SERVER_KINDS.includes(kind)) throw new Error(`--kind: one of ${SERVER_KINDS.join(', ')}`)
  const routes = (option('routes')?.split(',') ?? [...ROUTES]) as Route[]
  const rounds = Number(option('rounds') ?? 5)
  const duration = Number(option('duration') ?? 2)
  const builds = argv.filter(arg => !arg.startsWith('--')).map(arg => {
    const eq = arg.indexOf('=')
    if (eq < 1) throw new Error(`expected label=/path/to/dist, got ${arg}`)
    return { label: arg.slice(0, eq), dist: arg.slice(eq + 1) }
  })
  if (builds.length === 0) builds.push({ label: 'dist', dist: '' })
  const variants = [{ label: 'express', kind: 'express' as ServerKind, dist: '' }, ...builds.map(b => ({ ...b, kind }))]

  const samples = new Map<string, Sample[]>()
  for (let round = 0; round < rounds; round++) {
    // A different order each round, so no build always follows the same neighbour.
    const order = variants.map((v, i) => variants[(i + round) % variants.length] as typeof v)
    for (const variant of order) {
      const result = await measure(variant.kind, variant.dist, routes, duration)
      for (const [route, sample] of Object.entries(result)) {
        const key = `${variant.label} ${route}`
        samples.set(key, [...(samples.get(key) ?? []), sample])
      }
    }
    process.stderr.write(`round ${round + 1}/${rounds} done\n`)
  }

  console.log('| build | route | best req/s | best % of Express | median req/s | median CPU µs/req |')
  console.log('|---|---|---:|---:|---:|---:|')
  for (const route of routes) {
    const bestExpress = Math.max(...(samples.get(`express ${route}`) ?? []).map(s => s.rps))
    for (const variant of variants) {
      const list = samples.get(`${variant.label} ${route}`) ?? []
      const best = Math.max(...list.map(s => s.rps))
      console.log(`| ${variant.label} | /${route} | ${Math.round(best)} | ${Math.round((best / bestExpress) * 100)}% | ${Math.round(median(list.map(s => s.rps)))} | ${median(list.map(s => s.cpu)).toFixed(0)} |`)
    }
  }
}

main().catch(error => { console.error(error); process.exitCode = 1 })
