import { read, write } from 'arc-session'

interface HttpEvent {
  version?: string
  headers?: Record<string, string | undefined>
  cookies?: string[]
}

/**
 * A Lambda behind API Gateway using arc's functional API directly: read the session from
 * the event (payload v1 or v2), change it, write it back as a Set-Cookie header.
 */
export async function handler (event: HttpEvent) {
  const session = await read(event)
  session.count = (session.count ?? 0) + 1
  const cookie = await write(session)
  const body = JSON.stringify({ count: session.count })
  if (event.version === '2.0') {
    return { statusCode: 200, cookies: [cookie], headers: { 'content-type': 'application/json' }, body }
  }
  return { statusCode: 200, multiValueHeaders: { 'Set-Cookie': [cookie] }, headers: { 'content-type': 'application/json' }, body }
}
