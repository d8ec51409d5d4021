declare module 'dynalite' {
  import type { Server } from 'node:http'
  interface DynaliteOptions {
    /** Milliseconds CreateTable takes to turn ACTIVE; 0 for tests. */
    createTableMs?: number
    deleteTableMs?: number
    updateTableMs?: number
    /** Directory for a persistent LevelDB; in memory when absent. */
    path?: string
    ssl?: boolean
  }
  function dynalite (options?: DynaliteOptions): Server
  export = dynalite
}
