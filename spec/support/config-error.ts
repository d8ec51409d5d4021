import { inspect } from 'node:util'
import { arcSession, ConfigError, type ArcSessionOptions } from 'arc-session'

/** The ConfigError arcSession(options) throws (failing the test when it throws nothing, or something else). */
export function configErrorOf (options: ArcSessionOptions): ConfigError {
  try {
    arcSession(options)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return error as ConfigError
  }
  throw new Error(`arcSession(${inspect(options)}) did not throw`)
}

/** What `run` throws, or undefined when it throws nothing. */
export function thrown (run: () => unknown): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  return undefined
}
