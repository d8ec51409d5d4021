/** A value now, or later: stores that can answer at once (the cookie store) need no promise. */
export type Awaitable<T> = T | PromiseLike<T>

export function isPending<T> (value: Awaitable<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function'
}

/** `next(value)`, at once when the value is here, after it when it is pending. */
export function then<T, U> (value: Awaitable<T>, next: (value: T) => Awaitable<U>): Awaitable<U> {
  return isPending(value) ? Promise.resolve(value).then(next) : next(value)
}
