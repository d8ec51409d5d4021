import express from 'express'
import { arcSession } from 'arc-session'

const app = express()
app.use(arcSession())                       // JWE cookie store unless configured otherwise

app.get('/', (req, res) => {
  req.session.count = (req.session.count ?? 0) + 1
  res.send(`hello ${req.session.name ?? 'unknown'} #${req.session.count}`)
})

export { app }
