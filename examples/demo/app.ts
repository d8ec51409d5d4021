import express, { type ErrorRequestHandler, type Request } from 'express'
import { arcSession, sessionInfo, type ArcSessionOptions, type RejectReason } from 'arc-session'

declare module 'arc-session' {
  interface SessionData {
    count?: number
    user?: string
    notes?: string[]
  }
}

const BIG_NOTE = 'This note is here to make the session big. '.repeat(25)

/** Why this request's session cookie was refused, if it was: shown on the page (onReject's use in the demo). */
const refusals = new WeakMap<object, RejectReason>()

/** The demo: a visit counter, a login that regenerates the session, a logout that destroys it, notes that grow it. */
export function createDemoApp (options: ArcSessionOptions = {}): express.Express {
  const cookieName = options.cookie?.name ?? '_idx'
  const app = express()
  app.disable('x-powered-by')
  app.use(express.urlencoded({ extended: false, limit: '16kb' }))
  app.use(arcSession({
    ...options,
    onReject: (reason, req) => {
      refusals.set(req as object, reason)
      options.onReject?.(reason, req)
    }
  }))

  app.get('/', async (req, res) => {
    req.session.count = (req.session.count ?? 0) + 1
    await req.session.save()
    res.type('html').send(page(req, cookieName))
  })

  app.get('/session.json', (req, res) => {
    res.json({ data: req.session, info: sessionInfo(req.session) })
  })

  app.post('/login', async (req, res) => {
    const name = String(req.body?.name ?? '').trim().slice(0, 40)
    if (name === '') { res.redirect(303, '/'); return }
    // A new identity at sign-in; the visits and notes come along (a plain regenerate() starts empty).
    await req.session.regenerate({ keep: true })
    req.session.user = name
    res.redirect(303, '/')
  })

  app.post('/logout', async (req, res) => {
    await req.session.destroy()
    res.redirect(303, '/')
  })

  app.post('/notes', (req, res) => {
    const text = String(req.body?.note ?? '').trim().slice(0, 500)
    if (text !== '') req.session.notes = [...(req.session.notes ?? []), text]
    res.redirect(303, '/')
  })

  app.post('/notes/big', (req, res) => {
    req.session.notes = [...(req.session.notes ?? []), ...Array.from({ length: 6 }, (_, i) => `${i + 1}. ${BIG_NOTE}`)]
    res.redirect(303, '/')
  })

  app.post('/notes/clear', (req, res) => {
    delete req.session.notes
    res.redirect(303, '/')
  })

  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    const status = typeof error?.status === 'number' ? error.status : 500
    res.status(status).type('html').send(layout('Something went wrong', `<p class="error">${escape(error?.message ?? 'error')}</p><p><a href="/">Back</a></p>`))
  }
  app.use(onError)
  return app
}

function page (req: Request, cookieName: string): string {
  const info = sessionInfo(req.session)
  const { count = 0, user, notes = [] } = req.session
  const storeLabel = info.store === 'jwe' ? 'encrypted cookie (JWE)' : info.store === 'dynamodb' ? 'DynamoDB table (the cookie holds a signed id)' : 'custom store'
  const storeNote = info.store === 'jwe'
    ? 'The session data itself travels in the cookie, encrypted (AES-GCM); the server keeps nothing.'
    : info.store === 'dynamodb'
      ? 'The data lives in a DynamoDB item; the cookie carries only its signed id.'
      : 'The data lives wherever the custom store keeps it.'
  const bytes = Buffer.byteLength(JSON.stringify(req.session))
  const sent = sentSessionCookies(req.headers.cookie, cookieName)
  return layout('arc-session demo', `
<p class="lede">Every visit to this page adds one to a counter kept in the session. Sign in, add notes,
sign out, reload, or restart the browser: the panel shows what the server finds in the session on this request.</p>
<section id="state" class="card">
  <h2>Session <span class="pill ${user === undefined ? 'anon' : 'signed'}">${user === undefined ? 'anonymous' : 'signed in'}</span>
    <span class="pill store-${escape(info.store)}">${escape(info.store === 'jwe' ? 'cookie store' : info.store === 'dynamodb' ? 'DynamoDB store' : 'custom store')}</span></h2>
  <dl>
    <dt>Visitor</dt><dd id="user">${user === undefined ? 'anonymous' : `signed in as <strong>${escape(user)}</strong>`}</dd>
    <dt>Visits</dt><dd id="count" class="big-number">${count}</dd>
    <dt>Store</dt><dd><span id="store">${storeLabel}</span><br><span class="hint">${storeNote}</span></dd>
    <dt>Started</dt><dd id="created">${info.createdAt?.toISOString() ?? 'not yet'}</dd>
    <dt>Expires</dt><dd id="expires">${info.expiresAt?.toISOString() ?? 'not yet'} (a week after the last visit, at most 30 days after it started)</dd>
    <dt>Notes</dt><dd id="notes">${notes.length} (${bytes} bytes of session data)</dd>
    <dt>Cookies sent</dt><dd id="session-cookies">${sent.length === 0
      ? 'none: this request carried no session cookie'
      : sent.map(([name, size]) => `<code>${escape(name)}</code> ${size} bytes`).join(', ')}${sent.length > 1 ? ' <span class="hint">(one session, split in chunks: a cookie holds at most 4,096 bytes)</span>' : ''}</dd>
  </dl>
  ${refusals.has(req) ? `<p id="refused" class="warning">The session cookie this request carried was refused (<strong>${escape(refusals.get(req) ?? '')}</strong>), so this is a new, empty session.</p>` : ''}
  <h3>Stored data</h3>
  <pre id="data">${escape(JSON.stringify(req.session, null, 2))}</pre>
  <p class="hint">The session cookie is HttpOnly: page scripts cannot read it. <code>document.cookie</code> here: <code id="document-cookie"></code></p>
</section>
<section id="actions" class="card">
  <h2>Try it</h2>
  ${user === undefined
    ? '<form method="post" action="/login"><label>Name <input name="name" required maxlength="40"></label> <button id="login">Sign in</button> <span class="hint">regenerates the session: new cookie, same data</span></form>'
    : '<form method="post" action="/logout"><button id="logout">Sign out</button> <span class="hint">destroys the session and expires its cookie</span></form>'}
  <form method="post" action="/notes"><label>Note <input name="note" maxlength="500"></label> <button id="add-note">Add</button></form>
  <form method="post" action="/notes/big" class="inline"><button id="big">Add 6 long notes (${info.store === 'jwe' ? 'needs several cookies' : 'about 6.5 KB'})</button></form>
  <form method="post" action="/notes/clear" class="inline"><button id="clear-notes">Clear notes</button></form>
  <p class="hint">Raw data: <a href="/session.json">/session.json</a></p>
</section>
<script>document.getElementById('document-cookie').textContent = JSON.stringify(document.cookie)</script>`)
}

