import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createDemoApp } from '../../examples/demo/app'
import { startLocalDynamo, type LocalDynamo } from '../../examples/demo/local-dynamodb'

export type StoreName = 'cookie' | 'dynamodb'

export interface RunningDemo {
  readonly store: StoreName
  /** http://127.0.0.1:<port> */
  readonly url: string
  readonly dynamo?: LocalDynamo
  stop (): Promise<void>
}

/** The demo app in this process, on a free port: the cookie store (JWE), or DynamoDB on an in-process dynalite. */
export async function startDemo (store: StoreName): Promise<RunningDemo> {
  const dynamo = store === 'dynamodb' ? await startLocalDynamo('arc-sessions-e2e') : undefined
  // Explicit options, so an ARC_SESSION_TABLE_NAME in the environment cannot switch the store under the test.
  const app = createDemoApp(dynamo === undefined ? { table: 'jwe' } : { table: dynamo.table, dynamodb: { client: dynamo.client } })
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(0, '127.0.0.1', (error?: Error) => { if (error === undefined) resolve(listening); else reject(error) })
  })
  const { port } = server.address() as AddressInfo
  return {
    store,
    url: `http://127.0.0.1:${port}`,
    ...(dynamo === undefined ? {} : { dynamo }),
    stop: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
      await dynamo?.close()
    }
  }
}
