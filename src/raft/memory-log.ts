import { assert } from '../util/assert.js'
import { type LogReader, limitEntryBytes } from './log-reader.js'
import type { ClusterConfig, Entry, HardState, Snapshot, SnapshotMeta } from './message.js'
import { emptyHardState } from './message.js'

const emptyConfig: ClusterConfig = Object.freeze({ voters: [], nonVoters: [] })

/**
 * An in-memory `LogReader` with the write operations a driver needs. Used by scripts, unit tests and the
 * simulator, and as the reference model the durable log store is tested against.
 */
export class MemoryLog implements LogReader {
  #hardState: HardState = emptyHardState
  #snapshot: Snapshot = { meta: { index: 0, term: 0, config: emptyConfig }, data: new Uint8Array(0) }
  /** `#entries[i]` has index `#snapshot.meta.index + 1 + i`. */
  #entries: Entry[] = []

  hardState(): HardState {
    return this.#hardState
  }
  snapshotMeta(): SnapshotMeta {
    return this.#snapshot.meta
  }
  snapshot(): Snapshot {
    return this.#snapshot
  }
  /** The latest snapshot with its data (always at hand here; a durable store may read it from disk). */
  readSnapshot(): Promise<Snapshot> {
    return Promise.resolve(this.#snapshot)
  }
  firstIndex(): number {
    return this.#snapshot.meta.index + 1
  }
  lastIndex(): number {
    return this.#snapshot.meta.index + this.#entries.length
  }
  term(index: number): number {
    const offset = this.#snapshot.meta.index
    if (index === offset) return this.#snapshot.meta.term
    assert(
      index > offset && index <= this.lastIndex(),
      `term(${index}) outside [${offset}, ${this.lastIndex()}]`,
    )
    return this.#entries[index - offset - 1]!.term
  }
  entries(range: {
    readonly from: number
    readonly to: number
    readonly bytesMax?: number
  }): readonly Entry[] {
    const { from, to } = range
    assert(
      from >= this.firstIndex() && from <= to && to <= this.lastIndex() + 1,
      `entries [${from}, ${to}) out of range`,
    )
    const offset = this.#snapshot.meta.index + 1
    const slice = this.#entries.slice(from - offset, to - offset)
    return limitEntryBytes(slice, range.bytesMax)
  }

  // --- writes, performed by the driver ---

  setHardState(hardState: HardState): void {
    this.#hardState = hardState
  }

  /** Appends entries, first dropping any existing entries at or after the first new index (Raft §5.3). */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return
    const first = entries[0]!.index
    assert(
      first > this.#snapshot.meta.index,
      `append at ${first} is covered by the snapshot at ${this.#snapshot.meta.index}`,
    )
    assert(first <= this.lastIndex() + 1, `append at ${first} leaves a gap after ${this.lastIndex()}`)
    this.#entries.length = first - this.firstIndex()
    for (const entry of entries) this.#entries.push(entry)
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void {
    this.#snapshot = snapshot
    this.#entries = []
  }

  /** Records a snapshot taken locally at `snapshot.meta.index` (which must be in the log) and drops the entries it covers. */
  createSnapshot(snapshot: Snapshot): void {
    const { index } = snapshot.meta
    assert(
      index > this.#snapshot.meta.index && index <= this.lastIndex(),
      `snapshot at ${index} outside the log`,
    )
    assert(
      this.term(index) === snapshot.meta.term,
      `snapshot term ${snapshot.meta.term} differs from the log`,
    )
    this.#entries = this.#entries.slice(index - this.#snapshot.meta.index)
    this.#snapshot = snapshot
  }
}
