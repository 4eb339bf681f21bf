import type { Entry, HardState, LogReader, Message, Snapshot } from '../raft/index.js'

/**
 * Durable Raft state, as the driver needs it: the core reads through `LogReader`; the driver writes.
 * `save` makes everything it is given durable (one fsync for the batch) before it resolves; a rejection
 * means the node must stop (a failed fsync may have lost data, so it is never retried).
 */
export interface ReplicaStorage extends LogReader {
  save(update: { hardState?: HardState; entries?: readonly Entry[]; snapshot?: Snapshot }): Promise<void>
  /** Records a snapshot taken locally at an applied index and compacts the log up to it. */
  createSnapshot(snapshot: Snapshot): Promise<void>
}

/** Sends Raft messages to peers. Never throws for network trouble: Raft retransmits what is lost. */
export interface ReplicaTransport {
  send(message: Message): void
}

/**
 * The replicated state machine. Entries arrive committed and in order, exactly once per life of the
 * replica; `restore` replaces the whole state with a snapshot's data.
 */
export interface ReplicaStateMachine {
  /**
   * Applies `entries`; resolves once they are applied. A state machine that runs entries elsewhere (a worker,
   * in the order it is handed them) may call `handed` as soon as it holds all of them in order, before they
   * finish: the replica then hands over the next entries at once instead of waiting for these. Calls then
   * overlap, and must still finish (resolve) in the order they were made.
   */
  apply(entries: readonly Entry[], handed?: () => void): Promise<void>
  restore(snapshot: Snapshot): Promise<void>
  /**
   * Captures the state as of the last applied entry. Resolves once it is captured, when later applies can no
   * longer change it; its bytes may come later (a big database is copied out while applies go on).
   */
  snapshot(): Promise<CapturedState>
}

/** A state machine's state as of one index, captured (see `ReplicaStateMachine.snapshot`). */
export interface CapturedState {
  readonly data: Promise<Uint8Array>
}

/** Time, injected so the simulator can run the driver on virtual time. */
export interface Clock {
  /** Calls `run` every `intervalMs` until the returned function is called. */
  every(intervalMs: number, run: () => void): () => void
  /** Calls `run` once, `delayMs` from now, unless the returned function is called first. */
  after(delayMs: number, run: () => void): () => void
}

export interface ReplicaLogger {
  debug(message: string, fields?: Record<string, unknown>): void
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
}

export const silentReplicaLogger: ReplicaLogger = { debug() {}, info() {}, warn() {}, error() {} }

/** The real clock, on Node's timers. */
export const systemClock: Clock = {
  every(intervalMs, run) {
    const timer = setInterval(run, intervalMs)
    return () => clearInterval(timer)
  },
  after(delayMs, run) {
    const timer = setTimeout(run, delayMs)
    return () => clearTimeout(timer)
  },
}
