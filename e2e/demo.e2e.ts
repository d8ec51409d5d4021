/**
 * The demo (examples/demo/app.ts) in a real browser: Debian's headless Chromium, driven by
 * playwright-core, against the cookie store (JWE) and the DynamoDB store (on dynalite).
 * Screenshots of the key steps go to artifacts/e2e/<store>/.
 */
import { join } from 'node:path'
import type { Browser, BrowserContext, Cookie, Page, Request } from 'playwright-core'
import { CONTEXT_OPTIONS, launchBrowser, launchProfile, makeTempDir } from './support/browser'
import { startDemo, type RunningDemo, type StoreName } from './support/demo'
import { readDevices, readSessionJson, readState, refusedReason, screenshot, sessionCookie, sessionCookies, tamper } from './support/page'

const NAME = 'Ada Lovelace'
const MAX_COOKIE_PAIR_BYTES = 4096

let profiles: Awaited<ReturnType<typeof makeTempDir>>

beforeAll(async () => {
  profiles = await makeTempDir('arc-session-e2e-profile-')
})

afterAll(async () => {
  await profiles?.remove()
})

describe.each<StoreName>(['cookie', 'dynamodb'])('the demo on the %s store, in Chromium', store => {
  let demo: RunningDemo
  let browser: Browser
  let context: BrowserContext
  let pageErrors: Error[]

  beforeAll(async () => {
    demo = await startDemo(store)
    browser = await launchBrowser()
  })

  afterAll(async () => {
    await browser?.close()
    await demo?.stop()
  })

  beforeEach(async () => {
    context = await browser.newContext(CONTEXT_OPTIONS)
    pageErrors = []
  })

  afterEach(async () => {
    await context.close()
    expect(pageErrors).toEqual([])
  })

  async function openPage (target: BrowserContext = context): Promise<Page> {
    const page = target.pages()[0] ?? await target.newPage()
    page.on('pageerror', error => { pageErrors.push(error) })
    return page
  }

  /** GET / and check it is the demo's page, not an error page. */
  async function visit (page: Page): Promise<void> {
    const response = await page.goto(`${demo.url}/`)
    expect(response?.status()).toBe(200)
    await expectDemoPage(page)
  }

  async function expectDemoPage (page: Page): Promise<void> {
    expect(await page.title()).toBe('arc-session demo')
    expect(await page.locator('.error').count()).toBe(0)
  }

  /** Click a form's button and wait for the page the 303 leads to. */
  async function submit (page: Page, button: string): Promise<void> {
    await Promise.all([page.waitForEvent('load'), page.click(button)])
    await expectDemoPage(page)
  }

  async function signIn (page: Page, name = NAME): Promise<void> {
    await page.fill('input[name="name"]', name)
    await submit(page, '#login')
  }

  /** A cookie as the jar holds it, ready for context.addCookies. */
  function asAddable (cookie: Cookie, value = cookie.value): Parameters<BrowserContext['addCookies']>[0][number] {
    const { name, domain, path, expires, httpOnly, secure, sameSite } = cookie
    return { name, value, domain, path, expires, httpOnly, secure, sameSite }
  }

  /** The session data the server finds for this Cookie header, asked from Node without a browser. */
  async function replay (cookieHeader: string): Promise<Record<string, unknown>> {
    const response = await fetch(`${demo.url}/session.json`, { headers: { cookie: cookieHeader } })
    expect(response.status).toBe(200)
    return (await response.json() as { data: Record<string, unknown> }).data
  }

  it('shows the session, and the counter survives reloads and a browser restart with the same profile', async () => {
    const userDataDir = join(profiles.path, store)
    let profile = await launchProfile(userDataDir)
    try {
      const page = await openPage(profile)
      await visit(page)
      const first = await readState(page)
      expect(first.count).toBe(1)
      expect(first.user).toBe('anonymous')
      expect(first.store).toContain(store === 'cookie' ? 'encrypted cookie (JWE)' : 'DynamoDB')
      expect(first.data).toEqual({ count: 1 })
      expect(await page.locator('#created').textContent()).toMatch(/^\d{4}-\d\d-\d\dT/)
      expect(await page.locator('#expires').textContent()).toMatch(/^\d{4}-\d\d-\d\dT/)
      await screenshot(page, store, '01-first-visit')

      await page.reload()
      expect((await readState(page)).count).toBe(2)
      await page.reload()
      expect((await readState(page)).count).toBe(3)

      const cookie = await sessionCookie(profile, demo.url)
      expect(cookie.httpOnly).toBe(true)
      expect(cookie.sameSite).toBe('Lax')
      expect(cookie.path).toBe('/')
      // Max-Age makes it a persistent cookie (a session cookie has expires -1), so it outlives the browser.
      expect(cookie.expires).toBeGreaterThan(Date.now() / 1000 + 24 * 3600)
    } finally {
      await profile.close()
    }

    profile = await launchProfile(userDataDir)
    try {
      expect((await sessionCookies(profile, demo.url)).map(cookie => cookie.name)).toEqual(['_idx'])
      const page = await openPage(profile)
      await visit(page)
      const state = await readState(page)
      expect(state.count).toBe(4)
      expect(state.data).toEqual({ count: 4 })
    } finally {
      await profile.close()
    }
  })

  it('signing in regenerates the session: a new cookie value, and the old value does not reach the signed-in session', async () => {
    const page = await openPage()
    await visit(page)
    const before = await sessionCookie(context, demo.url)

    await signIn(page)
    const signedIn = await readState(page)
    expect(signedIn.user).toBe(`signed in as ${NAME}`)
    expect(signedIn.count).toBe(2) // regenerate() keeps the data; the redirect's GET / counts once more
    await screenshot(page, store, '02-after-login')

    const after = await sessionCookie(context, demo.url)
    expect(after.value).not.toBe(before.value)
    if (store === 'dynamodb') expect(after.value.split('.')[0]).not.toBe(before.value.split('.')[0]) // a new id, not only a new signature

    // The old value, replayed by hand in a fresh browser that has nothing else.
    const other = await browser.newContext(CONTEXT_OPTIONS)
    try {
      await other.addCookies([asAddable(before)])
      const replayed = await readSessionJson(await other.newPage(), demo.url)
      expect(replayed.user).toBeUndefined()
      if (store === 'dynamodb') {
        // regenerate() deleted the old item: the old id reaches nothing at all.
        expect(replayed).toEqual({})
      } else {
        // A JWE token cannot be revoked: the old one still decrypts, but it holds the pre-login data only.
        expect(replayed).toEqual({ count: 1 })
      }
    } finally {
      await other.close()
    }
    // The same from Node, with a raw Cookie header.
    expect((await replay(`_idx=${before.value}`)).user).toBeUndefined()
    expect((await replay(`_idx=${after.value}`)).user).toBe(NAME)

    // The browser's own session carries on.
    await page.reload()
    const again = await readState(page)
    expect(again.user).toBe(`signed in as ${NAME}`)
    expect(again.count).toBe(3)
  })

  it('signing out removes the session cookie from the jar, and the next page starts a new anonymous session', async () => {
    const page = await openPage()
    await visit(page)
    await signIn(page)
    const signedIn = await sessionCookie(context, demo.url)

    // Sign out from the page without following the 303 (the demo's GET / would start a new session at once):
    // the browser applies the response's Set-Cookie, and the jar is left without a session cookie.
    expect(await page.evaluate<string>('fetch("/logout", { method: "POST", redirect: "manual" }).then(response => response.type)')).toBe('opaqueredirect')
    expect(await sessionCookies(context, demo.url)).toEqual([])
    expect(await readSessionJson(page, demo.url)).toEqual({})
    expect(await sessionCookies(context, demo.url)).toEqual([]) // reading an empty session writes nothing

    const replayed = await replay(`_idx=${signedIn.value}`)
    if (store === 'dynamodb') {
      // destroy() deleted the item: a copy of the signed-in cookie is worth nothing now.
      expect(replayed).toEqual({})
    } else {
      // The token still decrypts, but the demo binds sessions to users (options.user, with a registry) and
      // destroy() revoked this one: a copy of the signed-in cookie taken before the logout is refused
      // ('revoked') and the request gets a new, empty session.
      expect(replayed).toEqual({})
    }

    // The same with the button: the GET the 303 leads to carries no session cookie, and the page is anonymous.
    await visit(page)
    await signIn(page)
    const signedInAgain = await sessionCookie(context, demo.url)
    const redirected: Request[] = []
    const onRequest = (request: Request): void => { if (request.isNavigationRequest() && request.redirectedFrom() !== null) redirected.push(request) }
    page.on('request', onRequest)
    await submit(page, '#logout')
    page.off('request', onRequest)
    expect(redirected.map(request => `${request.method()} ${new URL(request.url()).pathname}`)).toEqual(['GET /'])
    expect((await (redirected[0] as Request).allHeaders()).cookie ?? '').not.toMatch(/(^|;\s*)_idx[=.]/)

    const state = await readState(page)
    expect(state.user).toBe('anonymous')
    expect(state.count).toBe(1)
    expect(state.data).toEqual({ count: 1 })
    await screenshot(page, store, '04-after-logout')
    expect((await sessionCookie(context, demo.url)).value).not.toBe(signedInAgain.value)
  })

  it('your devices: two browsers signed in as one name see each other, and one signs the other out (by its button, then everywhere else)', async () => {
    // A name of its own: other tests sign in as NAME, and the registry keeps their sessions.
    const name = `Grace Hopper (${store})`
    const contextB = await browser.newContext(CONTEXT_OPTIONS)
    try {
      const pageA = await openPage()
      const pageB = await openPage(contextB)
      await visit(pageA)
      await signIn(pageA, name)
      expect((await readState(pageA)).user).toBe(`signed in as ${name}`)
      // The page after the sign-in shows what the POST /login response set: the new session cookie.
      expect(await pageA.locator('#previous-set-cookie').textContent()).toMatch(/^POST \/login set _idx=/)
      // This response (GET /, counting the visit) sets one too, and says so.
      expect(await pageA.locator('#set-cookie').textContent()).toMatch(/^_idx=/)
      // Each panel links to the code behind it: a line of /source that is a `// code:` mark.
      const links = pageA.locator('a.code')
      expect(await links.count()).toBeGreaterThanOrEqual(4)
      const source = await (await fetch(`${demo.url}/source`)).text()
      for (let index = 0; index < await links.count(); index++) {
        const href = await links.nth(index).getAttribute('href') ?? ''
        expect(href).toMatch(/^\/source#L[1-9]\d*$/)
        expect(new RegExp(`<span id="${href.slice('/source#'.length)}">[^\\n]*// code: `).test(source)).toBe(true)
      }

      await visit(pageB)
      await signIn(pageB, name)
      expect((await readState(pageB)).user).toBe(`signed in as ${name}`)
      expect(await pageB.locator('#previous-set-cookie').textContent()).toMatch(/^POST \/login set _idx=/)

      // Each page lists both sessions, its own marked, the other with a sign-out button.
      await visit(pageA)
      const seenByA = await readDevices(pageA)
      const seenByB = await readDevices(pageB)
      expect(seenByA).toHaveLength(2)
      expect(seenByB).toHaveLength(2)
      const a = seenByA.find(device => device.current)
      const b = seenByB.find(device => device.current)
      expect(seenByA.filter(device => device.current)).toHaveLength(1)
      expect(seenByB.filter(device => device.current)).toHaveLength(1)
      expect(a?.id).not.toBe(b?.id)
      expect(seenByA.map(device => device.id).sort()).toEqual(seenByB.map(device => device.id).sort())
      expect(seenByA).toEqual(expect.arrayContaining([
        { id: a?.id, current: true, canSignOut: false },
        { id: b?.id, current: false, canSignOut: true }
      ]))
      expect(await pageA.locator('li.device.current').textContent()).toContain('this one')
      expect(await pageA.locator('#sign-out-others').count()).toBe(1)
      await screenshot(pageA, store, '06-your-devices')

      // A signs B's device out with its button.
      await submit(pageA, `li.device[data-id="${b?.id as string}"] button.sign-out-device`)
      expect((await readState(pageA)).user).toBe(`signed in as ${name}`)
      expect(await readDevices(pageA)).toEqual([{ id: a?.id, current: true, canSignOut: false }])
      expect(await pageA.locator('#sign-out-others').count()).toBe(0)

      // B's next page is anonymous, and says why.
      await visit(pageB)
      const signedOut = await readState(pageB)
      expect(signedOut.user).toBe('anonymous')
      // The page says the cookie was refused; the reason is checked at the end, after the whole flow ran.
      const reasons = [await refusedReason(pageB)]
      expect(reasons[0]).toBeDefined()
      expect(await pageB.locator('#devices').count()).toBe(0)
      await screenshot(pageB, store, '07-signed-out-from-another-device')
      // A is still signed in.
      await visit(pageA)
      expect((await readState(pageA)).user).toBe(`signed in as ${name}`)
      expect(await refusedReason(pageA)).toBeUndefined()

      // B signs in again; A signs out everywhere else.
      await signIn(pageB, name)
      expect((await readState(pageB)).user).toBe(`signed in as ${name}`)
      await visit(pageA)
      const again = await readDevices(pageA)
      expect(again).toHaveLength(2)
      const b2 = again.find(device => !device.current)
      expect(b2?.id).not.toBe(b?.id) // a new session, not the revoked one back
      await submit(pageA, '#sign-out-others')
      expect((await readState(pageA)).user).toBe(`signed in as ${name}`)
      expect(await readDevices(pageA)).toEqual([{ id: a?.id, current: true, canSignOut: false }])
      await screenshot(pageA, store, '08-signed-out-everywhere-else')

      await visit(pageB)
      expect((await readState(pageB)).user).toBe('anonymous')
      reasons.push(await refusedReason(pageB))
      expect(reasons[1]).toBeDefined()
      await visit(pageA)
      expect((await readState(pageA)).user).toBe(`signed in as ${name}`)
      expect(await readDevices(pageA)).toEqual([{ id: a?.id, current: true, canSignOut: false }])

      // Both times the page says why: 'revoked' on the cookie store (the registry's mark); on DynamoDB the
      // item was deleted, which a later request cannot tell from an expired one.
      expect(reasons).toEqual(store === 'cookie' ? ['revoked', 'revoked'] : ['expired', 'expired'])
    } finally {
      await contextB.close()
    }
  })

  it('keeps the session cookie HttpOnly: document.cookie never shows it', async () => {
    const page = await openPage()
    await visit(page)
    await page.evaluate('document.cookie = "theme=dark; path=/"')
    await page.reload()

    const state = await readState(page)
    expect(state.count).toBe(2)
    expect(state.documentCookie).toBe('theme=dark') // the page prints document.cookie: only the script-visible cookie
    expect(await page.evaluate<string>('document.cookie')).toBe('theme=dark')

    const jar = await context.cookies(demo.url)
    expect(jar.map(cookie => cookie.name).sort()).toEqual(['_idx', 'theme'])
    expect(jar.find(cookie => cookie.name === '_idx')?.httpOnly).toBe(true)
  })

  it('a session big enough to need several cookie chunks survives a reload intact', async () => {
    const page = await openPage()
    await visit(page)
    await submit(page, '#big')
    const big = await readState(page)
    expect(big.notes).toBe(6)
    expect(big.count).toBe(2)
    await screenshot(page, store, '03-big-session')

    const cookies = await sessionCookies(context, demo.url)
    if (store === 'cookie') {
      const names = cookies.map(cookie => cookie.name)
      expect(names.length).toBeGreaterThanOrEqual(2)
      expect(names).toEqual(names.map((_, index) => `_idx.${index}`)) // _idx.0, _idx.1, ... and no plain _idx
      for (const cookie of cookies) expect(cookie.name.length + 1 + cookie.value.length).toBeLessThanOrEqual(MAX_COOKIE_PAIR_BYTES)
      expect(cookies.every(cookie => cookie.httpOnly)).toBe(true)
    } else {
      // DynamoDB keeps the data; the cookie is only a signed id.
      expect(cookies.map(cookie => cookie.name)).toEqual(['_idx'])
      expect(cookies[0]?.value.length).toBeLessThan(100)
    }

    // The page lists what the browser sent on the GET after the POST: the same cookie names as the jar holds.
    const sent = await page.locator('#session-cookies').textContent() ?? ''
    for (const cookie of cookies) expect(sent).toContain(cookie.name)

    const stored = await readSessionJson(page, demo.url)
    const notes = stored.notes as string[]
    expect(notes).toHaveLength(6)
    notes.forEach((note, index) => { expect(note).toMatch(new RegExp(`^${index + 1}\\. This note is here to make the session big\\. `)) })

    await visit(page)
    const reloaded = await readState(page)
    expect(reloaded.count).toBe(3)
    expect(reloaded.notes).toBe(6)
    expect(reloaded.data.notes).toEqual(notes)
    expect((await sessionCookies(context, demo.url)).length).toBe(cookies.length)

    // Shrinking it again: on the cookie store the chunks give way to one plain cookie.
    await submit(page, '#clear-notes')
    const cleared = await readState(page)
    expect(cleared.notes).toBe(0)
    expect(cleared.data).toEqual({ count: 4 })
    expect((await sessionCookies(context, demo.url)).map(cookie => cookie.name)).toEqual(['_idx'])
  })

  it('a tampered cookie in the jar gives a fresh anonymous page, not an error page', async () => {
    const page = await openPage()
    await visit(page)
    await signIn(page)
    expect((await readState(page)).user).toBe(`signed in as ${NAME}`)

    const cookie = await sessionCookie(context, demo.url)
    const tampered = tamper(cookie.value)
    expect(tampered).not.toBe(cookie.value)
    await context.addCookies([asAddable(cookie, tampered)])
    expect((await sessionCookie(context, demo.url)).value).toBe(tampered)

    const response = await page.reload()
    expect(response?.status()).toBe(200)
    await expectDemoPage(page)
    const state = await readState(page)
    expect(state.count).toBe(1)
    expect(state.user).toBe('anonymous')
    expect(state.data).toEqual({ count: 1 })
    await screenshot(page, store, '05-tampered')
    // The response replaced the tampered cookie with a new session's.
    expect((await sessionCookie(context, demo.url)).value).not.toBe(tampered)
  })

  if (store === 'cookie') {
    it('a tampered chunk of a big session gives a fresh anonymous page, and the stale chunks are cleared', async () => {
      const page = await openPage()
      await visit(page)
      await submit(page, '#big')
      const chunks = await sessionCookies(context, demo.url)
      expect(chunks.length).toBeGreaterThanOrEqual(2)
      const second = chunks[1] as Cookie
      await context.addCookies([asAddable(second, tamper(second.value))])

      const response = await page.reload()
      expect(response?.status()).toBe(200)
      await expectDemoPage(page)
      const state = await readState(page)
      expect(state.count).toBe(1)
      expect(state.notes).toBe(0)
      expect((await sessionCookies(context, demo.url)).map(cookie => cookie.name)).toEqual(['_idx'])
    })
  }
})
