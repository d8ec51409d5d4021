import { ConfigError, StoreError, StoreUnavailableError } from '../errors'
import { log } from '../util/log'
import { DUMMY_CREDENTIALS } from './dynamodb'
import { nonEmpty, type Env, type SandboxInfo } from './environment'

/**
 * Architect's service discovery, for a session table named by its logical name (`sessions`), as
 * arc resolves it: the SSM parameters under `/<stack>/tables/`, each holding a table's physical
 * name, matched by logical name or by physical name. Deployed, the stack is ARC_STACK_NAME or the
 * logical id of `<ARC_APP_NAME>-<ARC_ENV>`; under Sandbox the parameters come from Sandbox's own
 * SSM on `ports._arc`. Run once per process, at the first request (or `sessions.ready()`).
 */

export const SSM_PACKAGE = '@aws-sdk/client-ssm'

type SsmSdk = typeof import('@aws-sdk/client-ssm')

/** An Architect environment: Sandbox, or a deployed arc app (its stack known). */
export function inArchitect (env: Env, sandbox: SandboxInfo | undefined): boolean {
  return sandbox !== undefined || nonEmpty(env.ARC_STACK_NAME) !== undefined ||
    (nonEmpty(env.ARC_APP_NAME) !== undefined && nonEmpty(env.ARC_ENV) !== undefined)
}

/** arc's logical id: `my-app-staging` -> `MyAppStaging`. */
export function logicalId (text: string): string {
  let name = text.replace(/([A-Z])/g, ' $1')
  if (name.length === 1) return name.toUpperCase()
  name = name.replace(/^[\W_]+|[\W_]+$/g, '').toLowerCase()
  name = name.charAt(0).toUpperCase() + name.slice(1)
  name = name.replace(/[\W_]+(\w|$)/g, (_, char: string) => char.toUpperCase())
  return name === 'Get' ? 'GetIndex' : name
}

export function stackName (env: Env, sandbox: SandboxInfo | undefined): string {
  const stack = nonEmpty(env.ARC_STACK_NAME)
  if (stack !== undefined) return stack
  const app = nonEmpty(env.ARC_APP_NAME) ?? (sandbox !== undefined ? 'arc-app' : undefined)
  if (app === undefined) throw new ConfigError('ARC_APP_NAME', 'is needed (or ARC_STACK_NAME) to find the Architect table a logical name stands for')
  return logicalId(`${app}-${nonEmpty(env.ARC_ENV) ?? 'testing'}`)
}

function loadSsm (): SsmSdk {
  return require(SSM_PACKAGE) as SsmSdk
}

/** Start-up check: discovery needs the SSM client, an optional peer dependency. */
export function checkSsmInstalled (setting: string): void {
  try {
    require.resolve(SSM_PACKAGE)
  } catch {
    throw new ConfigError(setting, `names an Architect table; finding its physical name (arc's service discovery, in SSM) needs ${SSM_PACKAGE}, ` +
      `which is not installed: npm install ${SSM_PACKAGE}`)
  }
}

/** The physical name of the table `name` stands for: resolved once, by the first call of what this returns. */
export function tableFinder (name: string, env: Env, sandbox: SandboxInfo | undefined, region: string | undefined, timeoutMs: number): () => Promise<string> {
  const stack = stackName(env, sandbox)
  return async () => {
    const tables = await discoverTables(stack, env, sandbox, region, timeoutMs)
    const physical = tables[name] ?? Object.values(tables).find(value => value === name)
    if (physical === undefined) {
      log('Architect discovery found no table "%s" in stack %s: using the name as given', name, stack)
      return name
    }
    return physical
  }
}

async function discoverTables (stack: string, env: Env, sandbox: SandboxInfo | undefined, region: string | undefined, timeoutMs: number): Promise<Record<string, string>> {
  const ssm = loadSsm()
  const local = sandbox !== undefined
  if (local && sandbox.ports._arc === undefined) throw new ConfigError('ARC_SANDBOX', 'names no internal port (ports._arc) for Sandbox\'s service discovery')
  const client = new ssm.SSMClient({
    region: region ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? 'us-west-2',
    ...(local ? { endpoint: `http://localhost:${sandbox.ports._arc as number}/_arc/ssm`, credentials: { ...DUMMY_CREDENTIALS } } : {}),
    maxAttempts: 3
  })
  const tables: Record<string, string> = {}
  const prefix = `/${stack}/tables/`
  try {
    let token: string | undefined
    do {
      const page = await client.send(new ssm.GetParametersByPathCommand({ Path: `/${stack}`, Recursive: true, ...(token === undefined ? {} : { NextToken: token }) }),
        { abortSignal: AbortSignal.timeout(timeoutMs) })
      for (const parameter of page.Parameters ?? []) {
        if (parameter.Name?.startsWith(prefix) === true && parameter.Value !== undefined) tables[parameter.Name.slice(prefix.length)] = parameter.Value
      }
      token = page.NextToken
    } while (token !== undefined && token !== '')
  } catch (error) {
    const name = (error as { name?: string }).name ?? 'Error'
    if (local) throw new StoreUnavailableError(`Architect Sandbox's service discovery (port ${sandbox.ports._arc as number}) did not answer (${name}): is Sandbox running?`, { cause: error })
    throw new StoreError(`Architect service discovery (SSM GetParametersByPath under /${stack}) failed (${name}): the function needs ssm:GetParametersByPath on it, ` +
      'or give the table\'s physical name', { cause: error })
  } finally {
    client.destroy()
  }
  return tables
}
