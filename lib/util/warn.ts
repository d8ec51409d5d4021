/**
 * Warnings that are said once per process, however many times the module is loaded (test runners
 * load it afresh for every file; the registry lives on the process, not in the module).
 */
const REGISTRY = Symbol.for('arc-session.warnings')

type Registry = Set<string>

function registry (): Registry {
  const holder = process as unknown as Record<symbol, Registry | undefined>
  holder[REGISTRY] ??= new Set()
  return holder[REGISTRY]
}

export function warnOnce (code: string, message: string): void {
  const said = registry()
  if (said.has(code)) return
  said.add(code)
  process.emitWarning(message, { code })
}

export function warned (code: string): boolean {
  return registry().has(code)
}
