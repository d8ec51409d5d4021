type Logger = (format: string, ...args: unknown[]) => void

let logger: Logger | undefined

/**
 * `DEBUG=arc-session` shows why cookies were refused and what was written; never key, token or id
 * bytes. The `debug` package is loaded only when DEBUG is set, at the first message: an app that
 * does not ask for logs never pays for loading it.
 */
export function log (format: string, ...args: unknown[]): void {
  if (logger === undefined) {
    const wanted = process.env.DEBUG
    logger = wanted === undefined || wanted === '' ? () => {} : (require('debug') as typeof import('debug'))('arc-session')
  }
  logger(format, ...args)
}
