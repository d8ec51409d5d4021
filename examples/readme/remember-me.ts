import express from 'express'
import { arcSession } from 'arc-session'

const DAY = 24 * 60 * 60

const app = express()
app.use(express.urlencoded({ extended: false }))
app.use(arcSession({ ttl: DAY, maxLifetime: 90 * DAY }))   // one day unless remembered

app.post('/login', async (req, res) => {
  await req.session.regenerate()
  req.session.name = req.body.name
  if (req.body.remember === 'on') {
    req.session.cookie.maxAge = 30 * DAY * 1000    // ms, as in express-session: this session lives 30 days from each visit
  } else {
    req.session.cookie.expires = false             // ends when the browser closes (and after a day unused)
  }
  res.redirect(303, '/')
})

export { app }
