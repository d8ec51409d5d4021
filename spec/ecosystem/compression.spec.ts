import { createHash } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import compression from 'compression'
import { arcSession, type ArcSessionOptions } from 'arc-session'
import {
  EXPRESS_VERSIONS, REQUEST_TIMEOUT, STORES, browser, errorHandler, liveSessionCookie, plain, useServers, useStores,
  type ExpressFactory
} from './support'

/**
 * compression() in front of or behind arcSession, with routes that change the session and then
 * stream: a write loop that honours backpressure, a pipe of many small chunks, express.static and
 * res.sendFile. On DynamoDB every such request commits asynchronously (the response is held until
 * the table answers), on a new session (PutItem) and on an existing one (UpdateItem). Every
 * response must complete, decompress to the right body, carry the session cookie, and the next
 * request must see the session change.
 */

const stores = useStores('compression')
const serve = useServers()

/** Deterministic text that gzip cannot shrink much (hex of a hash chain): zlib's buffer fills, writes return false. */
function hexChunk (index: number, bytes: number): string {
  let text = ''
  let seed = `chunk-${index}`
  while (text.length < bytes) {
    seed = createHash('sha256').update(seed).digest('hex')
    text += seed
  }
  return text.slice(0, bytes)
}

const LOOP_CHUNKS = Array.from({ length: 64 }, (_, i) => hexChunk(i, 16 * 1024))
const LOOP_BODY = LOOP_CHUNKS.join('')
const PIPE_CHUNKS = Array.from({ length: 200 }, (_, i) => `${String(i).padStart(3, '0')}:${'abcdefghij'.repeat(10)}`.slice(0, 99) + '\n')
const PIPE_BODY = PIPE_CHUNKS.join('')
const FILE_SIZES = [1024, 4 * 1024, 16 * 1024] as const

function fileBody (size: number): string {
  // Compressible text, as most served files are, with a varying line so it is not all one repeat.
  let text = ''
  for (let line = 0; text.length < size; line++) text += `line ${line} of a ${size}-byte file: lorem ipsum dolor sit amet\n`
  return text.slice(0, size)
}

let dir = ''
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'arc-session-compression-'))
  for (const size of FILE_SIZES) await writeFile(join(dir, `file-${size}.txt`), fileBody(size))
})
afterAll(async () => { if (dir !== '') await rm(dir, { recursive: true, force: true }) })

// compression moves drain listeners onto its zlib stream but never removes them (it overrides
// res.on, not removeListener), so the /loop route's res.once('drain') calls pile up there, with or
// without a session: lift the limit for this file rather than print a leak warning that is theirs.
const listenerLimit = EventEmitter.defaultMaxListeners
beforeAll(() => { EventEmitter.defaultMaxListeners = 0 })
afterAll(() => { EventEmitter.defaultMaxListeners = listenerLimit })

type Order = 'before' | 'after'

/** How often the write loop had to wait for 'drain': the backpressure path must really be taken. */
interface LoopStats { drains: number }

function buildApp (makeExpress: ExpressFactory, options: ArcSessionOptions, order: Order, stats: LoopStats = { drains: 0 }) {
  const app = makeExpress()
  if (order === 'before') app.use(compression())
  app.use(arcSession(options))
  if (order === 'after') app.use(compression())

  const mark = (session: Record<string, unknown>, route: string): void => {
    session.route = route
    session.hits = ((session.hits as number | undefined) ?? 0) + 1
  }

  app.get('/read', (req, res) => { res.json(plain(req.session)) })
  app.get('/loop', async (req, res) => {
    mark(req.session, 'loop')
    res.type('text/plain')
    for (const chunk of LOOP_CHUNKS) {
      if (!res.write(chunk)) {
        stats.drains++
        await once(res, 'drain')
      }
    }
    res.end()
  })
  app.get('/pipe', (req, res) => {
    mark(req.session, 'pipe')
    res.type('text/plain')
    Readable.from(PIPE_CHUNKS).pipe(res)
  })
  app.use('/static', (req, _res, next) => { mark(req.session, `static${req.path}`); next() }, makeExpress.static(dir))
  app.get('/send-file/:size', (req, res, next) => {
    mark(req.session, `send-file/${req.params.size as string}`)
    res.sendFile(join(dir, `file-${req.params.size as string}.txt`), error => { if (error !== undefined && error !== null) next(error) })
  })
  app.use(errorHandler)
  return app
}

const ROUTES: ReadonlyArray<readonly [string, string, string, string]> = [
  ['a res.write loop honouring backpressure (64 x 16 KB)', '/loop', LOOP_BODY, 'loop'],
  ['stream.pipe(res) of 200 x 100-byte chunks', '/pipe', PIPE_BODY, 'pipe'],
  ...FILE_SIZES.flatMap(size => [
    [`express.static of a ${size / 1024} KB file`, `/static/file-${size}.txt`, fileBody(size), `static/file-${size}.txt`] as const,
    [`res.sendFile of a ${size / 1024} KB file`, `/send-file/${size}`, fileBody(size), `send-file/${size}`] as const
  ])
]

describe.each(STORES)('%s', store => {
  describe.each(EXPRESS_VERSIONS)('%s', (_name, makeExpress) => {
    describe.each(['before', 'after'] as const)('compression() mounted %s arcSession', order => {
      it.each(ROUTES)('%s: completes, decompresses, carries the cookie; the next request sees the change', async (_title, path, body, route) => {
        const stats = { drains: 0 }
        const { url } = await serve(buildApp(makeExpress, stores.options(store), order, stats))
        const agent = browser(url)
        // A new session (DynamoDB: created), then the same route on it (DynamoDB: updated).
        for (const hits of [1, 2]) {
          const res = await agent.get(path).timeout(REQUEST_TIMEOUT).expect(200)
          expect(res.headers['content-encoding']).toBe('gzip')
          expect(res.text.length).toBe(body.length)
          expect(res.text === body).toBe(true)
          liveSessionCookie(res)
          const read = await agent.get('/read').timeout(REQUEST_TIMEOUT).expect(200)
          expect(read.body).toEqual({ route, hits })
        }
        if (path === '/loop') expect(stats.drains).toBeGreaterThan(0)
      })

      it('all the streaming routes, one after another on one session', async () => {
        const { url } = await serve(buildApp(makeExpress, stores.options(store), order))
        const agent = browser(url)
        let hits = 0
        for (const [, path, body, route] of ROUTES) {
          const res = await agent.get(path).timeout(REQUEST_TIMEOUT).expect(200)
          hits++
          expect(res.text === body).toBe(true)
          liveSessionCookie(res)
          expect((await agent.get('/read').timeout(REQUEST_TIMEOUT).expect(200)).body).toEqual({ route, hits })
        }
      })
    })
  })
})
