import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { arcSession } from 'arc-session'
import { getItem, idOf, itemCount, makeTable, newClient, testEndpoint } from '../support/dynamo-helpers'
import { ROOT, resultOf, runNode, startSsmStandIn, tempDirs, tsxArgs, type SsmStandIn } from './support/local'

/**
 * Architect Sandbox runs every invocation in a fresh Node process, with ARC_SANDBOX, ARC_ENV=testing,
 * ARC_APP_NAME and the Lambda variables set, and, in a new project, no ARC_APP_SECRET. A session
 * must survive from one invocation (process) to the next: the counter climbs 1, 2, 3, on the cookie
 * store (Sandbox's default ARC_SESSION_TABLE_NAME=jwe) and on DynamoDB with a logical table name
 * (Sandbox's DynamoDB: dynalite; Sandbox's SSM: a stand-in).
 *
 * Each invocation runs spec/architect/fixtures/invoke.ts (lib/ through tsx, never a stale build)
 * on an API Gateway payload v2 event.
 */

const INVOKE = join(ROOT, 'spec', 'architect', 'fixtures', 'invoke.ts')
const HTTP_PORT = 3333
const EVENTS_PORT = 4444

interface Invocation {
  response?: { statusCode: number, cookies: string[], body: string }
  error?: { name: string, message: string, setting?: string }
  warnings: Array<{ code?: string, message: string }>
  pid: number
}

const client = newClient()
const dirs = tempDirs()
afterAll(async () => {
  client.destroy()
  await dirs.cleanup()
})

/** The environment Sandbox 7 gives a Node Lambda (src/invoke-lambda/env), minus what does not matter here, with no secret. */
function sandboxEnv (arcPort: number, tableName: string, keyDir: string): Record<string, string> {
  const tablesPort = Number(new URL(testEndpoint()).port)
  return {
    PATH: process.env.PATH ?? '',
    AWS_ACCESS_KEY_ID: 'arcDummyAccessKey',
    AWS_SECRET_ACCESS_KEY: 'arcDummySecretKey',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1152',
    AWS_LAMBDA_FUNCTION_NAME: '@http get /',
    AWS_LAMBDA_FUNCTION_VERSION: '$latest',
    AWS_LAMBDA_RUNTIME_API: `http://localhost:${arcPort}/request-id`,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    LAMBDA_TASK_ROOT: join(ROOT, 'src', 'http', 'get-index'),
    TZ: 'UTC',
    ARC_APP_NAME: 'myapp',
    ARC_ENV: 'testing',
    ARC_ROLE: 'SandboxRole',
    ARC_SESSION_TABLE_NAME: tableName,
    ARC_SANDBOX: JSON.stringify({
      apiType: 'http',
      cwd: ROOT,
      ports: { http: HTTP_PORT, events: EVENTS_PORT, tables: tablesPort, _arc: arcPort },
      staticPath: join(ROOT, 'public'),
      version: '7.1.0',
      lambdaSrc: join(ROOT, 'src', 'http', 'get-index')
    }),
    ARC_SESSION_DEV_KEY_DIR: keyDir
  }
}

/** `GET /` as API Gateway (payload v2) hands it to the function. */
function event (cookies: readonly string[]): object {
  return {
    version: '2.0',
    routeKey: 'GET /',
    rawPath: '/',
    rawQueryString: '',
    cookies: [...cookies],
    headers: { host: `localhost:${HTTP_PORT}`, 'user-agent': 'spec' },
    requestContext: { http: { method: 'GET', path: '/', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'spec' }, stage: '$default' },
    isBase64Encoded: false
  }
}

async function invoke (env: Record<string, string>, cookies: readonly string[]): Promise<Invocation> {
  return resultOf<Invocation>(await runNode(tsxArgs(INVOKE, JSON.stringify(event(cookies))), { env, timeoutMs: 20000 }))
}

/** Three invocations, each a new process, each sending back the cookie the last one set. */
async function threeInvocations (env: Record<string, string>): Promise<Invocation[]> {
  const invocations: Invocation[] = []
  let cookies: string[] = []
  for (let n = 0; n < 3; n++) {
    const invocation = await invoke(env, cookies)
    if (invocation.response === undefined) throw new Error(`invocation ${n + 1} failed: ${JSON.stringify(invocation.error)}`)
    invocations.push(invocation)
    cookies = invocation.response.cookies.map(cookie => cookie.split(';')[0] as string)
  }
  return invocations
}

function countsOf (invocations: readonly Invocation[]): number[] {
  return invocations.map(invocation => (JSON.parse(invocation.response?.body ?? '{}') as { count: number }).count)
}

