import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { DescribeTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb'
import type { TableDescription } from '@aws-sdk/client-dynamodb'
import express from 'express'
import request from 'supertest'
import { ConfigError, arcSession, createTable } from 'arc-session'
import { REGION, SECRET, cookieFor, countingClient, errorHandler, newClient, randomId, testEndpoint, uniqueTable } from '../support/dynamo-helpers'

/**
 * Making the session table: createTable() and the `arc-session create-table` command,
 * and the promise that the request path never makes tables.
 */

const ROOT = join(__dirname, '..', '..')
/** The CLI from source (lib/cli.ts) through tsx, so the test never runs a stale build. */
const CLI = [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'lib', 'cli.ts')]
/** Generous bound for spawning tsx on a busy machine; not a timing assertion. */
const SPAWN_TIMEOUT = 60_000

interface Run { code: number | null, stdout: string, stderr: string }

/** Run the CLI asynchronously (dynalite lives in this process and must keep answering). */
async function cli (args: readonly string[]): Promise<Run> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], {
      cwd: ROOT,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', chunk => { stdout += chunk as string })
    child.stderr.setEncoding('utf8').on('data', chunk => { stderr += chunk as string })
    child.on('error', reject)
    child.on('close', code => { resolve({ code, stdout, stderr }) })
  })
}

/** A port nothing listens on. */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}

/** The sparse index on _user that lists a user's sessions, projecting what such a list shows. */
function expectUserIndex (table: TableDescription | undefined): void {
  expect(table?.GlobalSecondaryIndexes).toHaveLength(1)
  const index = table?.GlobalSecondaryIndexes?.[0]
  expect(index?.IndexName).toBe('arc-session-user')
  expect(index?.KeySchema).toEqual([{ AttributeName: '_user', KeyType: 'HASH' }])
  expect(index?.Projection?.ProjectionType).toBe('INCLUDE')
  expect([...(index?.Projection?.NonKeyAttributes ?? [])].sort()).toEqual(['_bound', '_created', '_device', '_kind', '_sid', '_touched', '_ttl'])
}

describe('createTable()', () => {
  const client = newClient()
  afterAll(() => { client.destroy() })

  it('makes the table with an _idx string hash key, on-demand billing and the user index; TTL is reported unsupported on dynalite', async () => {
    const name = uniqueTable('create')
    const result = await createTable(name, { endpoint: testEndpoint(), region: REGION })
    expect(result).toEqual({ created: true, ttl: 'unsupported', userIndex: 'created' })

    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }))
    expect(Table?.TableStatus).toBe('ACTIVE')
    expect(Table?.KeySchema).toEqual([{ AttributeName: '_idx', KeyType: 'HASH' }])
    expect(Table?.AttributeDefinitions).toEqual(expect.arrayContaining([
      { AttributeName: '_idx', AttributeType: 'S' },
      { AttributeName: '_user', AttributeType: 'S' }
    ]))
    expect(Table?.AttributeDefinitions).toHaveLength(2)
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST')
    expectUserIndex(Table)
  })

  it('is idempotent: a second call finds the table and reports created: false', async () => {
    const name = uniqueTable('twice')
    expect((await createTable(name, { endpoint: testEndpoint(), region: REGION })).created).toBe(true)
    expect(await createTable(name, { endpoint: testEndpoint(), region: REGION })).toEqual({ created: false, ttl: 'unsupported', userIndex: 'present' })
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }))
    expect(Table?.KeySchema).toEqual([{ AttributeName: '_idx', KeyType: 'HASH' }])
    expect(Table?.GlobalSecondaryIndexes).toHaveLength(1)
  })

  it('accepts a ready client and leaves it open for its owner', async () => {
    const name = uniqueTable('with-client')
    expect(await createTable(name, { client })).toEqual({ created: true, ttl: 'unsupported', userIndex: 'created' })
    // Still usable: createTable did not destroy the caller's client.
    const { TableNames } = await client.send(new ListTablesCommand({}))
    expect(TableNames).toContain(name)
  })

  it('refuses a name DynamoDB would refuse, with a ConfigError naming the rule', async () => {
    await expect(createTable('a', { endpoint: testEndpoint(), region: REGION })).rejects.toThrow(ConfigError)
    await expect(createTable('has space', { endpoint: testEndpoint(), region: REGION })).rejects.toThrow(/table name/)
  })
})

