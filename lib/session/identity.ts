import { newSessionId } from '../crypto/ids'
import type { SessionState } from './state'

/**
 * The session's id: as stored, derived from the store's key, or made now. A session that had
 * none and is not stored yet is then kept even without data, so its id stays the same.
 */
export function ensureSessionId (state: SessionState): string {
  if (state.sid === undefined) {
    state.sid = newSessionId()
    state.sidKept = 'no'
    if (state.stored === undefined) state.keepEmpty = true
  }
  return state.sid
}
