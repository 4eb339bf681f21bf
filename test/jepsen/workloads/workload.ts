// The interface every Jepsen-style workload implements, and the shape of the history it records.

export type Level = 'none' | 'weak' | 'linearizable' | 'strong'

export const levels: readonly Level[] = ['none', 'weak', 'linearizable', 'strong']

/** What `Workload.run` is given. */
export interface RunOptions {
  readonly endpoints: readonly string[]
  readonly clients: number
  readonly level: Level
  readonly seed: number
  readonly signal: AbortSignal
}

export interface WorkloadReport {
  readonly ok: boolean
  readonly summary: Record<string, number>
  readonly anomalies: readonly string[]
}

export interface Workload {
  readonly name: string
  /** Creates the schema and initial rows; retries (for up to a minute) until a leader exists. */
  setup(endpoints: readonly string[]): Promise<void>
  /**
   * Resolves after `signal` aborts and every in-flight operation has settled. `level` (normally the one
   * given to `createWorkload`) is the read level of the operations and of the check.
   */
  run(options: RunOptions): Promise<void>
  /** After the cluster healed: the final reads, retried until they succeed (or a minute passes). */
  final(endpoints: readonly string[]): Promise<void>
  check(): WorkloadReport
  /** Every operation, in invocation order, as JSON-safe `HistoryEntry` records. */
  history(): unknown[]
}

/**
 * One client operation as written to a history file. Times are milliseconds since the workload was
 * created, on one monotonic clock shared by all clients. `type` is Jepsen's: `ok` (acknowledged, or a
 * definite answer such as a failed CAS), `fail` (definitely never took effect), `info` (unknown outcome:
 * `ret` is null). `value` is the operation's input and, once known, its output (workload specific).
 */
export interface HistoryEntry {
  readonly index: number
  /** The client (0..clients-1), or -1 for setup and final reads. */
  readonly client: number
  /** The endpoint the request went to. */
  readonly node: string
  readonly f: string
  readonly call: number
  ret: number | null
  type: 'pending' | 'ok' | 'fail' | 'info'
  value: unknown
  error?: string
}
