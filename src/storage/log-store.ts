import { join } from 'node:path'
import { type LogReader, limitEntryBytes } from '../raft/log-reader.js'
import type { ClusterConfig, Entry, HardState, Snapshot, SnapshotMeta } from '../raft/message.js'
import { emptyHardState } from '../raft/message.js'
import { AssertionError, assert } from '../util/assert.js'
import { collectGarbageAfter } from '../util/collect-garbage.js'
import { decodeEntry, encodeEntryInto, entryBytes } from './entry-codec.js'
import {
  CorruptLogError,
  DecodeError,
  DiskFullError,
  StorageClosedError,
  StorageError,
  StorageFailedError,
  errnoCode,
} from './errors.js'
import type { FileHandle, Fs, ReadFileOptions } from './fs.js'
import {
  type HardStateRecord,
  encodeHardStateSlot,
  hardStateFileName,
  hardStateSlotBytes,
  recoverHardStateFile,
} from './hard-state-file.js'
import { decodeRecords, encodeRecordsInPlace, payloadBytesMaxDefault } from './record-codec.js'
import { decodeSnapshotFile, encodeSnapshotFile } from './snapshot-file.js'

/** Structured logger (style.md §2.7): constant messages, values in fields. */
export interface StorageLogger {
  info(message: string, fields?: Readonly<Record<string, unknown>>): void
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void
  error(message: string, fields?: Readonly<Record<string, unknown>>): void
}

export interface LogStoreOptions {
  readonly logger?: StorageLogger
  /** Slots in the hard-state file before it is rewritten (temp file + rename). Default 4096 (576 KiB). */
  readonly hardStateSlotsMax?: number
  /**
   * Log bytes allowed past the synced length recorded in the hard-state file (appends acknowledged with one
   * sync, see DESIGN.md "Write paths"). An append that would leave more also records a hard-state slot (a
   * second sync), which bounds the region where damage cannot be told from a torn tail. Default 1 MiB.
   */
  readonly unrecordedLogBytesMax?: number
  /**
   * Bytes of snapshot data checksummed, and written, per event-loop turn (see `snapshot-file.ts`). Default
   * 8 MiB. Tests set it small so that their snapshots go through the chunked path too.
   */
  readonly snapshotChunkBytes?: number
  /**
   * Large files are written and removed this many bytes at a time, so that no single journal commit carries
   * much of them: every append's sync waits for the commit it lands in (ext4, data=ordered). A snapshot file
   * being written is synced (fdatasync) each time this many more bytes are in it, and an old one is cut down
   * from its end in steps of this size before it is unlinked. Default 16 MiB. Measured beside 200 MiB
   * snapshots: appends took up to 78-169 ms with one fsync at the end and one unlink, 17-24 ms in steps
   * (src/storage/DESIGN.md, "Large files in steps").
   */
  readonly largeFileStepBytes?: number
  /**
   * Deliberately broken behaviour, so that the tests can show their checks catch a broken store. Never set
   * outside tests.
   */
  readonly unsafeTesting?: UnsafeTestingOptions
}

export interface UnsafeTestingOptions {
  /** Recovery accepts records without checking their CRC. */
  readonly skipChecksums?: boolean
  /** Saves do not sync the log file (before recording its synced length, or before acknowledging). */
  readonly skipLogFsync?: boolean
  /** Recovery drops every record past the recorded synced length (forgets one-sync appends). */
  readonly dropUnrecordedLog?: boolean
  /** New files and renames are not made durable with fsyncDir before they are referenced. */
  readonly skipDirFsync?: boolean
  /** After ENOSPC, the files are left as the failed write left them instead of being rolled back. */
  readonly skipDiskFullRollback?: boolean
}

/**
 * What one `save` persists, in the order a driver handles a `Ready` (style.md §2.5): first `snapshot`
 * replaces the whole log (as `MemoryLog.applySnapshot`), then `entries` are appended, dropping any existing
 * entries at or after the first new index (as `MemoryLog.append`), then `hardState` is recorded.
 */
export interface SaveRequest {
  readonly hardState?: HardState
  readonly entries?: readonly Entry[]
  readonly snapshot?: Snapshot
}

const silentLogger: StorageLogger = { info() {}, warn() {}, error() {} }
const emptyConfig: ClusterConfig = Object.freeze({ voters: [], nonVoters: [] })
const emptySnapshot: Snapshot = Object.freeze({
  meta: Object.freeze({ index: 0, term: 0, config: emptyConfig }),
  data: new Uint8Array(0),
})
const tempSuffix = '.tmp'
/** See `#holdForCore`: many heartbeat intervals (100 ms in tqlited). */
const heldForCoreMs = 10_000
/** See `LogStoreOptions.largeFileStepBytes`. */
export const largeFileStepBytesDefault = 16 * 1024 * 1024

const generationFilePattern = /^(log|snapshot)-(\d{16})\.(log|snap)$/

export function logFileName(generation: number): string {
  return `log-${String(generation).padStart(16, '0')}.log`
}

export function snapshotFileName(generation: number): string {
  return `snapshot-${String(generation).padStart(16, '0')}.snap`
}

