import type { Entry, Snapshot } from '../raft/index.js'
import type { CapturedState, ReplicaStateMachine } from '../replica/ports.js'
import type { StatementResult } from '../db/types.js'
import { type Command, decodeCommand, pack, unpack } from './command-codec.js'
import { ProposalDroppedError } from './errors.js'

/** How the state machine runs an entry's statements: with the leader's seed and time, at the entry's index. */
interface AppliedRunOptions {
  transaction: boolean
  seed: Uint8Array
  nowMs: number
  index: number
  timings?: boolean
  discardResults?: boolean
}

/** The part of `src/db` the state machine uses (the store declares what it needs). */
export interface FsmDatabase {
  execute(
    batch: Extract<Command, { kind: 'execute' }>['statements'],
    options: AppliedRunOptions,
  ): Promise<StatementResult[]>
  query(
    batch: Extract<Command, { kind: 'query' }>['statements'],
    options: { transaction: boolean; timings?: boolean; qualifyColumns?: boolean },
  ): Promise<StatementResult[]>
  request(
    batch: Extract<Command, { kind: 'execute' }>['statements'],
    options: AppliedRunOptions & { qualifyColumns?: boolean },
  ): Promise<StatementResult[]>
  /** The database image after `prefix`, in one buffer (see `Database.serialize`). */
  serialize(options?: { readonly prefix?: Uint8Array; readonly onCaptured?: () => void }): Promise<Uint8Array>
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

/** What a snapshot holds besides the database. */
export interface SnapshotHeader {
  readonly nodes: NodeMeta[]
  readonly sessions: [string, Session][]
}

/**
 * The state machine's snapshot image (the data of a Raft snapshot), version 2:
 *
 * ```
 * [u8 version = 2][u32 headerBytes, LE][header: msgpack SnapshotHeader][the SQLite database image, to the end]
 * ```
 *
 * The database, hundreds of MiB, is never msgpack-encoded: the worker serializes it straight after the
 * header into one buffer (`serialize({ prefix })`), and a restore hands a view of it to the database. Only
 * the small header is encoded and decoded on the main thread. Version 1 (no version byte) was one msgpack
 * map `{ db, nodes, sessions }`; it starts with a msgpack map tag (0x80–0x8f, 0xde, 0xdf), never with 2,
 * and is still read.
 */
export const snapshotImageVersion = 2
const snapshotPrefixBytes = 5

/** The bytes that go before the database in a version-2 image. */
export function encodeSnapshotPrefix(header: SnapshotHeader): Uint8Array {
  const encoded = pack(header)
  const prefix = new Uint8Array(snapshotPrefixBytes + encoded.byteLength)
  prefix[0] = snapshotImageVersion
  new DataView(prefix.buffer).setUint32(1, encoded.byteLength, true)
  prefix.set(encoded, snapshotPrefixBytes)
  return prefix
}

/** Splits an image (version 2, or the legacy msgpack map) into its header and a view of the database. */
export function decodeSnapshotImage(data: Uint8Array): SnapshotHeader & { readonly db: Uint8Array } {
  if (data[0] !== snapshotImageVersion) {
    const legacy = unpack<SnapshotHeader & { db: Uint8Array }>(data)
    return { db: legacy.db, nodes: legacy.nodes, sessions: legacy.sessions }
  }
  if (data.byteLength < snapshotPrefixBytes) throw new Error('snapshot image: truncated prefix')
  const headerBytes = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(1, true)
  const dbStart = snapshotPrefixBytes + headerBytes
  if (dbStart > data.byteLength) throw new Error('snapshot image: the header overruns the image')
  // From a copy of the (small) header: msgpackr keeps the last buffer it decoded until its next decode, and
  // a view would keep the whole image (a GiB) alive with it after the restore. Not `slice`: on a Buffer
  // (as the worker's image is) that is a view too.
  const header = unpack<SnapshotHeader>(new Uint8Array(data.subarray(snapshotPrefixBytes, dbStart)))
  return { db: data.subarray(dbStart), nodes: header.nodes, sessions: header.sessions }
}

/**
 * Applies committed entries to SQLite (like rqlite's FSM + CommandProcessor), answers the requests waiting
 * on them, and deduplicates retried client requests. Also the replicated directory of node addresses.
 */
export class Fsm implements ReplicaStateMachine {
  readonly #db: FsmDatabase
  readonly #waiters = new Map<number, Waiter>()
  readonly #sessions = new Map<string, Session>()
  /** Sessions whose latest batch the db worker is still running (see apply). */
  readonly #running = new Map<string, { seq: number; results: Promise<StatementResult[]> }>()
  readonly nodes = new Map<number, NodeMeta>()
  /** Called after every apply and restore, with the new applied index. */
  onApplied: (index: number) => void = () => {}
  onNodeMeta: (meta: NodeMeta) => void = () => {}
  #applied = 0
  /** Results taken and waiters answered so far, in log order (see `apply`); a failure fails every later call. */
  #marked: Promise<void> = Promise.resolve()
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

