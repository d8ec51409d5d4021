import express from 'express'
import { arcSession } from 'arc-session'

export const sessions = arcSession({
  user: 'userId',                                   // the session's user: a data key, or data => data.passport?.user
  registry: 'sessions',                             // the cookie store's record of who holds which session (createTable('sessions'))
  device: req => req.get('user-agent')?.slice(0, 80) // stored with a session when it is bound to a user
})

const app = express()
app.use(sessions)

app.get('/account/devices', async (req, res) => {
  res.json(await sessions.listUserSessions(req.session.userId, req))   // [{ id, createdAt, lastSeenAt, expiresAt, current, device }]
})

app.post('/account/devices/:id/sign-out', async (req, res) => {
  await sessions.revokeSession(req.session.userId, req.params.id)
  res.redirect(303, '/account/devices')
})

app.post('/account/sign-out-everywhere-else', async (req, res) => {
  await sessions.revokeUserSessions(req.session.userId, { except: req.sessionID })
  res.redirect(303, '/account/devices')
})

export { app }
