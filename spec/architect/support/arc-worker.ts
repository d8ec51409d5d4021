/**
 * The real @architect/functions in a child Node process: the shared worker of
 * spec/support/arc-discovery.ts (arc.http.session.read / write, and a whole arc.http handler).
 */
export { startArcWorker, type ArcHttpResult, type ArcSession, type ArcWorker } from '../../support/arc-discovery'

/** An API Gateway payload v2 event, as Sandbox and Lambda give arc.http. */
export function v2Event (method: string, path: string, cookies: readonly string[] = []): object {
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: '',
    cookies: [...cookies],
    headers: { host: 'localhost' },
    requestContext: { http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'spec' } },
    isBase64Encoded: false
  }
}
