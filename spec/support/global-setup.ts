import { startDynalite } from './dynalite'

/** One dynalite for the whole run, on a free port; tests find it in DYNAMODB_TEST_ENDPOINT. */
export default async function globalSetup (): Promise<void> {
  const local = await startDynalite()
  process.env.DYNAMODB_TEST_ENDPOINT = local.endpoint
  ;(globalThis as { __dynalite__?: unknown }).__dynalite__ = local
}
