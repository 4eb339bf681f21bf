// The simulated state machine: a key-value register store with per-client deduplication (Raft thesis
// §6.3), recording how often each client operation was applied so the simulator can check exactly-once.

export type KvOp =
  | { readonly type: 'write'; readonly key: string; readonly value: string }
  | { readonly type: 'cas'; readonly key: string; readonly expected: string | null; readonly next: string }
  | { readonly type: 'read'; readonly key: string }

export interface KvCommand {
  readonly clientId: number
  /** Per-client sequence number of this attempt; a retry with the same seq is deduplicated. */
  readonly seq: number
  /** Identity of the client's operation, shared by every attempt of it. */
  readonly opId: number
  readonly op: KvOp
}

export type KvResult = { readonly value: string | null } | { readonly ok: boolean }

export function encodeCommand(command: KvCommand): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(command))
}

export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(new TextDecoder().decode(data)) as KvCommand
}

interface Session {
  seq: number
  result: KvResult
}

export class KvStateMachine {
  kv = new Map<string, string>()
  sessions = new Map<number, Session>()
  /** How many times each opId took effect. */
  applications = new Map<number, number>()
  /** Raft index of the last entry applied (set by the node): a snapshot's state must be exactly its index's. */
  lastIndex = 0

  apply(command: KvCommand): KvResult {
    const session = this.sessions.get(command.clientId)
    if (session && command.seq <= session.seq) {
      // A duplicate of an attempt already applied: answer it again without applying.
      return session.seq === command.seq ? session.result : { ok: false }
    }
    const result = this.#execute(command.op)
    if (command.op.type !== 'read')
      this.applications.set(command.opId, (this.applications.get(command.opId) ?? 0) + 1)
    this.sessions.set(command.clientId, { seq: command.seq, result })
    return result
  }

  read(key: string): string | null {
    return this.kv.get(key) ?? null
  }

  #execute(op: KvOp): KvResult {
    switch (op.type) {
      case 'write':
        this.kv.set(op.key, op.value)
        return { ok: true }
      case 'cas': {
        const current = this.kv.get(op.key) ?? null
        if (current !== op.expected) return { ok: false }
        this.kv.set(op.key, op.next)
        return { ok: true }
      }
      case 'read':
        return { value: this.kv.get(op.key) ?? null }
    }
  }

  serialize(): Uint8Array {
    return new TextEncoder().encode(
      JSON.stringify({
        kv: [...this.kv],
        sessions: [...this.sessions],
        applications: [...this.applications],
        lastIndex: this.lastIndex,
      }),
    )
  }

  static deserialize(data: Uint8Array): KvStateMachine {
    const sm = new KvStateMachine()
    if (data.byteLength === 0) return sm
    const parsed = JSON.parse(new TextDecoder().decode(data)) as {
      kv: [string, string][]
      sessions: [number, Session][]
      applications: [number, number][]
      lastIndex?: number
    }
    sm.kv = new Map(parsed.kv)
    sm.sessions = new Map(parsed.sessions)
    sm.applications = new Map(parsed.applications)
    sm.lastIndex = parsed.lastIndex ?? 0
    return sm
  }

  /** A digest of the visible contents, to compare replicas. */
  digest(): string {
    return JSON.stringify([...this.kv].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  }
}
