import { ConfigError } from '../errors'

export type Env = Readonly<Record<string, string | undefined>>

/** A set, non-empty environment variable. */
export function nonEmpty (value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

export function isProduction (env: Env): boolean {
  return env.NODE_ENV === 'production' || env.ARC_ENV === 'production' || env.ARC_ENV === 'staging'
}

/** What Architect Sandbox tells each invocation about itself (ARC_SANDBOX), as far as this package needs it. */
export interface SandboxInfo {
  readonly ports: { readonly tables?: number, readonly _arc?: number }
}

/** Sandbox's description of itself, when running under Sandbox; a ConfigError when ARC_SANDBOX is set but unreadable. */
export function sandboxOf (env: Env): SandboxInfo | undefined {
  const text = nonEmpty(env.ARC_SANDBOX)
  if (text === undefined) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new ConfigError('ARC_SANDBOX', 'is set but is not JSON; Architect Sandbox sets it to {"ports":{...},...}: unset it outside Sandbox')
  }
  const ports = (parsed as { ports?: unknown } | null)?.ports
  if (typeof ports !== 'object' || ports === null) throw new ConfigError('ARC_SANDBOX', 'has no "ports"; Architect Sandbox sets it to {"ports":{...},...}: unset it outside Sandbox')
  const port = (name: string): number | undefined => {
    const value = Number((ports as Record<string, unknown>)[name])
    return Number.isInteger(value) && value > 0 && value < 65536 ? value : undefined
  }
  const tables = port('tables')
  const arc = port('_arc')
  return { ports: { ...(tables === undefined ? {} : { tables }), ...(arc === undefined ? {} : { _arc: arc }) } }
}

/** On AWS Lambda (Sandbox sets AWS_LAMBDA_FUNCTION_NAME too, and is not). */
export function onLambda (env: Env): boolean {
  return nonEmpty(env.AWS_LAMBDA_FUNCTION_NAME) !== undefined && nonEmpty(env.ARC_SANDBOX) === undefined
}
