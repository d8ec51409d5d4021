import { ConfigError } from '../errors'

type Env = Readonly<Record<string, string | undefined>>

/** A setting's value and the name to blame in an error: the option, or the variable it came from. */
export interface Setting<T> {
  readonly value: T
  readonly name: string
}

/** The option if given, else the first of the environment variables that is set (non-empty). */
export function pick<T> (option: T | undefined, optionName: string, env: Env, variables: readonly string[]): Setting<T | string> | undefined {
  if (option !== undefined) return { value: option, name: optionName }
  for (const variable of variables) {
    const value = env[variable]
    if (value !== undefined && value !== '') return { value, name: variable }
  }
  return undefined
}

/** Whole seconds: a number, or the decimal text of one from the environment. */
export function seconds (setting: Setting<unknown>, { min, fix }: { min: number, fix: string }): number {
  const value = typeof setting.value === 'string' && /^\s*\d+\s*$/.test(setting.value) ? Number(setting.value) : setting.value
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(setting.name, `expected a whole number of seconds${min > 0 ? ` of at least ${min}` : ''}, got ${describe(setting.value)}. ${fix}`)
  }
  return value
}

export function oneOf<T extends string> (setting: Setting<unknown>, allowed: readonly T[], { caseless = false } = {}): T {
  const value = typeof setting.value === 'string' && caseless ? setting.value.toLowerCase() : setting.value
  if (!allowed.includes(value as T)) {
    throw new ConfigError(setting.name, `expected one of ${allowed.join(', ')}, got ${describe(setting.value)}`)
  }
  return value as T
}

export function matching (setting: Setting<unknown>, pattern: RegExp, expected: string): string {
  if (typeof setting.value !== 'string' || !pattern.test(setting.value)) {
    throw new ConfigError(setting.name, `expected ${expected}, got ${describe(setting.value)}`)
  }
  return setting.value
}

/** Values in messages: short, and never for secrets (callers do not pass those here). */
export function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return 'an array'
  return String(value)
}
