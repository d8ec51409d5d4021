import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CreateTableCommand } from '@aws-sdk/client-dynamodb'
import { StoreError, arcSession } from 'arc-session'
import { REGION, SECRET, makeTable, newClient, testEndpoint, uniqueTable } from '../support/dynamo-helpers'
import { CHILD_TIMEOUT, ROOT, cleanEnv, networkAttempts, node, tempDir, writeNetworkGuard, type TempDir } from './support'

/**
 * The first hour, part five: `await sessions.ready()` at start-up, so a missing table, a wrong
 * one or missing credentials are found before the first visitor, each with what to do.
 */

function dynamoSessions (table: string): ReturnType<typeof arcSession> {
  return arcSession({ env: { NODE_ENV: 'test' }, secret: SECRET, table, dynamodb: { endpoint: testEndpoint(), region: REGION } })
}

describe('sessions.ready() on dynalite', () => {
  const client = newClient()
  afterAll(() => { client.destroy() })

  it('a missing table: rejects with a StoreError saying to run npx arc-session create-table <name>', async () => {
    const table = uniqueTable('ready-missing')
    const failure = await dynamoSessions(table).ready().then(() => undefined, (error: unknown) => error)
    expect(failure).toBeInstanceOf(StoreError)
    expect((failure as StoreError).message).toContain(`npx arc-session create-table ${table}`)
    expect((failure as StoreError).message).toContain('does not exist')
    expect((failure as StoreError).code).toBe('ARC_SESSION_STORE')
  })

  it('a table with the wrong key (hash key id): rejects with a StoreError naming _idx', async () => {
    const table = uniqueTable('ready-wrong-key')
    await client.send(new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST'
    }))
    const failure = await dynamoSessions(table).ready().then(() => undefined, (error: unknown) => error)
    expect(failure).toBeInstanceOf(StoreError)
    expect((failure as StoreError).message).toContain('_idx')
    expect((failure as StoreError).message).toContain(`"${table}" has the wrong key`)
    expect((failure as StoreError).message).toContain(`npx arc-session create-table ${table}`)
  })

  it('a table made by createTable(): resolves', async () => {
    const table = await makeTable('ready-good')
    await expect(dynamoSessions(table).ready()).resolves.toBeUndefined()
  })
})

describe('sessions.ready() on the cookie store', () => {
  it('resolves at once: before any I/O could have happened', async () => {
    const sessions = arcSession({ env: {}, secret: SECRET })
    const first = await Promise.race([
      sessions.ready().then(() => 'ready'),
      new Promise(resolve => setImmediate(() => resolve('after I/O')))
    ])
    expect(first).toBe('ready')
  })
})

describe('sessions.ready() without AWS credentials', () => {
  let dir: TempDir
  beforeAll(async () => { dir = await tempDir('arc-session-ready-') })
  afterAll(async () => { await dir?.remove() })

  it('rejects with a StoreError naming AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_PROFILE, and nothing leaves this machine', async () => {
    // Real AWS (a region, no endpoint), no credentials anywhere: no AWS_* variables, empty config
    // and credentials files, an empty HOME, the EC2 metadata service off. The SDK's credential
    // chain fails before any request; the network guard refuses (and reports) any connection off
    // this machine, so the test cannot reach AWS whatever the SDK does.
    const home = join(dir.path, 'home')
    await mkdir(home)
    const empty = join(dir.path, 'empty')
    await writeFile(empty, '')
    const guard = await writeNetworkGuard(dir.path)
    const script = join(dir.path, 'ready.ts')
    await writeFile(script, `
      import { arcSession, StoreError } from ${JSON.stringify(join(ROOT, 'lib', 'index.ts'))}
      const sessions = arcSession({ secret: ${JSON.stringify(SECRET)}, table: 'sessions', dynamodb: { region: 'us-east-1' } })
      sessions.ready().then(
        () => { console.log('@@result ' + JSON.stringify({ ready: true })) },
        (error: Error) => {
          const cause = error.cause as Error | undefined
          console.log('@@result ' + JSON.stringify({ ready: false, isStoreError: error instanceof StoreError, name: error.name, message: error.message, cause: cause?.name }))
        })
    `)
    const run = await node(['--require', guard, '--import', 'tsx', script], {
      cwd: ROOT,
      env: cleanEnv({ HOME: home, AWS_CONFIG_FILE: empty, AWS_SHARED_CREDENTIALS_FILE: empty, NODE_ENV: undefined, NODE_OPTIONS: undefined })
    })
    const line = run.stdout.split('\n').find(text => text.startsWith('@@result '))
    if (line === undefined) throw new Error(`no result (exit ${String(run.code)}):\n${run.stdout}\n${run.stderr}`)
    const result = JSON.parse(line.slice('@@result '.length)) as Record<string, unknown>
    expect(networkAttempts(run.stderr)).toEqual([])
    expect(result).toMatchObject({ ready: false, isStoreError: true, name: 'StoreError', cause: 'CredentialsProviderError' })
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_PROFILE']) expect(result.message).toContain(name)
    expect(result.message).toContain('no usable AWS credentials')
  }, CHILD_TIMEOUT)
})
