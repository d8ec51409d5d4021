import { Passport } from 'passport'
import { Strategy as LocalStrategy } from 'passport-local'
import { arcSession, type ArcSessionOptions } from 'arc-session'
import {
  EXPRESS_VERSIONS, REQUEST_TIMEOUT, STORES, browser, errorHandler, isDynamo, liveSessionCookie, plain, useServers, useStores,
  type ExpressFactory
} from './support'

/**
 * Passport 0.7 with passport-local, the way its docs set it up: login regenerates the session
 * (session fixation defence) and logout regenerates it again; keepSessionInfo decides whether
 * what the session held before survives either.
 */

const stores = useStores('passport')
const serve = useServers()

interface User { id: string, name: string }
const USERS: Record<string, User & { password: string }> = {
  ada: { id: 'u-ada', name: 'Ada', password: 'correct horse' }
}

function buildApp (makeExpress: ExpressFactory, options: ArcSessionOptions) {
  const passport = new Passport()
  passport.use(new LocalStrategy((username, password, done) => {
    const user = USERS[username]
    if (user === undefined || user.password !== password) { done(null, false); return }
    done(null, { id: user.id, name: user.name })
  }))
  passport.serializeUser<string>((user, done) => { done(null, (user as User).id) })
  passport.deserializeUser<string>((id, done) => {
    const user = Object.values(USERS).find(candidate => candidate.id === id)
    done(null, user === undefined ? false : { id: user.id, name: user.name })
  })

  const app = makeExpress()
  app.use(makeExpress.urlencoded({ extended: false }))
  app.use(arcSession(options))
  app.use(passport.initialize())
  app.use(passport.session())

  app.get('/me', (req, res) => {
    res.json({ authenticated: req.isAuthenticated(), user: req.user ?? null, session: plain(req.session) })
  })
  // What a shop does before anyone signs in: a cart, and where to go back after login.
  app.post('/cart', (req, res) => {
    req.session.cart = [{ sku: 'book', quantity: 1 }]
    req.session.returnTo = '/checkout'
    res.json(plain(req.session))
  })
  app.post('/note', (req, res) => {
    req.session.note = 'written while signed in'
    res.json(plain(req.session))
  })
  app.post('/login', (req, res, next) => {
    passport.authenticate('local', { failureRedirect: '/login-failed', keepSessionInfo: req.query.keep === '1' })(req, res, next)
  }, (req, res) => {
    res.json({ user: req.user, session: plain(req.session) })
  })
  app.get('/login-failed', (_req, res) => { res.status(401).json({ failed: true }) })
  app.post('/logout', (req, res, next) => {
    req.logout({ keepSessionInfo: req.query.keep === '1' }, error => {
      if (error !== undefined && error !== null) { next(error); return }
      res.json({ authenticated: req.isAuthenticated(), session: plain(req.session) })
    })
  })
  app.use(errorHandler)
  return app
}

const CREDENTIALS = { username: 'ada', password: 'correct horse' }

