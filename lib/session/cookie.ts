import { HeadersSentError } from '../errors'
import type { SessionHandle } from './handle'
import { expiresAt, idleLifetime, type OwnLifetime } from './lifetime'

/**
 * `req.session.cookie`, shaped as express-session shows it. The attributes come from the
 * configuration and are the same for every session; `maxAge` and `expires` are this session's
 * own lifetime ("remember me"), stored with the session on either store and used for every later
 * cookie: `maxAge = ms` gives it an idle lifetime of its own (capped by maxLifetime), `expires =
 * false` (or `maxAge = null`) a browser-session cookie that the server still ends after the
 * configured idle time. Nothing here is session data.
 */
export class SessionCookie {
  readonly #handle: SessionHandle

  constructor (handle: SessionHandle) {
    this.#handle = handle
  }

  /** Milliseconds left before the session ends unless used again; null for a browser-session cookie. */
  get maxAge (): number | null {
    if (this.#own === null) return null
    return Math.max(0, this.#endsAt() * 1000 - this.#nowMs())
  }

  set maxAge (value: number | null) {
    if (value === null) {
      this.#setOwn(null)
      return
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new TypeError('req.session.cookie.maxAge takes milliseconds (a number), or null for a browser-session cookie')
    }
    if (value <= 0) throw new RangeError('req.session.cookie.maxAge must be more than 0 ms; to end the session, call req.session.destroy()')
    this.#setOwn(this.#capped(Math.ceil(value / 1000)))
  }

  /** The session's idle lifetime in milliseconds (its own, or the configured ttl); null for a browser-session cookie. */
  get originalMaxAge (): number | null {
    if (this.#own === null) return null
    return idleLifetime(this.#context(), this.#own) * 1000
  }

  set originalMaxAge (value: number | null) {
    this.maxAge = value
  }

  /** When the session ends unless used again; null for a browser-session cookie. */
  get expires (): Date | null {
    if (this.#own === null) return null
    return new Date(this.#endsAt() * 1000)
  }

  set expires (value: Date | string | number | false | null) {
    if (value === false || value === null) {
      this.#setOwn(null)
      return
    }
    const date = value instanceof Date ? value : new Date(value)
    if (Number.isNaN(date.getTime())) throw new TypeError('req.session.cookie.expires takes a Date, or false for a browser-session cookie')
    const ms = date.getTime() - this.#nowMs()
    if (ms <= 0) throw new RangeError('req.session.cookie.expires must be in the future; to end the session, call req.session.destroy()')
    this.#setOwn(this.#capped(Math.ceil(ms / 1000)))
  }

  get httpOnly (): boolean { return this.#attributes.httpOnly }
  set httpOnly (value: boolean) { this.#same('httpOnly', value) }
  get secure (): boolean { return this.#attributes.secure }
  set secure (value: boolean) { this.#same('secure', value) }
  get sameSite (): 'lax' | 'strict' | 'none' { return this.#attributes.sameSite }
  set sameSite (value: string | boolean) { this.#same('sameSite', typeof value === 'string' ? value.toLowerCase() : value) }
  get domain (): string | undefined { return this.#attributes.domain }
  set domain (value: string | undefined) { this.#same('domain', value) }
  get path (): string { return this.#attributes.path }
  set path (value: string) { this.#same('path', value) }
  get partitioned (): boolean { return this.#attributes.partitioned }
  set partitioned (value: boolean) { this.#same('partitioned', value) }

  /** `req.session.cookie = { ... }`: the lifetime fields are set, the attributes must match the configuration's. */
  assign (value: unknown): void {
    if (typeof value !== 'object' || value === null) throw new TypeError('req.session.cookie can only be set to an object of cookie fields (maxAge, expires, ...)')
    const fields = value as Record<string, unknown>
    for (const name of ['httpOnly', 'secure', 'sameSite', 'domain', 'path', 'partitioned'] as const) {
      if (name in fields) (this as Record<string, unknown>)[name] = fields[name]
    }
    if ('expires' in fields) this.expires = fields.expires as Date | false | null
    else if ('maxAge' in fields) this.maxAge = fields.maxAge as number | null
    else if ('originalMaxAge' in fields) this.maxAge = fields.originalMaxAge as number | null
  }

  toJSON (): Record<string, unknown> {
    return {
      originalMaxAge: this.originalMaxAge,
      expires: this.expires?.toISOString() ?? null,
      secure: this.secure,
      httpOnly: this.httpOnly,
      ...(this.domain === undefined ? {} : { domain: this.domain }),
      path: this.path,
      sameSite: this.sameSite,
      ...(this.partitioned ? { partitioned: true } : {})
    }
  }

  get #attributes (): SessionHandle['engine']['policy']['cookie'] {
    return this.#handle.engine.policy.cookie
  }

  get #own (): OwnLifetime {
    return this.#handle.state.own
  }

  #context (): ReturnType<SessionHandle['engine']['context']> {
    return this.#handle.engine.context()
  }

  #nowMs (): number {
    return this.#handle.engine.policy.now() * 1000
  }

  /** Epoch seconds at which the session ends, as the next write would set it (or as stored, if nothing is due to change). */
  #endsAt (): number {
    const { state } = this.#handle
    const context = this.#context()
    const stored = state.stored
    const restarted = stored === undefined || state.touch || state.own !== state.ownSaved
    return expiresAt(context, stored?.created ?? context.now, restarted ? context.now : stored.touched, state.own)
  }

  /** A lifetime of its own never outlasts the absolute one. */
  #capped (seconds: number): number {
    const { maxLifetime } = this.#handle.engine.policy
    return maxLifetime > 0 ? Math.min(seconds, maxLifetime) : seconds
  }

  #setOwn (own: OwnLifetime): void {
    if (this.#handle.committed) throw new HeadersSentError('cookie.maxAge/expires', 'changing the cookie\'s lifetime')
    this.#handle.state.own = own
  }

  #same (name: string, value: unknown): void {
    const current = (this.#attributes as unknown as Record<string, unknown>)[name]
    if (value === current) return
    throw new TypeError(`req.session.cookie.${name} is ${String(current)} for every session (set it with arcSession({ cookie: { ${name} } })); ` +
      'only maxAge and expires can be set per session')
  }
}
