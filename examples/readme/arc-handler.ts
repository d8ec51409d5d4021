import { destroy, read, write } from 'arc-session'

type Event = { headers?: Record<string, string>, cookies?: string[], rawPath?: string }

// An arc.http-style handler, unchanged: `{ session: {} }` signs the visitor out.
async function route (req: Event & { session: Record<string, unknown> }) {
  if (req.rawPath === '/logout') return { session: {}, body: 'bye' }
  return { session: { ...req.session, visits: Number(req.session.visits ?? 0) + 1 }, body: 'hello' }
}

export async function handler (event: Event) {
  const session = await read(event)
  const response = await route({ ...event, session })
  // What arc.http does with a response's session: the keys it copies carry the session's identity.
  const { _idx, _secret, _ttl } = session
  const cookie = await write({ _idx, _secret, _ttl, ...response.session })   // {} deletes the stored session
  return { statusCode: 200, cookies: [cookie], body: response.body }
}

// The same, explicitly: resolves to the Set-Cookie that expires the cookie.
export async function signOut (event: Event) {
  return { statusCode: 200, cookies: [await destroy(await read(event))], body: 'bye' }
}
