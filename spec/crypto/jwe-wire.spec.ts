/**
 * The JWE cookie on the wire (DESIGN.md section 3, issues 2 and 4): the test vector, the
 * shape of the tokens we write, jose opening ours and us opening jose's for every algorithm,
 * the algorithm pinning arc lacks, and a key id that gives nothing away.
 */
import { createHash, randomBytes } from 'node:crypto'
import { deflateRawSync } from 'node:zlib'
import request from 'supertest'
import express from 'express'
import { arcSession, type ArcSessionOptions } from 'arc-session'
import {
  ALGORITHMS, KEY_BYTES, OTHER_SECRET, SECRET, WEEK, b64url, captureRejects, cookieValue, craftToken, express4,
  headerOf, jose, openToken, plain, rawKey, sealClaims, segmentsOf, type Algorithm
} from '../support/tokens'

const VECTOR_SECRET = 'abcdefghijklmnopqrstuvwxyz012345'
const VECTOR = 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..oPJYVvuyws9vKrpk.3FNuoZTsalj75PSFM3ltDCRGF5rHTb6T.D7YTgr-7Nufd6xAI5Pdp6g'
const VECTOR_IAT = 1795824315

/** A fixed moment for tokens we make here (epoch seconds). */
const NOW = 1_800_000_000

const EXPRESS = [['Express 5', express], ['Express 4', express4]] as const

const encoder = new TextEncoder()
const decoder = new TextDecoder()

function options (extra: ArcSessionOptions = {}): ArcSessionOptions {
  return { secret: SECRET, env: {}, clock: () => NOW * 1000, ...extra }
}

/** What read() makes of `_idx=<token>`, and the reasons given for refusing it. */
async function readToken (token: string, extra: ArcSessionOptions = {}): Promise<{ data: Record<string, unknown>, reasons: string[] }> {
  const rejects = captureRejects()
  const session = await arcSession(options({ onReject: rejects.onReject, ...extra })).read({ headers: { cookie: `_idx=${token}` } })
  return { data: plain(session), reasons: rejects.reasons }
}

async function joseSeal (claims: Record<string, unknown>, header: Record<string, unknown>, key: Uint8Array): Promise<string> {
  return await new jose.CompactEncrypt(encoder.encode(JSON.stringify(claims)))
    .setProtectedHeader(header as Parameters<InstanceType<typeof jose.CompactEncrypt>['setProtectedHeader']>[0])
    .encrypt(key)
}

describe('the DESIGN.md test vector', () => {
  it('read() opens it to {a:1} while the clock is inside its week', async () => {
    const { data, reasons } = await readToken(VECTOR, { secret: VECTOR_SECRET, clock: () => (VECTOR_IAT + 60) * 1000 })
    expect(data).toEqual({ a: 1 })
    expect(reasons).toEqual([])
  })

  it('read() refuses it as expired once iat + 604800 has passed', async () => {
    const { data, reasons } = await readToken(VECTOR, { secret: VECTOR_SECRET, clock: () => (VECTOR_IAT + WEEK) * 1000 })
    expect(data).toEqual({})
    expect(reasons).toEqual(['expired'])
  })

  it('read() refuses it under any other secret', async () => {
    const { data, reasons } = await readToken(VECTOR, { secret: 'abcdefghijklmnopqrstuvwxyz01234X', clock: () => (VECTOR_IAT + 60) * 1000 })
    expect(data).toEqual({})
    expect(reasons).toEqual(['tampered'])
  })

  it.each(EXPRESS)('%s: req.session holds {a:1} and iat stays hidden', async (_name, factory) => {
    const app = factory()
    app.use(arcSession(options({ secret: VECTOR_SECRET, clock: () => (VECTOR_IAT + 60) * 1000 })))
    app.get('/', (req, res) => { res.json({ session: req.session, iat: (req.session as Record<string, unknown>).iat ?? null }) })
    const res = await request(app).get('/').set('Cookie', `_idx=${VECTOR}`)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ session: { a: 1 }, iat: null })
    // Read and left alone: nothing to write back.
    expect(res.headers['set-cookie']).toBeUndefined()
  })
})

