import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, type Stream } from 'node:stream'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import request from 'supertest'
import { arcSession, createTable, type ArcSessionOptions } from 'arc-session'
import { EXPRESS_VERSIONS, isExpired, parseSetCookie, sessionCookies, setCookiesIn, testOptions, type ExpressFactory } from '../support/apps'

// The session cookie goes out however the route ends its response, next to the app's own cookies.

const BIG = randomBytes(1024 * 1024)
const BIG_SHA = createHash('sha256').update(BIG).digest('hex')

let dir = ''
let file = ''
let client: DynamoDBClient | undefined
const table = `paths-${process.pid}-${Date.now().toString(36)}`

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'arc-session-paths-'))
  file = join(dir, 'hello.txt')
  await writeFile(file, 'file contents\n')
  await writeFile(join(dir, 'page.tpl'), '<p>Hello {{name}}</p>')
  client = new DynamoDBClient({
    endpoint: process.env.DYNAMODB_TEST_ENDPOINT as string,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' }
  })
  await createTable(table, { client })
})

afterAll(async () => {
  client?.destroy()
  await rm(dir, { recursive: true, force: true })
})

/** A tiny template engine: `{{name}}` from the locals. */
function renderTemplate (path: string, locals: object, callback: (error: unknown, html?: string) => void): void {
  readFile(path, 'utf8').then(
    text => { callback(null, text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => String((locals as Record<string, unknown>)[key] ?? ''))) },
    callback)
}

