/**
 * The chunk count on chunk 0 (`3~...`) is parsed strictly (finding 9): canonical decimal from 2
 * to 10, nothing else. `Number()` used to read `03`, `+3`, `0x3`, ` 3`, `3.0` and `3e0` as 3, so
 * one session had many spellings on the wire; each of them now refuses the session as malformed.
 *
 * The session is a real three-chunk one made by the middleware; only chunk 0's count prefix is
 * rewritten, so everything else about it is valid.
 */
import express from 'express'
import request from 'supertest'
import { arcSession } from 'arc-session'
import { isExpired, sessionCookies, testOptions, type ParsedCookie, blobText } from '../support/apps'
import { captureRejects } from '../support/tokens'


const rejects = captureRejects()
const app = express()
app.use(arcSession(testOptions({ onReject: rejects.onReject })))
app.get('/', (req, res) => { res.json({ size: typeof req.session.blob === 'string' ? req.session.blob.length : 0 }) })
app.get('/fill', (req, res) => { req.session.blob = blobText(8000); res.json({ ok: true }) })

let chunks: ParsedCookie[]

beforeAll(async () => {
  const res = await request(app).get('/fill').expect(200)
  chunks = sessionCookies(res).filter(cookie => !isExpired(cookie))
  expect(chunks.map(cookie => cookie.name)).toEqual(['_idx.0', '_idx.1', '_idx.2'])
  expect(chunks[0]?.value.startsWith('3~')).toBe(true)
})

beforeEach(() => { rejects.clear() })

/** The three chunks with chunk 0's `3~` replaced by `prefix` (as it goes on the wire). */
function withCount (prefix: string): string {
  const [first, ...rest] = chunks
  const body = (first as ParsedCookie).value.slice('3~'.length)
  return [`_idx.0=${prefix}${body}`, ...rest.map(cookie => cookie.pair)].join('; ')
}

// ` 3~` goes percent-encoded (`%203~`): a bare leading blank is trimmed off the cookie value as
// RFC 6265 says, and would be `3~` again.
const spellings: Array<[string, string]> = [
  ['03~', '03~'], ['+3~', '+3~'], ['0x3~', '0x3~'], [' 3~', '%203~'], ['3.0~', '3.0~'], ['3e0~', '3e0~'], ['1~', '1~'], ['11~', '11~']
]

test('`3~` opens the session; every other spelling of the count refuses it: an empty session, reason malformed, the chunks expired', async () => {
  await request(app).get('/').set('Cookie', withCount('3~')).expect(200, { size: 8000 })
  expect(rejects.reasons).toEqual([])
  for (const [name, prefix] of spellings) {
    rejects.clear()
    const res = await request(app).get('/').set('Cookie', withCount(prefix))
    expect({ name, status: res.status, body: res.body as unknown }).toEqual({ name, status: 200, body: { size: 0 } })
    expect({ name, reasons: rejects.reasons }).toEqual({ name, reasons: ['malformed'] })
    expect({ name, expired: sessionCookies(res).filter(isExpired).map(cookie => cookie.name).sort() })
      .toEqual({ name, expired: ['_idx.0', '_idx.1', '_idx.2'] })
  }
})
