// A node's simulated disk: what is durable, plus the writes issued since the last completed fsync. A crash
// keeps the durable state and a seeded prefix of the pending writes, possibly tearing the last append
// (SQLite's test6 crash model, at the granularity of log records).
import { type Entry, type HardState, MemoryLog, type Snapshot, emptyHardState } from '../../src/raft/index.js'
import type { Prng } from './prng.js'

export type DiskWrite =
  | { readonly kind: 'snapshot'; readonly snapshot: Snapshot }
  | { readonly kind: 'entries'; readonly entries: readonly Entry[] }
  | { readonly kind: 'hardState'; readonly hardState: HardState }

export class SimDisk {
  hardState: HardState = emptyHardState
  snapshot: Snapshot | undefined = undefined
  /** Durable entries after the snapshot, in index order. */
  entries: Entry[] = []
  pending: DiskWrite[] = []

  write(w: DiskWrite): void {
    this.pending.push(w)
  }

  /** Makes every pending write durable. */
  sync(): void {
    for (const w of this.pending) this.#apply(w)
    this.pending = []
  }

  /** A local snapshot is written to a temporary file, fsynced and renamed: durable at once, atomically. */
  compact(snapshot: Snapshot): void {
    this.sync()
    const offset = this.snapshot?.meta.index ?? 0
    this.entries = this.entries.slice(snapshot.meta.index - offset)
    this.snapshot = snapshot
  }

  /** Power loss: keep a prefix of the pending writes, maybe tearing the last kept append. */
  crash(random: Prng): void {
    const keep = random.int(0, this.pending.length)
    for (let i = 0; i < keep; i++) {
      const w = this.pending[i]!
      if (i === keep - 1 && w.kind === 'entries' && w.entries.length > 1 && random.chance(0.5)) {
        this.#apply({ kind: 'entries', entries: w.entries.slice(0, random.int(1, w.entries.length - 1)) })
        break
      }
      this.#apply(w)
    }
    this.pending = []
  }

  /** The log a restarting node reads. */
  load(): MemoryLog {
    const log = new MemoryLog()
    if (this.snapshot) log.applySnapshot(this.snapshot)
    log.append(this.entries)
    log.setHardState(this.hardState)
    return log
  }

  #apply(w: DiskWrite): void {
    switch (w.kind) {
      case 'snapshot':
        this.snapshot = w.snapshot
        this.entries = []
        return
      case 'entries': {
        if (w.entries.length === 0) return
        const offset = (this.snapshot?.meta.index ?? 0) + 1
        this.entries.length = Math.min(this.entries.length, w.entries[0]!.index - offset)
        this.entries.push(...w.entries)
        return
      }
      case 'hardState':
        this.hardState = w.hardState
        return
    }
  }
}
