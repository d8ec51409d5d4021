/**
 * dynalite (local DynamoDB, in memory) in its own process, forked by bench/run.ts, so
 * its work is neither the load generator's nor the server's. Sends `{ type: 'ready', port }`.
 */
import type { AddressInfo } from 'node:net'
import dynalite from 'dynalite'

const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port })
})
process.on('disconnect', () => { server.close(); server.closeAllConnections(); process.exit(0) })
