import { sessionFailure } from '../errors'
import { log } from './log'

export type Callback<T> = (error: Error | null, value?: T) => void

/**
 * Promise or Node-style callback, as arc's API offers both. With a callback the promise is
 * still returned, already handled, so neither style leaves an unhandled rejection behind.
 * Either way a failure is an Error, even when a store threw something else.
 */
export function settle<T> (promise: Promise<T>, callback?: Callback<T>): Promise<T> {
  const settled = promise.catch((error: unknown) => { throw sessionFailure(error) })
  if (typeof callback !== 'function') {
    // Code written for express-session calls save() and walks away (socket.io's documented handler
    // does): the failure is still there for whoever awaits, but never an unhandled rejection that
    // would end the process.
    settled.catch((error: Error) => { log('session call failed with nobody waiting: %s', error.message) })
    return settled
  }
  settled.then(value => { callback(null, value) }, (error: Error) => { callback(error) })
  return settled.catch(() => undefined as T)
}
