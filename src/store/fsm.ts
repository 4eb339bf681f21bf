import type { Entry, Snapshot } from '../raft/index.js'
import type { ReplicaStateMachine } from '../replica/ports.js'
import type { StatementResult } from '../db/types.js'
import { type Command, decodeCommand, pack, unpack } from './command-codec.js'
import { ProposalDroppedError } from './errors.js'

/** The part of `src/db` the state machine uses (the store declares what it needs). */
export interface FsmDatabase {
  execute(
    batch: Extract<Command, { kind: 'execute' }>['statements'],
    options: { transaction: boolean; seed: Uint8Array; nowMs: number; index: number; timings?: boolean },
  ): Promise<StatementResult[]>
  query(
    batch: Extract<Command, { kind: 'query' }>['statements'],
    options: { transaction: boolean; timings?: boolean; qualifyColumns?: boolean },
  ): Promise<StatementResult[]>
  request(
    batch: Extract<Command, { kind: 'execute' }>['statements'],
    options: {
      transaction: boolean
      seed: Uint8Array
      nowMs: number
      index: number
      timings?: boolean
      qualifyColumns?: boolean
    },
  ): Promise<StatementResult[]>
  serialize(): Promise<Uint8Array>
  restore(image: Uint8Array, options?: { index?: number }): Promise<unknown>
}

export interface NodeMeta {
  readonly nodeId: number
  readonly raftAddress: string
  readonly httpAddress: string
}

interface Session {
  seq: number
  results: StatementResult[]
}

interface Waiter {
  readonly term: number
  readonly resolve: (results: StatementResult[]) => void
  readonly reject: (error: Error) => void
}

interface SnapshotImage {
  readonly db: Uint8Array
  readonly nodes: NodeMeta[]
  readonly sessions: [string, Session][]
}

/**
 * Applies committed entries to SQLite (like rqlite's FSM + CommandProcessor), answers the requests waiting
 * on them, and deduplicates retried client requests. Also the replicated directory of node addresses.
 */
export class Fsm implements ReplicaStateMachine {
  readonly #db: FsmDatabase
  readonly #waiters = new Map<number, Waiter>()
  readonly #sessions = new Map<string, Session>()
  readonly nodes = new Map<number, NodeMeta>()
  /** Called after every apply and restore, with the new applied index. */
  onApplied: (index: number) => void = () => {}
  onNodeMeta: (meta: NodeMeta) => void = () => {}
  #applied = 0
  /** The leader's clock when it wrote the last applied execute or strong read (freshness_strict). */
  lastAppliedWrittenMs: number | undefined

  constructor(db: FsmDatabase) {
    this.#db = db
  }

  get appliedIndex(): number {
    return this.#applied
  }

  /** Registers interest in the result of the entry proposed at (`index`, `term`). */
  wait(index: number, term: number): Promise<StatementResult[]> {
    return new Promise((resolve, reject) => this.#waiters.set(index, { term, resolve, reject }))
  }

  /** Gives up waiting (a timeout): the entry may still apply later, unobserved. */
  forget(index: number): void {
    this.#waiters.delete(index)
  }

  async apply(entries: readonly Entry[]): Promise<void> {
    for (const entry of entries) {
      let results: StatementResult[] | undefined
      if (entry.kind === 'normal') results = await this.#applyCommand(decodeCommand(entry.data), entry.index)
      this.#applied = entry.index
      this.#answer(entry.index, entry.term, results)
      this.onApplied(entry.index)
    }
  }

  #answer(index: number, term: number, results: StatementResult[] | undefined): void {
    const waiter = this.#waiters.get(index)
    if (!waiter) return
    this.#waiters.delete(index)
    // Same index and term: this is the proposed entry (Log Matching), whatever its kind.
    if (waiter.term === term) waiter.resolve(results ?? [])
    else
      waiter.reject(new ProposalDroppedError(`the entry at index ${index} was replaced by another leader's`))
  }

  async #applyCommand(command: Command, index: number): Promise<StatementResult[] | undefined> {
    if (command.kind === 'execute' || command.kind === 'query') this.lastAppliedWrittenMs = command.nowMs
    switch (command.kind) {
      case 'execute': {
        const session = this.#sessions.get(command.clientId)
        // A duplicate of a request already applied (a client retry that reached the log twice): answer it
        // from the session without applying it again.
        if (session && command.seq <= session.seq) return session.seq === command.seq ? session.results : []
        // Times are kept for the waiting client (`timings`); the HTTP layer writes them only when asked.
        const options = {
          transaction: command.transaction,
          seed: command.seed,
          nowMs: command.nowMs,
          index,
          timings: true,
        }
        const results = command.mixed
          ? await this.#db.request(command.statements, {
              ...options,
              ...(command.qualifyColumns ? { qualifyColumns: true } : {}),
            })
          : await this.#db.execute(command.statements, options)
        if (command.clientId !== '') this.#sessions.set(command.clientId, { seq: command.seq, results })
        return results
      }
      case 'query':
        // Only a waiting request needs the rows; the read changes nothing, so other replicas skip it.
        if (!this.#waiters.has(index)) return []
        return this.#db.query(command.statements, {
          transaction: command.transaction,
          timings: true,
          ...(command.qualifyColumns ? { qualifyColumns: true } : {}),
        })
      case 'load':
        // Recorded with the entry's index, so the database says which entry it reflects.
        await this.#db.restore(command.image, { index })
        return []
      case 'nodeMeta': {
        const meta = {
          nodeId: command.nodeId,
          raftAddress: command.raftAddress,
          httpAddress: command.httpAddress,
        }
        this.nodes.set(meta.nodeId, meta)
        this.onNodeMeta(meta)
        return []
      }
    }
  }

  async restore(snapshot: Snapshot): Promise<void> {
    const image = unpack<SnapshotImage>(snapshot.data)
    await this.#db.restore(image.db)
    this.nodes.clear()
    for (const meta of image.nodes) {
      this.nodes.set(meta.nodeId, meta)
      this.onNodeMeta(meta)
    }
    this.#sessions.clear()
    for (const [id, session] of image.sessions) this.#sessions.set(id, session)
    this.#applied = snapshot.meta.index
    this.onApplied(this.#applied)
  }

  async snapshot(): Promise<Uint8Array> {
    const image: SnapshotImage = {
      db: await this.#db.serialize(),
      nodes: [...this.nodes.values()],
      sessions: [...this.#sessions],
    }
    return pack(image)
  }

  /** Fails every waiter (the node is shutting down). */
  failAll(error: Error): void {
    for (const waiter of this.#waiters.values()) waiter.reject(error)
    this.#waiters.clear()
  }
}