describe('arc-session create-table (CLI)', () => {
  const client = newClient()
  afterAll(() => { client.destroy() })

  it('creates the table and exits 0', async () => {
    const name = uniqueTable('cli')
    const run = await cli(['create-table', name, '--endpoint', testEndpoint(), '--region', REGION])
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout).toContain(`table ${name}: created`)
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }))
    expect(Table?.KeySchema).toEqual([{ AttributeName: '_idx', KeyType: 'HASH' }])
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST')
    expectUserIndex(Table)

    const again = await cli(['create-table', name, `--endpoint=${testEndpoint()}`])
    expect(again.code).toBe(0)
    expect(again.stdout).toContain(`table ${name}: already exists`)
    expect(again.stdout).toContain('user index: already there')
  }, SPAWN_TIMEOUT)

  it.each([
    ['no arguments', []],
    ['an unknown command', ['make-table', 'sessions']],
    ['no table name', ['create-table']],
    ['two table names', ['create-table', 'one-table', 'two-table']],
    ['an unknown option', ['create-table', 'sessions', '--bogus']]
  ])('bad usage (%s) exits 2 with the usage text', async (_case, args) => {
    const run = await cli(args)
    expect(run.code).toBe(2)
    const said = `${run.stdout}${run.stderr}`
    expect(said).toContain('usage: arc-session create-table <name> [options]')
    expect(said).toMatch(/^\s+--endpoint URL\s/m)
  }, SPAWN_TIMEOUT)

  it('--endpoint without a value exits 2 and says so', async () => {
    const run = await cli(['create-table', 'sessions', '--endpoint'])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('--endpoint needs a value')
  }, SPAWN_TIMEOUT)

  it('an unreachable endpoint exits 1 with a readable message naming the table', async () => {
    const port = await closedPort()
    const run = await cli(['create-table', 'unreachable-sessions', '--endpoint', `http://127.0.0.1:${port}`])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('could not create table unreachable-sessions')
    expect(run.stderr).toMatch(/ECONNREFUSED/)
    expect(run.stderr.split('\n').filter(line => line.trim() !== '').length).toBeLessThanOrEqual(3)
    expect(run.stderr).not.toMatch(/^\s+at /m)
  }, SPAWN_TIMEOUT)
})

describe('the request path never creates tables', () => {
  it('a request against a missing table fails, and the table is still missing afterwards', async () => {
    const missing = uniqueTable('never-created')
    const counter = countingClient()
    try {
      const app = express()
      app.use(arcSession({ env: { NODE_ENV: 'test' }, secret: SECRET, table: missing, dynamodb: { client: counter.client } }))
      app.get('/get', (req, res) => { res.json(req.session) })
      app.post('/set', (req, res) => { req.session.user = 'ada'; res.send('ok') })
      app.use(errorHandler)

      await request(app).get('/get').set('Cookie', cookieFor(randomId())).expect(500)
      await request(app).post('/set').expect(500)
      expect(counter.sent.map(command => command.name).sort()).toEqual(['GetItem', 'PutItem'])

      await expect(counter.client.send(new DescribeTableCommand({ TableName: missing }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' })
    } finally {
      counter.client.destroy()
    }
  })

  it('creating the store (arcSession()) makes no DynamoDB call at all', async () => {
    const counter = countingClient()
    try {
      arcSession({ env: { NODE_ENV: 'test' }, secret: SECRET, table: uniqueTable('lazy'), dynamodb: { client: counter.client } })
      await new Promise(resolve => setImmediate(resolve))
      expect(counter.sent).toEqual([])
    } finally {
      counter.client.destroy()
    }
  })
})
