import { getItem } from '../support/dynamo-helpers'
import { testClock, type TestClock } from '../support/clock'
import { arcSession, HeadersSentError, type ArcSessionOptions } from 'arc-session'
import {
  DAY, EXPRESS_VERSIONS, REQUEST_TIMEOUT, STORES, browser, errorHandler, isDynamo, liveSessionCookie, maybeSessionCookie, plain,
  rawSetCookies, useServers, useStores, type ExpressFactory
} from './support'

/**
 * The members of req.session that express-session users (and the libraries written for
 * express-session) rely on: regenerate/destroy/save/reload/touch/resetMaxAge, req.sessionID and
 * req.session.id, req.session.cookie, and what happens to data keys named like those members.
 */

const stores = useStores('api')
const serve = useServers()

const MEMBERS = ['save', 'id', 'cookie', 'regenerate', 'destroy', 'reload', 'touch', 'resetMaxAge'] as const
const THIRTY_DAYS_MS = 30 * DAY * 1000

/** Runs `body`, answering { threw, name, message } for what it threw (or threw: false). */
function attempt (body: () => void): { threw: boolean, name?: string, message?: string } {
  try {
    body()
    return { threw: false }
  } catch (error) {
    const failure = error as Error
    return { threw: true, name: failure.constructor.name, message: failure.message }
  }
}

