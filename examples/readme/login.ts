import express from 'express'
import { arcSession } from 'arc-session'

const app = express()
app.use(express.urlencoded({ extended: false }))
app.use(arcSession())

app.post('/login', async (req, res) => {
  // ...check the credentials, then:
  await req.session.regenerate()    // new token or id, new absolute lifetime: no session fixation
  req.session.name = req.body.name
  res.redirect(303, '/')
})

app.post('/logout', async (req, res) => {
  await req.session.destroy()       // data gone, DynamoDB item deleted, cookie expired
  res.redirect(303, '/')
})

export { app }