/**
 * The durable Raft log, hard state and snapshot of one node, under one data directory (see DESIGN.md).
 *
 * Reads (`LogReader`) are synchronous and answered from memory; they show the last acknowledged state, never
 * a save in progress. Writes (`save`, `createSnapshot`) are serialized in call order; a returned promise
 * resolves only once everything it wrote is durable (synced), which is what "acknowledged" means here; the one
 * exception is the commit index of a one-sync append, which recovery may show lower (see `save`).
 *
 * Failure model:
 * - ENOSPC while writing: the call rejects with `DiskFullError`, the files are rolled back (truncated and
 *   fsynced) to the last acknowledged state and the store stays usable: retry once space is freed.
 * - Any fsync error, any other write error, a failed rollback: the store fails; that call and every later
 *   call (reads included) throw `StorageFailedError`. A failed fsync is never retried.
 * - Programmer errors (an append that leaves a gap, a snapshot outside the log) throw `AssertionError`
 *   before anything is written.
 */
export class LogStore implements LogReader {
  readonly #fs: Fs
  readonly #dir: string
  readonly #logger: StorageLogger
  readonly #slotsMax: number
  readonly #unrecordedMax: number
  readonly #snapshotChunkBytes: number | undefined
  readonly #largeFileStepBytes: number
  readonly #unsafe: UnsafeTestingOptions

  // The acknowledged state, as MemoryLog holds it, but for the snapshot's data (below). `#entries[i]` has index
  // `#snapshotMeta.index + 1 + i`.
  #hardState: HardState
  #snapshotMeta: SnapshotMeta
  /** The file holding the snapshot of `#snapshotMeta` (set with it: the generation switches before). */
  #snapshotPath: string
  #entries: Entry[]

  // The latest snapshot's data is the whole database: kept in memory it doubled a node's RSS (a 1 GiB
  // database held 1 GiB more here for as long as the node ran). It stays in its file and is read when asked
  // for (`readSnapshot`, and `snapshot` for a lagging follower), which is rare: a follower needs a snapshot
  // only after missing entries that were compacted away.
  /** Data held until it is handed out once: read at `open`, or read because the Raft core asked for it. */
  #snapshotData: Uint8Array | undefined
  /** A read of the snapshot file in progress; `#holdWhenRead`: the core asked, so keep the data for it. */
  #snapshotRead: Promise<Snapshot> | undefined
  #holdWhenRead = false
  readonly #verifyChecksums: boolean

  // Where that state lives on disk. Invariant: `#root` is the last hard-state record written and fsynced, its
  // generation, snapshot, term and vote are those of the acknowledged state (its commit may be older);
  // `#logBytes` is the length of the current log file, all of it synced, and `#root.logSyncedBytes <=
  // #logBytes`: the records between are one-sync appends, each extending the log by exactly one index;
  // `#hardStateBytes` is the length of `hardstate`.
  #root: HardStateRecord
  #logBytes: number
  #logHandle: FileHandle
  #hardStateHandle: FileHandle
  #hardStateBytes: number
  /** The hard-state file was written since its last fsync; a rollback must restore it. */
  #hardStateDirty = false

  #failure: StorageFailedError | undefined
  #closed = false
  /** Snapshot files written so far outside the queue (for unique temporary names). */
  #preparedSnapshots = 0
  #queue: Promise<unknown> = Promise.resolve()
  /** Removal of older generations' files after switches, in order; never rejects. */
  #removal: Promise<void> = Promise.resolve()

