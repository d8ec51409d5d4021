import createDebug from 'debug'

/** `DEBUG=arc-session` shows why cookies were refused and what was written; never key, token or id bytes. */
export const log = createDebug('arc-session')