describe('the test builder (spec/support/tokens.ts) agrees with jose', () => {
  it.each(ALGORITHMS)('%s: jose opens what craftToken seals, and openToken opens what jose seals', async algorithm => {
    const key = rawKey(SECRET, algorithm)
    const crafted = sealClaims(SECRET, algorithm, { a: 1, iat: NOW })
    const opened = await jose.compactDecrypt(crafted, key)
    expect(JSON.parse(decoder.decode(opened.plaintext))).toEqual({ a: 1, iat: NOW })
    expect(opened.protectedHeader).toEqual({ alg: 'dir', enc: algorithm })

    const fromJose = await joseSeal({ b: 2 }, { alg: 'dir', enc: algorithm }, key)
    expect(openToken(fromJose, key)).toBe('{"b":2}')
  })
})

describe.each(ALGORITHMS)('tokens we write with %s', algorithm => {
  const ttl = 3600
  const maxLifetime = 86400
  const app = arcSession(options({ algorithm, ttl, maxLifetime }))
  const data = { a: 1, name: 'zoë', list: [1, 'two', null], nested: { deep: true } }
  let token: string

  beforeAll(async () => {
    token = cookieValue([await app.write({ ...data })]) ?? ''
  })

  it('are compact JWE: five segments, an empty key segment, header exactly alg/enc/kid, 12-byte IV, 16-byte tag', () => {
    const segments = segmentsOf(token)
    expect(segments).toHaveLength(5)
    const [header, encryptedKey, iv, ciphertext, tag] = segments as [string, string, string, string, string]
    expect(encryptedKey).toBe('')
    for (const segment of [header, iv, ciphertext, tag]) expect(segment).toMatch(/^[A-Za-z0-9_-]+$/)

    const fields = headerOf(token)
    expect(Object.keys(fields).sort()).toEqual(['alg', 'enc', 'kid'])
    expect(fields).toEqual({ alg: 'dir', enc: algorithm, kid: expect.any(String) })
    expect(Buffer.from(iv, 'base64url')).toHaveLength(12)
    expect(Buffer.from(tag, 'base64url')).toHaveLength(16)
    // AES-GCM is a stream mode: the ciphertext is as long as the plaintext.
    expect(Buffer.from(ciphertext, 'base64url').length).toBeGreaterThan(JSON.stringify(data).length)
  })

  it('get a fresh IV every time', async () => {
    const again = cookieValue([await app.write({ ...data })]) ?? ''
    expect(segmentsOf(again)[2]).not.toBe(segmentsOf(token)[2])
  })

  it(`jose opens them with the first ${KEY_BYTES[algorithm]} bytes of the secret: our data plus _sid, _created, iat and exp`, async () => {
    const { plaintext, protectedHeader } = await jose.compactDecrypt(token, rawKey(SECRET, algorithm))
    expect(protectedHeader).toEqual(headerOf(token))
    expect(JSON.parse(decoder.decode(plaintext))).toEqual({ ...data, _sid: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), _created: NOW, iat: NOW, exp: NOW + ttl })
  })

  it('jose does not open them with any other key', async () => {
    const shifted = Buffer.from(SECRET, 'utf8').subarray(1, 1 + KEY_BYTES[algorithm])
    await expect(jose.compactDecrypt(token, shifted)).rejects.toThrow()
    await expect(jose.compactDecrypt(token, rawKey(OTHER_SECRET, algorithm))).rejects.toThrow()
  })

  it('read() gives the data back, without the claims', async () => {
    const { data: read, reasons } = await readToken(token, { algorithm, ttl, maxLifetime })
    expect(read).toEqual(data)
    expect(reasons).toEqual([])
  })

  it('exp is honoured: read() refuses the token once exp has passed', async () => {
    // A reader whose own ttl would still allow it: only the token's exp ends it.
    const { data: read, reasons } = await readToken(token, { algorithm, ttl: 10 * ttl, maxLifetime: 0, clock: () => (NOW + ttl) * 1000 })
    expect(read).toEqual({})
    expect(reasons).toEqual(['expired'])
  })

  describe('tokens jose seals are opened', () => {
    const key = rawKey(SECRET, algorithm)
    let kid: string
    beforeAll(() => { kid = String(headerOf(token).kid) })

    const headers: Array<[string, () => Record<string, unknown>]> = [
      ['{alg, enc} (arc\'s header)', () => ({ alg: 'dir', enc: algorithm })],
      ['{enc, alg}', () => ({ enc: algorithm, alg: 'dir' })],
      ['{alg, enc, kid}', () => ({ alg: 'dir', enc: algorithm, kid })],
      ['{kid, enc, alg}', () => ({ kid, enc: algorithm, alg: 'dir' })],
      ['{enc, kid, alg}', () => ({ enc: algorithm, kid, alg: 'dir' })]
    ]

    it.each(headers)('header %s', async (_name, header) => {
      const sealed = await joseSeal({ a: 2, s: 'é✓', iat: NOW - 10 }, header(), key)
      const { data: read, reasons } = await readToken(sealed, { algorithm })
      expect(read).toEqual({ a: 2, s: 'é✓' })
      expect(reasons).toEqual([])
    })

    it('a jose token whose exp has passed is refused as expired, though its iat is recent', async () => {
      const sealed = await joseSeal({ a: 2, iat: NOW - 10, exp: NOW - 1 }, { alg: 'dir', enc: algorithm }, key)
      expect(await readToken(sealed, { algorithm })).toEqual({ data: {}, reasons: ['expired'] })
    })

    it('a jose token without iat is refused (arc refuses it too)', async () => {
      const sealed = await joseSeal({ a: 2 }, { alg: 'dir', enc: algorithm }, key)
      expect(await readToken(sealed, { algorithm })).toEqual({ data: {}, reasons: ['malformed'] })
    })

    it('a jose token with a kid we do not know is refused as unknown-key', async () => {
      const sealed = await joseSeal({ a: 2, iat: NOW }, { alg: 'dir', enc: algorithm, kid: 'nope1234' }, key)
      expect(await readToken(sealed, { algorithm })).toEqual({ data: {}, reasons: ['unknown-key'] })
    })

    it('a jose token sealed under another secret is refused as tampered', async () => {
      const sealed = await joseSeal({ a: 2, iat: NOW }, { alg: 'dir', enc: algorithm }, rawKey(OTHER_SECRET, algorithm))
      expect(await readToken(sealed, { algorithm })).toEqual({ data: {}, reasons: ['tampered'] })
    })

    it('a jose token whose plaintext is not a JSON object is refused as malformed', async () => {
      for (const plaintext of ['[1,2]', '"text"', '42', 'null', 'not json']) {
        const sealed = await new jose.CompactEncrypt(encoder.encode(plaintext)).setProtectedHeader({ alg: 'dir', enc: algorithm }).encrypt(key)
        expect(await readToken(sealed, { algorithm })).toEqual({ data: {}, reasons: ['malformed'] })
      }
    })
  })
})

