export type Callback<T> = (error: Error | null, value?: T) => void

/**
 * Promise or Node-style callback, as arc's API offers both. With a callback the promise is
 * still returned, already handled, so neither style leaves an unhandled rejection behind.
 */
export function settle<T> (promise: Promise<T>, callback?: Callback<T>): Promise<T> {
  if (typeof callback !== 'function') return promise
  promise.then(value => { callback(null, value) }, (error: Error) => { callback(error) })
  return promise.catch(() => undefined as T)
}
