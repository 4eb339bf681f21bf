import { assert } from '../util/assert.js'
import { type LogReader, entryBytes } from './log-reader.js'
import type { Entry, Snapshot } from './message.js'

/**
 * The core's view of the log: the stable part read through `LogReader`, plus the unstable tail (entries
 * and possibly a snapshot) that a `Ready` hands to the driver to persist. Invariant, checked by `check()`:
 * applied <= committed <= lastIndex(), and everything at or below `committed` is in a majority's log.
 */
export class RaftLog {
  readonly storage: LogReader
  /** Entries not yet reported persisted; `unstableEntries[0].index === unstableOffset`. */
  unstableEntries: Entry[] = []
  unstableOffset: number
  /** A snapshot received from the leader and not yet reported persisted. */
  unstableSnapshot: Snapshot | undefined = undefined
  committed: number
  /** Highest index handed out to apply (entries or a snapshot). */
  applied: number

  constructor(storage: LogReader) {
    this.storage = storage
    this.unstableOffset = storage.lastIndex() + 1
    const snapshotIndex = storage.snapshotMeta().index
    this.committed = Math.max(storage.hardState().commit, snapshotIndex)
    this.applied = snapshotIndex
    assert(
      this.committed <= this.lastIndex(),
      `stored commit ${this.committed} beyond last index ${this.lastIndex()}`,
    )
  }

  snapshotIndex(): number {
    return this.unstableSnapshot ? this.unstableSnapshot.meta.index : this.storage.snapshotMeta().index
  }

  firstIndex(): number {
    return this.snapshotIndex() + 1
  }

  lastIndex(): number {
    if (this.unstableEntries.length > 0) return this.unstableOffset + this.unstableEntries.length - 1
    if (this.unstableSnapshot) return this.unstableSnapshot.meta.index
    return this.storage.lastIndex()
  }

  /** The last index that is durable in this node's log. */
  stableLastIndex(): number {
    if (this.unstableSnapshot) return this.storage.lastIndex() // the snapshot itself is not yet durable
    return this.unstableOffset - 1
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0
  }

  /** Term of the entry at `index`, or undefined when it is compacted away or beyond the log. */
  term(index: number): number | undefined {
    if (index > this.lastIndex()) return undefined
    if (this.unstableSnapshot) {
      const meta = this.unstableSnapshot.meta
      if (index === meta.index) return meta.term
      if (index < meta.index) return undefined
    }
    if (index >= this.unstableOffset) return this.unstableEntries[index - this.unstableOffset]?.term
    const snapshotIndex = this.storage.snapshotMeta().index
    if (index < snapshotIndex) return undefined
    if (index > this.storage.lastIndex()) return undefined
    return this.storage.term(index)
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term
  }

  /** §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourLastTerm = this.lastTerm()
    return lastTerm > ourLastTerm || (lastTerm === ourLastTerm && lastIndex >= this.lastIndex())
  }

  /** Entries in `[from, to)`, or undefined when part of that range is compacted. */
  slice(from: number, to: number, bytesMax = Number.POSITIVE_INFINITY): Entry[] | undefined {
    if (from >= to) return []
    if (from < this.firstIndex()) return undefined
    assert(to <= this.lastIndex() + 1, `slice [${from}, ${to}) beyond last index ${this.lastIndex()}`)
    const result: Entry[] = []
    let bytes = 0
    if (from < this.unstableOffset && !this.unstableSnapshot) {
      const stableTo = Math.min(to, this.unstableOffset)
      for (const entry of this.storage.entries({ from, to: stableTo, bytesMax })) {
        result.push(entry)
        bytes += entryBytes(entry)
      }
      if (result.length < stableTo - from) return result
    }
    for (let index = Math.max(from, this.unstableOffset); index < to; index++) {
      const entry = this.unstableEntries[index - this.unstableOffset]!
      bytes += entryBytes(entry)
      if (bytes > bytesMax && result.length > 0) break
      result.push(entry)
    }
    return result
  }

  /** Appends at the end of the log (the leader's own proposals). */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return
    assert(
      entries[0]!.index === this.lastIndex() + 1,
      `append at ${entries[0]!.index} after ${this.lastIndex()}`,
    )
    this.truncateAndAppend(entries)
  }

  /** Puts entries into the unstable tail, replacing any existing entries from the first new index on. */
  truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0]!.index
    assert(first > this.committed, `truncating committed entry ${first} (committed ${this.committed})`)
    if (first === this.unstableOffset + this.unstableEntries.length) {
      this.unstableEntries.push(...entries)
    } else if (first <= this.unstableOffset) {
      // Replaces stable entries too: the driver's append truncates them when it persists these.
      this.unstableOffset = first
      this.unstableEntries = [...entries]
    } else {
      this.unstableEntries = this.unstableEntries.slice(0, first - this.unstableOffset)
      this.unstableEntries.push(...entries)
    }
  }

  /** The first index at which `entries` differ from the log (a term mismatch or past the end), or 0. */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index
    }
    return 0
  }

  /**
   * §5.3 fast back-off: the largest index <= `index` whose term is <= `term`. The leader probes there
   * next, skipping a whole term of mismatching entries per round trip.
   */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex())
    while (i > this.snapshotIndex()) {
      const t = this.term(i)
      if (t === undefined || t <= term) break
      i--
    }
    return i
  }

  commitTo(index: number): void {
    if (index <= this.committed) return
    assert(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}`)
    this.committed = index
  }

  /** Committed entries not yet handed out to apply. */
  nextCommittedEntries(bytesMax = Number.POSITIVE_INFINITY): Entry[] {
    if (this.unstableSnapshot) return []
    if (this.committed <= this.applied) return []
    return this.slice(this.applied + 1, this.committed + 1, bytesMax) ?? []
  }

  hasNextCommittedEntries(): boolean {
    return !this.unstableSnapshot && this.committed > this.applied
  }

  appliedTo(index: number): void {
    if (index === 0) return
    assert(index <= this.committed, `applied ${index} beyond committed ${this.committed}`)
    assert(index >= this.applied, `applied going back from ${this.applied} to ${index}`)
    this.applied = index
  }

  /**
   * `persisted` (the entries of the last Ready) are durable. Entries replaced in the unstable tail while
   * they were being written are not: only the prefix that still matches becomes stable.
   */
  stableTo(persisted: readonly Entry[]): void {
    let stableIndex = 0
    for (const entry of persisted) {
      if (entry.index < this.unstableOffset) continue
      // Matching must start at the offset: a gap means the tail was replaced from an earlier index.
      if (stableIndex === 0 && entry.index !== this.unstableOffset) return
      if (this.term(entry.index) !== entry.term) break
      stableIndex = entry.index
    }
    if (stableIndex < this.unstableOffset) return
    this.unstableEntries = this.unstableEntries.slice(stableIndex - this.unstableOffset + 1)
    this.unstableOffset = stableIndex + 1
  }

  stableSnapshotTo(index: number): void {
    if (this.unstableSnapshot && this.unstableSnapshot.meta.index === index) this.unstableSnapshot = undefined
  }

  /** Replaces the log with a snapshot from the leader. */
  restore(snapshot: Snapshot): void {
    this.unstableSnapshot = snapshot
    this.unstableEntries = []
    this.unstableOffset = snapshot.meta.index + 1
    this.committed = snapshot.meta.index
  }

  check(): void {
    assert(this.applied <= this.committed, `applied ${this.applied} > committed ${this.committed}`)
    assert(this.committed <= this.lastIndex(), `committed ${this.committed} > last ${this.lastIndex()}`)
  }
}