  private constructor(init: {
    fs: Fs
    dir: string
    options: LogStoreOptions
    root: HardStateRecord
    snapshot: Snapshot
    entries: Entry[]
    logHandle: FileHandle
    hardStateHandle: FileHandle
    hardStateBytes: number
  }) {
    this.#fs = init.fs
    this.#dir = init.dir
    this.#logger = init.options.logger ?? silentLogger
    this.#slotsMax = init.options.hardStateSlotsMax ?? 4096
    assert(
      Number.isSafeInteger(this.#slotsMax) && this.#slotsMax >= 1,
      'hardStateSlotsMax must be at least 1',
    )
    this.#unrecordedMax = init.options.unrecordedLogBytesMax ?? 1024 * 1024
    assert(
      Number.isSafeInteger(this.#unrecordedMax) && this.#unrecordedMax >= 0,
      'unrecordedLogBytesMax must be a non-negative integer',
    )
    this.#snapshotChunkBytes = init.options.snapshotChunkBytes
    this.#largeFileStepBytes = init.options.largeFileStepBytes ?? largeFileStepBytesDefault
    this.#unsafe = init.options.unsafeTesting ?? {}
    this.#root = init.root
    this.#logBytes = init.root.logSyncedBytes
    this.#hardState = init.root.hardState
    this.#snapshotMeta = init.snapshot.meta
    this.#snapshotPath = this.#path(snapshotFileName(init.root.generation))
    this.#snapshotData = init.snapshot.meta.index > 0 ? init.snapshot.data : undefined
    this.#verifyChecksums = init.options.unsafeTesting?.skipChecksums !== true
    this.#entries = init.entries
    this.#logHandle = init.logHandle
    this.#hardStateHandle = init.hardStateHandle
    this.#hardStateBytes = init.hardStateBytes
  }

  /**
   * Opens (creating if empty) the store in `dir` and recovers it; see DESIGN.md "Recovery". Throws
   * `CorruptLogError` when durable data is damaged, `DiskFullError` or `StorageFailedError` when the repair
   * writes of recovery fail. Afterwards everything the store shows is durable.
   */
  static async open(fs: Fs, dir: string, options: LogStoreOptions = {}): Promise<LogStore> {
    const logger = options.logger ?? silentLogger
    const verifyChecksums = options.unsafeTesting?.skipChecksums !== true
    const handles: FileHandle[] = []
    const started = performance.now()
    const timings = { snapshotBytes: 0, snapshotReadMs: 0, snapshotChecksumMs: 0 }
    try {
      await fs.mkdir(dir)
      const names = await fs.readdir(dir)
      for (const name of names) {
        if (name.endsWith(tempSuffix)) await fs.unlink(join(dir, name))
      }
      const hardStatePath = join(dir, hardStateFileName)
      if (!names.includes(hardStateFileName)) await initialize(fs, dir, names)

      const hardStateBytes = await fs.readFile(hardStatePath)
      const recovered = recoverHardStateFile(hardStateBytes, hardStatePath, { verifyChecksums })
      const { record } = recovered

      let snapshot = emptySnapshot
      if (record.hasSnapshotFile) {
        const path = join(dir, snapshotFileName(record.generation))
        logger.info('reading snapshot file', { file: path })
        const readStarted = performance.now()
        // Shared: the state machine's restore hands a view of it to the SQLite worker without copying it.
        const bytes = await readReferenced(fs, path, { shared: true })
        const checksumStarted = performance.now()
        snapshot = await decodeSnapshotFile(bytes, path, {
          verifyChecksums,
          ...(options.snapshotChunkBytes === undefined ? {} : { chunkBytes: options.snapshotChunkBytes }),
        })
        timings.snapshotBytes = bytes.byteLength
        timings.snapshotReadMs = Math.round(checksumStarted - readStarted)
        timings.snapshotChecksumMs = Math.round(performance.now() - checksumStarted)
        if (snapshot.meta.index !== record.snapshotIndex || snapshot.meta.term !== record.snapshotTerm) {
          throw new CorruptLogError({
            file: path,
            offset: 0,
            reason: 'snapshot differs from its hard-state record',
          })
        }
      } else if (record.snapshotIndex !== 0 || record.snapshotTerm !== 0) {
        throw new CorruptLogError({
          file: hardStatePath,
          offset: 0,
          reason: 'snapshot recorded without a file',
        })
      }

      const logPath = join(dir, logFileName(record.generation))
      const logBytes = await readReferenced(fs, logPath)
      const log = recoverLog(logBytes, logPath, record.logSyncedBytes, snapshot.meta.index, {
        verifyChecksums,
        dropUnrecorded: options.unsafeTesting?.dropUnrecordedLog === true,
      })
      // One-sync appends do not record the commit index, so the root's may be older than the log; Raft allows
      // that (commit need not be durable). A root cannot name a commit past the log it describes, but a store
      // used outside Raft may have been saved that way: never show a commit beyond the last index.
      const lastIndex = snapshot.meta.index + log.entries.length
      const commit = Math.min(record.hardState.commit, lastIndex)

      // Appends are synced by the write itself (O_DSYNC): one call per append instead of write + fdatasync.
      const logHandle = await fs.open(logPath, {
        create: false,
        durableWrites: options.unsafeTesting?.skipLogFsync !== true,
      })
      handles.push(logHandle)
      const hardStateHandle = await fs.open(hardStatePath, { create: false })
      handles.push(hardStateHandle)

      // What the store shows from now on must be durable, and the files must end where writes resume. After a
      // process crash (not a power loss) the page cache may hold what we just read without it being on disk: a
      // renamed hard-state file, its last record, log records past the synced length. The directory and the
      // hard-state file are therefore always fsynced here, before anything is shown.
      await fs.fsyncDir(dir)
      const tornBytes = logBytes.byteLength - log.validBytes
      if (tornBytes > 0) {
        logger.warn('truncating torn log tail', { file: logPath, offset: log.validBytes, bytes: tornBytes })
        await logHandle.truncate(log.validBytes)
      }
      if (tornBytes > 0 || log.validBytes > record.logSyncedBytes) await logHandle.fsync()
      let root = record
      let hardStateEnd = recovered.appendOffset
      const repair =
        log.validBytes > record.logSyncedBytes ||
        commit !== record.hardState.commit ||
        recovered.repairOffset !== undefined
      if (repair) {
        root = { ...record, hardState: { ...record.hardState, commit }, logSyncedBytes: log.validBytes }
        const at = recovered.repairOffset ?? recovered.appendOffset
        await hardStateHandle.write(encodeHardStateSlot(root), at)
        hardStateEnd = at + hardStateSlotBytes
        if (hardStateBytes.byteLength > hardStateEnd) await hardStateHandle.truncate(hardStateEnd)
      }
      await hardStateHandle.fsync()

      const store = new LogStore({
        fs,
        dir,
        options,
        root,
        snapshot,
        entries: log.entries,
        logHandle,
        hardStateHandle,
        hardStateBytes: hardStateEnd,
      })
      await store.#removeStaleGenerations()
      logger.info('log store opened', {
        dir,
        generation: root.generation,
        snapshotIndex: snapshot.meta.index,
        lastIndex: store.lastIndex(),
        unrecordedEntriesKept: log.unrecordedEntries,
        tornBytes,
        ...timings,
        ms: Math.round(performance.now() - started),
      })
      return store
    } catch (error) {
      await Promise.allSettled(handles.map((handle) => handle.close()))
      if (error instanceof StorageError || error instanceof AssertionError) throw error
      if (errnoCode(error) === 'ENOSPC') throw new DiskFullError(error)
      throw new StorageFailedError('opening the log store failed', error)
    }
  }

  // --- LogReader: synchronous, from memory ---

  hardState(): HardState {
    this.#checkUsable()
    return this.#hardState
  }

  snapshotMeta(): SnapshotMeta {
    this.#checkUsable()
    return this.#snapshotMeta
  }

  /**
   * The latest snapshot with its data when the data is in memory; otherwise starts reading it from its file
   * (once) and answers undefined: the Raft core asks again later, by then the data is held for it.
   */
  snapshot(): Snapshot | undefined {
    this.#checkUsable()
    const held = this.#heldSnapshot()
    if (held !== undefined) return held
    this.#holdWhenRead = true
    this.#startSnapshotRead().catch((error: unknown) => {
      this.#logger.error('reading the snapshot to send failed; trying again when asked again', {
        dir: this.#dir,
        snapshotIndex: this.#snapshotMeta.index,
        error: String(error),
      })
    })
    return undefined
  }

  /**
   * The latest snapshot with its data: from memory when it is there, else read from its file and checked
   * (CRC), as `open` checks it. Concurrent calls share one read. A snapshot that replaces this one while it
   * is read is read in its place.
   */
  readSnapshot(): Promise<Snapshot> {
    try {
      this.#checkUsable()
    } catch (error) {
      return Promise.reject(error)
    }
    return Promise.resolve(this.#heldSnapshot() ?? this.#startSnapshotRead())
  }

  firstIndex(): number {
    this.#checkUsable()
    return this.#snapshotMeta.index + 1
  }

  lastIndex(): number {
    this.#checkUsable()
    return this.#lastIndex()
  }

  term(index: number): number {
    this.#checkUsable()
    return this.#term(index)
  }

  entries(range: {
    readonly from: number
    readonly to: number
    readonly bytesMax?: number
  }): readonly Entry[] {
    this.#checkUsable()
    const { from, to } = range
    const offset = this.#snapshotMeta.index + 1
    assert(
      from >= offset && from <= to && to <= this.#lastIndex() + 1,
      `entries [${from}, ${to}) out of range`,
    )
    const slice = this.#entries.slice(from - offset, to - offset)
    return limitEntryBytes(slice, range.bytesMax)
  }

  // --- writes, performed by the driver ---

  /**
   * Persists a snapshot to install, entries to append and a hard state (see `SaveRequest`), then shows them
   * to readers. Resolves when all of it is durable, except that a commit index carried by a one-sync append
   * may be recovered lower after a crash (Raft does not need it durable).
   *
   * Costs (DESIGN.md "Write paths"): an append that extends the log, with term and vote unchanged, costs one
   * fdatasync of the log (group commit); an append that changes term or vote, or truncates the log, adds an
   * fsync of the hard-state file; a hard state alone costs that fsync when its term or vote changed, nothing when only its commit index did; installing a snapshot adds the snapshot
   * file's fsync and one fsyncDir.
   */
  save(request: SaveRequest): Promise<void> {
    return this.#serialize(() => this.#save(request))
  }

  /**
   * Records a snapshot taken locally at `snapshot.meta.index` (which must be in the log, with the same term) and
   * compacts the log: the entries it covers are dropped by rewriting the rest into the next generation's log.
   */
  async createSnapshot(snapshot: Snapshot): Promise<void> {
    this.#checkUsable()
    const { index, term } = snapshot.meta
    const check = () => {
      assert(index <= this.#lastIndex(), `snapshot at ${index} outside the log`)
      assert(this.#term(index) === term, `snapshot term ${term} differs from the log`)
    }
    assert(index > this.#snapshotMeta.index, `snapshot at ${index} outside the log`)
    check()
    // The file is written and synced outside the queue, so appends (the Raft log) go on meanwhile: for a
    // database of 410 MB that took 1.5 s, during which every write waited. Only the switch to the next
    // generation (rename, new log, hard-state record) is serialized with the other writes.
    const prepared = this.#path(`snapshot-prepared-${++this.#preparedSnapshots}.snap${tempSuffix}`)
    try {
      await this.#writeSnapshotFile(prepared, snapshot)
    } catch (error) {
      await unlinkIfPresent(this.#fs, prepared).catch(() => undefined)
      throw error
    }
    return this.#serialize(async () => {
      const current = this.#snapshotMeta.index
      // A snapshot installed from the leader meanwhile covers this one.
      if (index <= current) {
        await unlinkIfPresent(this.#fs, prepared)
        return
      }
      check()
      const remaining = this.#entries.slice(index - current)
      await this.#switchGeneration({ snapshot, entries: remaining, hardState: this.#hardState }, prepared)
      this.#setSnapshot(snapshot)
      this.#entries = remaining
      // Taken here, the data is dead once written (the replica lets go of it next). One installed from the
      // leader is dead only once restored, and `Database.restore` collects then.
      collectGarbageAfter(snapshot.data.byteLength)
    })
  }

  /**
   * Waits for pending writes, records the current hard state and log length (one fsync, when one-sync appends
   * left them unrecorded: a clean restart then shows the latest commit index), then closes the files. Later
   * calls throw `StorageClosedError`.
   */
  close(): Promise<void> {
    const run = this.#queue.then(async () => {
      if (this.#closed) return
      if (this.#failure === undefined && this.#unrecorded()) {
        try {
          await this.#guard(
            () => this.#commit({ ...this.#root, hardState: this.#hardState, logSyncedBytes: this.#logBytes }),
            async () => {},
          )
        } catch (error) {
          // Nothing acknowledged depends on it: the log is synced and commit need not be durable.
          this.#logger.warn('recording the hard state at close failed', {
            dir: this.#dir,
            error: String(error),
          })
        }
      }
      this.#closed = true
      await this.#removal
      await Promise.allSettled([this.#logHandle.close(), this.#hardStateHandle.close()])
    })
    this.#queue = run
    return run
  }

  // --- internals ---

  /** The snapshot with its data if that is in memory; handing it out lets go of it. */
  #heldSnapshot(): Snapshot | undefined {
    const meta = this.#snapshotMeta
    if (meta.index === 0) return emptySnapshot
    const data = this.#snapshotData
    if (data === undefined) return undefined
    this.#snapshotData = undefined
    return { meta, data }
  }

  /** The snapshot is now `snapshot` (written, or installed): its data is not kept. */
  #setSnapshot(snapshot: Snapshot): void {
    this.#snapshotMeta = snapshot.meta
    this.#snapshotPath = this.#path(snapshotFileName(this.#root.generation))
    this.#snapshotData = undefined
    this.#holdWhenRead = false
  }

  #startSnapshotRead(): Promise<Snapshot> {
    if (this.#snapshotRead !== undefined) return this.#snapshotRead
    const read = this.#readSnapshotFile()
    this.#snapshotRead = read
    read.then(
      (snapshot) => {
        this.#snapshotRead = undefined
        if (snapshot.meta.index !== this.#snapshotMeta.index) return
        if (this.#holdWhenRead) this.#holdForCore(snapshot.data)
        this.#holdWhenRead = false
      },
      () => {
        this.#snapshotRead = undefined
      },
    )
    return read
  }

  /**
   * Holds data read for the Raft core until it takes it, or for `heldForCoreMs` at most: the core asks again
   * at the follower's next heartbeat response, and if that never comes (the follower died, or caught up
   * some other way) the data must not stay in memory until the next snapshot replaces it.
   */
  #holdForCore(data: Uint8Array): void {
    this.#snapshotData = data
    setTimeout(() => {
      if (this.#snapshotData === data) this.#snapshotData = undefined
    }, heldForCoreMs).unref()
  }

  /** Reads and checks the current snapshot file; again when a newer snapshot replaced it meanwhile. */
  async #readSnapshotFile(): Promise<Snapshot> {
    for (;;) {
      const meta = this.#snapshotMeta
      const path = this.#snapshotPath
      const started = performance.now()
      try {
        const bytes = await readReferenced(this.#fs, path, { shared: true })
        const snapshot = await decodeSnapshotFile(bytes, path, {
          verifyChecksums: this.#verifyChecksums,
          ...(this.#snapshotChunkBytes === undefined ? {} : { chunkBytes: this.#snapshotChunkBytes }),
        })
        if (snapshot.meta.index !== meta.index || snapshot.meta.term !== meta.term) {
          throw new CorruptLogError({
            file: path,
            offset: 0,
            reason: 'snapshot differs from its hard-state record',
          })
        }
        this.#logger.info('snapshot file read', {
          file: path,
          bytes: bytes.byteLength,
          ms: Math.round(performance.now() - started),
        })
        if (this.#snapshotMeta.index !== meta.index) continue
        return snapshot
      } catch (error) {
        // The file of a snapshot replaced meanwhile may be gone already; the new one is what is wanted.
        if (this.#snapshotMeta.index !== meta.index) continue
        throw error
      }
    }
  }

  #serialize<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => {
      this.#checkUsable()
      return operation()
    })
    this.#queue = run.catch(() => undefined)
    return run
  }

  async #save(request: SaveRequest): Promise<void> {
    const entries = request.entries ?? []
    const { snapshot } = request
    const hardState = request.hardState ?? this.#hardState
    const base = snapshot?.meta.index ?? this.#snapshotMeta.index
    const baseLast = snapshot === undefined ? this.#lastIndex() : base
    const first = entries[0]?.index ?? baseLast + 1
    assert(first > base, `append at ${first} is covered by the snapshot at ${base}`)
    assert(first <= baseLast + 1, `append at ${first} leaves a gap after ${baseLast}`)
    for (const [i, entry] of entries.entries()) {
      assert(entry.index === first + i, `entry ${i} of the append has index ${entry.index}`)
    }
    if (request.hardState === undefined && entries.length === 0 && snapshot === undefined) return
    if (
      snapshot === undefined &&
      entries.length === 0 &&
      hardState.term === this.#hardState.term &&
      hardState.vote === this.#hardState.vote
    ) {
      // Only the commit index moved. Raft does not need it durable (etcd's MustSync says the same), and
      // syncing it cost a second fsync on every write: the leader learns the commit after the append's
      // sync. It is recorded with the next hard-state record or at close; recovery may show an older one.
      this.#hardState = hardState
      return
    }

    if (snapshot !== undefined) {
      await this.#switchGeneration({ snapshot, entries, hardState })
      this.#setSnapshot(snapshot)
      this.#entries = [...entries]
    } else {
      const oneSync =
        entries.length > 0 &&
        first === baseLast + 1 &&
        hardState.term === this.#hardState.term &&
        hardState.vote === this.#hardState.vote
      await this.#append(entries, hardState, oneSync)
      this.#entries.length = first - base - 1
      for (const entry of entries) this.#entries.push(entry)
    }
    this.#hardState = hardState
  }

  /**
   * Appends entry records to the current log and syncs it once (fdatasync). That is the commit point when
   * `oneSync` (the append extends the log and keeps term and vote) and the unrecorded log stays within
   * `unrecordedLogBytesMax`: recovery accepts whole, valid, contiguous records past the recorded synced length.
   * Otherwise a hard-state record naming the new length and hard state is committed too.
   */
  async #append(entries: readonly Entry[], hardState: HardState, oneSync: boolean): Promise<void> {
    const logPath = this.#path(logFileName(this.#root.generation))
    const logStart = this.#logBytes
    const bytes = encodeEntryRecords(entries)
    const logEnd = logStart + bytes.byteLength
    const recordRoot = !oneSync || logEnd - this.#root.logSyncedBytes > this.#unrecordedMax
    let logWritten = false
    await this.#guard(
      async () => {
        if (bytes.byteLength > 0) {
          logWritten = true
          await this.#write(this.#logHandle, bytes, logStart, logPath)
          if (this.#unsafe.skipLogFsync !== true && !this.#logHandle.durableWrites)
            await this.#datasync(this.#logHandle, logPath)
        }
        this.#logBytes = logEnd
        if (recordRoot) await this.#commit({ ...this.#root, hardState, logSyncedBytes: logEnd })
      },
      async () => {
        this.#logBytes = logStart
        if (logWritten) {
          await this.#logHandle.truncate(logStart)
          await this.#logHandle.fsync()
        }
      },
    )
  }

  /** One-sync appends or commit indexes are not yet in the hard-state file. */
  #unrecorded(): boolean {
    return (
      this.#logBytes !== this.#root.logSyncedBytes || this.#hardState.commit !== this.#root.hardState.commit
    )
  }

  /** Writes `snapshot` as a snapshot file at `path` and syncs it (the file is not referenced yet). */
  async #writeSnapshotFile(path: string, snapshot: Snapshot): Promise<void> {
    const pieces = await encodeSnapshotFile(
      snapshot,
      this.#snapshotChunkBytes === undefined ? {} : { chunkBytes: this.#snapshotChunkBytes },
    )
    const handle = await this.#open(path)
    try {
      await this.#truncate(handle, 0, path)
      // Piece by piece (views of the data, at most one chunk each): no copy of the whole image.
      let position = 0
      let unsynced = 0
      for (const piece of pieces) {
        await this.#write(handle, piece, position, path)
        position += piece.byteLength
        unsynced += piece.byteLength
        if (unsynced >= this.#largeFileStepBytes) {
          await this.#datasync(handle, path)
          unsynced = 0
        }
      }
      await this.#fsync(handle, path)
    } finally {
      await handle.close().catch(() => undefined)
    }
  }

  /**
   * Moves to the next generation: the snapshot file (written here to a temp file, or already written and
   * synced at `prepared` for a snapshot taken locally) is renamed into place, a new log holding `entries` is
   * written and synced with the directory, then a hard-state record naming them is committed. Then the old
   * files are removed.
   */
  async #switchGeneration(
    next: {
      snapshot: Snapshot
      entries: readonly Entry[]
      hardState: HardState
    },
    prepared?: string,
  ): Promise<void> {
    const oldGeneration = this.#root.generation
    const generation = oldGeneration + 1
    const snapshotPath = this.#path(snapshotFileName(generation))
    const tempPath = snapshotPath + tempSuffix
    const logPath = this.#path(logFileName(generation))
    const logBytes = encodeEntryRecords(next.entries)
    let newLog: FileHandle | undefined
    await this.#guard(
      async () => {
        if (prepared === undefined) await this.#writeSnapshotFile(tempPath, next.snapshot)
        await this.#rename(prepared ?? tempPath, snapshotPath)
        newLog = await this.#open(logPath, { durableWrites: this.#unsafe.skipLogFsync !== true })
        await this.#truncate(newLog, 0, logPath)
        if (logBytes.byteLength > 0) await this.#write(newLog, logBytes, 0, logPath)
        if (this.#unsafe.skipLogFsync !== true) await this.#fsync(newLog, logPath)
        if (this.#unsafe.skipDirFsync !== true) await this.#fsyncDir()
        await this.#commit({
          hardState: next.hardState,
          generation,
          logSyncedBytes: logBytes.byteLength,
          hasSnapshotFile: true,
          snapshotIndex: next.snapshot.meta.index,
          snapshotTerm: next.snapshot.meta.term,
        })
      },
      async () => {
        await newLog?.close().catch(() => undefined)
        for (const path of [tempPath, snapshotPath, logPath, ...(prepared ? [prepared] : [])])
          await unlinkIfPresent(this.#fs, path)
      },
    )
    assert(newLog !== undefined, 'the new log is open after a committed generation switch')
    const oldLog = this.#logHandle
    this.#logHandle = newLog
    this.#logBytes = logBytes.byteLength
    await oldLog.close().catch(() => undefined)
    // The old generation's files are removed beside the appends that follow, not before them. Only
    // generations below this one: a later switch renames its files into place before it commits them.
    this.#removal = this.#removal.then(() => this.#removeStaleGenerations(generation))
    this.#logger.info('log generation switched', {
      generation,
      snapshotIndex: next.snapshot.meta.index,
      entries: next.entries.length,
    })
  }

  /**
   * Writes and fsyncs one hard-state record: the commit point of every save that is not a one-sync append.
   * Rewrites the file when it is full. `root.logSyncedBytes` must be the (synced) length of the named log.
   */
  async #commit(root: HardStateRecord): Promise<void> {
    const slot = encodeHardStateSlot(root)
    const path = this.#path(hardStateFileName)
    if (this.#hardStateBytes / hardStateSlotBytes >= this.#slotsMax) {
      const tempPath = path + tempSuffix
      const handle = await this.#open(tempPath)
      try {
        await this.#truncate(handle, 0, tempPath)
        await this.#write(handle, slot, 0, tempPath)
        await this.#fsync(handle, tempPath)
        await this.#rename(tempPath, path)
      } catch (error) {
        await handle.close().catch(() => undefined)
        await unlinkIfPresent(this.#fs, tempPath).catch(() => undefined)
        throw error
      }
      if (this.#unsafe.skipDirFsync !== true) await this.#fsyncDir()
      const old = this.#hardStateHandle
      this.#hardStateHandle = handle
      this.#hardStateBytes = slot.byteLength
      await old.close().catch(() => undefined)
    } else {
      this.#hardStateDirty = true
      await this.#write(this.#hardStateHandle, slot, this.#hardStateBytes, path)
      await this.#fsync(this.#hardStateHandle, path)
      this.#hardStateDirty = false
      this.#hardStateBytes += slot.byteLength
    }
    this.#root = root
  }

  /**
   * Runs the writes of one call. On `DiskFullError`, runs `rollback` and restores the hard-state file, so disk
   * and memory both hold the last acknowledged state again; on anything else the store fails.
   */
  async #guard(work: () => Promise<void>, rollback: () => Promise<void>): Promise<void> {
    try {
      await work()
    } catch (error) {
      if (error instanceof DiskFullError && this.#failure === undefined) {
        if (this.#unsafe.skipDiskFullRollback === true) throw error
        try {
          await rollback()
          if (this.#hardStateDirty) {
            await this.#hardStateHandle.truncate(this.#hardStateBytes)
            await this.#hardStateHandle.fsync()
            this.#hardStateDirty = false
          }
        } catch (rollbackError) {
          throw this.#fail('rolling back after a full disk failed', rollbackError)
        }
        this.#logger.warn('disk full: write rolled back', { dir: this.#dir })
        throw error
      }
      const failure = this.#failure ?? this.#fail('unexpected error while writing', error)
      throw error instanceof AssertionError || error instanceof StorageFailedError ? error : failure
    }
  }

  async #write(handle: FileHandle, data: Uint8Array, position: number, path: string): Promise<void> {
    try {
      await handle.write(data, position)
    } catch (error) {
      if (errnoCode(error) === 'ENOSPC') throw new DiskFullError(error)
      throw this.#fail(`write to ${path} failed`, error)
    }
  }

  async #fsync(handle: FileHandle, path: string): Promise<void> {
    try {
      await handle.fsync()
    } catch (error) {
      throw this.#fail(`fsync of ${path} failed`, error)
    }
  }

  async #datasync(handle: FileHandle, path: string): Promise<void> {
    try {
      await handle.datasync()
    } catch (error) {
      throw this.#fail(`fdatasync of ${path} failed`, error)
    }
  }

  async #fsyncDir(): Promise<void> {
    try {
      await this.#fs.fsyncDir(this.#dir)
    } catch (error) {
      throw this.#fail(`fsync of directory ${this.#dir} failed`, error)
    }
  }

  async #open(path: string, options: { readonly durableWrites?: boolean } = {}): Promise<FileHandle> {
    try {
      return await this.#fs.open(path, { create: true, ...options })
    } catch (error) {
      throw this.#fail(`opening ${path} failed`, error)
    }
  }

  async #truncate(handle: FileHandle, size: number, path: string): Promise<void> {
    try {
      await handle.truncate(size)
    } catch (error) {
      throw this.#fail(`truncating ${path} failed`, error)
    }
  }

  async #rename(from: string, to: string): Promise<void> {
    try {
      await this.#fs.rename(from, to)
    } catch (error) {
      throw this.#fail(`renaming ${from} failed`, error)
    }
  }

  /**
   * Removes files of other generations (left by a crash or by a failed switch), or with `below`, only those of
   * older generations (after a switch). Not fsynced: harmless if back.
   */
  async #removeStaleGenerations(below?: number): Promise<void> {
    try {
      for (const name of await this.#fs.readdir(this.#dir)) {
        const match = generationFilePattern.exec(name)
        if (match === null) continue
        const generation = Number(match[2])
        if (below === undefined ? generation !== this.#root.generation : generation < below) {
          await this.#removeFile(this.#path(name))
        }
      }
    } catch (error) {
      this.#logger.warn('removing stale files failed', { dir: this.#dir, error: String(error) })
    }
  }

  /** Unlinks `path` after cutting it down from its end in steps (see `largeFileStepBytes`). */
  async #removeFile(path: string): Promise<void> {
    const handle = await this.#fs.open(path, { create: false })
    try {
      let size = await handle.size()
      while (size > this.#largeFileStepBytes) {
        size -= this.#largeFileStepBytes
        await handle.truncate(size)
      }
    } finally {
      await handle.close().catch(() => undefined)
    }
    await this.#fs.unlink(path)
  }

  #fail(message: string, cause: unknown): StorageFailedError {
    const error = new StorageFailedError(message, cause)
    if (this.#failure === undefined) {
      this.#failure = error
      this.#logger.error('log store failed', { dir: this.#dir, message, cause: String(cause) })
    }
    return error
  }

  #checkUsable(): void {
    if (this.#failure !== undefined) {
      throw new StorageFailedError(`the log store failed earlier: ${this.#failure.message}`, this.#failure)
    }
    if (this.#closed) throw new StorageClosedError()
  }

  #lastIndex(): number {
    return this.#snapshotMeta.index + this.#entries.length
  }

  #term(index: number): number {
    const offset = this.#snapshotMeta.index
    if (index === offset) return this.#snapshotMeta.term
    assert(
      index > offset && index <= this.#lastIndex(),
      `term(${index}) outside [${offset}, ${this.#lastIndex()}]`,
    )
    return this.#entries[index - offset - 1]!.term
  }

  #path(name: string): string {
    return join(this.#dir, name)
  }
}