function buildApp (makeExpress: ExpressFactory, options: ArcSessionOptions) {
  const app = makeExpress()
  app.use(makeExpress.json())
  app.use(arcSession(options))

  app.get('/read', (req, res) => { res.json({ data: plain(req.session), sessionID: req.sessionID }) })
  app.get('/peek', (req, res) => { res.json(plain(req.session)) })
  app.post('/set', (req, res) => {
    Object.assign(req.session, req.body)
    res.json({ data: plain(req.session), sessionID: req.sessionID, id: req.session.id })
  })
  app.get('/id-only', (req, res) => { res.json({ sessionID: req.sessionID, id: req.session.id }) })

  app.post('/regenerate', async (req, res) => {
    const before = req.session
    const beforeId = req.sessionID
    const returned = req.session.regenerate(req.body.keep === true ? { keep: true } : undefined)
    const isPromise = returned instanceof Promise
    await returned
    const after = req.session
    after.afterRegenerate = true
    res.json({
      isPromise,
      sameObject: before === after,
      before: plain(before),
      after: plain(after),
      beforeId,
      afterId: req.sessionID,
      afterSessionId: req.session.id
    })
  })
  app.post('/regenerate-callback', (req, res, next) => {
    const before = req.session
    const done = (error: Error | null): void => {
      if (error !== null) { next(error); return }
      res.json({ sameObject: before === req.session, before: plain(before), after: plain(req.session) })
    }
    if (req.body.keep === true) void req.session.regenerate({ keep: true }, done)
    else void req.session.regenerate(done)
  })
  app.post('/destroy', async (req, res) => {
    const beforeId = req.sessionID
    await req.session.destroy()
    res.json({ beforeId, afterId: req.sessionID, data: plain(req.session) })
  })
  app.post('/callbacks', (req, res, next) => {
    // Every method with a Node-style callback, one after another, as callback-era libraries chain them.
    req.session.step = 'reload'
    void req.session.reload(error1 => {
      if (error1 !== null) { next(error1); return }
      const afterReload = plain(req.session)
      void req.session.touch(error2 => {
        if (error2 !== null) { next(error2); return }
        void req.session.resetMaxAge(error3 => {
          if (error3 !== null) { next(error3); return }
          req.session.step = 'save'
          void req.session.save(error4 => {
            if (error4 !== null) { next(error4); return }
            res.json({ afterReload, data: plain(req.session) })
          })
        })
      })
    })
  })
  app.post('/returns-promises', async (req, res) => {
    const kinds: Record<string, boolean> = {}
    const calls: Array<[string, () => unknown]> = [
      ['save', () => req.session.save()],
      ['touch', () => req.session.touch()],
      ['resetMaxAge', () => req.session.resetMaxAge()],
      ['reload', () => req.session.reload()],
      ['save(callback)', () => req.session.save(() => undefined)],
      ['regenerate', () => req.session.regenerate()],
      ['destroy', () => req.session.destroy()]
    ]
    for (const [name, call] of calls) {
      const returned = call()
      kinds[name] = returned instanceof Promise
      await returned
    }
    res.json(kinds)
  })
  app.post('/save-then-reload', async (req, res) => {
    req.session.step = 'saved'
    await req.session.save()
    req.session.step = 'changed after save()'
    await req.session.reload()
    res.json(plain(req.session))
  })
  app.post('/destroy-callback', (req, res, next) => {
    void req.session.destroy(error => {
      if (error !== null) { next(error); return }
      res.json({ data: plain(req.session) })
    })
  })

  app.post('/assign-id', (req, res) => {
    res.json({
      sessionID: attempt(() => { (req as { sessionID: string }).sessionID = 'chosen-by-attacker' }),
      id: attempt(() => { (req.session as { id: string }).id = 'chosen-by-attacker' }),
      after: { sessionID: req.sessionID, id: req.session.id }
    })
  })

  app.get('/cookie', (req, res) => {
    const cookie = req.session.cookie
    res.json({
      maxAge: cookie.maxAge,
      originalMaxAge: cookie.originalMaxAge,
      expiresIsDate: cookie.expires instanceof Date,
      expires: cookie.expires instanceof Date ? cookie.expires.getTime() : cookie.expires,
      httpOnly: cookie.httpOnly,
      secure: cookie.secure,
      sameSite: cookie.sameSite,
      domain: cookie.domain ?? null,
      hasDomain: 'domain' in (cookie as object),
      path: cookie.path,
      json: JSON.parse(JSON.stringify(cookie)) as unknown
    })
  })
  app.post('/remember', (req, res) => {
    req.session.user = 'ada'
    req.session.cookie.maxAge = THIRTY_DAYS_MS
    res.json({ maxAge: req.session.cookie.maxAge })
  })
  app.post('/remember-by-assignment', (req, res) => {
    req.session.user = 'ada'
    req.session.cookie = { maxAge: THIRTY_DAYS_MS } as typeof req.session.cookie
    res.json({ json: JSON.stringify(req.session), maxAge: req.session.cookie.maxAge })
  })
  app.post('/browser-session', (req, res) => {
    req.session.user = 'ada'
    if (req.body.how === 'maxAge') req.session.cookie.maxAge = null
    else req.session.cookie.expires = false
    res.json({ maxAge: req.session.cookie.maxAge, expires: req.session.cookie.expires })
  })
  app.post('/cookie-attribute', (req, res) => {
    res.json({
      secure: attempt(() => { req.session.cookie.secure = !req.session.cookie.secure }),
      after: req.session.cookie.secure
    })
  })
  app.post('/touch', async (req, res) => {
    if (req.body.how === 'resetMaxAge') await req.session.resetMaxAge()
    else await req.session.touch()
    res.json(plain(req.session))
  })

  app.post('/reload-undo', async (req, res) => {
    req.session.value = 'changed in this request'
    req.session.added = 'also'
    await req.session.reload()
    res.json(plain(req.session))
  })

  app.post('/member/:name', (req, res) => {
    const name = req.params.name as string
    res.json({ direct: attempt(() => { (req.session as Record<string, unknown>)[name] = 1 }), data: plain(req.session) })
  })
  app.post('/member-assign', (req, res) => {
    res.json({ threw: attempt(() => { Object.assign(req.session, { save: 'x' }) }), data: plain(req.session) })
  })
  app.post('/replace', (req, res) => {
    req.session = { save: 1, a: 2 } as unknown as typeof req.session
    res.json({ data: plain(req.session), saveIsFunction: typeof req.session.save === 'function' })
  })
  app.post('/save-now', async (req, res) => {
    req.session.savedAt = 'save-now'
    await req.session.save()
    res.json(plain(req.session))
  })

  app.post('/late-save', async (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('headers are out\n')
    req.session.late = 'written after the headers'
    let outcome: string
    try {
      await req.session.save()
      outcome = 'saved'
    } catch (error) {
      const failure = error as { code?: string }
      outcome = `${error instanceof HeadersSentError ? 'HeadersSentError' : String((error as Error).name)}:${failure.code ?? ''}`
    }
    res.end(outcome)
  })

  app.use(errorHandler)
  return app
}

