import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Every TypeScript example in the README is a verbatim part of a file under examples/,
 * which `npm test` type-checks and whose behaviour examples/readme/*.spec.ts exercises.
 */
const root = join(__dirname, '..', '..')

function filesUnder (dir: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : /\.ts$/.test(name) && !name.endsWith('.spec.ts') ? [path] : []
  })
}

const normalise = (text: string): string => text.replace(/[ \t]+$/gm, '').trim()
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map(match => normalise(match[1] as string))
const examples = filesUnder(join(root, 'examples')).map(path => ({ path, text: normalise(readFileSync(path, 'utf8')) }))

describe('README examples', () => {
  it('has TypeScript examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(8)
  })

  it.each(blocks.map((block, index) => [index + 1, block.split('\n').find(line => line.trim() !== '' && !line.startsWith('import')) ?? '', block]))(
    'example %i (%s) is part of a file under examples/', (_index, _firstLine, block) => {
      const home = examples.find(example => example.text.includes(block as string))
      if (home === undefined) throw new Error(`this README block is in no file under examples/, so nothing tests it:\n${block as string}`)
      expect(home.path).toContain(join(root, 'examples'))
    })
})
