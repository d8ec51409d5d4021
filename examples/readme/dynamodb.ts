import express from 'express'
import { arcSession, createTable } from 'arc-session'

export async function createApp () {
  // Once, at deploy time (or: npx arc-session create-table sessions)
  await createTable('sessions')

  const app = express()
  app.use(arcSession({ table: 'sessions' }))     // or ARC_SESSION_TABLE_NAME=sessions
  app.get('/', (req, res) => {
    req.session.count = (req.session.count ?? 0) + 1
    res.send(`#${req.session.count}`)
  })
  return app
}
