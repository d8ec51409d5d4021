import type { AddressInfo } from 'node:net'
import { createDemoApp } from './app'
import { startLocalDynamo } from './local-dynamodb'

/**
 * `npm start`: the demo on http://localhost:3000 with the cookie store, no database.
 * `npm run start:dynamodb`: the same demo on DynamoDB, an in-process dynalite.
 * PORT picks another port (0 = any free one).
 */
async function main (): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  // A development server: cookies without Secure, so any browser or curl on plain http keeps them.
  process.env.NODE_ENV ??= 'development'
  const useDynamo = process.argv.includes('--dynamodb')
  const local = useDynamo ? await startLocalDynamo() : undefined
  const app = createDemoApp(local === undefined ? {} : { table: local.table, dynamodb: { client: local.client } })
  const server = app.listen(Number(process.env.PORT ?? 3000), () => {
    const { port } = server.address() as AddressInfo
    const store = local === undefined ? 'cookie store (JWE)' : `DynamoDB table "${local.table}" on dynalite at ${local.endpoint}`
    console.log(`arc-session demo on http://localhost:${port} with the ${store}`)
  })
  const stop = (): void => {
    server.close()
    server.closeAllConnections()
    void local?.close()
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

main().catch(error => {
  console.error(error)
  process.exitCode = 1
})
