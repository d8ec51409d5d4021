import type { AddressInfo } from 'node:net'
import dynalite from 'dynalite'

export interface LocalDynamo {
  readonly endpoint: string
  readonly port: number
  close (): Promise<void>
}

/** An in-process DynamoDB (dynalite, in memory) on `port`, or a free one. */
export async function startDynalite (port = 0): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  const actual = (server.address() as AddressInfo).port
  return {
    endpoint: `http://127.0.0.1:${actual}`,
    port: actual,
    close: async () => {
      server.closeAllConnections?.()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}
