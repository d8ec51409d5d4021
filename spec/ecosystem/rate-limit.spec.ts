import { rateLimit } from 'express-rate-limit'
import { arcSession, type ArcSessionOptions } from 'arc-session'
import { EXPRESS_VERSIONS, REQUEST_TIMEOUT, STORES, browser, errorHandler, liveSessionCookie, useServers, useStores, type ExpressFactory } from './support'

/**
 * express-rate-limit 8 keyed on the session: `keyGenerator: req => req.sessionID`. Reading
 * req.sessionID on a new visitor makes the session persist, so a browser keeps its key (and its
 * count) from its first request on, and two browsers on the same IP are counted apart.
 */

const stores = useStores('ratelimit')
const serve = useServers()

const LIMIT = 3

function buildApp (makeExpress: ExpressFactory, options: ArcSessionOptions) {
  const app = makeExpress()
  app.use(arcSession(options))
  app.use(rateLimit({
    windowMs: 60_000,
    limit: LIMIT,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: req => req.sessionID,
    // Keyed on the session, not the IP: the IPv6-subnet check does not apply.
    validate: { keyGeneratorIpFallback: false }
  }))
  app.get('/page', (req, res) => { res.json({ sessionID: req.sessionID }) })
  app.use(errorHandler)
  return app
}

describe.each(STORES)('%s', store => {
  describe.each(EXPRESS_VERSIONS)('%s', (_name, makeExpress) => {
    it(`limits one browser after ${LIMIT} requests, and not another`, async () => {
      const { url } = await serve(buildApp(makeExpress, stores.options(store)))
      const one = browser(url)
      const first = await one.get('/page').timeout(REQUEST_TIMEOUT).expect(200)
      // The key was read on a new visitor: the session persists, so the key comes back next time.
      liveSessionCookie(first)
      const ids = [first.body.sessionID as string]
      for (let i = 1; i < LIMIT; i++) ids.push((await one.get('/page').timeout(REQUEST_TIMEOUT).expect(200)).body.sessionID as string)
      expect(new Set(ids).size).toBe(1)
      const limited = await one.get('/page').timeout(REQUEST_TIMEOUT).expect(429)
      expect(limited.headers.ratelimit).toMatch(/r=0\b/)
      await one.get('/page').timeout(REQUEST_TIMEOUT).expect(429)

      const two = browser(url)
      const other = await two.get('/page').timeout(REQUEST_TIMEOUT).expect(200)
      expect(other.body.sessionID).not.toBe(ids[0])
      await two.get('/page').timeout(REQUEST_TIMEOUT).expect(200)
      // The first browser is still limited.
      await one.get('/page').timeout(REQUEST_TIMEOUT).expect(429)
    })

    it('counts the requests of one session in the RateLimit header', async () => {
      const { url } = await serve(buildApp(makeExpress, stores.options(store)))
      const agent = browser(url)
      const remaining: string[] = []
      for (let i = 0; i < LIMIT; i++) {
        const res = await agent.get('/page').timeout(REQUEST_TIMEOUT).expect(200)
        remaining.push(/r=(\d+)/.exec(String(res.headers.ratelimit))?.[1] ?? '?')
      }
      expect(remaining).toEqual(['2', '1', '0'])
    })
  })
})