  async apply(entries: readonly Entry[], handed?: () => void): Promise<void> {
    // Executes and strong reads are handed to the db worker as they come: it runs them in order, so their
    // round trips overlap instead of adding up (16 entries of one Ready cost one wait, not 16). Everything
    // else waits for them first. Results are still taken, and waiters answered, in log order, also across
    // calls that overlap (see `handed`): each call's results are taken after the previous call's.
    let window: { entry: Entry; results: Promise<StatementResult[] | undefined> }[] = []
    const flush = (): Promise<void> => {
      const taken = window
      window = []
      this.#marked = this.#marked.then(async () => {
        for (const { entry, results } of taken) this.#markApplied(entry, await results)
      })
      return this.#marked
    }
    for (const entry of entries) {
      const command = entry.kind === 'normal' ? decodeCommand(entry.data) : undefined
      if (command?.kind === 'execute' || command?.kind === 'query') {
        const results = this.#applyCommand(command, entry.index)
        // Awaited in flush(); this only keeps a failure behind an earlier one from being reported unhandled.
        results.catch(() => {})
        window.push({ entry, results })
        continue
      }
      await flush()
      this.#markApplied(entry, command ? await this.#applyCommand(command, entry.index) : undefined)
    }
    // Every entry is with the db worker now (or applied): the next call may hand over its own.
    handed?.()
    await flush()
  }

  #markApplied(entry: Entry, results: StatementResult[] | undefined): void {
    this.#applied = entry.index
    this.#answer(entry.index, entry.term, results)
    this.onApplied(entry.index)
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
        const session = this.#running.get(command.clientId) ?? this.#sessions.get(command.clientId)
        // A duplicate of a request already applied (a client retry that reached the log twice): answer it
        // from the session without applying it again.
        if (session && command.seq <= session.seq) return session.seq === command.seq ? session.results : []
        // Times are kept for the waiting client (`timings`); the HTTP layer writes them only when asked.
        // Only a waiting client reads the results, and a session keeps them to answer a retry; otherwise
        // (every follower, for every entry) the worker need not ship them back, a thousand for a bulk insert.
        const discardResults = command.clientId === '' && !this.#waiters.has(index)
        const options = {
          transaction: command.transaction,
          seed: command.seed,
          nowMs: command.nowMs,
          index,
          timings: true,
          ...(discardResults ? { discardResults } : {}),
        }
        const running = command.mixed
          ? this.#db.request(command.statements, {
              ...options,
              ...(command.qualifyColumns ? { qualifyColumns: true } : {}),
            })
          : this.#db.execute(command.statements, options)
        if (command.clientId === '') return running
        // Known before the worker answers, so that a duplicate later in the same batch already sees it.
        const { clientId, seq } = command
        this.#running.set(clientId, { seq, results: running })
        const results = await running
        this.#sessions.set(clientId, { seq, results })
        if (this.#running.get(clientId)?.seq === seq) this.#running.delete(clientId)
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
    const image = decodeSnapshotImage(snapshot.data)
    // A view of the snapshot's buffer. Read from a file, it is shared memory that the db worker reads without
    // a copy; otherwise (installed from a leader) the database copies it.
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

  async snapshot(): Promise<CapturedState> {
    // Nothing applies until this resolves (the replica's state machine queue), so the header and the
    // database describe the same index. The database's bytes may come later: see `Database.serialize`.
    const prefix = encodeSnapshotPrefix({ nodes: [...this.nodes.values()], sessions: [...this.#sessions] })
    let onCaptured = (): void => {}
    const captured = new Promise<void>((resolve) => {
      onCaptured = resolve
    })
    const data = this.#db.serialize({ prefix, onCaptured })
    await Promise.race([captured, data])
    return { data }
  }

  /** Fails every waiter (the node is shutting down). */
  failAll(error: Error): void {
    for (const waiter of this.#waiters.values()) waiter.reject(error)
    this.#waiters.clear()
  }
}
