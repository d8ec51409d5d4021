/**
 * Anything with a Cookie header: a Node/Express request, an API Gateway payload v1 event
 * (`headers.cookie` or `headers.Cookie`, or `multiValueHeaders`), or a v2 event (`cookies`).
 */
export interface RequestLike {
  headers?: Record<string, string | string[] | undefined> | null
  multiValueHeaders?: Record<string, string[] | undefined> | null
  cookies?: unknown
}

export function cookieHeaderOf (request: unknown): string | undefined {
  if (typeof request !== 'object' || request === null) return undefined
  // A Node request: one lookup (the other names are absent there, and looking them up on a
  // request Express has re-parented walks its whole prototype chain).
  const cookie = (request as RequestLike).headers?.cookie
  if (typeof cookie === 'string') return cookie
  const { headers, multiValueHeaders, cookies } = request as RequestLike
  const fromHeaders = headerValue(headers)
  if (fromHeaders !== undefined) return fromHeaders
  const fromMulti = headerValue(multiValueHeaders)
  if (fromMulti !== undefined) return fromMulti
  // Payload v2 splits cookies into an array; cookie-parser's req.cookies is an object, not this.
  if (Array.isArray(cookies)) return cookies.filter(c => typeof c === 'string').join('; ')
  return undefined
}

function headerValue (headers: Record<string, unknown> | null | undefined): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined
  let value = headers.cookie ?? headers.Cookie
  if (value === undefined) {
    const name = Object.keys(headers).find(key => key.toLowerCase() === 'cookie')
    value = name === undefined ? undefined : headers[name]
  }
  if (typeof value === 'string') return value
  if (Array.isArray(value)) return value.filter(v => typeof v === 'string').join('; ')
  return undefined
}
