// Every e2e test process: one fixed server key for the whole run (no random per-process key, no warning).
// CI may provide its own ARC_APP_SECRET; anything shorter than 32 characters is replaced.
if ((process.env.ARC_APP_SECRET ?? '').length < 32) {
  process.env.ARC_APP_SECRET = 'e2e-only-secret-0123456789abcdefghijklmnopqrstuvwxyz'
}
delete process.env.ARC_APP_SECRET_PREVIOUS
