/**
 * Time under the test's control, and a browser that lives on that time.
 *
 * `testClock()` is what `arcSession({ clock })` calls (milliseconds) and what the test moves
 * between requests (`advance(seconds)`); no test sleeps. `TimedJar` keeps cookies the way a
 * browser does, expiring them by Max-Age on the same clock: supertest's own jar uses the real
 * clock, which is useless once the test has moved time days ahead.
 */

import { parseSetCookie, type ParsedCookie as SetCookie } from './apps'

export type { SetCookie }

export interface TestClock {
  /** Milliseconds since the epoch, for the `clock` option. */
  (): number
  /** Now, in whole epoch seconds (the unit every lifetime here is measured in). */
  readonly seconds: number
  /** Move time forward (or back, with a negative number) by whole seconds. */
  advance (seconds: number): void
  /** Jump to an epoch second. */
  set (epochSeconds: number): void
}

/** A clock starting at `startSeconds` (a fixed instant in 2030 by default, far from the real now). */
export function testClock (startSeconds = 1_900_000_000): TestClock {
  let ms = startSeconds * 1000
  const clock = (() => ms) as TestClock
  Object.defineProperty(clock, 'seconds', { get: () => Math.floor(ms / 1000) })
  clock.advance = (seconds: number) => { ms += seconds * 1000 }
  clock.set = (epochSeconds: number) => { ms = epochSeconds * 1000 }
  return clock
}

/** The Set-Cookie values of a response (supertest's or node:http's), parsed. */
export function setCookiesOf (response: { headers: Record<string, unknown> }): SetCookie[] {
  const raw = response.headers['set-cookie']
  if (raw === undefined || raw === null) return []
  return (Array.isArray(raw) ? raw.map(String) : [String(raw)]).map(parseSetCookie)
}

/** A browser's cookie jar on the test clock: Max-Age=0 deletes, and cookies past their Max-Age are not sent. */
export class TimedJar {
  private readonly cookies = new Map<string, { value: string, expires: number }>()

  constructor (private readonly clock: TestClock) {}

  /** Take a response's Set-Cookie headers, as a browser would. */
  take (response: { headers: Record<string, unknown> }): SetCookie[] {
    const cookies = setCookiesOf(response)
    for (const cookie of cookies) {
      this.cookies.delete(cookie.name)
      if (cookie.maxAge !== undefined && cookie.maxAge <= 0) continue
      this.cookies.set(cookie.name, { value: cookie.value, expires: cookie.maxAge === undefined ? Infinity : this.clock.seconds + cookie.maxAge })
    }
    return cookies
  }

  /** Names of the cookies the browser would send now. */
  names (): string[] {
    return [...this.cookies].filter(([, cookie]) => cookie.expires > this.clock.seconds).map(([name]) => name)
  }

  get (name: string): string | undefined {
    const cookie = this.cookies.get(name)
    return cookie !== undefined && cookie.expires > this.clock.seconds ? cookie.value : undefined
  }

  /** The Cookie request header the browser would send now ('' when it has nothing). */
  header (): string {
    return this.names().map(name => `${name}=${this.cookies.get(name)?.value ?? ''}`).join('; ')
  }
}