function encodeEntryRecords(entries: readonly Entry[]): Uint8Array {
  const sizes = entries.map((entry) => {
    const size = entryBytes(entry)
    assert(size <= payloadBytesMaxDefault, `entry ${entry.index} is too large to store`)
    return size
  })
  // Each entry straight into its record: its data is copied once, not into an entry buffer and then again.
  return encodeRecordsInPlace(sizes, (i, payload) => encodeEntryInto(entries[i]!, payload))
}

interface RecoveredLog {
  readonly entries: Entry[]
  /** End of the last record kept: the log file is truncated here. */
  readonly validBytes: number
  /**
   * Whole records past the recorded synced length that were kept: one-sync appends (acknowledged or not), and
   * the log part of an unacknowledged save whose hard-state record did not reach the disk.
   */
  readonly unrecordedEntries: number
}

/**
 * Replays a log file. Records before `syncedBytes` (recorded in the hard-state file) were acknowledged: each
 * must be whole, pass its checksum, decode, and have an index in `(snapshotIndex, last + 1]` (a lower index
 * replays a truncating append), or the log is corrupt. Past `syncedBytes`, records are kept while they are
 * whole, pass their checksum and extend the log by exactly one index: that is where one-sync appends live,
 * acknowledged once the log was synced. The first record that is not whole or fails its checksum is a torn
 * tail (only the save in flight can be torn: every earlier one was synced) and ends the log. A whole, valid
 * record that would truncate the log ends it too: only a save that also commits a hard-state record truncates,
 * so such a record belongs to an unacknowledged save, which must not drop acknowledged entries. A whole, valid
 * record that leaves a gap, or that does not decode, cannot be a torn write: corruption.
 */
