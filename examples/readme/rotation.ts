import { arcSession } from 'arc-session'

export const sessions = arcSession({
  secret: [
    process.env.SESSION_SECRET_2026 as string,   // seals every new or re-issued session
    process.env.SESSION_SECRET_2025 as string    // still opens sessions sealed before the rotation
  ]
})
