import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb'
import { newClient, testEndpoint, uniqueTable } from '../support/dynamo-helpers'
import { CHILD_TIMEOUT, ROOT, cleanEnv, networkAttempts, node, tempDir, writeNetworkGuard, type Run, type TempDir } from './support'

/**
 * The first hour, part four: `npx arc-session create-table`, as a newcomer meets it: the help,
 * the mistakes, a local DynamoDB without any AWS set-up, and no region.
 * The CLI runs from source (lib/cli.ts) through tsx, in a child process, asynchronously.
 */

let home: TempDir
let guard: string

beforeAll(async () => {
  home = await tempDir('arc-session-cli-home-')
  guard = await writeNetworkGuard(home.path)
})

afterAll(async () => {
  await home?.remove()
})

/** The CLI with no AWS account, no region, no ~/.aws: HOME is an empty folder. Every connection off this machine refused and noted. */
async function cli (args: readonly string[], extra: Readonly<Record<string, string | undefined>> = {}): Promise<Run> {
  return await node(['--require', guard, '--import', 'tsx', join(ROOT, 'lib', 'cli.ts'), ...args], {
    cwd: ROOT,
    env: cleanEnv({ HOME: home.path, NODE_OPTIONS: undefined, ...extra })
  })
}

/** stderr without the guard's report. */
const said = (run: Run): string => run.stderr.split('\n').filter(line => !line.startsWith('@@network ')).join('\n').trim()

describe('arc-session --help', () => {
  it.each([['--help'], ['-h'], ['create-table --help']])('%s lists every flag and exits 0', async (words) => {
    const run = await cli(words.split(' '))
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^usage: arc-session create-table <name> \[options\]/)
    for (const flag of ['--endpoint URL', '--region NAME', '--wait SECONDS', '-h, --help']) {
      expect(run.stdout).toMatch(new RegExp(`^\\s+${flag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+\\S`, 'm'))
    }
    expect(said(run)).toBe('')
  }, CHILD_TIMEOUT)
})

describe('arc-session usage mistakes exit 2 and name what is wrong', () => {
  it.each([
    ['an unknown flag', ['create-table', 'sessions', '--bogus'], '--bogus'],
    ['an unknown flag with a value', ['create-table', 'sessions', '--table=sessions'], '--table'],
    ['an unknown short flag', ['create-table', 'sessions', '-x'], '-x'],
    ['--endpoint without a value', ['create-table', 'sessions', '--endpoint'], '--endpoint needs a value'],
    ['--region without a value', ['create-table', 'sessions', '--region'], '--region needs a value'],
    ['--region= empty', ['create-table', 'sessions', '--region='], '--region needs a value'],
    ['--wait without a value', ['create-table', 'sessions', '--wait'], '--wait needs a value'],
    ['--wait that is not a number', ['create-table', 'sessions', '--wait', 'soon'], '--wait takes a number of seconds'],
    ['no table name', ['create-table'], 'the table name is missing'],
    ['no table name, only flags', ['create-table', '--region', 'us-east-1'], 'the table name is missing']
  ])('%s', async (_case, args, named) => {
    const run = await cli(args)
    expect(run.code).toBe(2)
    const stderr = said(run)
    expect(stderr.split('\n')[0]).toContain(named)
    expect(stderr).toContain('usage: arc-session create-table <name> [options]')
    expect(networkAttempts(run.stderr)).toEqual([])
  }, CHILD_TIMEOUT)
})

describe('arc-session create-table on a local DynamoDB, with no AWS set-up at all', () => {
  const client = newClient()
  afterAll(() => { client.destroy() })

  it('creates the table with the user index without AWS_REGION or credentials; a second run says it exists', async () => {
    const name = uniqueTable('first-hour-cli')
    const run = await cli(['create-table', name, '--endpoint', testEndpoint()])
    expect(said(run)).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout).toBe(`table ${name}: created; TTL on _ttl: unsupported; user index: created\n`)
    expect(networkAttempts(run.stderr)).toEqual([])

    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }))
    expect(Table?.KeySchema).toEqual([{ AttributeName: '_idx', KeyType: 'HASH' }])
    expect(Table?.GlobalSecondaryIndexes?.map(index => index.IndexName)).toEqual(['arc-session-user'])

    const again = await cli(['create-table', name, '--endpoint', testEndpoint()])
    expect(again.code).toBe(0)
    expect(again.stdout).toBe(`table ${name}: already exists; TTL on _ttl: unsupported; user index: already there\n`)
  }, 2 * CHILD_TIMEOUT)
})

describe('arc-session create-table with no region anywhere', () => {
  it('exits 2 and names --region, before any connection', async () => {
    const run = await cli(['create-table', 'sessions'])
    expect(run.code).toBe(2)
    const stderr = said(run)
    expect(stderr).toContain('--region')
    expect(stderr).toContain('AWS_REGION')
    expect(stderr).not.toMatch(/^\s+at /m)
    expect(stderr.split('\n').length).toBeLessThanOrEqual(2)
    expect(networkAttempts(run.stderr)).toEqual([])
  }, CHILD_TIMEOUT)

  it('with an AWS config file that names no region (here, an empty one), it still exits 2 and names --region', async () => {
    // The help says the region may come from ~/.aws/config; a config without one (credentials only,
    // a profile without a region) must not end in the SDK's bare "Region is missing".
    const config = join(home.path, 'empty-config')
    await writeFile(config, '')
    const run = await cli(['create-table', 'sessions'], { AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: config })
    const stderr = said(run)
    expect(stderr).not.toMatch(/^\s+at /m)
    expect(stderr).toContain('--region')
    expect(run.code).toBe(2)
    expect(networkAttempts(run.stderr)).toEqual([])
  }, CHILD_TIMEOUT)
})