export function recoverLog(
  bytes: Uint8Array,
  file: string,
  syncedBytes: number,
  snapshotIndex: number,
  options: { readonly verifyChecksums?: boolean; readonly dropUnrecorded?: boolean } = {},
): RecoveredLog {
  const verifyChecksums = options.verifyChecksums ?? true
  if (bytes.byteLength < syncedBytes) {
    const reason = `the file ends before its synced length ${syncedBytes}`
    throw new CorruptLogError({ file, offset: bytes.byteLength, reason })
  }
  const decoded = decodeRecords(bytes, { verifyChecksums })
  if (decoded.validBytes < syncedBytes) {
    const reason = `bad record (${decoded.stop.kind}) before the synced length ${syncedBytes}`
    throw new CorruptLogError({ file, offset: decoded.stop.offset, reason })
  }
  const entries: Entry[] = []
  let validBytes = 0
  let unrecordedEntries = 0
  for (const record of decoded.records) {
    const isSynced = record.offset < syncedBytes
    if (!isSynced && options.dropUnrecorded === true) break
    if (isSynced && record.end > syncedBytes) {
      throw new CorruptLogError({ file, offset: record.offset, reason: 'a record crosses the synced length' })
    }
    let entry: Entry
    try {
      entry = decodeEntry(record.payload)
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error
      // The checksum matched, so this is neither a torn write nor a flipped bit: stop, wherever it is.
      throw new CorruptLogError({ file, offset: record.offset, reason: error.message }, error)
    }
    const last = snapshotIndex + entries.length
    if (isSynced) {
      if (entry.index <= snapshotIndex || entry.index > last + 1) {
        const reason = `entry index ${entry.index} out of sequence after (${snapshotIndex}, ${last}]`
        throw new CorruptLogError({ file, offset: record.offset, reason })
      }
      entries.length = entry.index - snapshotIndex - 1
    } else {
      if (entry.index > last + 1) {
        const reason = `entry index ${entry.index} leaves a gap after ${last}`
        throw new CorruptLogError({ file, offset: record.offset, reason })
      }
      if (entry.index !== last + 1) break
      unrecordedEntries++
    }
    entries.push(entry)
    validBytes = record.end
  }
  return { entries, validBytes, unrecordedEntries }
}

