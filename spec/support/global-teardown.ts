import type { LocalDynamo } from './dynalite'

export default async function globalTeardown (): Promise<void> {
  await ((globalThis as { __dynalite__?: LocalDynamo }).__dynalite__)?.close()
}
