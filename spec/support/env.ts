// Every test process: no AWS account, no warnings about Node 20, no real region lookups.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
process.env.AWS_ACCESS_KEY_ID ??= 'test'
process.env.AWS_SECRET_ACCESS_KEY ??= 'test'
process.env.AWS_REGION ??= 'us-east-1'

// A quiet run: arc-session's own warnings (the development key, public fallbacks...) are said by
// design in many tests, which watch them through a spy or process.on('warning'). Those still see
// them; only Node's printing of them is skipped. Every other warning prints as usual.
const emitWarning = process.emitWarning
process.emitWarning = function (this: NodeJS.Process, warning: string | Error, ...rest: unknown[]) {
  const options = rest[0]
  const code = typeof options === 'object' && options !== null ? (options as { code?: unknown }).code : rest[1]
  if (typeof code === 'string' && code.startsWith('ARC_SESSION_')) {
    const error = typeof warning === 'string' ? Object.assign(new Error(warning), { name: 'Warning', code }) : warning
    process.nextTick(() => process.emit('warning', error))
    return
  }
  ;(emitWarning as (...args: unknown[]) => void).call(this, warning, ...rest)
} as typeof process.emitWarning
