import { isRevoked, mergeRevocations, type RegistryEntry, type Revocation, type SessionRegistry } from 'arc-session'

/**
 * A registry of your own: which user holds which cookie-store sessions, and what was revoked,
 * in memory. For tests, demos and single-process apps; a fleet needs a shared one (the DynamoDB
 * registry, `registry: 'table-name'`, or one over your database implementing the same five methods).
 */
export class MemoryRegistry implements SessionRegistry {
  private readonly entries = new Map<string, Map<string, RegistryEntry>>()
  private readonly marks = new Map<string, Revocation>()

  record (entry: RegistryEntry): void {
    let sessions = this.entries.get(entry.user)
    if (sessions === undefined) this.entries.set(entry.user, sessions = new Map())
    sessions.set(entry.id, entry)
  }

  forget (user: string, id: string): void {
    this.entries.get(user)?.delete(id)
  }

  list (user: string): RegistryEntry[] {
    return [...(this.entries.get(user)?.values() ?? [])]
  }

  revoke (user: string, revocation: Revocation): void {
    const marks = mergeRevocations(this.marks.get(user), revocation)
    this.marks.set(user, marks)
    for (const entry of this.list(user)) if (isRevoked(marks, entry.id, entry.boundAt ?? entry.createdAt)) this.forget(user, entry.id)
  }

  revocations (user: string): Revocation | undefined {
    return this.marks.get(user)
  }
}
