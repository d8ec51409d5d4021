import { read, write } from 'arc-session'

// API Gateway (payload v1 or v2), or any object with Node-style headers
export async function handler (req: { headers?: Record<string, string>, cookies?: string[] }) {
  const session = await read(req)
  session.count = (session.count || 0) + 1
  const setCookie = await write(session)          // a Set-Cookie header value
  return { statusCode: 200, headers: { 'set-cookie': setCookie }, body: `#${session.count}` }
}

// The Node-style callback form
export function handlerWithCallbacks (req: { headers?: Record<string, string> }, done: (error: Error | null, cookie?: string) => void): void {
  read(req, (error, session) => {
    if (error || !session) return done(error)
    session.count = (session.count || 0) + 1
    write(session, done)
  })
}
