#!/usr/bin/env node
import { createTable } from './table'

const USAGE = `usage: arc-session create-table <name> [--endpoint URL] [--region REGION]

Creates the DynamoDB session table (_idx string hash key, on-demand billing) and turns on TTL for _ttl.
Credentials and region come from the standard AWS environment (AWS_REGION, AWS_PROFILE, ...).`

export async function main (argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`)
    return command === undefined ? 2 : 0
  }
  if (command !== 'create-table') {
    process.stderr.write(`arc-session: unknown command "${command}"\n${USAGE}\n`)
    return 2
  }
  const positional: string[] = []
  const flags: Record<string, string> = {}
  for (let index = 0; index < rest.length; index++) {
    const word = rest[index] as string
    const match = /^--(endpoint|region)(?:=(.*))?$/.exec(word)
    if (match === null) {
      if (word.startsWith('-')) {
        process.stderr.write(`arc-session: unknown option ${word}\n${USAGE}\n`)
        return 2
      }
      positional.push(word)
      continue
    }
    const value = match[2] ?? rest[++index]
    if (value === undefined) {
      process.stderr.write(`arc-session: --${match[1] as string} needs a value\n`)
      return 2
    }
    flags[match[1] as string] = value
  }
  const [name] = positional
  if (name === undefined || positional.length > 1) {
    process.stderr.write(`${USAGE}\n`)
    return 2
  }
  try {
    const result = await createTable(name, { ...(flags.endpoint === undefined ? {} : { endpoint: flags.endpoint }), ...(flags.region === undefined ? {} : { region: flags.region }) })
    process.stdout.write(`table ${name}: ${result.created ? 'created' : 'already exists'}; TTL on _ttl: ${result.ttl}\n`)
    return 0
  } catch (error) {
    const { name: errorName, message } = error as Error
    process.stderr.write(`arc-session: could not create table ${name}: ${errorName}: ${message}\n`)
    return 1
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(code => { process.exitCode = code }, () => { process.exitCode = 1 })
}