/** Creates an empty store: generation 1, no snapshot, an empty log. The rename of `hardstate` commits it. */
async function initialize(fs: Fs, dir: string, names: readonly string[]): Promise<void> {
  const hardStatePath = join(dir, hardStateFileName)
  for (const name of names) {
    const match = generationFilePattern.exec(name)
    if (match === null) continue
    const path = join(dir, name)
    // Only an interrupted initialization leaves these, and it leaves them empty: anything else means the
    // hard-state file was lost, and starting empty would silently forget acknowledged state.
    if (match[1] === 'snapshot' || (await fs.readFile(path)).byteLength > 0) {
      throw new CorruptLogError({
        file: hardStatePath,
        offset: 0,
        reason: `missing, while ${name} holds data`,
      })
    }
    await fs.unlink(path)
  }
  const log = await fs.open(join(dir, logFileName(1)), { create: true })
  try {
    await log.truncate(0)
    await log.fsync()
  } finally {
    await log.close()
  }
  const root: HardStateRecord = {
    hardState: emptyHardState,
    generation: 1,
    logSyncedBytes: 0,
    hasSnapshotFile: false,
    snapshotIndex: 0,
    snapshotTerm: 0,
  }
  const tempPath = hardStatePath + tempSuffix
  const handle = await fs.open(tempPath, { create: true })
  try {
    await handle.truncate(0)
    await handle.write(encodeHardStateSlot(root), 0)
    await handle.fsync()
  } finally {
    await handle.close()
  }
  await fs.rename(tempPath, hardStatePath)
  await fs.fsyncDir(dir)
}

/** Reads a file that a hard-state record refers to: its absence is corruption. */
async function readReferenced(fs: Fs, path: string, options?: ReadFileOptions): Promise<Uint8Array> {
  try {
    return await fs.readFile(path, options)
  } catch (error) {
    if (errnoCode(error) === 'ENOENT')
      throw new CorruptLogError({ file: path, offset: 0, reason: 'file missing' })
    throw error
  }
}

async function unlinkIfPresent(fs: Fs, path: string): Promise<void> {
  try {
    await fs.unlink(path)
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error
  }
}
