import express from 'express'
import request from 'supertest'
import { arcSession, type ArcSessionMiddleware } from 'arc-session'
import { SECRET, errorHandler, getItem, idOf, makeTable, newClient, testEndpoint } from '../support/dynamo-helpers'
import { startArcWorker } from './support/arc-worker'
import { startSsmStandIn, type SsmOptions, type SsmStandIn } from './support/local'

/**
 * Logical table names, as arc resolves them: under Sandbox (ARC_SANDBOX) or deployed (ARC_STACK_NAME,
 * or ARC_APP_NAME + ARC_ENV), the DynamoDB store asks SSM GetParametersByPath({ Path: '/<stack>',
 * Recursive: true }) once per process and takes `/<stack>/tables/<logical>` (or a value equal to the
 * name) as the physical name; not found, the name as given. Sandbox's SSM is played by a stand-in
 * (AWS JSON 1.1, as Sandbox's `/_arc/ssm`), which counts its calls.
 */

const client = newClient()
const TABLES_PORT = (): number => Number(new URL(testEndpoint()).port)
let physical: string
let otherPhysical: string
const standIns: SsmStandIn[] = []

beforeAll(async () => {
  physical = await makeTable('myapp-staging-arc-sessions')
  otherPhysical = await makeTable('not-in-ssm')
})
afterEach(async () => {
  await Promise.all(standIns.splice(0).map(async standIn => { await standIn.close() }))
})
afterAll(() => { client.destroy() })

/** Sandbox's routing (`/_arc/ssm...`) unless told otherwise. */
async function standIn (options: SsmOptions): Promise<SsmStandIn> {
  const started = await startSsmStandIn({ route: '/_arc/ssm', ...options })
  standIns.push(started)
  return started
}

function sandboxEnv (ssm: SsmStandIn, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ARC_SANDBOX: JSON.stringify({ ports: { tables: TABLES_PORT(), _arc: ssm.port }, version: '7.1.0' }),
    ARC_ENV: 'testing',
    ARC_APP_NAME: 'myapp',
    ARC_APP_SECRET: SECRET,
    ARC_SESSION_TABLE_NAME: 'arc-sessions',
    ...extra
  }
}

/** Sandbox's parameters for app `myapp` in `testing`, with some that must not be taken. */
function parameters (table: string = physical): Record<string, string> {
  return {
    '/MyappTesting/events/arc-sessions': 'an-event-topic',
    '/MyappTesting/tables/other': 'myapp-testing-other',
    '/MyappTesting/tables/arc-sessions': table,
    '/OtherAppTesting/tables/arc-sessions': 'someone-elses-table'
  }
}

function counterApp (sessions: ArcSessionMiddleware): express.Express {
  const app = express()
  app.use(sessions)
  app.get('/', (req, res) => {
    req.session.count = (Number(req.session.count) || 0) + 1
    res.json({ count: req.session.count })
  })
  app.use(errorHandler)
  return app
}

function pairOf (setCookie: string): string {
  return setCookie.split(';')[0] as string
}

