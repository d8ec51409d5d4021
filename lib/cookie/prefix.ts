import type { CookieAttributes } from './serialize'

/**
 * The cookie-name prefixes browsers enforce (RFC 6265bis 4.1.3), matched without regard to case
 * as browsers now match them. A cookie that breaks its prefix's rule is dropped without a word,
 * so the session would silently never stick: these are checked once, at start-up.
 *
 * Returns what is wrong, or undefined when the name and attributes agree.
 */
export function prefixProblem (name: string, attributes: CookieAttributes): string | undefined {
  const lower = name.toLowerCase()
  if (lower.startsWith('__host-')) {
    if (!attributes.secure) return '__Host- cookies must be Secure: set cookie.secure: true (browsers accept Secure cookies from http://localhost)'
    if (attributes.domain !== undefined) return '__Host- cookies cannot have a Domain: remove cookie.domain (or ARC_SESSION_DOMAIN), or use a __Secure- name to share across subdomains'
    if (attributes.path !== '/') return '__Host- cookies must have Path=/: remove cookie.path'
    return undefined
  }
  if (lower.startsWith('__secure-') && !attributes.secure) {
    return '__Secure- cookies must be Secure: set cookie.secure: true (browsers accept Secure cookies from http://localhost)'
  }
  return undefined
}
