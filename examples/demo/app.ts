import express, { type ErrorRequestHandler, type Request } from 'express'
import { arcSession, sessionInfo, type ArcSessionOptions } from 'arc-session'

declare module 'arc-session' {
  interface SessionData {
    count?: number
    user?: string
    notes?: string[]
  }
}

const BIG_NOTE = 'This note is here to make the session big. '.repeat(25)

/** The demo: a visit counter, a login that regenerates the session, a logout that destroys it, notes that grow it. */
export function createDemoApp (options: ArcSessionOptions = {}): express.Express {
  const app = express()
  app.disable('x-powered-by')
  app.use(express.urlencoded({ extended: false, limit: '16kb' }))
  app.use(arcSession(options))

  app.get('/', async (req, res) => {
    req.session.count = (req.session.count ?? 0) + 1
    await req.session.save()
    res.type('html').send(page(req))
  })

  app.get('/session.json', (req, res) => {
    res.json({ data: req.session, info: sessionInfo(req.session) })
  })

  app.post('/login', async (req, res) => {
    const name = String(req.body?.name ?? '').trim().slice(0, 40)
    if (name === '') { res.redirect(303, '/'); return }
    await req.session.regenerate()
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

function page (req: Request): string {
  const info = sessionInfo(req.session)
  const { count = 0, user, notes = [] } = req.session
  const storeLabel = info.store === 'jwe' ? 'encrypted cookie (JWE)' : info.store === 'dynamodb' ? 'DynamoDB table (the cookie holds a signed id)' : 'custom store'
  const bytes = Buffer.byteLength(JSON.stringify(req.session))
  return layout('arc-session demo', `
<section id="state">
  <h2>Session</h2>
  <dl>
    <dt>Visitor</dt><dd id="user">${user === undefined ? 'anonymous' : `signed in as <strong>${escape(user)}</strong>`}</dd>
    <dt>Visits</dt><dd id="count">${count}</dd>
    <dt>Store</dt><dd id="store">${storeLabel}</dd>
    <dt>Started</dt><dd id="created">${info.createdAt?.toISOString() ?? 'not yet'}</dd>
    <dt>Expires</dt><dd id="expires">${info.expiresAt?.toISOString() ?? 'not yet'} (a week after the last visit, at most 30 days after it started)</dd>
    <dt>Notes</dt><dd id="notes">${notes.length} (${bytes} bytes of session data)</dd>
  </dl>
  <h3>Stored data</h3>
  <pre id="data">${escape(JSON.stringify(req.session, null, 2))}</pre>
  <p class="hint">The session cookie is HttpOnly: page scripts cannot read it. <code>document.cookie</code> here: <code id="document-cookie"></code></p>
</section>
<section id="actions">
  ${user === undefined
    ? '<form method="post" action="/login"><label>Name <input name="name" required maxlength="40"></label> <button id="login">Sign in</button></form>'
    : '<form method="post" action="/logout"><button id="logout">Sign out</button></form>'}
  <form method="post" action="/notes"><label>Note <input name="note" maxlength="500"></label> <button id="add-note">Add</button></form>
  <form method="post" action="/notes/big"><button id="big">Add 6 long notes (needs several cookies)</button></form>
  <form method="post" action="/notes/clear"><button id="clear-notes">Clear notes</button></form>
</section>
<script>document.getElementById('document-cookie').textContent = JSON.stringify(document.cookie)</script>`)
}

function layout (title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; color: #1d2330 }
  dl { display: grid; grid-template-columns: 8rem 1fr; gap: .25rem 1rem } dt { font-weight: 600 } dd { margin: 0 }
  pre { background: #f3f5f8; padding: 1rem; overflow: auto; max-height: 16rem } form { margin: .75rem 0 }
  .hint { color: #5a6272; font-size: .9rem } .error { color: #b00020; font-weight: 600 }
</style></head>
<body><h1>${escape(title)}</h1>${body}</body></html>`
}

function escape (text: string): string {
  return text.replace(/[&<>"']/g, char => `&#${char.charCodeAt(0)};`)
}
