import { createServer } from 'node:http'
import { arcSession, type SessionRequest } from 'arc-session'

const sessions = arcSession()

export const server = createServer((req, res) => {
  sessions(req, res, error => {
    if (error) {
      res.statusCode = (error as { status?: number }).status ?? 500
      res.end('the session could not be loaded')
      return
    }
    const { session } = req as SessionRequest
    session.count = (session.count ?? 0) + 1
    res.setHeader('content-type', 'text/plain')
    res.end(`visit #${session.count}`)      // the Set-Cookie goes out with these headers
  })
})
