import request from 'supertest'
import { arcSession, type ArcSessionOptions } from 'arc-session'
import { EXPRESS_VERSIONS, cookieHeader, isExpired, richData, sessionCookies, type ExpressFactory } from './apps'

/** One store configuration the middleware's behaviour suite runs against. */
export interface StoreUnderTest {
  /** For the describe() title. */
  readonly name: string
  /** arcSession() options for one app; called after setup(), once per app. */
  options (): ArcSessionOptions
  /** Keeps sessions server-side behind an id: an old cookie stops working after regenerate()/destroy(). */
  readonly hasIds: boolean
  setup? (): Promise<void>
  teardown? (): Promise<void>
}

type Json = Record<string, unknown>

/** An app with one route per behaviour; every route answers with the session data as JSON. */
function makeApp (makeExpress: ExpressFactory, options: ArcSessionOptions) {
  const app = makeExpress()
  app.use(makeExpress.json())
  app.use(arcSession(options))

  app.get('/count', (req, res) => {
    req.session.count = (req.session.count ?? 0) + 1
    res.json(req.session)
  })
  app.get('/read', (req, res) => { res.json(req.session) })
  app.post('/set', (req, res) => {
    Object.assign(req.session, req.body)
    res.json(req.session)
  })
  app.post('/delete/:key', (req, res) => {
    delete req.session[req.params.key as string]
    res.json(req.session)
  })
  app.post('/regenerate', async (req, res) => {
    const previous = req.session
    await req.session.regenerate()
    res.json({ previous, now: req.session })
  })
  app.post('/regenerate-keep', async (req, res) => {
    await req.session.regenerate({ keep: true })
    res.json(req.session)
  })
  app.post('/destroy', async (req, res) => {
    await req.session.destroy()
    res.json(req.session)
  })
  app.post('/null', (req, res) => {
    req.session = null
    res.json(req.session)
  })
  app.post('/save-promise', async (req, res) => {
    req.session.saved = 'promise'
    await req.session.save()
    req.session.after = 'changed after save()'
    res.json(req.session)
  })
  app.post('/save-callback', (req, res, next) => {
    req.session.saved = 'callback'
    void req.session.save(error => {
      if (error !== null) { next(error); return }
      res.json(req.session)
    })
  })
  // passport >= 0.6 logs in like this: regenerate(cb), (with keepSessionInfo) merge the previous
  // session object into the new one, set the user, save(cb), then redirect.
  app.post('/passport-login', (req, res, next) => {
    const previous = req.session
    req.session.regenerate(error => {
      if (error !== null) { next(error); return }
      if (req.query.keepSessionInfo !== undefined) Object.assign(req.session, previous)
      req.session.passport ??= {}
      req.session.passport.user = 'ada'
      req.session.save(saveError => {
        if (saveError !== null) { next(saveError); return }
        res.redirect('/read')
      })
    })
  })
  app.get('/shape', (req, res) => {
    const forIn: string[] = []
    for (const key in req.session) forIn.push(key)
    res.json({
      stringified: JSON.stringify(req.session),
      keys: Object.keys(req.session),
      forIn,
      methods: ['regenerate', 'destroy', 'save'].map(name => ({
        name,
        type: typeof req.session[name],
        enumerable: Object.prototype.propertyIsEnumerable.call(req.session, name)
      }))
    })
  })
  return app
}