describe('pinning: an A256GCM app accepts dir + A256GCM and nothing else', () => {
  const algorithm: Algorithm = 'A256GCM'
  const claims = { a: 1, iat: NOW }

  async function refused (token: string): Promise<string> {
    const { data, reasons } = await readToken(token, { algorithm })
    expect(data).toEqual({})
    expect(reasons).toHaveLength(1)
    return reasons[0] as string
  }

  it('control: the same claims in a well-formed dir + A256GCM token are accepted', async () => {
    expect((await readToken(sealClaims(SECRET, algorithm, claims))).data).toEqual({ a: 1 })
  })

  it.each(['A128GCM', 'A192GCM'] as const)('a %s token keyed with the matching prefix of the secret: wrong-algorithm', async other => {
    // arc's reader takes enc from the header and would open this with the first bytes of the secret.
    const token = await joseSeal(claims, { alg: 'dir', enc: other }, rawKey(SECRET, other))
    expect(await refused(token)).toBe('wrong-algorithm')
  })

  it('and the other way round: an A128GCM app refuses an A256GCM token', async () => {
    const token = await joseSeal(claims, { alg: 'dir', enc: 'A256GCM' }, rawKey(SECRET, 'A256GCM'))
    const { data, reasons } = await readToken(token, { algorithm: 'A128GCM' })
    expect(data).toEqual({})
    expect(reasons).toEqual(['wrong-algorithm'])
  })

  it('dir with A256CBC-HS512: wrong-algorithm', async () => {
    const token = await joseSeal(claims, { alg: 'dir', enc: 'A256CBC-HS512' }, randomBytes(64))
    expect(await refused(token)).toBe('wrong-algorithm')
  })

  it('alg "none" in a five-segment token, sealed with the right key: wrong-algorithm', async () => {
    const token = craftToken({ key: rawKey(SECRET, algorithm), plaintext: claims, header: { alg: 'none', enc: 'A256GCM' } })
    expect(await refused(token)).toBe('wrong-algorithm')
  })

  it('an unsecured JWT (alg "none", three segments): malformed', async () => {
    const token = `${b64url(JSON.stringify({ alg: 'none' }))}.${b64url(JSON.stringify(claims))}.`
    expect(await refused(token)).toBe('malformed')
  })

  it('a JWS (HS256 over the claims, signed with the key): malformed', async () => {
    const token = await new jose.CompactSign(encoder.encode(JSON.stringify(claims))).setProtectedHeader({ alg: 'HS256' }).sign(rawKey(SECRET, algorithm))
    expect(segmentsOf(token)).toHaveLength(3)
    expect(await refused(token)).toBe('malformed')
  })

  it('PBES2-HS256+A128KW with the secret as password: wrong-algorithm (and no PBKDF2 run for the attacker)', async () => {
    const token = await new jose.CompactEncrypt(encoder.encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: 'PBES2-HS256+A128KW', enc: 'A256GCM' })
      .setKeyManagementParameters({ p2c: 1000, p2s: randomBytes(16) })
      .encrypt(encoder.encode(SECRET))
    expect(headerOf(token)).toMatchObject({ alg: 'PBES2-HS256+A128KW', p2c: 1000 })
    expect(await refused(token)).toBe('wrong-algorithm')
  })

  it('A256KW keyed with the first 32 bytes of the secret: wrong-algorithm', async () => {
    const token = await joseSeal(claims, { alg: 'A256KW', enc: 'A256GCM' }, rawKey(SECRET, algorithm))
    expect(segmentsOf(token)[1]).not.toBe('')
    expect(await refused(token)).toBe('wrong-algorithm')
  })

  it('RSA-OAEP-256: wrong-algorithm', async () => {
    const { publicKey } = await jose.generateKeyPair('RSA-OAEP-256')
    const token = await new jose.CompactEncrypt(encoder.encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM' })
      .encrypt(publicKey)
    expect(await refused(token)).toBe('wrong-algorithm')
  })

  // Headers that ask the reader for something we do not do: refused, whatever the name of the reason.
  const NOT_UNDERSTOOD = ['wrong-algorithm', 'malformed']

  it('a "zip" header (DEFLATE before encryption), sealed with the right key: refused', async () => {
    const header = b64url(JSON.stringify({ alg: 'dir', enc: 'A256GCM', zip: 'DEF' }))
    const token = craftToken({ key: rawKey(SECRET, algorithm), header, plaintext: deflateRawSync(JSON.stringify(claims)) })
    expect(NOT_UNDERSTOOD).toContain(await refused(token))
  })

  it('a "crit" header, sealed with the right key: refused', async () => {
    const token = craftToken({ key: rawKey(SECRET, algorithm), plaintext: claims, header: { alg: 'dir', enc: 'A256GCM', crit: ['x-must'], 'x-must': true } })
    expect(NOT_UNDERSTOOD).toContain(await refused(token))
  })

  it('any other extra header field, sealed with the right key: refused', async () => {
    const token = craftToken({ key: rawKey(SECRET, algorithm), plaintext: claims, header: { alg: 'dir', enc: 'A256GCM', jku: 'https://attacker.example/keys' } })
    expect(NOT_UNDERSTOOD).toContain(await refused(token))
  })

  it('a non-empty encrypted-key segment with alg dir, otherwise valid: refused', async () => {
    const token = craftToken({ key: rawKey(SECRET, algorithm), plaintext: claims, encryptedKey: b64url(randomBytes(40)) })
    expect(NOT_UNDERSTOOD).toContain(await refused(token))
  })

  it.each([8, 16, 32])('a %i-byte IV (valid GCM, right key): malformed', async ivBytes => {
    const token = craftToken({ key: rawKey(SECRET, algorithm), plaintext: claims, ivBytes })
    // Authentic (GCM takes any IV length): only the IV's length is wrong.
    expect(openToken(token, rawKey(SECRET, algorithm))).toBe(JSON.stringify(claims))
    expect(await refused(token)).toBe('malformed')
  })

  it.each([4, 8, 12, 15])('a %i-byte (truncated) tag, valid GCM with the right key: malformed', async tagBytes => {
    const token = craftToken({ key: rawKey(SECRET, algorithm), plaintext: claims, tagBytes })
    expect(Buffer.from(segmentsOf(token)[4] ?? '', 'base64url')).toHaveLength(tagBytes)
    expect(await refused(token)).toBe('malformed')
  })

  describe('non-canonical base64url spellings of the same bytes', () => {
    /** A valid token of ours whose ciphertext uses '-' or '_' (so it has a standard-alphabet twin). */
    async function tokenWithUrlChars (): Promise<string> {
      const app = arcSession(options())
      for (;;) {
        const token = cookieValue([await app.write({ filler: randomBytes(24).toString('hex') })]) ?? ''
        if (/[-_]/.test(segmentsOf(token)[3] ?? '')) return token
      }
    }

    function respell (token: string, index: number, spell: (segment: string) => string): string {
      const segments = segmentsOf(token)
      const original = segments[index] ?? ''
      const changed = spell(original)
      expect(changed).not.toBe(original)
      // Same bytes to a lenient decoder: only the spelling differs.
      expect(Buffer.from(changed, 'base64')).toEqual(Buffer.from(original, 'base64url'))
      segments[index] = changed
      return segments.join('.')
    }

    it('control: the token as written is accepted', async () => {
      const token = await tokenWithUrlChars()
      expect(Object.keys((await readToken(token)).data)).toEqual(['filler'])
    })

    it('unused low bits set in the last character of the tag: malformed', async () => {
      const token = await tokenWithUrlChars()
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
      // 16 bytes take 22 characters: the last one carries 2 bits of data and 4 unused ones.
      const bad = respell(token, 4, tag => tag.slice(0, -1) + (alphabet[alphabet.indexOf(tag.slice(-1)) ^ 1] ?? ''))
      expect(await refused(bad)).toBe('malformed')
    })

    it('"=" padding on the tag: malformed', async () => {
      const bad = respell(await tokenWithUrlChars(), 4, tag => `${tag}==`)
      expect(await refused(bad)).toBe('malformed')
    })

    it('the standard alphabet (+ and /) in the ciphertext: malformed', async () => {
      const bad = respell(await tokenWithUrlChars(), 3, ct => ct.replace(/-/g, '+').replace(/_/g, '/'))
      expect(await refused(bad)).toBe('malformed')
    })

    it('padding on the IV segment: malformed', async () => {
      const token = await tokenWithUrlChars()
      const segments = segmentsOf(token)
      segments[2] = `${segments[2] ?? ''}=`
      expect(await refused(segments.join('.'))).toBe('malformed')
    })
  })
})

