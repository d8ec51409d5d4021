import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import request from 'supertest'
import { createTable, type ArcSessionOptions } from 'arc-session'
import { cookieHeader, isExpired, sessionCookies, testOptions } from '../../spec/support/apps'
import { createDemoApp } from './app'

// The demo, as a visitor sees it, on the cookie store and on DynamoDB (dynalite).

/** The text inside the element with this id, tags stripped. */
function field (html: string, id: string): string {
  const match = new RegExp(`id="${id}"[^>]*>([\\s\\S]*?)</(dd|pre|code)>`).exec(html)
  if (match === null) throw new Error(`no #${id} on the page`)
  return (match[1] ?? '').replace(/<[^>]+>/g, '').trim()
}

let client: DynamoDBClient | undefined
const table = `demo-${process.pid}-${Date.now().toString(36)}`

beforeAll(async () => {
  client = new DynamoDBClient({
    endpoint: process.env.DYNAMODB_TEST_ENDPOINT as string, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }
  })
  await createTable(table, { client })
})

afterAll(() => { client?.destroy() })

const STORES: ReadonlyArray<readonly [string, () => ArcSessionOptions, RegExp]> = [
  ['the cookie store', () => testOptions(), /encrypted cookie \(JWE\)/],
  ['DynamoDB (dynalite)', () => testOptions({ table, dynamodb: { client: client as DynamoDBClient } }), /DynamoDB table/]
]

describe.each(STORES)('the demo on %s', (storeName, options, storeLabel) => {
  const demo = () => createDemoApp(options())

  test('the counter counts visits', async () => {
    const agent = request.agent(demo())
    const counts: string[] = []
    for (let i = 0; i < 3; i++) counts.push(field((await agent.get('/').expect(200)).text, 'count'))
    expect(counts).toEqual(['1', '2', '3'])
  })

  test('the page shows the store, when the session started and when it expires', async () => {
    const before = Date.now()
    const page = (await request(demo()).get('/').expect(200)).text
    expect(field(page, 'store')).toMatch(storeLabel)
    const created = Date.parse(field(page, 'created'))
    const expires = Date.parse(field(page, 'expires').split(' ')[0] as string)
    expect(created).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000)
    // A week of inactivity from now (the default ttl), within the 30-day absolute limit.
    expect(expires - created).toBe(7 * 24 * 60 * 60 * 1000)
    expect(field(page, 'user')).toBe('anonymous')
  })

  test('a refused cookie gives a fresh page that says why', async () => {
    const the = demo()
    const agent = request.agent(the)
    const first = await agent.get('/').expect(200)
    expect(first.text).not.toContain('id="refused"')
    const cookie = cookieHeader(sessionCookies(first))
    const tampered = cookie.replace(/.$/, last => last === 'A' ? 'B' : 'A')
    const page = (await request(the).get('/').set('Cookie', tampered).expect(200)).text
    expect(field(page, 'count')).toBe('1')
    expect(page).toMatch(/id="refused"[^>]*>The session cookie this request carried was refused \(<strong>(tampered|malformed)<\/strong>\)/)
  })

  test('login regenerates the session: a new cookie value, the user shown, the visits kept', async () => {
    const the = demo()
    const agent = request.agent(the)
    const first = await agent.get('/').expect(200)
    const before = cookieHeader(sessionCookies(first))
    const login = await agent.post('/login').type('form').send({ name: 'Ada <admin>' }).expect(303)
    expect(login.headers.location).toBe('/')
    const after = cookieHeader(sessionCookies(login))
    expect(after).not.toBe('')
    expect(after).not.toBe(before)
    const page = (await agent.get('/').expect(200)).text
    expect(field(page, 'user')).toBe('signed in as Ada &#60;admin&#62;')
    expect(field(page, 'count')).toBe('2')

    const replayed = (await request(the).get('/').set('Cookie', before).expect(200)).text
    if (storeName.startsWith('DynamoDB')) {
      // The old id no longer reaches the signed-in session.
      expect(field(replayed, 'user')).toBe('anonymous')
      expect(field(replayed, 'count')).toBe('1')
    }
  })

  test('logout expires the cookie and the next visit is anonymous', async () => {
    const agent = request.agent(demo())
    await agent.get('/').expect(200)
    await agent.post('/login').type('form').send({ name: 'Grace' }).expect(303)
    const logout = await agent.post('/logout').expect(303)
    const cookies = sessionCookies(logout)
    expect(cookies.length).toBeGreaterThan(0)
    expect(cookies.every(isExpired)).toBe(true)
    const page = (await agent.get('/').expect(200)).text
    expect(field(page, 'user')).toBe('anonymous')
    expect(field(page, 'count')).toBe('1')
  })

  test('notes are kept, and the big notes survive the next request', async () => {
    const agent = request.agent(demo())
    await agent.post('/notes').type('form').send({ note: 'remember the milk' }).expect(303)
    const big = await agent.post('/notes/big').expect(303)
    const live = sessionCookies(big).filter(cookie => !isExpired(cookie))
    if (storeName === 'the cookie store') {
      // Several cookie chunks: _idx.0, _idx.1, ...
      expect(live.length).toBeGreaterThan(1)
      expect(live.map(cookie => cookie.name)).toEqual(live.map((_, index) => `_idx.${index}`))
    } else {
      expect(live.map(cookie => cookie.name)).toEqual(['_idx'])
    }
    const data = (await agent.get('/session.json').expect(200)).body as { data: { notes: string[] } }
    expect(data.data.notes).toHaveLength(7)
    expect(data.data.notes[0]).toBe('remember the milk')
    expect(data.data.notes[6]).toMatch(/^6\. This note is here to make the session big\./)

    const page = (await agent.get('/').expect(200)).text
    expect(field(page, 'notes')).toMatch(/^7 \(/)

    const cleared = await agent.post('/notes/clear').expect(303)
    if (storeName === 'the cookie store') {
      // The chunks the session no longer needs are expired.
      expect(sessionCookies(cleared).filter(isExpired).map(cookie => cookie.name).sort()).toEqual(live.map(cookie => cookie.name).sort())
    }
    const after = (await agent.get('/session.json').expect(200)).body as { data: { notes?: string[], count: number } }
    expect(after.data.notes).toBeUndefined()
    expect(after.data.count).toBe(1)
  })

  test('an empty name does not log in', async () => {
    const agent = request.agent(demo())
    await agent.post('/login').type('form').send({ name: '   ' }).expect(303)
    expect(field((await agent.get('/').expect(200)).text, 'user')).toBe('anonymous')
  })
})

