import { csrfSync } from 'csrf-sync'
import csurf from 'csurf'
import type express from 'express'
import { arcSession, type ArcSessionOptions } from 'arc-session'
import { EXPRESS_VERSIONS, REQUEST_TIMEOUT, STORES, browser, errorHandler, plain, useServers, useStores, type ExpressFactory } from './support'

/**
 * Session-backed CSRF protection: csurf with `{ cookie: false }` (its secret in
 * req.session.csrfSecret, tokens derived from it, so every token of the session validates) and
 * csrf-sync (one token in req.session.csrfToken, returned again until overwritten).
 *
 * Login through regenerate() starts an empty session: the secret (csurf) or token (csrf-sync)
 * is gone with the old session, so a token issued before login no longer validates (403), while
 * a token issued after it does. With regenerate({ keep: true }) the secret or token is carried
 * over, and the old token keeps validating: that is what both libraries do with the data they find.
 */

const stores = useStores('csrf')
const serve = useServers()

type Flavour = 'csurf { cookie: false }' | 'csrf-sync'
const FLAVOURS: readonly Flavour[] = ['csurf { cookie: false }', 'csrf-sync']

/** The csrf middleware and a token getter for each library. */
function protection (flavour: Flavour): { middleware: express.RequestHandler, token: (req: express.Request) => string, stateKey: string } {
  if (flavour === 'csrf-sync') {
    const { csrfSynchronisedProtection, generateToken } = csrfSync({
      getTokenFromRequest: req => (req.body as { _csrf?: string } | undefined)?._csrf
    })
    return { middleware: csrfSynchronisedProtection, token: req => generateToken(req), stateKey: 'csrfToken' }
  }
  return { middleware: csurf({ cookie: false }), token: req => (req.csrfToken as () => string)(), stateKey: 'csrfSecret' }
}

function buildApp (makeExpress: ExpressFactory, options: ArcSessionOptions, flavour: Flavour) {
  const { middleware, token } = protection(flavour)
  const app = makeExpress()
  app.use(makeExpress.urlencoded({ extended: false }))
  app.use(arcSession(options))
  app.use(middleware)
  app.get('/form', (req, res) => {
    res.type('html').send(`<form method="post" action="/transfer"><input type="hidden" name="_csrf" value="${token(req)}"></form>`)
  })
  app.get('/session', (req, res) => { res.json(plain(req.session)) })
  app.post('/transfer', (req, res) => {
    req.session.transfers = ((req.session.transfers as number | undefined) ?? 0) + 1
    res.json({ ok: true, transfers: req.session.transfers })
  })
  app.post('/login', async (req, res) => {
    await req.session.regenerate(req.query.keep === '1' ? { keep: true } : undefined)
    req.session.user = 'ada'
    // The page after login renders a new form: a token for the new session.
    res.json({ token: token(req) })
  })
  app.use((error: { code?: string }, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (error.code === 'EBADCSRFTOKEN') { res.status(403).json({ error: 'invalid csrf token' }); return }
    next(error)
  })
  app.use(errorHandler)
  return app
}

function tokenIn (html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html)
  if (match === null) throw new Error(`no token in ${html}`)
  return match[1] as string
}

describe.each(STORES)('%s', store => {
  describe.each(EXPRESS_VERSIONS)('%s', (_name, makeExpress) => {
    describe.each(FLAVOURS)('%s', flavour => {
      const { stateKey } = protection(flavour)

      let url = ''

      async function start (): Promise<ReturnType<typeof browser>> {
        url = (await serve(buildApp(makeExpress, stores.options(store), flavour))).url
        return browser(url)
      }

      async function formToken (agent: ReturnType<typeof browser>): Promise<string> {
        return tokenIn((await agent.get('/form').timeout(REQUEST_TIMEOUT).expect(200)).text)
      }

      it('the form\'s token lets the POST through; without it, or with a wrong one, 403', async () => {
        const agent = await start()
        const token = await formToken(agent)
        const ok = await agent.post('/transfer').type('form').send({ _csrf: token }).timeout(REQUEST_TIMEOUT).expect(200)
        expect(ok.body).toEqual({ ok: true, transfers: 1 })
        await agent.post('/transfer').type('form').send({}).timeout(REQUEST_TIMEOUT).expect(403)
        await agent.post('/transfer').type('form').send({ _csrf: `${token.slice(0, -2)}xx` }).timeout(REQUEST_TIMEOUT).expect(403)
        // A forged request from another browser (no session, or another one) with this token fails too.
        const other = browser(url)
        await other.post('/transfer').type('form').send({ _csrf: token }).timeout(REQUEST_TIMEOUT).expect(403)
        expect((await agent.get('/session').timeout(REQUEST_TIMEOUT).expect(200)).body.transfers).toBe(1)
      })

      it('the secret survives across requests: an early token still validates later', async () => {
        const agent = await start()
        const first = await formToken(agent)
        const secretBefore = (await agent.get('/session').timeout(REQUEST_TIMEOUT).expect(200)).body[stateKey] as unknown
        expect(typeof secretBefore).toBe('string')
        const second = await formToken(agent)
        if (flavour === 'csrf-sync') expect(second).toBe(first)
        for (const token of [first, second, first]) {
          await agent.post('/transfer').type('form').send({ _csrf: token }).timeout(REQUEST_TIMEOUT).expect(200)
        }
        const session = (await agent.get('/session').timeout(REQUEST_TIMEOUT).expect(200)).body as Record<string, unknown>
        expect(session[stateKey]).toBe(secretBefore)
        expect(session.transfers).toBe(3)
      })

      it('after login via regenerate(), the pre-login token gets 403 and the token issued after login works', async () => {
        const agent = await start()
        const before = await formToken(agent)
        const login = await agent.post('/login').type('form').send({ _csrf: before }).timeout(REQUEST_TIMEOUT).expect(200)
        const after = login.body.token as string
        expect(after).not.toBe(before)
        await agent.post('/transfer').type('form').send({ _csrf: before }).timeout(REQUEST_TIMEOUT).expect(403)
        const ok = await agent.post('/transfer').type('form').send({ _csrf: after }).timeout(REQUEST_TIMEOUT).expect(200)
        expect(ok.body).toEqual({ ok: true, transfers: 1 })
        const fresh = await formToken(agent)
        await agent.post('/transfer').type('form').send({ _csrf: fresh }).timeout(REQUEST_TIMEOUT).expect(200)
        expect((await agent.get('/session').timeout(REQUEST_TIMEOUT).expect(200)).body.user).toBe('ada')
      })

      it('after regenerate({ keep: true }), the secret is carried over and the pre-login token still validates', async () => {
        const agent = await start()
        const before = await formToken(agent)
        await agent.post('/login?keep=1').type('form').send({ _csrf: before }).timeout(REQUEST_TIMEOUT).expect(200)
        await agent.post('/transfer').type('form').send({ _csrf: before }).timeout(REQUEST_TIMEOUT).expect(200)
      })

      it('a login POST without the token is refused before it regenerates anything', async () => {
        const agent = await start()
        await formToken(agent)
        await agent.post('/login').type('form').send({}).timeout(REQUEST_TIMEOUT).expect(403)
        expect((await agent.get('/session').timeout(REQUEST_TIMEOUT).expect(200)).body.user).toBeUndefined()
      })
    })
  })
})
