import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { ConfigError } from '../errors'
import { loadSdk } from '../stores/dynamodb/sdk'
import { nonEmpty, type Env, type SandboxInfo } from './environment'
import type { DynamoDBOptions } from './options'
import { describe } from './settings'

export const DEFAULT_TIMEOUT = 5

/** The credentials arc and Sandbox use for a local DynamoDB, which checks none. */
export const DUMMY_CREDENTIALS: Readonly<{ accessKeyId: string, secretAccessKey: string }> = { accessKeyId: 'arcDummyAccessKey', secretAccessKey: 'arcDummySecretKey' }

/** Sandbox's region when AWS_REGION is unset, as arc's. */
const LOCAL_REGION = 'us-west-2'

export interface ClientSettings {
  readonly client: DynamoDBClient
  /** Milliseconds an operation may take, retries included. */
  readonly timeoutMs: number
  /** The client talks to a DynamoDB on this machine (Sandbox, dynalite), as far as the settings say. */
  readonly local: boolean
}

/** Names for the errors: library options, or the CLI's flags. */
export interface SettingNames {
  readonly region: string
  readonly endpoint: string
  readonly client: string
  readonly timeout: string
}

export const OPTION_NAMES: SettingNames = {
  region: 'options.dynamodb.region', endpoint: 'options.dynamodb.endpoint', client: 'options.dynamodb.client', timeout: 'options.dynamodb.timeout'
}

/** True for an endpoint on this machine (dynalite, DynamoDB Local, Sandbox). */
export function isLocalEndpoint (endpoint: string): boolean {
  try {
    const { hostname } = new URL(endpoint)
    return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname)
  } catch {
    return false
  }
}

/**
 * The DynamoDB client: the one given, or one made from the options and the environment. Under
 * Architect Sandbox (ARC_SANDBOX) it is Sandbox's local DynamoDB, with dummy credentials, as arc
 * does: never a real AWS table of the same name. A local endpoint without credentials gets the
 * dummy ones too.
 */
export function resolveClient (options: DynamoDBOptions, env: Env, sandbox: SandboxInfo | undefined, names: SettingNames = OPTION_NAMES): ClientSettings {
  const timeout = options.timeout ?? DEFAULT_TIMEOUT
  if (typeof timeout !== 'number' || !(timeout > 0) || timeout > 300) {
    throw new ConfigError(names.timeout, `expected seconds between 0 and 300 (fractions allowed), got ${describe(timeout)}`)
  }
  const timeoutMs = Math.round(timeout * 1000)
  if (options.client !== undefined) {
    if (typeof options.client !== 'object' || options.client === null || typeof (options.client as { send?: unknown }).send !== 'function') {
      throw new ConfigError(names.client, 'expected a DynamoDBClient from @aws-sdk/client-dynamodb')
    }
    return { client: options.client, timeoutMs, local: false }
  }

  let endpoint = options.endpoint
  let endpointName = names.endpoint
  if (endpoint === undefined && sandbox !== undefined) {
    if (sandbox.ports.tables === undefined) {
      throw new ConfigError('ARC_SANDBOX', 'names no DynamoDB port (ports.tables): this Sandbox runs no local tables, and a real AWS table is never used in its place')
    }
    endpoint = `http://localhost:${sandbox.ports.tables}`
    endpointName = 'ARC_SANDBOX'
  }
  if (endpoint === undefined) {
    endpoint = nonEmpty(env.AWS_ENDPOINT_URL_DYNAMODB) ?? nonEmpty(env.AWS_ENDPOINT_URL)
    endpointName = nonEmpty(env.AWS_ENDPOINT_URL_DYNAMODB) !== undefined ? 'AWS_ENDPOINT_URL_DYNAMODB' : 'AWS_ENDPOINT_URL'
  }
  if (endpoint !== undefined && !isHttpUrl(endpoint)) {
    throw new ConfigError(endpointName, `expected an http(s) URL such as http://localhost:4567, got ${describe(endpoint)}`)
  }
  const local = sandbox !== undefined || (endpoint !== undefined && isLocalEndpoint(endpoint))
  const region = options.region ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? (local ? LOCAL_REGION : undefined)
  if (region === undefined && !hasSharedConfig(env)) {
    throw new ConfigError(names.region, `no AWS region for the DynamoDB session table: set AWS_REGION, or ${names.region}${names === OPTION_NAMES ? ', or pass options.dynamodb.client' : ''}`)
  }
  const useDummy = sandbox !== undefined || (local && nonEmpty(env.AWS_ACCESS_KEY_ID) === undefined && nonEmpty(env.AWS_PROFILE) === undefined)
  const { DynamoDBClient } = loadSdk()
  const client = new DynamoDBClient({
    ...(region === undefined ? {} : { region }),
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(useDummy ? { credentials: { ...DUMMY_CREDENTIALS } } : {}),
    maxAttempts: 3,
    requestHandler: { connectionTimeout: Math.min(timeoutMs, 3000), requestTimeout: timeoutMs }
  })
  return { client, timeoutMs, local }
}

function isHttpUrl (text: string): boolean {
  try {
    const url = new URL(text)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}

/** A shared AWS config file that names a region (the SDK would otherwise fail only at the first call). */
function hasSharedConfig (env: Env): boolean {
  try {
    return /^\s*region\s*=\s*\S/m.test(readFileSync(env.AWS_CONFIG_FILE ?? join(homedir(), '.aws', 'config'), 'utf8'))
  } catch {
    return false
  }
}