/** Names and sizes (never values) of the session cookies this request carried: `_idx`, or its chunks `_idx.0` .. `_idx.9`. */
function sentSessionCookies (header: string | undefined, cookieName: string): Array<[name: string, bytes: number]> {
  if (header === undefined) return []
  const found: Array<[string, number]> = []
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=')
    const name = pair.slice(0, eq).trim()
    if (eq > 0 && (name === cookieName || (name.length === cookieName.length + 2 && name.startsWith(`${cookieName}.`) && /\d$/.test(name)))) {
      found.push([name, Buffer.byteLength(pair.trim())])
    }
  }
  return found
}

function layout (title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 1.5rem auto; padding: 0 1rem; color: #1d2330; background: #f6f7fa }
  h1 { margin: 0 0 .25rem } h2 { margin: 0 0 .75rem; font-size: 1.25rem } h3 { margin: 1rem 0 .5rem; font-size: 1rem }
  .lede { color: #3d4556; margin: 0 0 1rem }
  .card { background: #fff; border: 1px solid #dde1e8; border-radius: .5rem; padding: 1rem 1.25rem; margin: 0 0 1rem }
  dl { display: grid; grid-template-columns: 8.5rem 1fr; gap: .35rem 1rem; margin: 0 } dt { font-weight: 600 } dd { margin: 0; overflow-wrap: anywhere }
  .big-number { font-size: 1.5rem; font-weight: 700; line-height: 1.1 }
  .pill { display: inline-block; font-size: .8rem; font-weight: 600; padding: .1rem .6rem; border-radius: 1rem; vertical-align: middle; margin-left: .35rem }
  .anon { background: #eceff4; color: #3d4556 } .signed { background: #dcf5e3; color: #11632d }
  .store-jwe { background: #ece3fb; color: #4b2593 } .store-dynamodb { background: #dcecfb; color: #0f4c85 } .store-custom { background: #fbf0d9; color: #6b4a06 }
  pre { background: #f3f5f8; border-radius: .35rem; padding: .75rem 1rem; overflow: auto; max-height: 18rem; white-space: pre-wrap; overflow-wrap: anywhere; font-size: .85rem; margin: 0 }
  form { margin: .6rem 0 } form.inline { display: inline-block; margin-right: .5rem } input { font: inherit; padding: .15rem .4rem } button { font: inherit; padding: .15rem .7rem; cursor: pointer }
  .hint { color: #5a6272; font-size: .875rem } .error { color: #b00020; font-weight: 600 } .warning { background: #fff4d6; border-left: 4px solid #e0a800; padding: .5rem .75rem }
</style></head>
<body><h1>${escape(title)}</h1>${body}</body></html>`
}

function escape (text: string): string {
  return text.replace(/[&<>"']/g, char => `&#${char.charCodeAt(0)};`)
}
