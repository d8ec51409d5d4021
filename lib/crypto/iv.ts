import { randomFillSync } from 'node:crypto'
import { startupSnapshot } from 'node:v8'

/**
 * AES-GCM IVs, 12 bytes each, never repeated under one key.
 *
 * They come from a buffer of CSPRNG output refilled every 1,024 IVs: one randomFillSync(12)
 * costs ~1.6 µs here (OpenSSL checks for a fork on every call), the pool ~0.07 µs, against
 * ~20 µs for a whole seal. A pool is state that a copy of the process would share, so it is
 * thrown away whenever the process it was filled in is no longer the one running:
 *
 * - a process restored from a startup snapshot (`node --snapshot-blob`) starts with the memory
 *   of the process that built the snapshot: the deserialize callback empties the pool, whatever
 *   pid the new process has (two containers restored from one snapshot can both be pid 1);
 * - a process whose pid changed since the fill (a fork that did not exec) refills;
 * - worker threads, cluster workers and child processes load this module afresh: a pool each.
 */
const IV_BYTES = 12
const POOL_IVS = 1024

const pool = Buffer.alloc(IV_BYTES * POOL_IVS)
let offset = pool.length
let filledIn = -1

function discard (): void {
  pool.fill(0)
  offset = pool.length
  filledIn = -1
}

if (startupSnapshot?.isBuildingSnapshot?.() === true) {
  startupSnapshot.addSerializeCallback(discard)
  startupSnapshot.addDeserializeCallback(discard)
}

export function nextIv (): Buffer {
  if (offset === pool.length || filledIn !== process.pid) {
    randomFillSync(pool)
    offset = 0
    filledIn = process.pid
  }
  const iv = pool.subarray(offset, offset + IV_BYTES)
  offset += IV_BYTES
  return iv
}
