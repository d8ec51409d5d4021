import type { IncomingMessage, ServerResponse } from 'node:http'
import connect from 'connect'
import flash from 'connect-flash'
import { arcSession, type ArcSessionOptions } from 'arc-session'
import { EXPRESS_VERSIONS, REQUEST_TIMEOUT, STORES, browser, errorHandler, plain, useServers, useStores, type ExpressFactory } from './support'

/** connect-flash: a message set in one request, shown once in the next, with a redirect between. */

const stores = useStores('flash')
const serve = useServers()

function expressApp (makeExpress: ExpressFactory, options: ArcSessionOptions) {
  const app = makeExpress()
  app.use(makeExpress.urlencoded({ extended: false }))
  app.use(arcSession(options))
  app.use(flash())
  app.post('/save', (req, res) => {
    req.flash('info', 'Saved!')
    req.flash('info', `and ${String(req.body.item ?? 'nothing')}`)
    req.flash('error', 'one warning')
    res.redirect(303, '/show')
  })
  app.get('/show', (req, res) => {
    res.json({ info: req.flash('info'), error: req.flash('error') })
  })
  app.get('/session', (req, res) => { res.json(plain(req.session)) })
  app.use(errorHandler)
  return app
}

type FlashRequest = IncomingMessage & { flash: (type: string, message?: string) => unknown }

function connectApp (options: ArcSessionOptions) {
  const app = connect()
  app.use(arcSession(options))
  app.use(flash() as unknown as connect.NextHandleFunction)
  app.use('/save', (req: IncomingMessage, res: ServerResponse) => {
    ;(req as FlashRequest).flash('info', 'Saved with Connect!')
    res.statusCode = 303
    res.setHeader('Location', '/show')
    res.end()
  })
  app.use('/show', (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('Content-Type', 'application/json')
    res.end(JSON.stringify({ info: (req as FlashRequest).flash('info') }))
  })
  return app
}

describe.each(STORES)('%s', store => {
  describe.each(EXPRESS_VERSIONS)('%s', (_name, makeExpress) => {
    it('a flash set before a redirect is shown once on the next page', async () => {
      const { url } = await serve(expressApp(makeExpress, stores.options(store)))
      const agent = browser(url)
      const posted = await agent.post('/save').type('form').send({ item: 'the book' }).redirects(0).timeout(REQUEST_TIMEOUT).expect(303)
      expect(posted.headers.location).toBe('/show')
      const shown = await agent.get('/show').timeout(REQUEST_TIMEOUT).expect(200)
      expect(shown.body).toEqual({ info: ['Saved!', 'and the book'], error: ['one warning'] })
      const again = await agent.get('/show').timeout(REQUEST_TIMEOUT).expect(200)
      expect(again.body).toEqual({ info: [], error: [] })
    })

    it('following the redirect in one go shows the message, then never again', async () => {
      const { url } = await serve(expressApp(makeExpress, stores.options(store)))
      const agent = browser(url)
      const followed = await agent.post('/save').type('form').send({ item: 'a pen' }).redirects(1).timeout(REQUEST_TIMEOUT).expect(200)
      expect(followed.body).toEqual({ info: ['Saved!', 'and a pen'], error: ['one warning'] })
      expect((await agent.get('/show').timeout(REQUEST_TIMEOUT).expect(200)).body).toEqual({ info: [], error: [] })
    })

    it('flashes of two browsers do not mix', async () => {
      const { url } = await serve(expressApp(makeExpress, stores.options(store)))
      const one = browser(url)
      const two = browser(url)
      await one.post('/save').type('form').send({ item: 'one' }).redirects(0).timeout(REQUEST_TIMEOUT).expect(303)
      await two.post('/save').type('form').send({ item: 'two' }).redirects(0).timeout(REQUEST_TIMEOUT).expect(303)
      expect((await two.get('/show').timeout(REQUEST_TIMEOUT).expect(200)).body.info).toEqual(['Saved!', 'and two'])
      expect((await one.get('/show').timeout(REQUEST_TIMEOUT).expect(200)).body.info).toEqual(['Saved!', 'and one'])
    })
  })

  it('with Connect: set before a 303, shown once after it', async () => {
    const { url } = await serve(connectApp(stores.options(store)))
    const agent = browser(url)
    const posted = await agent.post('/save').redirects(0).timeout(REQUEST_TIMEOUT).expect(303)
    expect(posted.headers.location).toBe('/show')
    expect((await agent.get('/show').timeout(REQUEST_TIMEOUT).expect(200)).body).toEqual({ info: ['Saved with Connect!'] })
    expect((await agent.get('/show').timeout(REQUEST_TIMEOUT).expect(200)).body).toEqual({ info: [] })
  })
})
