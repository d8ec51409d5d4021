#!/usr/bin/env node
import { ConfigError } from './errors'
import { createTable } from './table'

const USAGE = `usage: arc-session create-table <name> [options]

Creates the DynamoDB session table, or completes an existing one: _idx string hash key, on-demand
billing, TTL on _ttl, and the user index (arc-session-user, on _user) that lists a user's sessions.
Safe to run again: on an existing table it adds only what is missing (the one-time update for
tables made before the user index).

options:
  --endpoint URL   a DynamoDB other than AWS's, e.g. http://localhost:4567 (dynalite, DynamoDB Local);
                   on localhost the region defaults to us-west-2 and dummy credentials are used
  --region NAME    the AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, or ~/.aws/config)
  --wait SECONDS   how long to wait for the table and index to become active (default 60)
  -h, --help       this text

Credentials come from the standard AWS environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
AWS_PROFILE, or the role the command runs under.`

const FLAGS = ['endpoint', 'region', 'wait'] as const
type Flag = typeof FLAGS[number]

/** Library setting names as this command's flags, for errors that say what to type. */
const FLAG_NAMES = { region: '--region', endpoint: '--endpoint', client: '--endpoint', timeout: '--wait' }

export async function main (argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`)
    return command === undefined ? 2 : 0
  }
  if (command !== 'create-table') {
    process.stderr.write(`arc-session: unknown command "${command}"\n\n${USAGE}\n`)
    return 2
  }
  const positional: string[] = []
  const flags: Partial<Record<Flag, string>> = {}
  for (let index = 0; index < rest.length; index++) {
    const word = rest[index] as string
    if (word === '--help' || word === '-h') {
      process.stdout.write(`${USAGE}\n`)
      return 0
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(word)
    if (match === null) {
      if (word.startsWith('-')) return usageError(`unknown option ${word}`)
      positional.push(word)
      continue
    }
    const flag = match[1] as string
    if (!(FLAGS as readonly string[]).includes(flag)) return usageError(`unknown option --${flag}; the options are ${FLAGS.map(name => `--${name}`).join(', ')}`)
    const value = match[2] ?? rest[++index]
    if (value === undefined || value === '') return usageError(`--${flag} needs a value`)
    flags[flag as Flag] = value
  }
  const [name] = positional
  if (name === undefined) return usageError('the table name is missing')
  if (positional.length > 1) return usageError(`one table name, got ${positional.length}: ${positional.join(' ')}`)
  const wait = flags.wait === undefined ? undefined : Number(flags.wait)
  if (wait !== undefined && !(wait > 0)) return usageError(`--wait takes a number of seconds, got ${flags.wait}`)

  try {
    const result = await createTable(name, {
      ...(flags.endpoint === undefined ? {} : { endpoint: flags.endpoint }),
      ...(flags.region === undefined ? {} : { region: flags.region }),
      ...(wait === undefined ? {} : { wait }),
      settingNames: FLAG_NAMES
    })
    const index = { created: 'created', added: 'added (the table\'s one-time update)', present: 'already there' }[result.userIndex]
    process.stdout.write(`table ${name}: ${result.created ? 'created' : 'already exists'}; TTL on _ttl: ${result.ttl}; user index: ${index}\n`)
    return 0
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`arc-session: ${error.message}\n`)
      return 2
    }
    const { name: errorName, message } = error as Error
    const hint = /credential/i.test(`${errorName} ${message}`)
      ? '\nset AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (for a local DynamoDB, pass --endpoint http://localhost:PORT)'
      : ''
    process.stderr.write(`arc-session: could not create table ${name}: ${errorName}: ${message}${hint}\n`)
    return 1
  }
}

function usageError (message: string): number {
  process.stderr.write(`arc-session: ${message}\n\n${USAGE}\n`)
  return 2
}

if (require.main === module) {
  // The AWS SDK's notice about Node 20 is for apps, not for a one-off command.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  main(process.argv.slice(2)).then(code => { process.exitCode = code }, () => { process.exitCode = 1 })
}
