import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { createTable } from 'arc-session'
import { MemoryStore } from '../../examples/memory-store'
import { testOptions } from '../support/apps'
import { defineBehaviourSuite } from '../support/behaviour-suite'

// The same middleware behaviour, whichever store keeps the session.

defineBehaviourSuite({
  name: 'JWE cookie store (the default)',
  hasIds: false,
  options: () => testOptions()
})

let client: DynamoDBClient | undefined
const table = `behaviour-${process.pid}-${Date.now().toString(36)}`
defineBehaviourSuite({
  name: 'DynamoDB store (dynalite)',
  hasIds: true,
  async setup () {
    const endpoint = process.env.DYNAMODB_TEST_ENDPOINT
    if (endpoint === undefined) throw new Error('DYNAMODB_TEST_ENDPOINT is not set: run through jest (global setup starts dynalite)')
    client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } })
    await createTable(table, { client })
  },
  async teardown () {
    client?.destroy()
  },
  options: () => {
    if (client === undefined) throw new Error('the DynamoDB client is made in setup()')
    return testOptions({ table, dynamodb: { client } })
  }
})

let memory: MemoryStore | undefined
defineBehaviourSuite({
  name: 'user-made MemoryStore (examples/memory-store.ts)',
  hasIds: true,
  async setup () { memory = new MemoryStore() },
  options: () => {
    if (memory === undefined) throw new Error('the store is made in setup()')
    return testOptions({ store: memory })
  }
})
