import { ConfigError, arcSession } from 'arc-session'
import { SECRET, getItem, idOf, makeTable, newClient, testEndpoint } from '../support/dynamo-helpers'
import { startRecordingProxy, startSsmStandIn, type RecordingProxy, type SsmStandIn } from './support/local'
import { thrown } from '../support/config-error'

/**
 * Under Architect Sandbox (ARC_SANDBOX) the DynamoDB store finds Sandbox's DynamoDB by itself:
 * `http://localhost:<ports.tables>`, dummy credentials, region AWS_REGION or us-west-2, whatever
 * else the environment says about AWS; never a real AWS table (no ports.tables: ConfigError).
 *
 * `ports.tables` points at a pass-through to the run's dynalite that records each call's Host and
 * SigV4 Authorization header.
 */

const client = newClient()
let proxy: RecordingProxy
let ssm: SsmStandIn
let table: string

beforeAll(async () => {
  proxy = await startRecordingProxy(testEndpoint())
  // Sandbox's discovery knows no session table here: the name is used as given.
  ssm = await startSsmStandIn()
  table = await makeTable('sandbox-ddb')
})
afterAll(async () => {
  await proxy?.close()
  await ssm?.close()
  client.destroy()
})
beforeEach(() => { proxy.calls.length = 0 })

function sandbox (ports: Record<string, unknown> = { tables: proxy.port, _arc: ssm.port }): string {
  return JSON.stringify({ ports, version: '7.1.0' })
}

function env (extra: Record<string, string> = {}): Record<string, string> {
  return { ARC_SANDBOX: sandbox(), ARC_ENV: 'testing', ARC_APP_NAME: 'myapp', ARC_APP_SECRET: SECRET, ARC_SESSION_TABLE_NAME: table, ...extra }
}

function pairOf (setCookie: string): string {
  return setCookie.split(';')[0] as string
}


/** The credential scope of a SigV4 Authorization header: access key id and region. */
function scopeOf (authorization: string | undefined): { key: string, region: string, service: string } {
  const match = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(authorization ?? '')
  if (match === null) throw new Error(`not a SigV4 header: ${String(authorization)}`)
  return { key: match[1] as string, region: match[2] as string, service: match[3] as string }
}

describe('the DynamoDB store under Sandbox', () => {
  it('uses http://localhost:<ports.tables> with dummy credentials, region us-west-2', async () => {
    const sessions = arcSession({ env: env() })
    const cookie = await sessions.write({ count: 1 })
    const { id } = idOf(cookie)
    expect((await getItem(client, table, id))?.count).toEqual({ N: '1' })
    expect(JSON.stringify(await sessions.read({ cookies: [pairOf(cookie)] }))).toBe('{"count":1}')

    expect(proxy.calls.length).toBeGreaterThanOrEqual(2)
    for (const call of proxy.calls) {
      expect(call.host).toBe(`localhost:${proxy.port}`)
      expect(scopeOf(call.authorization)).toEqual({ key: 'arcDummyAccessKey', region: 'us-west-2', service: 'dynamodb' })
      expect(call.table).toBe(table)
    }
    expect(proxy.calls.map(call => call.target)).toEqual(expect.arrayContaining(['DynamoDB_20120810.PutItem', 'DynamoDB_20120810.GetItem']))
  })

  it('AWS_REGION chooses the region', async () => {
    const sessions = arcSession({ env: env({ AWS_REGION: 'eu-central-1' }) })
    await sessions.write({ a: 1 })
    expect(proxy.calls.length).toBeGreaterThan(0)
    for (const call of proxy.calls) expect(scopeOf(call.authorization).region).toBe('eu-central-1')
  })

  it('AWS credentials, a profile and AWS endpoints in the environment change nothing: still Sandbox\'s DynamoDB, dummy credentials', async () => {
    const sessions = arcSession({
      env: env({
        AWS_ACCESS_KEY_ID: 'AKIAREALLOOKINGKEY00', AWS_SECRET_ACCESS_KEY: 'real-looking-secret', AWS_SESSION_TOKEN: 'token', AWS_PROFILE: 'prod',
        AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9', AWS_ENDPOINT_URL: 'http://127.0.0.1:9'
      })
    })
    const cookie = await sessions.write({ b: 2 })
    expect((await getItem(client, table, idOf(cookie).id))?.b).toEqual({ N: '2' })
    expect(proxy.calls.length).toBeGreaterThan(0)
    for (const call of proxy.calls) {
      expect(call.host).toBe(`localhost:${proxy.port}`)
      expect(scopeOf(call.authorization).key).toBe('arcDummyAccessKey')
    }
  })

  it('ready() checks Sandbox\'s table', async () => {
    await expect(arcSession({ env: env() }).ready()).resolves.toBeUndefined()
    expect(proxy.calls.map(call => call.target)).toContain('DynamoDB_20120810.DescribeTable')
  })

  it.each([
    ['no ports.tables', { _arc: 5556 }],
    ['ports.tables is not a port number', { tables: 'dynamo', _arc: 5556 }],
    ['ports.tables is out of range', { tables: 70000, _arc: 5556 }],
    ['no ports at all', undefined]
  ])('ARC_SANDBOX with %s: ConfigError (never a real AWS table)', (_name, ports) => {
    const arcSandbox = ports === undefined ? JSON.stringify({ version: '7.1.0' }) : sandbox(ports)
    const error = thrown(() => arcSession({ env: env({ ARC_SANDBOX: arcSandbox, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIAREAL', AWS_SECRET_ACCESS_KEY: 'x' }) }))
    expect(error).toBeInstanceOf(ConfigError)
    expect(error).toMatchObject({ setting: 'ARC_SANDBOX' })
    expect(proxy.calls).toHaveLength(0)
  })

  it('ARC_SANDBOX that is not JSON: ConfigError', () => {
    expect(thrown(() => arcSession({ env: env({ ARC_SANDBOX: 'yes' }) }))).toMatchObject({ setting: 'ARC_SANDBOX' })
  })

  it('the cookie store does not need ports.tables', async () => {
    const sessions = arcSession({ env: env({ ARC_SANDBOX: sandbox({ _arc: 5556 }), ARC_SESSION_TABLE_NAME: 'jwe' }) })
    const cookie = await sessions.write({ c: 3 })
    expect(JSON.stringify(await sessions.read({ cookies: [pairOf(cookie)] }))).toBe('{"c":3}')
  })
})
