/**
 * For tests of the module-level read()/write(), which read process.env at call time: each test
 * starts from a clean set of these variables (plus `values`) and leaves process.env as it was.
 */
export function useEnvironment (variables: readonly string[], values: Record<string, string>): void {
  let saved: Record<string, string | undefined> = {}

  beforeEach(() => {
    saved = Object.fromEntries(variables.map(name => [name, process.env[name]]))
    for (const name of variables) delete process.env[name]
    Object.assign(process.env, values)
  })

  afterEach(() => {
    for (const name of variables) {
      const value = saved[name]
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  })
}