/** A supertest parser that keeps the body as bytes. */
function binary (res: Stream, callback: (error: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = []
  res.on('data', (chunk: Buffer) => chunks.push(chunk))
  res.on('end', () => { callback(null, Buffer.concat(chunks)) })
}

function bigStream (): Readable {
  const parts: Buffer[] = []
  for (let at = 0; at < BIG.length; at += 16 * 1024) parts.push(BIG.subarray(at, at + 16 * 1024))
  return Readable.from(parts)
}

function makeApp (makeExpress: ExpressFactory, options: ArcSessionOptions) {
  const app = makeExpress()
  app.engine('tpl', renderTemplate)
  app.set('views', dir)
  app.set('view engine', 'tpl')
  app.use(arcSession(options))
  app.use((req, _res, next) => {
    if (req.path !== '/read' && req.query.keep === undefined) req.session.via = req.path
    next()
  })

  app.get('/read', (req, res) => { res.json(req.session) })
  app.get('/send', (_req, res) => { res.send('sent') })
  app.get('/json', (_req, res) => { res.json({ ok: true }) })
  app.get('/end', (_req, res) => { res.end('ended') })
  app.get('/redirect', (_req, res) => { res.redirect('/landing') })
  app.get('/sendfile', (_req, res, next) => { res.sendFile(file, error => { if (error !== undefined && error !== null) next(error) }) })
  app.get('/render', (_req, res) => { res.render('page', { name: 'Ada' }) })
  app.get('/writehead', (_req, res) => {
    res.writeHead(201)
    res.end('created')
  })
  app.get('/writehead-object', (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Set-Cookie': 'app=object; Path=/' })
    res.end('object')
  })
  app.get('/writehead-array', (_req, res) => {
    res.writeHead(200, ['Content-Type', 'text/plain', 'Set-Cookie', 'app=array; Path=/'])
    res.end('array')
  })
  app.get('/writehead-reason', (_req, res) => {
    res.writeHead(202, 'Taken', { 'Set-Cookie': ['app=reason; Path=/', 'other=two; Path=/'], 'X-Route': 'yes' })
    res.end('reason')
  })
  app.get('/flush', (_req, res) => {
    res.flushHeaders()
    res.end('flushed')
  })
  app.get('/stream', (_req, res) => {
    res.type('text/plain')
    res.write('one,')
    res.write(Buffer.from('two,'))
    setImmediate(() => {
      res.write('three,')
      res.end('four')
    })
  })
  app.get('/pipe', (_req, res) => {
    res.type('application/octet-stream')
    bigStream().pipe(res)
  })
  app.get('/res-cookie', (_req, res) => {
    res.cookie('app', 'cookie')
    res.cookie('theme', 'dark', { httpOnly: true })
    res.send('ok')
  })
  app.get('/set-header', (_req, res) => {
    res.setHeader('Set-Cookie', ['a=1; Path=/', 'b=2; Path=/'])
    res.send('ok')
  })
  app.get('/set-header-string', (_req, res) => {
    res.setHeader('Set-Cookie', 'single=1; Path=/')
    res.send('ok')
  })
  app.get('/append', (_req, res) => {
    res.append('Set-Cookie', 'c=3; Path=/')
    res.append('Set-Cookie', ['d=4; Path=/', 'e=5; Path=/'])
    res.send('ok')
  })
  app.get('/no-content', (_req, res) => { res.status(204).end() })
  app.get('/send-status', (_req, res) => { res.sendStatus(204) })
  app.get('/fresh', (_req, res) => {
    res.set('ETag', '"fixed"')
    res.send('always the same body')
  })
  return app
}

function liveSession (response: { headers: Record<string, unknown> }) {
  const live = sessionCookies(response).filter(cookie => !isExpired(cookie))
  expect(live).toHaveLength(1)
  return live[0]!
}

function appCookies (response: { headers: Record<string, unknown> }): string[] {
  return setCookiesIn(response.headers).map(parseSetCookie).filter(cookie => cookie.name !== '_idx').map(cookie => `${cookie.name}=${cookie.value}`)
}

const STORES: ReadonlyArray<readonly [string, () => ArcSessionOptions]> = [
  ['JWE cookie store', () => testOptions()],
  ['DynamoDB store', () => testOptions({ table, dynamodb: { client: client as DynamoDBClient } })]
]

describe.each(STORES)('%s', (_store, storeOptions) => {
  describe.each(EXPRESS_VERSIONS)('%s', (_name, makeExpress) => {
    const app = () => makeApp(makeExpress, storeOptions())

    /** The cookie the response carried finds the session the route wrote. */
    async function expectSessionFrom (the: ReturnType<typeof app>, response: { headers: Record<string, unknown> }, via: string) {
      const cookie = liveSession(response)
      const read = await request(the).get('/read').set('Cookie', `${cookie.name}=${cookie.value}`).expect(200)
      expect(read.body).toEqual({ via })
    }

    test.each([
      ['res.send', '/send', 200, 'sent'],
      ['res.json', '/json', 200, '{"ok":true}'],
      ['res.end', '/end', 200, 'ended'],
      ['res.sendFile', '/sendfile', 200, 'file contents\n'],
      ['res.render with an app.engine', '/render', 200, '<p>Hello Ada</p>'],
      ['res.writeHead(status) then end', '/writehead', 201, 'created'],
      ['res.flushHeaders() then end', '/flush', 200, 'flushed'],
      ['streamed res.write() calls then end', '/stream', 200, 'one,two,three,four']
    ])('%s sets the session cookie', async (_how, path, status, body) => {
      const the = app()
      const response = await request(the).get(path).expect(status)
      expect(response.text).toBe(body)
      await expectSessionFrom(the, response, path)
    })

    test('res.redirect sets the session cookie on the redirect itself', async () => {
      const the = app()
      const response = await request(the).get('/redirect').redirects(0).expect(302)
      expect(response.headers.location).toBe('/landing')
      await expectSessionFrom(the, response, '/redirect')
    })

    test('stream.pipe(res) of 1 MB arrives intact with the session cookie', async () => {
      const the = app()
      const response = await request(the).get('/pipe').buffer(true).parse(binary).expect(200)
      const body = response.body as Buffer
      expect(body.length).toBe(BIG.length)
      expect(createHash('sha256').update(body).digest('hex')).toBe(BIG_SHA)
      await expectSessionFrom(the, response, '/pipe')
    })

    test('stream.pipe(res) of 1 MB arrives intact when the session is unchanged', async () => {
      const response = await request(app()).get('/pipe?keep=1').buffer(true).parse(binary).expect(200)
      expect(createHash('sha256').update(response.body as Buffer).digest('hex')).toBe(BIG_SHA)
      expect(response.headers['set-cookie']).toBeUndefined()
    })

    test.each([
      ['res.writeHead with a headers object holding Set-Cookie', '/writehead-object', 200, ['app=object']],
      ['res.writeHead with a flat headers array holding Set-Cookie', '/writehead-array', 200, ['app=array']],
      ['res.writeHead with a reason phrase and two Set-Cookie values', '/writehead-reason', 202, ['app=reason', 'other=two']],
      ['res.cookie', '/res-cookie', 200, ['app=cookie', 'theme=dark']],
      ['res.setHeader(Set-Cookie, [...])', '/set-header', 200, ['a=1', 'b=2']],
      ['res.setHeader(Set-Cookie, string)', '/set-header-string', 200, ['single=1']],
      ['res.append(Set-Cookie)', '/append', 200, ['c=3', 'd=4', 'e=5']]
    ])('%s: the app\'s cookies are kept next to the session cookie', async (_how, path, status, expected) => {
      const the = app()
      const response = await request(the).get(path).expect(status)
      expect(appCookies(response)).toEqual(expected)
      await expectSessionFrom(the, response, path)
    })

    test('res.writeHead keeps the other headers and the reason phrase it was given', async () => {
      const response = await request(app()).get('/writehead-reason').expect(202)
      expect(response.headers['x-route']).toBe('yes')
      expect((response as unknown as { res: IncomingMessage }).res.statusMessage).toBe('Taken')
    })

    test('a HEAD request gets the session cookie and no body', async () => {
      const the = app()
      const response = await request(the).head('/send').expect(200)
      expect(response.text ?? '').toBe('')
      await expectSessionFrom(the, response, '/send')
    })

    test.each([
      ['res.status(204).end()', '/no-content'],
      ['res.sendStatus(204)', '/send-status']
    ])('a 204 from %s carries the session cookie', async (_how, path) => {
      const the = app()
      const response = await request(the).get(path).expect(204)
      await expectSessionFrom(the, response, path)
    })

    test('a 304 (fresh ETag) carries the session cookie', async () => {
      const the = app()
      const response = await request(the).get('/fresh').set('If-None-Match', '"fixed"').expect(304)
      expect(response.text ?? '').toBe('')
      await expectSessionFrom(the, response, '/fresh')
    })
  })
})
