import express from 'express'
import { arcSession } from 'arc-session'

const app = express()
app.use(express.urlencoded({ extended: false }))
app.use(arcSession())

app.post('/login', async (req, res) => {
  // ...check the credentials, then:
  const returnTo = req.session.returnTo    // read what the signed-in session needs first:
  await req.session.regenerate()           // a new id and an empty session; nothing from before carries over
  req.session.name = req.body.name
  await req.session.save()                 // stored before the browser follows the redirect
  res.redirect(303, returnTo ?? '/')
})

app.post('/logout', async (req, res) => {
  await req.session.destroy()              // data gone, DynamoDB item deleted, cookie expired
  res.redirect(303, '/')
})

export { app }