describe('the key id in our header', () => {
  async function kidOf (secret: string, algorithm: Algorithm = 'A256GCM'): Promise<string> {
    const token = cookieValue([await arcSession(options({ secret, algorithm })).write({ a: 1 })]) ?? ''
    const kid = headerOf(token).kid
    expect(typeof kid).toBe('string')
    return kid as string
  }

  it('is short, stable for a secret across instances, and differs between secrets', async () => {
    const kid = await kidOf(SECRET)
    expect(kid.length).toBeGreaterThan(0)
    expect(kid.length).toBeLessThanOrEqual(16)
    expect(await kidOf(SECRET)).toBe(kid)
    expect(await kidOf(OTHER_SECRET)).not.toBe(kid)
  })

  it.each(ALGORITHMS)('%s: is no piece of the secret or key in any common encoding, nor an unkeyed hash of either', async algorithm => {
    const kid = await kidOf(SECRET, algorithm)
    const secret = Buffer.from(SECRET, 'utf8')
    const key = rawKey(SECRET, algorithm)
    const spellings: string[] = []
    for (const bytes of [secret, key]) {
      spellings.push(bytes.toString('utf8'), bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex'))
      for (const hash of ['sha256', 'sha1', 'md5', 'sha512']) {
        const digest = createHash(hash).update(bytes).digest()
        spellings.push(digest.toString('hex'), digest.toString('base64'), digest.toString('base64url'))
      }
    }
    for (const text of spellings) {
      expect(text.includes(kid)).toBe(false)
      expect(text.toLowerCase().includes(kid.toLowerCase())).toBe(false)
    }
  })
})
