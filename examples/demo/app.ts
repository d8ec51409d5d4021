import { readFileSync } from 'node:fs'
import express, { type ErrorRequestHandler, type Request, type Response } from 'express'
import { arcSession, sessionInfo, type ArcSessionOptions, type RejectReason, type SessionInfo, type UserSession } from 'arc-session'
import { MemoryRegistry } from '../memory-registry'

declare module 'arc-session' {
  interface SessionData {
    count?: number
    user?: string
    notes?: string[]
  }
}

const BIG_NOTE = 'This note is here to make the session big. '.repeat(25)

/** This file, shown at /source so each panel can link to the code that produced it. */
const SOURCE = readFileSync(__filename.replace(/\.js$/, '.ts'), 'utf8').split('\n')

/** The line of this file where `// code: <name>` stands. */
function lineOf (name: string): number {
  return SOURCE.findIndex(line => line.includes(`// code: ${name}`)) + 1
}

/** Why this request's session cookie was refused, if it was: shown on the page (onReject's use in the demo). */
const refusals = new WeakMap<object, RejectReason>()

/** What the last response of each session set, by session id: the next page shows it (a sign-in's new cookie, say). */
const lastSetCookie = new Map<string, { route: string, cookies: string[] }>()

/** The demo: a visit counter, a sign-in that regenerates the session, your devices, notes that grow the session. */
export function createDemoApp (options: ArcSessionOptions = {}): express.Express {
  const cookieName = options.cookie?.name ?? '_idx'
  const cookieStore = options.store === undefined && (options.table === undefined || options.table === 'jwe')
  // code: configuration
  const sessions = arcSession({
    ...options,
    user: 'user',                                       // sessions are bound to the signed-in name
    // The cookie store keeps its record of who holds which session in a registry; in one process, memory does.
    ...(cookieStore ? { registry: options.registry ?? new MemoryRegistry() } : {}),
    revocationCheck: 0,                                 // the demo checks revocations on every request (default: every 30 s)
    device: (req: Request) => describeDevice(req.get('user-agent')),
    onReject: (reason, req) => {
      refusals.set(req as object, reason)
      options.onReject?.(reason, req)
    }
  })
  const app = express()
  app.disable('x-powered-by')
  app.use(express.urlencoded({ extended: false, limit: '16kb' }))
  app.use(sessions)
  app.use(rememberSetCookie(cookieName))

  // code: counter
  app.get('/', async (req, res) => {
    req.session.count = (req.session.count ?? 0) + 1
    await req.session.save()
    const devices = req.session.user === undefined ? [] : await sessions.listUserSessions(req.session.user, req)
    const previous = lastSetCookie.get(req.sessionID)
    // The headers go out first, so the page can show the Set-Cookie this very response carries.
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(page(req, cookieName, devices, setCookiesOf(res, cookieName), previous))
  })

  app.get('/session.json', (req, res) => {
    res.json({ data: req.session, info: sessionInfo(req.session) })
  })

  app.get('/source', (_req, res) => {
    res.type('html').send(layout('examples/demo/app.ts', `<pre class="source">${SOURCE.map((line, index) =>
      `<span id="L${index + 1}">${String(index + 1).padStart(3)}  ${escape(line)}</span>`).join('\n')}</pre>`))
  })

  // code: sign-in
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

  // code: devices
  app.post('/devices/:id/sign-out', async (req, res) => {
    if (req.session.user !== undefined) await sessions.revokeSession(req.session.user, req.params.id)
    res.redirect(303, '/')
  })

  app.post('/devices/sign-out-others', async (req, res) => {
    if (req.session.user !== undefined) await sessions.revokeUserSessions(req.session.user, { except: req.sessionID })
    res.redirect(303, '/')
  })

  // code: notes
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

/** Once a POST's response has gone, note the session cookie it set, for the page the browser goes to next. */
function rememberSetCookie (cookieName: string) {
  return (req: Request, res: Response, next: () => void): void => {
    if (req.method !== 'POST') { next(); return }
    res.once('finish', () => {
      const cookies = setCookiesOf(res, cookieName)
      // Only a response that set a live session cookie has a session the next page can find it by.
      if (!cookies.some(cookie => !/; Max-Age=0;/.test(cookie))) return
      lastSetCookie.set(req.sessionID, { route: `${req.method} ${req.path}`, cookies })
      if (lastSetCookie.size > 1000) lastSetCookie.delete(lastSetCookie.keys().next().value as string)
    })
    next()
  }
}

/** The session cookies a response sets (names and attributes; the values cut short). */
function setCookiesOf (res: Response, cookieName = '_idx'): string[] {
  const header = res.getHeader('set-cookie')
  const all = header === undefined ? [] : Array.isArray(header) ? header : [String(header)]
  return all.filter(cookie => cookie.startsWith(`${cookieName}=`) || cookie.startsWith(`${cookieName}.`))
    .map(cookie => cookie.replace(/^([^=]+=)([^;]{24})[^;]+/, (_, name: string, start: string) => `${name}${start}…`))
}

/** A short, human description of a User-Agent: what options.device stores with a signed-in session. */
function describeDevice (agent: string | undefined): string | undefined {
  if (agent === undefined) return undefined
  const browser = /Firefox\//.test(agent) ? 'Firefox' : /Edg\//.test(agent) ? 'Edge' : /Chrome\//.test(agent) ? 'Chrome' : /Safari\//.test(agent) ? 'Safari' : agent.split('/')[0]
  const system = /Windows/.test(agent) ? 'Windows' : /Mac OS X/.test(agent) ? 'macOS' : /Android/.test(agent) ? 'Android' : /Linux/.test(agent) ? 'Linux' : undefined
  return `${browser ?? 'a browser'}${system === undefined ? '' : ` on ${system}`}`.slice(0, 60)
}

function refusalText (reason: RejectReason, info: SessionInfo): string {
  const why = (reason === 'unknown-key' || reason === 'tampered') && info.keySource === 'ephemeral'
    ? ' The server restarted without ARC_APP_SECRET: it made a new key for this process, so it cannot open cookies the last one sealed.'
    : (reason === 'unknown-key' || reason === 'tampered') && info.keySource === 'development-file'
        ? ' The server\'s development key changed (its key file was removed or moved), so it cannot open cookies sealed with the old one.'
        : reason === 'revoked' ? ' That session was signed out: from this browser, or from another of your devices.' : ''
  return `The session cookie this request carried was refused (<strong>${escape(reason)}</strong>), so this is a new, empty session.${why}`
}

function codeLink (name: string): string {
  return `<a class="code" href="/source#L${lineOf(name)}">code</a>`
}

function page (req: Request, cookieName: string, devices: readonly UserSession[], setCookies: readonly string[],
  previous: { route: string, cookies: string[] } | undefined): string {
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
  const refused = refusals.get(req)
  return layout('arc-session demo', `
<p class="lede">Every visit to this page adds one to a counter kept in the session. Sign in, add notes,
sign in again from a second browser, sign out, reload, or restart the browser: the panels show what the server finds
in the session on this request, and what it sends back.</p>
<section id="state" class="card">
  <h2>Session <span class="pill ${user === undefined ? 'anon' : 'signed'}">${user === undefined ? 'anonymous' : 'signed in'}</span>
    <span class="pill store-${escape(info.store)}">${escape(info.store === 'jwe' ? 'cookie store' : info.store === 'dynamodb' ? 'DynamoDB store' : 'custom store')}</span> ${codeLink('counter')}</h2>
  <dl>
    <dt>Visitor</dt><dd id="user">${user === undefined ? 'anonymous' : `signed in as <strong>${escape(user)}</strong>`}</dd>
    <dt>Visits</dt><dd id="count" class="big-number">${count}</dd>
    <dt>Store</dt><dd><span id="store">${storeLabel}</span><br><span class="hint">${storeNote}</span></dd>
    <dt>Started</dt><dd id="created">${info.createdAt?.toISOString() ?? 'not yet'}</dd>
    <dt>Expires</dt><dd id="expires">${info.expiresAt?.toISOString() ?? 'not yet'} (a week after the last visit, at most 30 days after it started)</dd>
    <dt>Notes</dt><dd id="notes">${notes.length} (${bytes} bytes of session data)</dd>
  </dl>
  ${refused === undefined ? '' : `<p id="refused" class="warning">${refusalText(refused, info)}</p>`}
  <h3>Stored data</h3>
  <pre id="data">${escape(JSON.stringify(req.session, null, 2))}</pre>
</section>
<section id="cookies" class="card">
  <h2>Cookies ${codeLink('configuration')}</h2>
  <dl>
    <dt>This request</dt><dd id="session-cookies">${sent.length === 0
      ? 'none: this request carried no session cookie'
      : sent.map(([name, size]) => `<code>${escape(name)}</code> ${size} bytes`).join(', ')}${sent.length > 1 ? ' <span class="hint">(one session, split in chunks: a cookie holds at most 4,096 bytes)</span>' : ''}</dd>
    <dt>This response</dt><dd id="set-cookie">${setCookies.length === 0 ? 'no Set-Cookie: nothing to change' : setCookies.map(cookie => `<code>${escape(cookie)}</code>`).join('<br>')}</dd>
    <dt>Before this</dt><dd id="previous-set-cookie">${previous === undefined
      ? '<span class="hint">(the last POST of this session set no cookie)</span>'
      : `<strong>${escape(previous.route)}</strong> set ${previous.cookies.map(cookie => `<code>${escape(cookie)}</code>`).join('<br>')}`}</dd>
  </dl>
  <p class="hint">The session cookie is HttpOnly: page scripts cannot read it. <code>document.cookie</code> here: <code id="document-cookie"></code></p>
</section>
${user === undefined ? '' : devicesPanel(devices)}
<section id="actions" class="card">
  <h2>Try it ${codeLink('sign-in')}</h2>
  ${user === undefined
    ? '<form method="post" action="/login"><label>Name <input name="name" required maxlength="40"></label> <button id="login">Sign in</button> <span class="hint">regenerates the session: a new cookie, the same data (the demo keeps it)</span></form>'
    : '<form method="post" action="/logout"><button id="logout">Sign out</button> <span class="hint">destroys the session and expires its cookie</span></form>'}
  <form method="post" action="/notes"><label>Note <input name="note" maxlength="500"></label> <button id="add-note">Add</button> ${codeLink('notes')}</form>
  <form method="post" action="/notes/big" class="inline"><button id="big">Add 6 long notes (${info.store === 'jwe' ? 'needs several cookies' : 'about 6.5 KB'})</button></form>
  <form method="post" action="/notes/clear" class="inline"><button id="clear-notes">Clear notes</button></form>
  <p class="hint">Raw data: <a href="/session.json">/session.json</a> · the whole demo: <a href="/source">examples/demo/app.ts</a></p>
</section>
<script>document.getElementById('document-cookie').textContent = JSON.stringify(document.cookie)</script>`)
}

function devicesPanel (devices: readonly UserSession[]): string {
  return `<section id="devices" class="card">
  <h2>Your devices ${codeLink('devices')}</h2>
  <p class="hint">Every session signed in under this name, on any browser. Signing one out ends it on its next request.</p>
  <ul id="device-list">${devices.map(device => `
    <li class="device${device.current ? ' current' : ''}" data-id="${escape(device.id)}">
      <strong>${escape(device.device ?? 'a browser')}</strong>${device.current ? ' <span class="pill signed">this one</span>' : ''}
      <span class="hint">since ${device.createdAt.toISOString()}, last seen ${device.lastSeenAt.toISOString()}</span>
      ${device.current ? '' : `<form method="post" action="/devices/${encodeURIComponent(device.id)}/sign-out" class="inline"><button class="sign-out-device">Sign out</button></form>`}
    </li>`).join('')}
  </ul>
  ${devices.length > 1 ? '<form method="post" action="/devices/sign-out-others"><button id="sign-out-others">Sign out everywhere else</button></form>' : ''}
</section>`
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
  a.code { font-size: .8rem; font-weight: 400; margin-left: .5rem }
  pre { background: #f3f5f8; border-radius: .35rem; padding: .75rem 1rem; overflow: auto; max-height: 18rem; white-space: pre-wrap; overflow-wrap: anywhere; font-size: .85rem; margin: 0 }
  pre.source { max-height: none; white-space: pre } pre.source span:target { background: #fff4d6 }
  ul { padding-left: 1.2rem } li.device { margin: .35rem 0 } li.current { font-weight: 500 }
  form { margin: .6rem 0 } form.inline { display: inline-block; margin-right: .5rem } input { font: inherit; padding: .15rem .4rem } button { font: inherit; padding: .15rem .7rem; cursor: pointer }
  .hint { color: #5a6272; font-size: .875rem } .error { color: #b00020; font-weight: 600 } .warning { background: #fff4d6; border-left: 4px solid #e0a800; padding: .5rem .75rem }
</style></head>
<body><h1>${escape(title)}</h1>${body}</body></html>`
}

function escape (text: string): string {
  return text.replace(/[&<>"']/g, char => `&#${char.charCodeAt(0)};`)
}
