import { arcSession } from 'arc-session'

export const sessions = arcSession({
  ttl: 30 * 60,                 // signed out after 30 minutes without a visit...
  maxLifetime: 12 * 60 * 60,    // ...and 12 hours after signing in, however active
  cookie: { sameSite: 'strict', domain: 'example.com' }
})
