import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { BrowserContext, Cookie, Page } from 'playwright-core'

export const SESSION_COOKIE = '_idx'
const CHUNK_NAME = /^_idx\.\d$/

/** What the demo page shows, read from its element ids. */
export interface PageState {
  readonly count: number
  readonly user: string
  readonly store: string
  readonly notes: number
  readonly data: Record<string, unknown>
  readonly documentCookie: string
}

export async function readState (page: Page): Promise<PageState> {
  const text = async (selector: string): Promise<string> => (await page.locator(selector).textContent())?.trim() ?? ''
  return {
    count: Number(await text('#count')),
    user: await text('#user'),
    store: await text('#store'),
    notes: Number.parseInt(await text('#notes'), 10),
    data: JSON.parse(await text('#data')) as Record<string, unknown>,
    documentCookie: JSON.parse(await text('#document-cookie')) as string
  }
}

/** GET /session.json in this page: the session data as the server reads it (nothing is written). */
export async function readSessionJson (page: Page, base: string): Promise<Record<string, unknown>> {
  const response = await page.goto(`${base}/session.json`)
  if (response === null || response.status() !== 200) throw new Error(`GET /session.json: ${response?.status() ?? 'no response'}`)
  const body = await response.json() as { data: Record<string, unknown> }
  return body.data
}

/** The session cookies in the browser's jar for the demo's origin: `_idx` and its chunks `_idx.0` .. `_idx.9`. */
export async function sessionCookies (context: BrowserContext, base: string): Promise<Cookie[]> {
  const cookies = await context.cookies(base)
  return cookies.filter(cookie => cookie.name === SESSION_COOKIE || CHUNK_NAME.test(cookie.name)).sort((a, b) => a.name.localeCompare(b.name))
}

export async function sessionCookie (context: BrowserContext, base: string): Promise<Cookie> {
  const found = (await sessionCookies(context, base)).find(cookie => cookie.name === SESSION_COOKIE)
  if (found === undefined) throw new Error(`no ${SESSION_COOKIE} cookie in the jar`)
  return found
}

/**
 * The value with one character changed, in the middle, where it changes the decoded bytes:
 * a letter or digit that neither ends a base64url segment nor belongs to a %XX escape.
 */
export function tamper (value: string): string {
  for (let index = Math.floor(value.length / 2); index < value.length - 1; index++) {
    const char = value.charAt(index)
    const escaped = value.charAt(index - 1) === '%' || value.charAt(index - 2) === '%'
    if (/[A-Za-z0-9]/.test(char) && value.charAt(index + 1) !== '.' && !escaped) {
      return value.slice(0, index) + (char === 'A' ? 'B' : 'A') + value.slice(index + 1)
    }
  }
  throw new Error('nothing to tamper with in this cookie value')
}

export async function screenshot (page: Page, store: string, name: string): Promise<string> {
  const dir = join(__dirname, '..', '..', 'artifacts', 'e2e', store)
  await mkdir(dir, { recursive: true })
  const path = join(dir, `${name}.png`)
  await page.screenshot({ path, fullPage: true })
  return path
}

/** One entry of the demo's "Your devices" panel. */
export interface DeviceEntry {
  readonly id: string
  /** Marked as the session of this page ("this one"). */
  readonly current: boolean
  /** Has its own "Sign out" button (every device but the current one). */
  readonly canSignOut: boolean
}

/** The "Your devices" list (section#devices), in page order; empty when the panel is not shown. */
export async function readDevices (page: Page): Promise<DeviceEntry[]> {
  const items = page.locator('section#devices li.device')
  const entries: DeviceEntry[] = []
  for (let index = 0; index < await items.count(); index++) {
    const item = items.nth(index)
    const classes = (await item.getAttribute('class') ?? '').split(/\s+/)
    entries.push({
      id: await item.getAttribute('data-id') ?? '',
      current: classes.includes('current'),
      canSignOut: await item.locator('button.sign-out-device').count() === 1
    })
  }
  return entries
}

/** The reason the page says this request's session cookie was refused (the demo's #refused panel), if it says one. */
export async function refusedReason (page: Page): Promise<string | undefined> {
  const refused = page.locator('#refused')
  if (await refused.count() === 0) return undefined
  return (await refused.locator('strong').textContent())?.trim()
}