function pairOf (invocation: Invocation): string {
  return (invocation.response?.cookies[0] ?? '').split(';')[0] as string
}

function expectSandboxShaped (invocations: readonly Invocation[], keyDir: string): void {
  expect(new Set(invocations.map(invocation => invocation.pid)).size).toBe(invocations.length)
  for (const invocation of invocations) {
    expect(invocation.response?.statusCode).toBe(200)
    expect(invocation.response?.cookies).toHaveLength(1)
    const cookie = invocation.response?.cookies[0] ?? ''
    expect(cookie).toMatch(/^_idx=[^;]+; /)
    // ARC_ENV=testing: not Secure (arc's rule), so the browser keeps it over http://localhost.
    expect(cookie).not.toMatch(/;\s*Secure/i)
    const codes = invocation.warnings.map(warning => warning.code)
    expect(codes).toContain('ARC_SESSION_DEVELOPMENT_KEY')
    expect(codes).not.toContain('ARC_SESSION_EPHEMERAL_KEY')
    expect(invocation.warnings.find(warning => warning.code === 'ARC_SESSION_DEVELOPMENT_KEY')?.message).toContain(join(keyDir, 'myapp.key'))
  }
}

describe('Sandbox-shaped invocations, one process each, no secret', () => {
  let ssm: SsmStandIn
  beforeEach(async () => { ssm = await startSsmStandIn({ route: '/_arc/ssm' }) })
  afterEach(async () => { await ssm.close() })

  it('the cookie store (ARC_SESSION_TABLE_NAME=jwe): the counter climbs 1, 2, 3', async () => {
    const keyDir = join(await dirs.make(), 'keys')
    const invocations = await threeInvocations(sandboxEnv(ssm.port, 'jwe', keyDir))
    expect(countsOf(invocations)).toEqual([1, 2, 3])
    expectSandboxShaped(invocations, keyDir)
    expect(await readdir(keyDir)).toEqual(['myapp.key'])
    // The cookie store needs no discovery.
    expect(ssm.requests).toHaveLength(0)

    const key = (await readFile(join(keyDir, 'myapp.key'), 'utf8')).trim()
    expect(JSON.stringify(await arcSession({ env: {}, secret: key }).read({ cookies: [pairOf(invocations[2] as Invocation)] }))).toBe('{"count":3}')
  })

  it('DynamoDB with a logical table name behind Sandbox\'s SSM: the counter climbs 1, 2, 3 in one item of the physical table', async () => {
    const physical = await makeTable('myapp-testing-arc-sessions')
    ssm.put('/MyappTesting/tables/arc-sessions', physical)
    ssm.put('/MyappTesting/tables/data', 'myapp-testing-data')
    const keyDir = join(await dirs.make(), 'keys')

    const invocations = await threeInvocations(sandboxEnv(ssm.port, 'arc-sessions', keyDir))
    expect(countsOf(invocations)).toEqual([1, 2, 3])
    expectSandboxShaped(invocations, keyDir)

    // One session all along: the same id in every cookie, one item holding the count.
    const ids = invocations.map(invocation => idOf(pairOf(invocation)).id)
    expect(new Set(ids).size).toBe(1)
    const id = ids[0] as string
    expect((await getItem(client, physical, id))?.count).toEqual({ N: '3' })
    expect(await itemCount(client, physical)).toBe(1)
    // Each process resolved the logical name once, through Sandbox's SSM.
    expect(ssm.calls).toHaveLength(3)
    for (const call of ssm.calls) expect(call).toMatchObject({ path: '/MyappTesting', recursive: true, target: 'AmazonSSM.GetParametersByPath' })

    // The cookie is signed with the development key file's key.
    const key = (await readFile(join(keyDir, 'myapp.key'), 'utf8')).trim()
    const sessions = arcSession({ env: {}, secret: key, table: physical, dynamodb: { client } })
    expect(JSON.stringify(await sessions.read({ cookies: [pairOf(invocations[2] as Invocation)] }))).toBe('{"count":3}')
  })

  it('the same environment without ARC_SANDBOX (real Lambda), no secret: refused', async () => {
    const keyDir = join(await dirs.make(), 'keys')
    const env = sandboxEnv(ssm.port, 'jwe', keyDir)
    delete env.ARC_SANDBOX
    const refused = await invoke(env, [])
    expect(refused.response).toBeUndefined()
    expect(refused.error).toMatchObject({ name: 'ConfigError', setting: 'ARC_APP_SECRET' })
    expect(refused.error?.message).toMatch(/Lambda/)
  })
})
