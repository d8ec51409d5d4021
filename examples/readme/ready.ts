import express from 'express'
import { arcSession } from 'arc-session'

export async function start (table = 'sessions', port = 3000) {
  const sessions = arcSession({ table })
  await sessions.ready()          // the table, its key, TTL and the credentials, checked before any traffic
  const app = express()
  app.use(sessions)
  app.get('/health', async (req, res) => {
    try {
      await sessions.ready()
      res.send('ok')
    } catch (error) {
      res.status(503).send((error as Error).message)
    }
  })
  return app.listen(port)
}
