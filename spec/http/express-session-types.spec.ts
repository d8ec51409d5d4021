import express, { type RequestHandler } from 'express'
import request from 'supertest'
import { arcSession } from 'arc-session'
import { testOptions } from '../support/apps'

/**
 * Code written against @types/express-session for the members arc-session shares compiles as it
 * is (npm test type-checks this file) and does what it meant there.
 */
const rememberMe: RequestHandler = (req, res, next) => {
  const id: string = req.sessionID
  const same: boolean = req.session.id === id
  const attributes: [boolean | undefined, string | undefined] = [req.session.cookie.httpOnly, req.session.cookie.path]
  req.session.regenerate((error: unknown) => {
    if (error !== null && error !== undefined) { next(error); return }
    // As with express-session, the new session starts from the configured cookie: remember me comes after.
    req.session.cookie.maxAge = 14 * 24 * 60 * 60 * 1000
    const original: number | null = req.session.cookie.originalMaxAge
    const expires: Date | null | undefined = req.session.cookie.expires
    req.session.user = 'ann'
    req.session.touch()
    req.session.resetMaxAge()
    req.session.save((saveError: unknown) => {
      if (saveError !== null && saveError !== undefined) { next(saveError); return }
      res.json({ same, original, hasExpires: expires instanceof Date, attributes, changed: req.sessionID !== id })
    })
  })
}

const reloading: RequestHandler = (req, res, next) => {
  req.session.reload((error: unknown) => {
    if (error !== null && error !== undefined) { next(error); return }
    res.json({ user: req.session.user ?? null, id: req.session.id })
  })
}

const signOut: RequestHandler = (req, res, next) => {
  req.session.destroy((error: unknown) => { if (error !== null && error !== undefined) next(error); else res.sendStatus(204) })
}

test('express-session style code: ids, cookie fields, regenerate/touch/resetMaxAge/save/reload/destroy with callbacks', async () => {
  const app = express()
  app.use(arcSession(testOptions()))
  app.post('/login', rememberMe)
  app.get('/me', reloading)
  app.post('/logout', signOut)
  const agent = request.agent(app)
  const login = await agent.post('/login').expect(200)
  expect(login.body).toEqual({ same: true, original: 1209600000, hasExpires: true, attributes: [true, '/'], changed: true })
  expect(String(login.headers['set-cookie'])).toMatch(/; Max-Age=1209600;/)
  const me = await agent.get('/me').expect(200)
  expect(me.body.user).toBe('ann')
  expect(me.body.id).toMatch(/^[\w-]{22}$/)
  await agent.post('/logout').expect(204)
  expect((await agent.get('/me').expect(200)).body.user).toBeNull()
})