describe.each(STORES)('%s', store => {
  describe.each(EXPRESS_VERSIONS)('%s', (_name, makeExpress) => {
    async function start (): Promise<{ url: string, agent: ReturnType<typeof browser> }> {
      const { url } = await serve(buildApp(makeExpress, stores.options(store)))
      return { url, agent: browser(url) }
    }

    it('logs in: req.user and req.isAuthenticated() on later requests', async () => {
      const { agent } = await start()
      const before = await agent.get('/me').timeout(REQUEST_TIMEOUT).expect(200)
      expect(before.body).toEqual({ authenticated: false, user: null, session: {} })
      const login = await agent.post('/login').type('form').send(CREDENTIALS).timeout(REQUEST_TIMEOUT).expect(200)
      expect(login.body.user).toEqual({ id: 'u-ada', name: 'Ada' })
      for (let i = 0; i < 2; i++) {
        const me = await agent.get('/me').timeout(REQUEST_TIMEOUT).expect(200)
        expect(me.body.authenticated).toBe(true)
        expect(me.body.user).toEqual({ id: 'u-ada', name: 'Ada' })
      }
    })

    it('refuses a wrong password: redirected to the failure page, still anonymous', async () => {
      const { agent } = await start()
      const res = await agent.post('/login').type('form').send({ username: 'ada', password: 'wrong' }).redirects(0).timeout(REQUEST_TIMEOUT).expect(302)
      expect(res.headers.location).toBe('/login-failed')
      expect((await agent.get('/me').timeout(REQUEST_TIMEOUT).expect(200)).body.authenticated).toBe(false)
    })

    it('login without keepSessionInfo: what the session held before (cart, returnTo) is gone', async () => {
      const { agent } = await start()
      await agent.post('/cart').timeout(REQUEST_TIMEOUT).expect(200)
      const login = await agent.post('/login').type('form').send(CREDENTIALS).timeout(REQUEST_TIMEOUT).expect(200)
      expect(login.body.session).toEqual({ passport: { user: 'u-ada' } })
      const me = await agent.get('/me').timeout(REQUEST_TIMEOUT).expect(200)
      expect(me.body.authenticated).toBe(true)
      expect(me.body.session).toEqual({ passport: { user: 'u-ada' } })
    })

    it('login with keepSessionInfo: true keeps the cart and returnTo in the signed-in session', async () => {
      const { agent } = await start()
      await agent.post('/cart').timeout(REQUEST_TIMEOUT).expect(200)
      const login = await agent.post('/login?keep=1').type('form').send(CREDENTIALS).timeout(REQUEST_TIMEOUT).expect(200)
      expect(login.body.session).toEqual({ cart: [{ sku: 'book', quantity: 1 }], returnTo: '/checkout', passport: { user: 'u-ada' } })
      const me = await agent.get('/me').timeout(REQUEST_TIMEOUT).expect(200)
      expect(me.body.authenticated).toBe(true)
      expect(me.body.session).toEqual({ cart: [{ sku: 'book', quantity: 1 }], returnTo: '/checkout', passport: { user: 'u-ada' } })
    })

    it('logout without keepSessionInfo: nothing of the signed-in session remains', async () => {
      const { agent } = await start()
      await agent.post('/cart').timeout(REQUEST_TIMEOUT).expect(200)
      await agent.post('/login?keep=1').type('form').send(CREDENTIALS).timeout(REQUEST_TIMEOUT).expect(200)
      await agent.post('/note').timeout(REQUEST_TIMEOUT).expect(200)
      const logout = await agent.post('/logout').timeout(REQUEST_TIMEOUT).expect(200)
      expect(logout.body).toEqual({ authenticated: false, session: {} })
      const me = await agent.get('/me').timeout(REQUEST_TIMEOUT).expect(200)
      expect(me.body).toEqual({ authenticated: false, user: null, session: {} })
    })

    it('logout with keepSessionInfo: true keeps the other data, signed out', async () => {
      const { agent } = await start()
      await agent.post('/login').type('form').send(CREDENTIALS).timeout(REQUEST_TIMEOUT).expect(200)
      await agent.post('/note').timeout(REQUEST_TIMEOUT).expect(200)
      const logout = await agent.post('/logout?keep=1').timeout(REQUEST_TIMEOUT).expect(200)
      expect(logout.body.authenticated).toBe(false)
      expect(logout.body.session.note).toBe('written while signed in')
      const me = await agent.get('/me').timeout(REQUEST_TIMEOUT).expect(200)
      expect(me.body.authenticated).toBe(false)
      expect(me.body.user).toBeNull()
      expect(me.body.session.note).toBe('written while signed in')
      expect(me.body.session.passport?.user).toBeUndefined()
    })

    it('login changes the session cookie (session fixation defence)', async () => {
      const { url, agent } = await start()
      const anonymous = await agent.post('/cart').timeout(REQUEST_TIMEOUT).expect(200)
      const before = liveSessionCookie(anonymous)
      const login = await agent.post('/login').type('form').send(CREDENTIALS).timeout(REQUEST_TIMEOUT).expect(200)
      const after = liveSessionCookie(login)
      expect(after.value).not.toBe(before.value)
      if (isDynamo(store)) {
        // The pre-login cookie, replayed by hand (an attacker who planted it), opens nothing.
        const replay = await browser(url).get('/me').set('Cookie', before.pair).timeout(REQUEST_TIMEOUT).expect(200)
        expect(replay.body).toEqual({ authenticated: false, user: null, session: {} })
      }
      // The new cookie, by itself, is signed in.
      const fresh = await browser(url).get('/me').set('Cookie', after.pair).timeout(REQUEST_TIMEOUT).expect(200)
      expect(fresh.body.authenticated).toBe(true)
    })

    if (isDynamo(store)) {
      it('logout revokes: the signed-in cookie, replayed after logout, is not signed in', async () => {
        const { url, agent } = await start()
        const login = await agent.post('/login').type('form').send(CREDENTIALS).timeout(REQUEST_TIMEOUT).expect(200)
        const signedIn = liveSessionCookie(login)
        await agent.post('/logout').timeout(REQUEST_TIMEOUT).expect(200)
        const replay = await browser(url).get('/me').set('Cookie', signedIn.pair).timeout(REQUEST_TIMEOUT).expect(200)
        expect(replay.body).toEqual({ authenticated: false, user: null, session: {} })
      })
    }
  })
})
