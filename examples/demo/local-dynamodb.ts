import type { AddressInfo } from 'node:net'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import dynalite from 'dynalite'
import { createTable } from 'arc-session'

export interface LocalDynamo {
  readonly endpoint: string
  readonly table: string
  readonly client: DynamoDBClient
  close (): Promise<void>
}

/** dynalite in this process, in memory, on a free port, with the session table made: no Java, no Docker, no AWS account. */
export async function startLocalDynamo (table = 'arc-sessions'): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0 })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } })
  await createTable(table, { client })
  return {
    endpoint,
    table,
    client,
    close: async () => {
      client.destroy()
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}
