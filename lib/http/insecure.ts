import type { IncomingMessage } from 'node:http'
import { isExpiring } from '../cookie/serialize'
import { warnOnce, warned } from '../util/warn'

const CODE = 'ARC_SESSION_SECURE_OVER_HTTP'

/**
 * Browsers drop a Secure cookie set over plain http, except from localhost: the session then never
 * sticks, and nothing says why. This finds the case (a plain-http request to another host, with no
 * proxy saying https) so the first such cookie is warned about. It looks only until it has warned.
 */
export function plainHttpHost (req: IncomingMessage, secure: boolean): string | undefined {
  if (!secure || warned(CODE)) return undefined
  if ((req.socket as { encrypted?: boolean } | undefined)?.encrypted === true) return undefined
  const headers = req.headers ?? {}
  const proto = headers['x-forwarded-proto']
  if (typeof proto === 'string' && proto.split(',')[0]?.trim().toLowerCase() === 'https') return undefined
  if (typeof headers.forwarded === 'string' && /proto=https/i.test(headers.forwarded)) return undefined
  const host = hostname(headers.host)
  return host === undefined || isLocal(host) ? undefined : host
}

/** Warns once if a live session cookie is going out to such a host. */
export function warnIfDropped (host: string | undefined, cookies: readonly string[]): void {
  if (host === undefined || !cookies.some(cookie => !isExpiring(cookie))) return
  warnOnce(CODE,
    `a Secure session cookie was set over plain http for ${host}: browsers drop it (they allow that only for localhost), so the session will not stick. ` +
    'In development set cookie: { secure: false } (or NODE_ENV=development); otherwise serve https, or, behind a proxy that ends TLS, make sure it sends X-Forwarded-Proto: https.')
}

function hostname (host: string | undefined): string | undefined {
  if (typeof host !== 'string' || host === '') return undefined
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1).toLowerCase()
  return host.replace(/:\d+$/, '').toLowerCase()
}

function isLocal (host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]'
}
