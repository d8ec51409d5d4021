import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions } from 'playwright-core'

/** Debian's chromium package; e2e/ensure-chromium.sh installs it. Never a downloaded browser. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic'
]

/** Same page size everywhere, so screenshots compare. */
export const CONTEXT_OPTIONS: BrowserContextOptions = { viewport: { width: 1100, height: 900 }, deviceScaleFactor: 1, locale: 'en-US' }

export async function launchBrowser (): Promise<Browser> {
  return await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30000 })
}

/** A browser on a profile directory of its own: closing and relaunching on the same directory is a browser restart. */
export async function launchProfile (userDataDir: string): Promise<BrowserContext> {
  return await chromium.launchPersistentContext(userDataDir, { ...CONTEXT_OPTIONS, executablePath: CHROMIUM, args: ARGS, timeout: 30000 })
}

export async function makeTempDir (prefix: string): Promise<{ path: string, remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, remove: async () => { await rm(path, { recursive: true, force: true, maxRetries: 3 }) } }
}
