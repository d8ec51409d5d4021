import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, arcSession, read, write } from 'arc-session'
import { useEnvironment } from '../support/environment'
import { tempDirs } from './support/local'
import { thrown } from '../support/config-error'

/**
 * On AWS Lambda (AWS_LAMBDA_FUNCTION_NAME set, ARC_SANDBOX unset) without ARC_APP_SECRET, every
 * instance would seal with a key of its own and each cold start would sign everyone out: arcSession()
 * and the module-level read() refuse with a ConfigError naming ARC_APP_SECRET. Sandbox sets
 * AWS_LAMBDA_FUNCTION_NAME too (with ARC_SANDBOX), and is not refused.
 */

const SECRET = 'lambda-spec-secret-0123456789abcdefghijklmnop'
const SANDBOX = JSON.stringify({ ports: { tables: 5555, _arc: 5556 }, version: '7.1.0' })

const dirs = tempDirs()
afterAll(async () => { await dirs.cleanup() })


/** The error of a call that may throw or reject. */
async function failure (run: () => unknown): Promise<unknown> {
  try {
    await run()
  } catch (error) {
    return error
  }
  return undefined
}

function expectLambdaRefusal (error: unknown): void {
  expect(error).toBeInstanceOf(ConfigError)
  expect(error).toMatchObject({ setting: 'ARC_APP_SECRET', code: 'ARC_SESSION_CONFIG', status: 500 })
  const message = (error as Error).message
  expect(message).toContain('ARC_APP_SECRET')
  expect(message).toMatch(/Lambda/)
  expect(message).toMatch(/cold start/)
}

describe('arcSession() on Lambda', () => {
  it.each([
    ['the cookie store (default)', {}],
    ['the cookie store (jwe)', { ARC_SESSION_TABLE_NAME: 'jwe' }],
    ['DynamoDB', { ARC_SESSION_TABLE_NAME: 'sessions', AWS_REGION: 'us-east-1' }],
    ['with ARC_ENV=testing', { ARC_ENV: 'testing' }],
    ['with NODE_ENV=development', { NODE_ENV: 'development' }]
  ])('%s without a secret: ConfigError, and no key file is made', async (_name, extra) => {
    const keyDir = join(await dirs.make(), 'keys')
    expectLambdaRefusal(thrown(() => arcSession({ env: { AWS_LAMBDA_FUNCTION_NAME: 'my-fn', ARC_SESSION_DEV_KEY_DIR: keyDir, ...extra } })))
    expect(existsSync(keyDir)).toBe(false)
  })

  it('with a secret it starts', async () => {
    const sessions = arcSession({ env: { AWS_LAMBDA_FUNCTION_NAME: 'my-fn', ARC_APP_SECRET: SECRET } })
    const cookie = await sessions.write({ a: 1 })
    expect(JSON.stringify(await sessions.read({ cookies: [cookie.split(';')[0] as string] }))).toBe('{"a":1}')
  })

  it('an empty AWS_LAMBDA_FUNCTION_NAME is not Lambda', async () => {
    const keyDir = join(await dirs.make(), 'keys')
    expect(() => arcSession({ env: { AWS_LAMBDA_FUNCTION_NAME: '', ARC_SESSION_DEV_KEY_DIR: keyDir } })).not.toThrow()
  })

  it('under Sandbox (ARC_SANDBOX set, AWS_LAMBDA_FUNCTION_NAME too) it does not refuse: the development key is used', async () => {
    const keyDir = join(await dirs.make(), 'keys')
    const env = { AWS_LAMBDA_FUNCTION_NAME: 'sandbox-get-index', ARC_SANDBOX: SANDBOX, ARC_ENV: 'testing', ARC_APP_NAME: 'my-app', ARC_SESSION_DEV_KEY_DIR: keyDir }
    const sessions = arcSession({ env })
    const cookie = await sessions.write({ count: 1 })
    expect(existsSync(join(keyDir, 'my-app.key'))).toBe(true)
    // Another configuration (another invocation) reads it.
    expect(JSON.stringify(await arcSession({ env }).read({ cookies: [cookie.split(';')[0] as string] }))).toBe('{"count":1}')
  })
})

describe('the module-level read()/write() on Lambda', () => {
  const keyDir = join(tmpdir(), `arc-session-lambda-spec-${process.pid}`)
  useEnvironment([
    'AWS_LAMBDA_FUNCTION_NAME', 'ARC_SANDBOX', 'ARC_APP_SECRET', 'ARC_APP_SECRET_PREVIOUS', 'ARC_SESSION_TABLE_NAME', 'SESSION_TABLE_NAME',
    'ARC_ENV', 'NODE_ENV', 'ARC_APP_NAME', 'ARC_STACK_NAME', 'ARC_SESSION_DEV_KEY_DIR'
  ], { AWS_LAMBDA_FUNCTION_NAME: 'my-fn', ARC_SESSION_DEV_KEY_DIR: keyDir })
  afterAll(async () => {
    await rm(keyDir, { recursive: true, force: true })
  })

  it('read() refuses without a secret', async () => {
    expectLambdaRefusal(await failure(async () => await read({ headers: {} })))
    expectLambdaRefusal(await failure(async () => await write({ a: 1 })))
    expect(existsSync(keyDir)).toBe(false)
  })

  it('read() calls back with the ConfigError when given a callback', async () => {
    const error = await new Promise(resolve => { read({ headers: {} }, (err: unknown) => { resolve(err) }) })
    expectLambdaRefusal(error)
  })

  it('with ARC_APP_SECRET it works', async () => {
    process.env.ARC_APP_SECRET = SECRET
    const cookie = await write({ a: 1 })
    expect(JSON.stringify(await read({ headers: { cookie: cookie.split(';')[0] } }))).toBe('{"a":1}')
  })

  it('under Sandbox it works without a secret', async () => {
    process.env.ARC_SANDBOX = SANDBOX
    process.env.ARC_ENV = 'testing'
    const cookie = await write({ a: 2 })
    expect(JSON.stringify(await read({ cookies: [cookie.split(';')[0] as string] }))).toBe('{"a":2}')
    expect(existsSync(join(keyDir, 'default.key'))).toBe(true)
  })
})
