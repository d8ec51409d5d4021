/**
 * Where a server spends its time on one route: after a 2 s warm-up, the server child profiles
 * itself (node:inspector) while autocannon loads the route; prints the packages and the
 * functions with the most self time.
 *
 *   tsx bench/profile.ts [kind=arc-session-jwe] [route=counter] [seconds=5]
 *
 * The .cpuprofile is left in artifacts/profiles/.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { SERVER_KINDS, ROUTES, type Route, type ServerKind } from './apps'
import { cookieHeader, createTables, get, load, settledStats, startChild } from './harness'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  hitCount?: number
  positionTicks?: Array<{ line: number, ticks: number }>
}

interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
}

function where (url: string): string {
  const modules = url.lastIndexOf('node_modules/')
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/')
    return rest[0]?.startsWith('@') === true ? `${rest[0]}/${rest[1] ?? ''}` : rest[0] ?? url
  }
  if (url.includes('/dist/')) return 'arc-session (dist)'
  if (url.includes('/bench/')) return 'bench'
  if (url.startsWith('node:')) return 'node'
  return url === '' ? '(native / gc / idle)' : url
}

export function summarize (profile: Profile, requests = 0, top = 25): string {
  const total = profile.samples.length
  // Microseconds of this per request served while profiling (when the count is known).
  const perRequest = (hits: number): string => requests > 0 ? `  ${(((hits / total) * (profile.endTime - profile.startTime)) / requests).toFixed(1).padStart(6)} µs/req` : ''
  const byFunction = new Map<string, number>()
  const byPackage = new Map<string, number>()
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0
    if (hits === 0) continue
    const { functionName, url, lineNumber } = node.callFrame
    const file = url.replace(/^file:\/\//, '').replace(/^.*node_modules\//, '').replace(/^.*\/(dist|bench)\//, '$1/')
    const key = `${functionName === '' ? '(anonymous)' : functionName}  ${file === '' ? '' : `${file}:${lineNumber + 1}`}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + hits)
    const pkg = functionName === '(idle)' ? '(idle)' : functionName === '(garbage collector)' ? '(gc)' : where(url)
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + hits)
  }
  const lines = (map: Map<string, number>, n: number): string[] => [...map.entries()]
    .sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([name, hits]) => `${((hits / total) * 100).toFixed(1).padStart(5)}%${perRequest(hits)}  ${name}`)
  const byLine = new Map<string, number>()
  for (const node of profile.nodes) {
    if (!node.callFrame.url.includes('/dist/')) continue
    for (const tick of node.positionTicks ?? []) {
      const key = `${node.callFrame.url.replace(/^.*\/dist\//, 'dist/')}:${tick.line}  (${node.callFrame.functionName || 'anonymous'})`
      byLine.set(key, (byLine.get(key) ?? 0) + tick.ticks)
    }
  }
  return [
    'self time in arc-session (dist/) by line:', ...lines(byLine, 15), '',
    'self time by package:', ...lines(byPackage, 15), '',
    'self time by function:', ...lines(byFunction, top)
  ].join('\n')
}

async function main (): Promise<void> {
  const kind = (process.argv[2] ?? 'arc-session-jwe') as ServerKind
  const route = (process.argv[3] ?? 'counter') as Route
  const seconds = Number(process.argv[4] ?? 5)
  if (!SERVER_KINDS.includes(kind) || !ROUTES.includes(route)) throw new Error(`usage: tsx bench/profile.ts [${SERVER_KINDS.join('|')}] [${ROUTES.join('|')}] [seconds]`)
  const dir = join(__dirname, '..', 'artifacts', 'profiles')
  mkdirSync(dir, { recursive: true })

  const dynamo = kind.endsWith('dynamodb') ? await startChild('dynalite-server.ts', []) : undefined
  const endpoint = dynamo === undefined ? '' : `http://127.0.0.1:${dynamo.port}`
  if (endpoint !== '') await createTables(endpoint)
  const child = await startChild('server.ts', [kind], { BENCH_DYNAMODB_ENDPOINT: endpoint, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' })
  let profile: Profile
  let served = 0
  try {
    const primed = await get(child.port, '/counter')
    const cookie = route === 'first' || primed.setCookies.length === 0 ? undefined : cookieHeader(primed.setCookies)
    const options = { port: child.port, path: `/${route}`, ...(cookie === undefined ? {} : { cookie }), connections: 10 }
    await load({ ...options, duration: 2 })
    const before = await settledStats(child.port)
    const reply = (type: string): Promise<{ profile?: Profile }> => new Promise(resolve => {
      const listener = (message: { type?: string, profile?: Profile }): void => {
        if (message.type === type) { child.process.off('message', listener); resolve(message) }
      }
      child.process.on('message', listener)
    })
    const started = reply('profile:started')
    child.process.send({ type: 'profile:start' })
    await started
    const result = await load({ ...options, duration: seconds })
    served = (await settledStats(child.port)).requests - before.requests
    const stopped = reply('profile')
    child.process.send({ type: 'profile:stop' })
    profile = (await stopped).profile as Profile
    console.log(`${kind} /${route}: ${Math.round(result.requests.total / result.duration)} req/s under the profiler`)
  } finally {
    await child.stop()
    await dynamo?.stop()
  }
  const file = join(dir, `${kind}-${route}.cpuprofile`)
  writeFileSync(file, JSON.stringify(profile))
  console.log(summarize(profile, served))
  console.log(`\nprofile: ${relative(join(__dirname, '..'), file)} (open in Chrome DevTools)`)
}

if (require.main === module) {
  main().catch(error => { console.error(error); process.exitCode = 1 })
}
