/**
 * The DynamoDB cookie's shape is checked before any HMAC (finding 10): `<id>.<signature>` with an
 * id of 16-128 base64url characters and a 43-character base64 signature. Anything else is
 * refused as malformed without computing an HMAC (a 12 KB junk value used to be HMACed in full,
 * once per secret). A well-shaped value whose signature is wrong is the only one that costs an
 * HMAC, and it is refused as tampered.
 *
 * Work is counted with a spy on node:crypto's createHmac (lib calls it through the module object).
 */
import { createHmac } from 'node:crypto'
import { arcSession } from 'arc-session'
import { SECRET, makeTable, newClient, randomId, signId } from '../support/dynamo-helpers'
import { captureRejects } from '../support/tokens'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const cryptoModule = require('node:crypto') as typeof import('node:crypto')

let table: string
beforeAll(async () => {
  table = await makeTable('shape')
})

let hmacSpy: jest.SpyInstance
beforeEach(() => { hmacSpy = jest.spyOn(cryptoModule, 'createHmac') })
afterEach(() => { hmacSpy.mockRestore() })

/** read() the session a `_idx` cookie value (as decoded) leads to; the HMACs computed and the reasons given. */
async function readValue (value: string, secrets: string | string[] = SECRET): Promise<{ hmacs: number, reasons: string[], data: Record<string, unknown> }> {
  const rejects = captureRejects()
  const sessions = arcSession({ secret: secrets, env: {}, table, dynamodb: { client: newClient() }, onReject: rejects.onReject })
  hmacSpy.mockClear()
  const session = await sessions.read({ headers: { cookie: `_idx=${encodeURIComponent(value)}` } })
  return { hmacs: hmacSpy.mock.calls.length, reasons: rejects.reasons, data: JSON.parse(JSON.stringify(session)) as Record<string, unknown> }
}

const id = randomId()
const signature = signId(id, SECRET).slice(id.length + 1)
const otherSignature = createHmac('sha256', 'another-secret-entirely-0123456789').update(id).digest('base64').replace(/=+$/, '')

const junk: Array<[string, string]> = [
  ['12 KB of junk with a dot', `${'x'.repeat(6_000)}.${'y'.repeat(6_000)}`],
  ['12 KB of junk, base64 letters, a 43-character tail', `${'A'.repeat(12_000)}.${signature}`],
  ['an id too short (10 characters)', `${id.slice(0, 10)}.${signature}`],
  ['an id too long (129 characters)', `${'a'.repeat(129)}.${signature}`],
  ['an id with a character outside base64url', `${id.slice(0, 23)}!.${signature}`],
  ['an id with a base64 "+" (not base64url)', `${id.slice(0, 23)}+.${signature}`],
  ['a signature too short (42 characters)', `${id}.${signature.slice(0, 42)}`],
  ['a signature too long (44 characters)', `${id}.${signature}A`],
  ['a signature with its base64 padding', `${id}.${signature}=`],
  ['a signature with a character outside base64', `${id}.${signature.slice(0, 42)}-`],
  ['no signature', `${id}.`],
  ['no id', `.${signature}`]
]

test.each(junk)('%s: refused as malformed with no HMAC computed', async (_name, value) => {
  expect(value.length).toBeLessThan(12_288)
  // Two secrets: the old code computed one HMAC per secret.
  const result = await readValue(value, [SECRET, 'previous-secret-0123456789abcdefghij'])
  expect(result.data).toEqual({})
  expect(result.reasons).toEqual(['malformed'])
  expect(result.hmacs).toBe(0)
})

test('only a well-shaped value costs an HMAC: with a wrong signature it is computed and the reason is tampered; one character off the shape, none and malformed', async () => {
  const wellShaped = await readValue(`${id}.${otherSignature}`)
  expect(wellShaped.data).toEqual({})
  expect(wellShaped.reasons).toEqual(['tampered'])
  expect(wellShaped.hmacs).toBeGreaterThanOrEqual(1)

  const offShape = await readValue(`${id}.${otherSignature.slice(1)}`)
  expect(offShape.reasons).toEqual(['malformed'])
  expect(offShape.hmacs).toBe(0)
})