describe('a logical table name under Sandbox', () => {
  it('is resolved once, through Sandbox\'s SSM, and the app works on the physical table over many requests', async () => {
    const ssm = await standIn({ parameters: parameters() })
    const sessions = arcSession({ env: sandboxEnv(ssm), cookie: { secure: false } })
    const agent = request.agent(counterApp(sessions))
    for (let count = 1; count <= 10; count++) await agent.get('/').expect(200, { count })
    // read()/write() of the same instance: no more discovery either.
    const cookie = await sessions.write({ via: 'write' })
    expect(JSON.stringify(await sessions.read({ cookies: [pairOf(cookie)] }))).toBe('{"via":"write"}')
    expect((await getItem(client, physical, idOf(cookie).id))?.via).toEqual({ S: 'write' })

    expect(ssm.calls).toHaveLength(1)
    const [call] = ssm.calls
    expect(call?.url).toMatch(/^\/_arc\/ssm\/?$/)
    expect(call).toMatchObject({
      host: `localhost:${ssm.port}`,
      target: 'AmazonSSM.GetParametersByPath',
      path: '/MyappTesting',
      recursive: true
    })
    expect(call?.contentType).toMatch(/^application\/x-amz-json-1\.1/)
    expect(call?.authorization).toMatch(/Credential=arcDummyAccessKey\//)
  })

  it('concurrent first requests share one resolution', async () => {
    const ssm = await standIn({ parameters: parameters() })
    const sessions = arcSession({ env: sandboxEnv(ssm) })
    const cookies = await Promise.all(Array.from({ length: 8 }, async (_, n) => await sessions.write({ n })))
    for (const [n, cookie] of cookies.entries()) expect((await getItem(client, physical, idOf(cookie).id))?.n).toEqual({ N: String(n) })
    expect(ssm.calls).toHaveLength(1)
  })

  it('sessions.ready() resolves it (and checks the physical table); requests then ask no more', async () => {
    const ssm = await standIn({ parameters: parameters() })
    const sessions = arcSession({ env: sandboxEnv(ssm) })
    expect(ssm.calls).toHaveLength(0)
    await expect(sessions.ready()).resolves.toBeUndefined()
    expect(ssm.calls).toHaveLength(1)
    for (let n = 0; n < 5; n++) {
      const cookie = await sessions.write({ n })
      await sessions.read({ cookies: [pairOf(cookie)] })
    }
    await sessions.ready()
    expect(ssm.calls).toHaveLength(1)
  })

  it('every process (every arcSession() configuration) resolves once for itself', async () => {
    const ssm = await standIn({ parameters: parameters() })
    const one = arcSession({ env: sandboxEnv(ssm) })
    const two = arcSession({ env: sandboxEnv(ssm) })
    const cookie = await one.write({ shared: true })
    expect(JSON.stringify(await two.read({ cookies: [pairOf(cookie)] }))).toBe('{"shared":true}')
    await one.write({ more: 1 })
    await two.write({ more: 2 })
    expect(ssm.calls).toHaveLength(2)
  })

  it('the stack is arc\'s logical id of ARC_APP_NAME-ARC_ENV (my-app + testing -> MyAppTesting)', async () => {
    const ssm = await standIn({ parameters: { '/MyAppTesting/tables/arc-sessions': physical } })
    const sessions = arcSession({ env: sandboxEnv(ssm, { ARC_APP_NAME: 'my-app' }) })
    const cookie = await sessions.write({ stack: 'MyAppTesting' })
    expect((await getItem(client, physical, idOf(cookie).id))?.stack).toEqual({ S: 'MyAppTesting' })
    expect(ssm.calls.map(call => call.path)).toEqual(['/MyAppTesting'])
  })

  it.each(['my-app', 'my_app', 'MyApp', 'myApp2', 'x', 'get', 'my--odd..app-'])(
    'ARC_APP_NAME %j: the same stack path as the real @architect/functions asks for', async appName => {
      const ssm = await standIn({})
      const env = sandboxEnv(ssm, { ARC_APP_NAME: appName, ARC_SESSION_TABLE_NAME: physical })
      const arc = startArcWorker({ ...env, AWS_REGION: 'us-west-2', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' })
      let arcError: unknown
      try {
        // Sandbox's answer for an unknown stack is no parameters: arc then finds no table and says so.
        await arc.read({ headers: {} }).catch((error: unknown) => { arcError = error })
      } finally {
        await arc.close()
      }
      const arcPaths = ssm.requests.map(call => call.path)
      expect({ arcPaths, arcError: String(arcError) }).toEqual({ arcPaths: [expect.any(String)], arcError: expect.stringMatching(/could not be found/) })
      await arcSession({ env }).write({ appName })
      expect(ssm.requests.map(call => call.path)).toEqual([arcPaths[0], arcPaths[0]])
    })

  it('arc and arc-session, both given the logical name, share sessions on the physical table', async () => {
    const ssm = await standIn({ parameters: parameters() })
    const env = sandboxEnv(ssm)
    const arc = startArcWorker({ ...env, AWS_REGION: 'us-west-2', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' })
    try {
      const sessions = arcSession({ env })
      const ours = pairOf(await sessions.write({ by: 'arc-session' }))
      expect(await arc.read({ headers: { cookie: ours } })).toMatchObject({ _idx: idOf(ours).id, by: 'arc-session' })
      const fresh = await arc.read({ headers: {} })
      const theirs = pairOf(await arc.write({ ...fresh, by: 'arc' }))
      expect(JSON.stringify(await sessions.read({ headers: { cookie: theirs } }))).toBe('{"by":"arc"}')
      expect((await getItem(client, physical, fresh._idx as string))?.by).toEqual({ S: 'arc' })
    } finally {
      await arc.close()
    }
  })

  it('ARC_STACK_NAME names the stack when set', async () => {
    const ssm = await standIn({ parameters: { '/CustomStack/tables/arc-sessions': physical, ...parameters('wrong-table') } })
    const sessions = arcSession({ env: sandboxEnv(ssm, { ARC_STACK_NAME: 'CustomStack' }) })
    const cookie = await sessions.write({ stack: 'custom' })
    expect((await getItem(client, physical, idOf(cookie).id))?.stack).toEqual({ S: 'custom' })
    expect(ssm.calls.map(call => call.path)).toEqual(['/CustomStack'])
  })

  it('the physical name matches too', async () => {
    const ssm = await standIn({ parameters: parameters() })
    const sessions = arcSession({ env: sandboxEnv(ssm, { ARC_SESSION_TABLE_NAME: physical }) })
    const cookie = await sessions.write({ byPhysical: true })
    expect((await getItem(client, physical, idOf(cookie).id))?.byPhysical).toEqual({ BOOL: true })
    expect(ssm.calls).toHaveLength(1)
  })

  it('a name discovery does not know is used as given', async () => {
    const ssm = await standIn({ parameters: parameters() })
    const sessions = arcSession({ env: sandboxEnv(ssm, { ARC_SESSION_TABLE_NAME: otherPhysical }) })
    const cookie = await sessions.write({ asGiven: true })
    expect((await getItem(client, otherPhysical, idOf(cookie).id))?.asGiven).toEqual({ BOOL: true })
    expect(await getItem(client, physical, idOf(cookie).id)).toBeUndefined()
    await sessions.write({ again: true })
    expect(ssm.calls).toHaveLength(1)
  })

  it('pages are followed through NextToken', async () => {
    const ssm = await standIn({ parameters: parameters(), pageSize: 1 })
    const sessions = arcSession({ env: sandboxEnv(ssm) })
    const cookie = await sessions.write({ paged: true })
    expect((await getItem(client, physical, idOf(cookie).id))?.paged).toEqual({ BOOL: true })
    // Three parameters under /MyappTesting, one per page; one resolution.
    expect(ssm.calls.map(call => call.nextToken)).toEqual([undefined, '1', '2'])
    expect(ssm.calls.every(call => call.path === '/MyappTesting' && call.recursive === true)).toBe(true)
    await sessions.write({ paged: 'again' })
    expect(ssm.calls).toHaveLength(3)
  })

  it('a discovery that fails fails the request (503), and the next request tries again', async () => {
    const ssm = await standIn({ parameters: parameters() })
    const sessions = arcSession({ env: sandboxEnv(ssm), cookie: { secure: false } })
    const app = counterApp(sessions)
    ssm.failNext(1000)
    const failed = await request(app).get('/')
    expect(failed.status).toBe(503)
    expect(failed.body).toMatchObject({ code: 'ARC_SESSION_STORE_UNAVAILABLE' })
    expect(ssm.calls).toHaveLength(0)
    ssm.failNext(0)
    await request(app).get('/').expect(200, { count: 1 })
    await request(app).get('/').expect(200, { count: 1 })
    expect(ssm.calls).toHaveLength(1)
  })
})

describe('a logical table name in a deployed app (no Sandbox)', () => {
  // Deployed, SSM is AWS's: the SDK's own AWS_ENDPOINT_URL_SSM (process.env, read by the SDK) points it at the stand-in.
  let saved: string | undefined
  beforeEach(() => { saved = process.env.AWS_ENDPOINT_URL_SSM })
  afterEach(() => {
    if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_SSM
    else process.env.AWS_ENDPOINT_URL_SSM = saved
  })

  function deployedEnv (extra: Record<string, string>): Record<string, string> {
    return {
      ARC_APP_SECRET: SECRET,
      ARC_SESSION_TABLE_NAME: 'arc-sessions',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_DYNAMODB: testEndpoint(),
      ...extra
    }
  }

  it.each([
    ['ARC_STACK_NAME', { ARC_STACK_NAME: 'MyAppProduction', ARC_ENV: 'production' }, '/MyAppProduction'],
    ['ARC_APP_NAME + ARC_ENV', { ARC_APP_NAME: 'my-app', ARC_ENV: 'staging' }, '/MyAppStaging']
  ])('%s: GetParametersByPath under the stack, once', async (_name, extra, path) => {
    const ssm = await standIn({ parameters: { [`${path}/tables/arc-sessions`]: physical }, route: '/' })
    process.env.AWS_ENDPOINT_URL_SSM = `http://127.0.0.1:${ssm.port}`
    const sessions = arcSession({ env: deployedEnv(extra) })
    const cookie = await sessions.write({ deployed: path })
    await sessions.read({ cookies: [pairOf(cookie)] })
    expect((await getItem(client, physical, idOf(cookie).id))?.deployed).toEqual({ S: path })
    expect(ssm.calls).toHaveLength(1)
    expect(ssm.calls[0]).toMatchObject({ target: 'AmazonSSM.GetParametersByPath', path, recursive: true })
  })

  it('without ARC_STACK_NAME, ARC_APP_NAME or ARC_ENV, no discovery: the name is the table', async () => {
    const ssm = await standIn({ parameters: { '/MyAppTesting/tables/arc-sessions': physical }, route: '/' })
    process.env.AWS_ENDPOINT_URL_SSM = `http://127.0.0.1:${ssm.port}`
    const sessions = arcSession({ env: deployedEnv({ ARC_SESSION_TABLE_NAME: otherPhysical, ARC_APP_NAME: 'my-app' }) })
    const cookie = await sessions.write({ plain: true })
    expect((await getItem(client, otherPhysical, idOf(cookie).id))?.plain).toEqual({ BOOL: true })
    expect(ssm.requests).toHaveLength(0)
  })
})
