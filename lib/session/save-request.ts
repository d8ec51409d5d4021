import type { SaveRequest, StoredData } from '../stores/store'
import { keyChanges, withMeta, type SessionMeta } from './changes'

/**
 * What a store is asked to save. `changed`/`removed` are worked out only if the store asks (the
 * DynamoDB store does, to send only those attributes; the cookie store never does), against the
 * JSON the session was loaded with.
 */
export class PendingSave implements SaveRequest {
  private diff: { changed: string[], removed: string[] } | undefined

  constructor (
    readonly id: string | undefined,
    readonly touched: number | undefined,
    readonly data: StoredData,
    readonly json: string,
    readonly refresh: boolean,
    readonly created: number,
    readonly expires: number,
    /** The loaded JSON and the meta it was stored with, for the diff. */
    private readonly baseline: string | undefined,
    private readonly baselineMeta: SessionMeta | undefined
  ) {}

  get changed (): readonly string[] {
    return this.changes().changed
  }

  get removed (): readonly string[] {
    return this.changes().removed
  }

  private changes (): { changed: string[], removed: string[] } {
    this.diff ??= keyChanges(this.baseline === undefined ? undefined : withMeta(this.baseline, this.baselineMeta as SessionMeta), this.json)
    return this.diff
  }
}
