import request from 'supertest'
import { arcSession, StoreError, type LoadResult, type Store } from 'arc-session'
import { EXPRESS_VERSIONS, listen, sessionCookies, testOptions, type ExpressFactory } from '../support/apps'

// Failures that arrive in odd shapes: stores that throw things that are not Errors, an async
// onReject that rejects, a route that hands writeHead a status Node refuses.

/** A store that keeps nothing and fails its writes (or its reads) with `value`, which is not an Error. */
function failingStore (value: unknown, when: 'load' | 'save'): Store {
  return {
    load: (): LoadResult => {
      if (when === 'load') throw value
      return { reject: 'expired' }
    },
    save: () => Promise.reject(value),
    destroy: () => undefined
  }
}

describe.each(EXPRESS_VERSIONS)('%s', (_name, makeExpress: ExpressFactory) => {
  function app (store: Store) {
    const the = makeExpress()
    the.use(arcSession(testOptions({ store })))
    the.get('/login', (req, res) => {
      req.session.user = 'ada'
      res.redirect('/home')
    })
    // Matches too: reached only if the failure were taken for success (next(undefined), next('route')).
    the.get('/login', (_req, res) => { res.status(200).send('carried on') })
    the.use((error: Error, _req: unknown, res: { status: (n: number) => { json: (body: unknown) => void } }, _next: unknown) => {
      res.status((error as { status?: number }).status ?? 500).json({ name: error.name, cause: String((error as { cause?: unknown }).cause) })
    })
    return the
  }

  test.each([undefined, null, 'route', 'router'])('a save that fails with %p is a StoreError, not a redirect and not the next route', async value => {
    const response = await request(app(failingStore(value, 'save'))).get('/login')
    expect(response.status).toBe(500)
    expect(response.body).toEqual({ name: 'StoreError', cause: String(value) })
    expect(response.headers.location).toBeUndefined()
    expect(sessionCookies(response)).toEqual([])
  })

  test.each([undefined, 'route'])('a load that fails with %p is a StoreError before the route runs', async value => {
    const response = await request(app(failingStore(value, 'load'))).get('/login').set('Cookie', '_idx=anything')
    expect(response.status).toBe(500)
    expect(response.body).toEqual({ name: 'StoreError', cause: String(value) })
  })

  test('a writeHead with a status Node refuses throws as without sessions; the route can still answer, with its session', async () => {
    const the = makeExpress()
    the.use(arcSession(testOptions()))
    the.get('/', (req, res) => {
      req.session.user = 'ada'
      let thrown = ''
      try {
        res.writeHead(1000, { Location: '/elsewhere', 'Cache-Control': 'public, max-age=3600' })
      } catch (error) {
        thrown = (error as { code?: string }).code ?? 'no code'
      }
      res.status(400).json({ thrown })
    })
    const response = await request(the).get('/')
    expect(response.status).toBe(400)
    expect(response.body).toEqual({ thrown: 'ERR_HTTP_INVALID_STATUS_CODE' })
    // The refused call changed nothing: none of its headers went out...
    expect(response.headers.location).toBeUndefined()
    expect(response.headers['cache-control']).toBeUndefined()
    // ...and the answer the route did give carries the session.
    expect(sessionCookies(response)).toHaveLength(1)
  })
})

test('read() with a callback gets an Error when the store throws something else', async () => {
  const api = arcSession(testOptions({ store: failingStore(undefined, 'load') }))
  const error = await new Promise<Error | null>(resolve => { void api.read({ headers: { cookie: '_idx=x' } }, failure => { resolve(failure) }) })
  expect(error).toBeInstanceOf(StoreError)
  await expect(api.read({ headers: { cookie: '_idx=x' } })).rejects.toBeInstanceOf(StoreError)
})

test('an async onReject that rejects is logged, never an unhandled rejection', async () => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  try {
    let calls = 0
    const sessions = arcSession(testOptions({ onReject: async () => { calls++; throw new Error('metrics backend down') } }))
    const running = await listen((req, res) => {
      sessions(req, res, () => { res.end(JSON.stringify((req as unknown as { session: unknown }).session)) })
    })
    try {
      const response = await request(running.url).get('/').set('Cookie', '_idx=garbage').expect(200)
      expect(response.text).toBe('{}')
    } finally {
      await running.close()
    }
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(calls).toBe(1)
    expect(unhandled).toEqual([])
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
})
