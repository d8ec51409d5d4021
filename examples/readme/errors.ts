import express, { type ErrorRequestHandler } from 'express'
import { arcSession, ArcSessionError, type RejectReason } from 'arc-session'

const rejectedCookies = new Map<RejectReason, number>()   // or your metrics library's counter

const app = express()
app.use(arcSession({
  onReject: (reason) => { rejectedCookies.set(reason, (rejectedCookies.get(reason) ?? 0) + 1) }
}))

app.post('/notes', express.json(), (req, res) => {
  req.session.notes = [...(req.session.notes ?? []), req.body.note]
  res.sendStatus(204)
})

const sessionErrors: ErrorRequestHandler = (error, req, res, next) => {
  if (!(error instanceof ArcSessionError)) return next(error)
  // 413 SessionTooLargeError, 503 StoreUnavailableError, 500 otherwise
  res.status(error.status).json({ error: error.code })
}
app.use(sessionErrors)

export { app, rejectedCookies }
