import { CookieJar, SECRET, setCookiesIn } from '../../spec/support/apps'
import { handler } from './handler'
import { useEnvironment } from '../../spec/support/environment'

// The Lambda example uses the module-level read()/write(), configured from process.env.

const VARIABLES = ['ARC_APP_SECRET', 'ARC_APP_SECRET_PREVIOUS', 'ARC_SESSION_TABLE_NAME', 'SESSION_TABLE_NAME', 'ARC_SESSION_TTL', 'SESSION_TTL', 'ARC_ENV']
useEnvironment(VARIABLES, { ARC_APP_SECRET: SECRET, ARC_ENV: 'testing' })

type Result = Awaited<ReturnType<typeof handler>>

function countOf (result: Result): unknown {
  expect(result.statusCode).toBe(200)
  expect(result.headers['content-type']).toBe('application/json')
  return JSON.parse(result.body).count
}

test.each(['cookie', 'Cookie'])('payload v1 (headers.%s): the count goes up as the cookie comes back', async header => {
  const jar = new CookieJar()
  const counts: unknown[] = []
  for (let i = 0; i < 3; i++) {
    const headers: Record<string, string> = jar.header() === '' ? {} : { [header]: `theme=dark; ${jar.header()}` }
    const result = await handler({ headers })
    counts.push(countOf(result))
    const setCookies = setCookiesIn((result as { multiValueHeaders?: Record<string, unknown> }).multiValueHeaders)
    expect(setCookies).toHaveLength(1)
    expect(setCookies[0]).toMatch(/^_idx=[^;]+; Max-Age=\d+;.*HttpOnly/)
    jar.store(setCookies)
  }
  expect(counts).toEqual([1, 2, 3])
})

test('payload v2 (cookies array in, cookies array out): the count goes up as the cookie comes back', async () => {
  const jar = new CookieJar()
  const counts: unknown[] = []
  for (let i = 0; i < 3; i++) {
    const result = await handler({ version: '2.0', headers: { 'user-agent': 'jest' }, cookies: ['theme=dark', ...jar.list()] })
    counts.push(countOf(result))
    const cookies = (result as { cookies?: string[] }).cookies
    expect(cookies).toHaveLength(1)
    jar.store(cookies ?? [])
  }
  expect(counts).toEqual([1, 2, 3])
})

test('a cookie from one payload version works in the other', async () => {
  const jar = new CookieJar()
  jar.store((await handler({ version: '2.0', headers: {} }) as { cookies: string[] }).cookies)
  const v1 = await handler({ headers: { cookie: jar.header() } })
  expect(countOf(v1)).toBe(2)
})

test('a tampered cookie starts a new count instead of failing', async () => {
  const jar = new CookieJar()
  jar.store((await handler({ version: '2.0', headers: {} }) as { cookies: string[] }).cookies)
  const token = jar.get('_idx') as string
  const tampered = `${token.slice(0, -3)}${token.endsWith('AAA') ? 'BBB' : 'AAA'}`
  expect(countOf(await handler({ version: '2.0', headers: {}, cookies: [`_idx=${tampered}`] }))).toBe(1)
})