describe.each(STORES)('the demo\'s panels on %s', (_storeName, options) => {
  const demo = () => createDemoApp(options())

  test('each panel links to the line of examples/demo/app.ts that produced it', async () => {
    const the = demo()
    const page = (await request(the).get('/').expect(200)).text
    const links = [...page.matchAll(/href="\/source#L(\d+)"/g)].map(match => Number(match[1]))
    expect(links.length).toBeGreaterThanOrEqual(3)
    const source = (await request(the).get('/source').expect(200)).text
    for (const line of links) expect(source).toMatch(new RegExp(`id="L${line}">\\s*${line}\\s+(//|\\s*//) code: `))
  })

  test('the page shows the Set-Cookie of this response, and the new cookie the sign-in set', async () => {
    const agent = request.agent(demo())
    const first = await agent.get('/').expect(200)
    expect(field(first.text, 'set-cookie')).toMatch(/^_idx=\S+… Max-Age=\d+|^_idx=.+Max-Age=/)
    await agent.post('/login').type('form').send({ name: 'Ada' }).expect(303)
    const after = (await agent.get('/').expect(200)).text
    expect(field(after, 'previous-set-cookie')).toMatch(/^POST \/login set _idx=/)
  })

  test('your devices: two browsers signed in as one name see each other, and one signs the other out', async () => {
    const the = demo()
    const laptop = request.agent(the)
    const phone = request.agent(the)
    await laptop.post('/login').set('User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0').type('form').send({ name: 'Grace' }).expect(303)
    await phone.post('/login').set('User-Agent', 'Mozilla/5.0 (Android 14) Firefox/121.0').type('form').send({ name: 'Grace' }).expect(303)
    const page = (await laptop.get('/').set('User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0').expect(200)).text
    const devices = [...page.matchAll(/<li class="device( current)?" data-id="([^"]+)">\s*<strong>([^<]+)<\/strong>/g)]
    expect(devices.map(match => [match[3], match[1] !== undefined])).toEqual(expect.arrayContaining([['Chrome on Linux', true], ['Firefox on Android', false]]))
    const other = devices.find(match => match[1] === undefined)?.[2] as string
    await laptop.post(`/devices/${encodeURIComponent(other)}/sign-out`).expect(303)
    expect(field((await phone.get('/').expect(200)).text, 'user')).toBe('anonymous')
    expect(field((await laptop.get('/').expect(200)).text, 'user')).toBe('signed in as Grace')
  })
})

test('a cookie sealed with another development key is explained on the page', async () => {
  const { mkdtempSync, rmSync } = require('node:fs') as typeof import('node:fs')
  const { join } = require('node:path') as typeof import('node:path')
  const { tmpdir } = require('node:os') as typeof import('node:os')
  const dirs = [mkdtempSync(join(tmpdir(), 'demo-key-a-')), mkdtempSync(join(tmpdir(), 'demo-key-b-'))]
  try {
    const [before, after] = dirs.map(dir => createDemoApp({ table: 'jwe', env: { ARC_SESSION_DEV_KEY_DIR: dir }, cookie: { secure: false } })) as [ReturnType<typeof createDemoApp>, ReturnType<typeof createDemoApp>]
    const first = await request(before).get('/').expect(200)
    const page = (await request(after).get('/').set('Cookie', cookieHeader(sessionCookies(first))).expect(200)).text
    expect(page).toMatch(/id="refused"[\s\S]*development key changed/)
  } finally {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  }
})
