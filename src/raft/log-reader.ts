import type { Entry, HardState, Snapshot, SnapshotMeta } from './message.js'

/**
 * The stable (durable) part of a node's Raft state, read synchronously by the core, as etcd's `Storage`.
 * The core never writes through it: the driver persists what a `Ready` hands out and then calls `advance()`.
 * Implementations answer from memory (the durable store keeps an index and a cache of recent entries).
 *
 * Index space: the snapshot covers `[1, snapshotMeta().index]`; entries live in `[firstIndex(), lastIndex()]`
 * with `firstIndex() === snapshotMeta().index + 1`.
 */
export interface LogReader {
  hardState(): HardState
  snapshotMeta(): SnapshotMeta
  /**
   * The latest snapshot with its data, to send to a lagging follower; undefined while its data is not at hand.
   * A snapshot's data is the whole state machine, so a durable store keeps it on disk rather than in memory:
   * asked for it, such a store starts reading it and answers undefined, and the core asks again when the
   * follower next answers (etcd's `ErrSnapshotTemporarilyUnavailable`).
   */
  snapshot(): Snapshot | undefined
  firstIndex(): number
  lastIndex(): number
  /** The term of the entry at `index`, for `snapshotMeta().index <= index <= lastIndex()`. */
  term(index: number): number
  /** Entries in `[from, to)`, with `firstIndex() <= from <= to <= lastIndex() + 1`. Stops early after `bytesMax` (always at least one entry). */
  entries(range: { readonly from: number; readonly to: number; readonly bytesMax?: number }): readonly Entry[]
}

/** Approximate encoded size of an entry, used to bound append batches. */
export function entryBytes(entry: Entry): number {
  switch (entry.kind) {
    case 'normal':
      return 24 + entry.data.byteLength
    case 'confChange':
      return 32
    case 'noop':
      return 24
  }
}

/** The longest prefix of `entries` within `bytesMax` (always at least one entry), as `LogReader.entries` returns. */
export function limitEntryBytes(entries: readonly Entry[], bytesMax: number | undefined): readonly Entry[] {
  if (bytesMax === undefined) return entries
  let bytes = 0
  for (let i = 0; i < entries.length; i++) {
    bytes += entryBytes(entries[i]!)
    if (bytes > bytesMax && i > 0) return entries.slice(0, i)
  }
  return entries
}
