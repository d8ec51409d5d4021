import { readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

/**
 * ARCHITECTURE.md's "may import" column: a file's folder says which folders it may import from,
 * so data keeps moving one way (a store never reaches the request, cookie/ and crypto/ stay pure).
 */
const lib = join(__dirname, '..', '..', 'lib')

const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  cookie: ['errors'],
  crypto: ['errors'],
  util: ['errors'],
  stores: ['crypto', 'cookie', 'util', 'errors'],
  session: ['stores', 'cookie', 'crypto', 'util', 'errors'],
  config: ['session', 'stores', 'cookie', 'crypto', 'util', 'errors'],
  http: ['api', 'config', 'session', 'stores', 'cookie', 'crypto', 'util', 'errors']
}

function sources (dir: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sources(path) : name.endsWith('.ts') ? [path] : []
  })
}

/** The layer a lib/ path belongs to: its first folder, or the top-level file's name. */
function layerOf (path: string): string {
  const [first = '', second] = relative(lib, path).split('/')
  return second === undefined ? first.replace(/\.ts$/, '') : first
}

const imports = sources(lib).flatMap(file => {
  const text = readFileSync(file, 'utf8')
  return [...text.matchAll(/(?:from |require\()'(\.{1,2}\/[^']+)'/g)].map(match => ({
    file: relative(lib, file),
    from: layerOf(file),
    to: layerOf(resolve(dirname(file), match[1] as string))
  }))
})

describe('lib/ layers', () => {
  it('has imports to check', () => {
    expect(imports.length).toBeGreaterThan(50)
  })

  it.each(Object.keys(MAY_IMPORT))('%s/ imports only from the layers below it', layer => {
    const allowed = new Set([layer, ...(MAY_IMPORT[layer] ?? [])])
    const wrong = imports.filter(entry => entry.from === layer && !allowed.has(entry.to)).map(entry => `${entry.file} -> ${entry.to}`)
    expect(wrong).toEqual([])
  })

  it('index.ts only re-exports', () => {
    const code = readFileSync(join(lib, 'index.ts'), 'utf8').split('\n')
      .filter(line => line.trim() !== '' && !/^(export|import type|\s|}|\/\/|declare)/.test(line))
    expect(code).toEqual([])
  })
})