/** The middleware's behaviour, the same whatever store keeps the session. */
export function defineBehaviourSuite (store: StoreUnderTest): void {
  describe(`middleware behaviour on the ${store.name}`, () => {
    beforeAll(async () => { await store.setup?.() })
    afterAll(async () => { await store.teardown?.() })

    describe.each(EXPRESS_VERSIONS)('%s', (_name, makeExpress) => {
      const app = () => makeApp(makeExpress, store.options())

      test('a counter round-trips through the cookie', async () => {
        const agent = request.agent(app())
        const counts: unknown[] = []
        for (let i = 0; i < 4; i++) counts.push((await agent.get('/count').expect(200)).body.count)
        expect(counts).toEqual([1, 2, 3, 4])
      })

      test('a first visit that stores nothing sets no cookie', async () => {
        const response = await request(app()).get('/read').expect(200)
        expect(response.body).toEqual({})
        expect(response.headers['set-cookie']).toBeUndefined()
      })

      test('a request that leaves the session unchanged sets no cookie, and the session is still there', async () => {
        const agent = request.agent(app())
        const first = await agent.get('/count').expect(200)
        expect(sessionCookies(first)).toHaveLength(1)
        const unchanged = await agent.get('/read').expect(200)
        expect(unchanged.body).toEqual({ count: 1 })
        expect(unchanged.headers['set-cookie']).toBeUndefined()
        // A value set to what it already was is no change either.
        const same = await agent.post('/set').send({ count: 1 }).expect(200)
        expect(same.headers['set-cookie']).toBeUndefined()
        expect((await agent.get('/count')).body).toEqual({ count: 2 })
      })

      test('regenerate() starts an empty session in a new object; the previous object keeps its data', async () => {
        const the = app()
        const agent = request.agent(the)
        const before = sessionCookies(await agent.post('/set').send({ user: 'ada', role: 'admin' }).expect(200))
        const regenerated = await agent.post('/regenerate').expect(200)
        expect(regenerated.body).toEqual({ previous: { user: 'ada', role: 'admin' }, now: {} })
        // Nothing to keep: the browser's session cookie is expired, and the next request is anonymous.
        const after = sessionCookies(regenerated)
        expect(after.length).toBeGreaterThan(0)
        expect(after.every(isExpired)).toBe(true)
        expect((await agent.get('/read').expect(200)).body).toEqual({})

        const replayed = await request(the).get('/read').set('Cookie', cookieHeader(before)).expect(200)
        if (store.hasIds) {
          expect(replayed.body).toEqual({})
        } else {
          // A cookie store cannot revoke what it already handed out: the old token still holds the old data.
          expect(replayed.body).toEqual({ user: 'ada', role: 'admin' })
        }
      })

      test('regenerate({ keep: true }) gives a new cookie value and keeps the data', async () => {
        const the = app()
        const agent = request.agent(the)
        const before = sessionCookies(await agent.post('/set').send({ user: 'ada', role: 'admin' }).expect(200))
        const regenerated = await agent.post('/regenerate-keep').expect(200)
        const after = sessionCookies(regenerated)
        expect(after.length).toBeGreaterThan(0)
        expect(after.every(cookie => !isExpired(cookie))).toBe(true)
        expect(cookieHeader(after)).not.toEqual(cookieHeader(before))
        expect(regenerated.body).toEqual({ user: 'ada', role: 'admin' })
        expect((await agent.get('/read')).body).toEqual({ user: 'ada', role: 'admin' })

        const replayed = await request(the).get('/read').set('Cookie', cookieHeader(before)).expect(200)
        if (store.hasIds) {
          expect(replayed.body).toEqual({})
        } else {
          // A cookie store cannot revoke what it already handed out: the old token still holds the old data.
          expect(replayed.body).toEqual({ user: 'ada', role: 'admin' })
        }
      })

      test.each([
        ['destroy()', '/destroy'],
        ['req.session = null', '/null']
      ])('%s expires the cookie and the next request is anonymous', async (_how, path) => {
        const the = app()
        const agent = request.agent(the)
        const before = sessionCookies(await agent.get('/count').expect(200))
        const destroyed = await agent.post(path).expect(200)
        expect(destroyed.body).toEqual({})
        const cookies = sessionCookies(destroyed)
        expect(cookies.length).toBeGreaterThan(0)
        for (const cookie of cookies) {
          expect(cookie.attributes['max-age']).toBe('0')
          expect(cookie.value).toBe('')
        }
        expect((await agent.get('/read').expect(200)).body).toEqual({})
        expect((await agent.get('/count').expect(200)).body).toEqual({ count: 1 })

        if (store.hasIds) {
          const replayed = await request(the).get('/read').set('Cookie', cookieHeader(before)).expect(200)
          expect(replayed.body).toEqual({})
        }
      })

      test('a session destroyed by another request while this one holds it is not brought back by its write', async () => {
        if (!store.hasIds) return // a cookie store has nothing to destroy elsewhere
        const the = app()
        const signedIn = cookieHeader(sessionCookies(await request(the).post('/set').send({ user: 'ada' }).expect(200)))
        const api = arcSession(store.options())
        const held = await api.read({ headers: { cookie: signedIn } })
        expect(JSON.parse(JSON.stringify(held))).toEqual({ user: 'ada' })

        await request(the).post('/destroy').set('Cookie', signedIn).expect(200)
        const written = await api.writeCookies({ ...held, step: 2 })
        // At most an expiry: no cookie that leads to a session.
        expect(written.filter(cookie => !/max-age=0/i.test(cookie))).toEqual([])
        expect((await request(the).get('/read').set('Cookie', signedIn).expect(200)).body).toEqual({})
      })

      test('save() with a promise writes the session, and later changes still go out with the response', async () => {
        const agent = request.agent(app())
        const saved = await agent.post('/save-promise').expect(200)
        expect(sessionCookies(saved).filter(cookie => !isExpired(cookie)).length).toBeGreaterThan(0)
        expect((await agent.get('/read')).body).toEqual({ saved: 'promise', after: 'changed after save()' })
      })

      test('save() with a callback writes the session, then calls back', async () => {
        const agent = request.agent(app())
        const saved = await agent.post('/save-callback').expect(200)
        expect(saved.body).toEqual({ saved: 'callback' })
        expect(sessionCookies(saved).filter(cookie => !isExpired(cookie)).length).toBeGreaterThan(0)
        expect((await agent.get('/read')).body).toEqual({ saved: 'callback' })
      })

      test.each([
        ['drops what the visitor had', '', { passport: { user: 'ada' } }],
        ['with keepSessionInfo keeps it', '?keepSessionInfo', { cart: ['book'], passport: { user: 'ada' } }]
      ])('passport 0.6 style login (regenerate(cb), save(cb), redirect) %s', async (_what, query, expected) => {
        const agent = request.agent(app())
        const before = sessionCookies(await agent.post('/set').send({ cart: ['book'] }).expect(200))
        const login = await agent.post(`/passport-login${query}`).expect(302)
        expect(login.headers.location).toBe('/read')
        const after = sessionCookies(login)
        expect(after.length).toBeGreaterThan(0)
        expect(after.every(cookie => !isExpired(cookie))).toBe(true)
        expect(cookieHeader(after)).not.toEqual(cookieHeader(before))
        expect((await agent.get('/read')).body).toEqual(expected)
      })

      test('JSON.stringify(req.session) is the data alone; the methods are there but not enumerable', async () => {
        const agent = request.agent(app())
        await agent.post('/set').send({ a: 1, b: 'two' }).expect(200)
        const shape = (await agent.get('/shape').expect(200)).body as Json
        expect(JSON.parse(shape.stringified as string)).toEqual({ a: 1, b: 'two' })
        expect(shape.keys).toEqual(['a', 'b'])
        expect(shape.forIn).toEqual(['a', 'b'])
        expect(shape.methods).toEqual([
          { name: 'regenerate', type: 'function', enumerable: false },
          { name: 'destroy', type: 'function', enumerable: false },
          { name: 'save', type: 'function', enumerable: false }
        ])
      })

      test('data round-trips: nested objects, arrays, unicode, numbers, null, booleans', async () => {
        const agent = request.agent(app())
        const data = richData()
        await agent.post('/set').send(data).expect(200)
        const read = (await agent.get('/read').expect(200)).body as Json
        expect(read).toEqual(data)
        // And once more, through a second write of the same session.
        const counted = (await agent.get('/count').expect(200)).body as Json
        expect(counted).toEqual({ ...data, count: 1 })
        expect((await agent.get('/read')).body).toEqual({ ...data, count: 1 })
      })

      test('deleting a key persists the deletion; deleting the last one ends the session', async () => {
        const agent = request.agent(app())
        await agent.post('/set').send({ keep: 'me', drop: 'me', nested: { x: 1 } }).expect(200)
        const deleted = await agent.post('/delete/drop').expect(200)
        expect(sessionCookies(deleted).filter(cookie => !isExpired(cookie)).length).toBeGreaterThan(0)
        expect((await agent.get('/read')).body).toEqual({ keep: 'me', nested: { x: 1 } })

        await agent.post('/delete/nested').expect(200)
        const last = await agent.post('/delete/keep').expect(200)
        expect(sessionCookies(last).length).toBeGreaterThan(0)
        expect(sessionCookies(last).every(isExpired)).toBe(true)
        expect((await agent.get('/read')).body).toEqual({})
      })
    })
  })
}