describe.each(STORES)('%s', store => {
  describe.each(EXPRESS_VERSIONS)('%s', (_name, makeExpress) => {
    let clock: TestClock
    let url = ''

    async function start (extra: ArcSessionOptions = {}): Promise<string> {
      clock = testClock()
      const running = await serve(buildApp(makeExpress, stores.options(store, { clock, ...extra })))
      url = running.url
      return url
    }

    describe('regenerate()', () => {
      it('puts a new, empty object in req.session and leaves the old one with its data', async () => {
        const agent = browser(await start())
        const created = await agent.post('/set').send({ user: 'ada', cart: [1, 2] }).timeout(REQUEST_TIMEOUT).expect(200)
        const res = await agent.post('/regenerate').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(res.body.isPromise).toBe(true)
        expect(res.body.sameObject).toBe(false)
        expect(res.body.before).toEqual({ user: 'ada', cart: [1, 2] })
        expect(res.body.after).toEqual({ afterRegenerate: true })
        expect(res.body.afterId).not.toBe(created.body.sessionID)
        expect(res.body.afterSessionId).toBe(res.body.afterId)
        expect(liveSessionCookie(res).value).not.toBe(liveSessionCookie(created).value)
        const next = await agent.get('/read').timeout(REQUEST_TIMEOUT).expect(200)
        expect(next.body.data).toEqual({ afterRegenerate: true })
        expect(next.body.sessionID).toBe(res.body.afterId)
      })

      it('with { keep: true } carries the data over to the new identity', async () => {
        const agent = browser(await start())
        const created = await agent.post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
        const res = await agent.post('/regenerate').send({ keep: true }).timeout(REQUEST_TIMEOUT).expect(200)
        expect(res.body.before).toEqual({ user: 'ada' })
        expect(res.body.after).toEqual({ user: 'ada', afterRegenerate: true })
        expect(res.body.afterId).not.toBe(created.body.sessionID)
        const next = await agent.get('/read').timeout(REQUEST_TIMEOUT).expect(200)
        expect(next.body.data).toEqual({ user: 'ada', afterRegenerate: true })
      })

      it('takes a Node-style callback, with and without options', async () => {
        const agent = browser(await start())
        await agent.post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
        const plainCallback = await agent.post('/regenerate-callback').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(plainCallback.body).toEqual({ sameObject: false, before: { user: 'ada' }, after: {} })
        await agent.post('/set').send({ user: 'grace' }).timeout(REQUEST_TIMEOUT).expect(200)
        const kept = await agent.post('/regenerate-callback').send({ keep: true }).timeout(REQUEST_TIMEOUT).expect(200)
        expect(kept.body).toEqual({ sameObject: false, before: { user: 'grace' }, after: { user: 'grace' } })
      })

      if (isDynamo(store)) {
        it('deletes the old item: the old cookie, replayed, opens an empty session', async () => {
          const agent = browser(await start())
          const created = await agent.post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
          const oldPair = liveSessionCookie(created).pair
          const oldKey = decodeURIComponent(liveSessionCookie(created).value).split('.')[0] as string
          expect(await getItem(stores.client, stores.table, oldKey)).toBeDefined()
          await agent.post('/regenerate').send({}).timeout(REQUEST_TIMEOUT).expect(200)
          expect(await getItem(stores.client, stores.table, oldKey)).toBeUndefined()
          const replay = await browser(url).get('/peek').set('Cookie', oldPair).timeout(REQUEST_TIMEOUT).expect(200)
          expect(replay.body).toEqual({})
        })
      }
    })

    describe('the other methods', () => {
      it('save, touch, resetMaxAge, reload and destroy take Node-style callbacks', async () => {
        const agent = browser(await start())
        await agent.post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
        const chained = await agent.post('/callbacks').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(chained.body.afterReload).toEqual({ user: 'ada' })
        expect(chained.body.data).toEqual({ user: 'ada', step: 'save' })
        expect((await agent.get('/read').timeout(REQUEST_TIMEOUT).expect(200)).body.data).toEqual({ user: 'ada', step: 'save' })
        const destroyed = await agent.post('/destroy-callback').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(destroyed.body.data).toEqual({})
        expect((await agent.get('/read').timeout(REQUEST_TIMEOUT).expect(200)).body.data).toEqual({})
      })
    })

    describe('every method returns a promise', () => {
      it('save, touch, resetMaxAge, reload, regenerate and destroy, with or without a callback', async () => {
        const agent = browser(await start())
        await agent.post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
        const res = await agent.post('/returns-promises').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(res.body).toEqual({ save: true, touch: true, resetMaxAge: true, reload: true, 'save(callback)': true, regenerate: true, destroy: true })
      })
    })

    describe('reload() after save() in the same request', () => {
      it('gives back what save() wrote, and the session lives on (a session whose cookie has + or / in its signature)', async () => {
        await start()
        // On DynamoDB the cookie is id.signature, the signature in base64 (about three in four
        // contain + or /, percent-encoded on the wire): pick such a session, so the run is deterministic.
        let agent = browser(url)
        for (let attempt = 0; attempt < 40; attempt++) {
          agent = browser(url)
          const created = await agent.post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
          const value = decodeURIComponent(liveSessionCookie(created).value)
          if (!isDynamo(store) || /[+/]/.test(value)) break
        }
        const res = await agent.post('/save-then-reload').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(res.body).toEqual({ user: 'ada', step: 'saved' })
        expect((await agent.get('/peek').timeout(REQUEST_TIMEOUT).expect(200)).body).toEqual({ user: 'ada', step: 'saved' })
      })
    })

    describe('req.sessionID and req.session.id', () => {
      it('are the same opaque string, stable across the session\'s requests', async () => {
        const agent = browser(await start())
        const first = await agent.post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
        const id = first.body.sessionID as string
        expect(typeof id).toBe('string')
        expect(id.length).toBeGreaterThan(0)
        expect(first.body.id).toBe(id)
        for (let i = 0; i < 3; i++) {
          const again = await agent.post('/set').send({ n: i }).timeout(REQUEST_TIMEOUT).expect(200)
          expect(again.body.sessionID).toBe(id)
          expect(again.body.id).toBe(id)
        }
        expect((await agent.get('/id-only').timeout(REQUEST_TIMEOUT).expect(200)).body).toEqual({ sessionID: id, id })
      })

      it('are not the cookie value (nor in any Set-Cookie), nor the DynamoDB item key', async () => {
        const agent = browser(await start())
        const res = await agent.post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
        const id = res.body.sessionID as string
        const cookie = liveSessionCookie(res)
        expect(cookie.value).not.toBe(id)
        for (const raw of rawSetCookies(res)) {
          expect(raw).not.toContain(id)
          expect(decodeURIComponent(raw)).not.toContain(id)
        }
        if (isDynamo(store)) {
          const key = decodeURIComponent(cookie.value).split('.')[0] as string
          expect(key).not.toBe(id)
          expect(await getItem(stores.client, stores.table, key)).toBeDefined()
          expect(await getItem(stores.client, stores.table, id)).toBeUndefined()
        }
      })

      it('are new after regenerate() and after destroy()', async () => {
        const agent = browser(await start())
        const first = await agent.post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
        const regenerated = await agent.post('/regenerate').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(regenerated.body.beforeId).toBe(first.body.sessionID)
        expect(regenerated.body.afterId).not.toBe(first.body.sessionID)
        const destroyed = await agent.post('/destroy').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(destroyed.body.beforeId).toBe(regenerated.body.afterId)
        expect(typeof destroyed.body.afterId).toBe('string')
        expect(destroyed.body.afterId).not.toBe(destroyed.body.beforeId)
        expect(destroyed.body.afterId).not.toBe(first.body.sessionID)
      })

      it('cannot be assigned: a TypeError that says why', async () => {
        const agent = browser(await start())
        const before = await agent.post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
        const res = await agent.post('/assign-id').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(res.body.sessionID).toMatchObject({ threw: true, name: 'TypeError' })
        expect(res.body.sessionID.message).toMatch(/sessionID/)
        expect(res.body.sessionID.message).toMatch(/cannot be assigned|read-only/i)
        expect(res.body.id).toMatchObject({ threw: true, name: 'TypeError' })
        expect(res.body.id.message).toMatch(/\bid\b/)
        expect(res.body.id.message).toMatch(/cannot be assigned|read-only/i)
        expect(res.body.after).toEqual({ sessionID: before.body.sessionID, id: before.body.sessionID })
      })

      it('read on a new visitor\'s session, make it persist: a cookie is set and the id is the same next time', async () => {
        const agent = browser(await start())
        const first = await agent.get('/id-only').timeout(REQUEST_TIMEOUT).expect(200)
        expect(typeof first.body.sessionID).toBe('string')
        expect(first.body.sessionID.length).toBeGreaterThan(0)
        liveSessionCookie(first)
        const second = await agent.get('/id-only').timeout(REQUEST_TIMEOUT).expect(200)
        expect(second.body.sessionID).toBe(first.body.sessionID)
      })
    })

    describe('req.session.cookie', () => {
      it('has express-session\'s fields, and JSON.stringify works on it', async () => {
        const agent = browser(await start())
        await agent.post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
        const { body } = await agent.get('/cookie').timeout(REQUEST_TIMEOUT).expect(200)
        expect(typeof body.maxAge).toBe('number')
        expect(body.maxAge).toBeGreaterThan(0)
        expect(body.maxAge).toBeLessThanOrEqual(7 * DAY * 1000)
        expect(typeof body.originalMaxAge).toBe('number')
        expect(body.originalMaxAge).toBe(7 * DAY * 1000)
        expect(body.expiresIsDate).toBe(true)
        expect(body.expires).toBe(clock() + body.maxAge)
        expect(body.httpOnly).toBe(true)
        expect(body.secure).toBe(false)
        expect(body.sameSite).toBe('lax')
        expect(body.domain).toBeNull()
        expect(body.hasDomain).toBe(true)
        expect(body.path).toBe('/')
        expect(body.json).toMatchObject({ path: '/', httpOnly: true, secure: false, sameSite: 'lax', originalMaxAge: 7 * DAY * 1000 })
        expect(new Date(body.json.expires as string).getTime()).toBe(body.expires)
      })

      it('maxAge = 30 days ("remember me") gives this session\'s cookie Max-Age of 30 days, on later writes too', async () => {
        const agent = browser(await start())
        const login = await agent.post('/remember').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(login.body.maxAge).toBe(THIRTY_DAYS_MS)
        expect(liveSessionCookie(login).maxAge).toBe(30 * DAY)
        clock.advance(60)
        const later = await agent.post('/set').send({ cart: ['book'] }).timeout(REQUEST_TIMEOUT).expect(200)
        expect(later.body.data).toEqual({ user: 'ada', cart: ['book'] })
        const maxAge = liveSessionCookie(later).maxAge as number
        // Within a minute of 30 days (maxLifetime, 30 days by default, may take the minute off).
        expect(Math.abs(maxAge - 30 * DAY)).toBeLessThanOrEqual(60)
        const cookie = await agent.get('/cookie').timeout(REQUEST_TIMEOUT).expect(200)
        expect(Math.abs((cookie.body.maxAge as number) - THIRTY_DAYS_MS)).toBeLessThanOrEqual(60_000)
        // Another visitor keeps the configured week.
        const other = await browser(url).post('/set').send({ user: 'grace' }).timeout(REQUEST_TIMEOUT).expect(200)
        expect(liveSessionCookie(other).maxAge).toBe(7 * DAY)
      })

      it('req.session.cookie = { maxAge } sets the field and is not stored as data', async () => {
        const agent = browser(await start())
        const res = await agent.post('/remember-by-assignment').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(JSON.parse(res.body.json as string)).toEqual({ user: 'ada' })
        expect(res.body.maxAge).toBe(THIRTY_DAYS_MS)
        expect(liveSessionCookie(res).maxAge).toBe(30 * DAY)
        expect((await agent.get('/peek').timeout(REQUEST_TIMEOUT).expect(200)).body).toEqual({ user: 'ada' })
      })

      it.each(['expires', 'maxAge'])('%s = false/null gives a browser-session cookie (no Max-Age, no Expires), on later writes too; the server still ends it after the ttl', async how => {
        const agent = browser(await start({ ttl: 3600 }))
        const res = await agent.post('/browser-session').send({ how }).timeout(REQUEST_TIMEOUT).expect(200)
        expect(res.body).toEqual({ maxAge: null, expires: null })
        const cookie = liveSessionCookie(res)
        expect(cookie.attributes['max-age']).toBeUndefined()
        expect(cookie.attributes.expires).toBeUndefined()

        clock.advance(1800)
        const later = await agent.post('/set').send({ step: 2 }).timeout(REQUEST_TIMEOUT).expect(200)
        expect(later.body.data).toEqual({ user: 'ada', step: 2 })
        const again = liveSessionCookie(later)
        expect(again.attributes['max-age']).toBeUndefined()
        expect(again.attributes.expires).toBeUndefined()

        clock.advance(3601)
        expect((await agent.get('/peek').timeout(REQUEST_TIMEOUT).expect(200)).body).toEqual({})
      })

      it('an attribute set to a different value than configured throws a TypeError', async () => {
        const agent = browser(await start())
        const res = await agent.post('/cookie-attribute').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(res.body.secure).toMatchObject({ threw: true, name: 'TypeError' })
        expect(res.body.after).toBe(false)
      })

      it('maxAge is capped by the maxLifetime option', async () => {
        const agent = browser(await start({ maxLifetime: DAY }))
        const res = await agent.post('/remember').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(res.body.maxAge).toBeLessThanOrEqual(DAY * 1000)
        expect(liveSessionCookie(res).maxAge).toBeLessThanOrEqual(DAY)
        expect(liveSessionCookie(res).maxAge).toBeGreaterThan(DAY - 60)
      })
    })

    describe('touch() and resetMaxAge()', () => {
      it.each(['touch', 'resetMaxAge'])('%s() restarts the idle clock at the next write', async how => {
        const agent = browser(await start({ ttl: 3600 }))
        await agent.post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
        // Within a tenth of the ttl, where a read alone does not refresh the session.
        clock.advance(100)
        const touched = await agent.post('/touch').send({ how }).timeout(REQUEST_TIMEOUT).expect(200)
        expect(touched.body).toEqual({ user: 'ada' })
        expect(liveSessionCookie(touched).maxAge).toBe(3600)
        // Past the ttl counted from creation, within it counted from the touch.
        clock.advance(3550)
        expect((await agent.get('/peek').timeout(REQUEST_TIMEOUT).expect(200)).body).toEqual({ user: 'ada' })
      })

      it('without touch(), the same reads leave the session to end a ttl after its last write', async () => {
        const agent = browser(await start({ ttl: 3600 }))
        await agent.post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
        clock.advance(100)
        const read = await agent.get('/peek').timeout(REQUEST_TIMEOUT).expect(200)
        expect(read.body).toEqual({ user: 'ada' })
        expect(maybeSessionCookie(read)).toBeUndefined()
        clock.advance(3550)
        expect((await agent.get('/peek').timeout(REQUEST_TIMEOUT).expect(200)).body).toEqual({})
      })
    })

    describe('reload()', () => {
      it('undoes this request\'s changes: back to what the session held when the request came', async () => {
        const agent = browser(await start())
        await agent.post('/set').send({ value: 'original' }).timeout(REQUEST_TIMEOUT).expect(200)
        const res = await agent.post('/reload-undo').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(res.body).toEqual({ value: 'original' })
        expect((await agent.get('/peek').timeout(REQUEST_TIMEOUT).expect(200)).body).toEqual({ value: 'original' })
      })

      if (isDynamo(store)) {
        it('re-reads the table: a change another request wrote meanwhile is seen', async () => {
          const app = buildApp(makeExpress, stores.options(store))
          let arrived!: () => void
          const inRoute = new Promise<void>(resolve => { arrived = resolve })
          let release!: () => void
          const gate = new Promise<void>(resolve => { release = resolve })
          app.get('/wait-then-reload', (req, res, next) => {
            const before = plain(req.session)
            arrived()
            void gate.then(() => {
              req.session.reload(error => {
                if (error !== null) { next(error); return }
                res.json({ before, after: plain(req.session) })
              })
            })
          })
          const running = await serve(app)
          const agent = browser(running.url)
          await agent.post('/set').send({ value: 1 }).timeout(REQUEST_TIMEOUT).expect(200)
          const slow = agent.get('/wait-then-reload').timeout(REQUEST_TIMEOUT).then(res => res)
          await inRoute
          await agent.post('/set').send({ value: 2, other: 'tab' }).timeout(REQUEST_TIMEOUT).expect(200)
          release()
          const res = await slow
          expect(res.status).toBe(200)
          expect(res.body).toEqual({ before: { value: 1 }, after: { value: 2, other: 'tab' } })
        })
      }
    })

    describe('data keys named like members', () => {
      it.each(MEMBERS)('req.session.%s = 1 throws a TypeError, and save() still works afterwards', async name => {
        const agent = browser(await start())
        await agent.post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
        const res = await agent.post(`/member/${name}`).send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(res.body.direct).toMatchObject({ threw: true, name: 'TypeError' })
        expect(res.body.direct.message).toContain(name)
        expect(res.body.data).toEqual({ user: 'ada' })
        const saved = await agent.post('/save-now').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(saved.body).toEqual({ user: 'ada', savedAt: 'save-now' })
        expect((await agent.get('/peek').timeout(REQUEST_TIMEOUT).expect(200)).body).toEqual({ user: 'ada', savedAt: 'save-now' })
      })

      it('Object.assign(req.session, { save }) throws a TypeError', async () => {
        const agent = browser(await start())
        await agent.post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
        const res = await agent.post('/member-assign').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(res.body.threw).toMatchObject({ threw: true, name: 'TypeError' })
        expect(res.body.data).toEqual({ user: 'ada' })
        await agent.post('/save-now').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect((await agent.get('/peek').timeout(REQUEST_TIMEOUT).expect(200)).body).toEqual({ user: 'ada', savedAt: 'save-now' })
      })

      it('req.session = { save: 1, a: 2 } keeps only a; save() still works on later requests', async () => {
        const agent = browser(await start())
        await agent.post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
        const res = await agent.post('/replace').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(res.body).toEqual({ data: { a: 2 }, saveIsFunction: true })
        expect((await agent.get('/peek').timeout(REQUEST_TIMEOUT).expect(200)).body).toEqual({ a: 2 })
        const saved = await agent.post('/save-now').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(saved.body).toEqual({ a: 2, savedAt: 'save-now' })
        expect((await agent.get('/peek').timeout(REQUEST_TIMEOUT).expect(200)).body).toEqual({ a: 2, savedAt: 'save-now' })
      })
    })

    describe('save() after the response headers went out', () => {
      if (isDynamo(store)) {
        it('writes the table for an existing session: a later request sees the change', async () => {
          const agent = browser(await start())
          await agent.post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
          const res = await agent.post('/late-save').send({}).timeout(REQUEST_TIMEOUT).expect(200)
          expect(res.text).toBe('headers are out\nsaved')
          expect((await agent.get('/peek').timeout(REQUEST_TIMEOUT).expect(200)).body).toEqual({ user: 'ada', late: 'written after the headers' })
        })
      } else {
        it('rejects with HeadersSentError (ARC_SESSION_HEADERS_SENT); the session stays as it was', async () => {
          const agent = browser(await start())
          await agent.post('/set').send({ user: 'ada' }).timeout(REQUEST_TIMEOUT).expect(200)
          const res = await agent.post('/late-save').send({}).timeout(REQUEST_TIMEOUT).expect(200)
          expect(res.text).toBe('headers are out\nHeadersSentError:ARC_SESSION_HEADERS_SENT')
          expect((await agent.get('/peek').timeout(REQUEST_TIMEOUT).expect(200)).body).toEqual({ user: 'ada' })
        })
      }

      it('rejects with HeadersSentError for a new session (no cookie yet)', async () => {
        const agent = browser(await start())
        const res = await agent.post('/late-save').send({}).timeout(REQUEST_TIMEOUT).expect(200)
        expect(res.text).toBe('headers are out\nHeadersSentError:ARC_SESSION_HEADERS_SENT')
        expect((await agent.get('/peek').timeout(REQUEST_TIMEOUT).expect(200)).body).toEqual({})
      })
    })
  })
})
