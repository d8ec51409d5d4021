const ALPHABET = /^[A-Za-z0-9_-]*$/
const VALUE = new Int8Array(128).fill(-1)
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('').forEach((char, index) => { VALUE[char.charCodeAt(0)] = index })

/**
 * True when `text` is the one canonical unpadded base64url spelling of some bytes.
 * Buffer.from(text, 'base64url') is lenient (it skips foreign characters and ignores
 * trailing bits), so two different cookies could decode to the same bytes; this does not.
 */
export function isCanonicalBase64url (text: string): boolean {
  const remainder = text.length % 4
  if (remainder === 1 || !ALPHABET.test(text)) return false
  if (remainder === 0) return true
  const last = VALUE[text.charCodeAt(text.length - 1)] ?? -1
  return (last & (remainder === 2 ? 0x0f : 0x03)) === 0
}
