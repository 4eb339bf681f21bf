/**
 * `Database`: the main-thread handle of the SQLite state machine. better-sqlite3 runs on a worker thread
 * (`worker.ts`); this class validates requests, sends them as messages, and resolves each promise with the
 * worker's reply. Requests run one at a time in the order they were made. SQL errors are data (an
 * `{ error }` slot in the results); the promise rejects only with a `DbError` about the request or handle.
 *
 * Knows nothing about Raft: the store passes the entry's seed, time and index with each batch it applies.
 */

import { Worker } from 'node:worker_threads'
import { NOW_MS_MAX } from './determinism.js'
import { PackedBatch, unpackBatch } from './batch-codec.js'
import { copyInChunks } from './buffers.js'
import { compactRun, expandResults, isCompactRunReply, type RunRequest } from './compact-runs.js'
import { DbError, dbErrorFromData } from './errors.js'
import { isPackedResults, unpackResults } from './packed-results.js'
import type { RunOptions, WireStatement } from './executor.js'
import { toWireBatch } from './wire-batch.js'
import { collectGarbageAfter } from '../util/collect-garbage.js'
import type {
  CompactRunReply,
  WorkerConfig,
  WorkerMessage,
  WorkerReply,
  WorkerReplyValues,
  WorkerRequest,
} from './protocol.js'
import type {
  Batch,
  DumpOptions,
  ExecuteOptions,
  QueryOptions,
  RequestOptions,
  RestoreOptions,
  Seed,
  SerializeOptions,
  StatementResult,
} from './types.js'

export interface DatabaseOptions {
  /** A file path for on-disk mode (`-on-disk`); omitted for an in-memory database (the default). */
  readonly path?: string
  /** Enforce foreign keys (rqlite's `-fk`); off by default, as in rqlite. Must match on every replica. */
  readonly foreignKeys?: boolean
  /** Where the worker module is; defaults to `worker.js` (or `worker.ts` under tsx) beside this module. */
  readonly workerUrl?: URL
  /** Path of better-sqlite3's compiled addon, when it is not where the package expects it (SEA builds). */
  readonly nativeBinding?: string
}

type RequestType = keyof WorkerReplyValues

interface Pending {
  readonly resolve: (value: unknown) => void
  readonly reject: (error: DbError) => void
  readonly onProgress?: DumpOptions['onProgress']
  readonly onCaptured?: () => void
}

type RequestBody =
  | { readonly type: 'run'; readonly batch: readonly WireStatement[]; readonly options: RunOptions }
  | { readonly type: 'run'; readonly packed: Uint8Array; readonly options: RunOptions }
  | {
      readonly type: 'serialize'
      readonly vacuum?: boolean
      readonly journalMode?: 'wal' | 'delete'
      readonly prefix?: Uint8Array
      readonly announceCapture?: boolean
    }
  | { readonly type: 'dump'; readonly tables?: readonly string[] }
  | { readonly type: 'restore'; readonly image: Uint8Array; readonly index?: number }
  | { readonly type: 'appliedIndex' }
  | { readonly type: 'close' }

export class Database {
  /** The bundled SQLite's version (every replica must run the same one: query plans order random() calls). */
  readonly sqliteVersion: string
  /** The database file, or null when in memory. */
  readonly path: string | null
  readonly #worker: Worker
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  /** `run` requests of this event-loop turn, posted together by `#flush` (see `WorkerMessage`). */
  #outbox: RunRequest[] = []
  /** Buffers of the gathered requests that move to the worker with them (see `#run`). */
  #outboxTransfer: ArrayBuffer[] = []
  #flushScheduled = false
  #messagesPosted = 0
  /** The last request id of each `run` message posted and not yet fully answered, oldest first. */
  #inFlight: number[] = []
  #state: 'open' | 'closing' | 'closed' | 'failed' = 'open'
  #failure: DbError | null = null
  readonly #exited: Promise<void>

  private constructor(worker: Worker, path: string | null, sqliteVersion: string, exited: Promise<void>) {
    this.#worker = worker
    this.path = path
    this.sqliteVersion = sqliteVersion
    this.#exited = exited
    worker.on('message', (message: WorkerReply | CompactRunReply) => this.#onMessage(message))
    worker.on('error', (error) => this.#fail(error))
    worker.on('exit', (code) => {
      if (this.#state !== 'closing' && this.#state !== 'closed') {
        this.#fail(new Error(`the db worker exited with code ${code}`))
      }
    })
    worker.unref() // referenced only while requests are outstanding: an idle handle does not keep Node alive
  }

  /** Starts the worker and opens the database; rejects with `TQ_ERR_DB_OPEN_FAILED` or `..._WORKER_FAILED`. */
  static async open(options: DatabaseOptions = {}): Promise<Database> {
    const path = options.path ?? null
    const config: WorkerConfig = {
      path,
      foreignKeys: options.foreignKeys ?? false,
      ...(options.nativeBinding === undefined ? {} : { nativeBinding: options.nativeBinding }),
    }
    const worker = startWorker(options.workerUrl ?? defaultWorkerUrl(), config)
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
    const ready = await new Promise<{ sqliteVersion: string }>((resolve, reject) => {
      const onMessage = (message: WorkerReply): void => {
        cleanup()
        if (message.type === 'ready') resolve(message)
        else if (message.type === 'openFailed') reject(dbErrorFromData(message.error))
        else reject(new DbError('TQ_ERR_DB_WORKER_FAILED', `unexpected first message ${message.type}`))
      }
      const onError = (error: Error): void => {
        cleanup()
        reject(
          new DbError('TQ_ERR_DB_WORKER_FAILED', `the db worker failed to start: ${error.message}`, {
            cause: error,
          }),
        )
      }
      const onExit = (code: number): void => {
        cleanup()
        reject(
          new DbError('TQ_ERR_DB_WORKER_FAILED', `the db worker exited with code ${code} while starting`),
        )
      }
      const cleanup = (): void => {
        worker.off('message', onMessage)
        worker.off('error', onError)
        worker.off('exit', onExit)
      }
      worker.on('message', onMessage)
      worker.on('error', onError)
      worker.on('exit', onExit)
    }).catch(async (error: unknown) => {
      await worker.terminate()
      throw error
    })
    return new Database(worker, path, ready.sqliteVersion, exited)
  }

  /**
   * Applies a batch (the apply path of a committed entry) with the entry's `seed` and `nowMs`, and records
   * `index` with it. Resolves with one result per non-empty statement; never rejects for a SQL error.
   */
  async execute(batch: Batch | PackedBatch, options: ExecuteOptions): Promise<StatementResult[]> {
    return keepTimings(await this.#execute(batch, options), options.timings)
  }

  async #execute(batch: Batch | PackedBatch, options: ExecuteOptions): Promise<StatementResult[]> {
    const apply = checkApply(options.seed, options.nowMs)
    const runOptions: RunOptions = {
      mode: 'execute',
      transaction: checkTransaction(options.transaction),
      apply,
      ...indexOption(options.index),
      ...discardResultsOption(options.discardResults),
    }
    return this.#run(batch, runOptions)
  }

  /**
   * Runs read-only statements with the real clock. A statement that would write, or change the connection,
   * gets `{ error: "attempt to change database via query operation" }`.
   */
  async query(batch: Batch | PackedBatch, options: QueryOptions = {}): Promise<StatementResult[]> {
    const results = await this.#run(
      batch,
      queryRunOptions(checkTransaction(options.transaction), checkQualifyColumns(options.qualifyColumns)),
    )
    return keepTimings(results, options.timings)
  }

  /**
   * Mixed statements: each one that returns rows (`SELECT`, `... RETURNING`) is answered in query shape, the
   * others in execute shape. With `seed`/`nowMs` (and optionally `index`) it applies like `execute`.
   */
  async request(batch: Batch | PackedBatch, options: RequestOptions = {}): Promise<StatementResult[]> {
    return keepTimings(await this.#request(batch, options), options.timings)
  }

  async #request(batch: Batch | PackedBatch, options: RequestOptions): Promise<StatementResult[]> {
    const hasApply = options.seed !== undefined || options.nowMs !== undefined
    if (!hasApply && options.index !== undefined) {
      throw new DbError('TQ_ERR_DB_BAD_OPTIONS', 'index requires seed and nowMs (an applied request)')
    }
    const runOptions: RunOptions = {
      mode: 'request',
      transaction: checkTransaction(options.transaction),
      ...(hasApply ? { apply: checkApply(options.seed, options.nowMs) } : {}),
      ...indexOption(options.index),
      ...qualifyColumnsOption(options.qualifyColumns),
      ...discardResultsOption(options.discardResults),
    }
    return this.#run(batch, runOptions)
  }

  /**
   * The database image (a SQLite file's bytes) for a Raft snapshot or a backup. By default exactly the
   * pages as they are, with the rollback-journal header; `vacuum` gives a compacted copy (the live database
   * is not changed) and `journalMode: 'wal'` marks the image as a WAL database (header bytes 18–19 = 2).
   * With `prefix`, the result is `prefix` followed by the image, in one buffer built on the worker (the Raft
   * snapshot puts a small header before the database this way without copying it on the main thread).
   * The buffer is transferred from the worker, never cloned: the main thread does not copy the image.
   * `onCaptured` is called once the image is taken: requests sent after that do not change it, and they run
   * while the worker copies the image out (which takes as long as taking it).
   */
  async serialize(
    options: SerializeOptions & { readonly prefix?: Uint8Array; readonly onCaptured?: () => void } = {},
  ): Promise<Buffer> {
    const body = checkSerializeOptions(options)
    const { onCaptured } = options
    if (onCaptured !== undefined && typeof onCaptured !== 'function') {
      throw new DbError('TQ_ERR_DB_BAD_OPTIONS', 'onCaptured must be a function')
    }
    const image = await this.#send<'serialize'>(
      onCaptured === undefined ? body : { ...body, announceCapture: true },
      [],
      onCaptured === undefined ? {} : { onCaptured },
    )
    return Buffer.from(image.buffer, image.byteOffset, image.byteLength)
  }

  /**
   * The database as SQL text, in the sqlite3 shell's `.dump` layout (`PRAGMA foreign_keys=OFF;`,
   * `BEGIN TRANSACTION;`, tables with their rows, views, triggers, indexes, `COMMIT;`). Every value reloads
   * bit-identical when the text is run as one statement string (`execute([text], …)`, as `/db/load` does).
   * Not included: `_tqlite_meta` (the applied index is this replica's), shadow tables of virtual tables.
   * Built in the worker; the text is one string, so it is bounded by V8's string limit (about 512 MiB).
   */
  async dump(options: DumpOptions = {}): Promise<string> {
    if (typeof options !== 'object' || options === null) {
      throw new DbError('TQ_ERR_DB_BAD_OPTIONS', 'dump options must be an object')
    }
    const { tables, onProgress } = options
    if (
      tables !== undefined &&
      (!Array.isArray(tables) || !tables.every((name: unknown) => typeof name === 'string'))
    ) {
      throw new DbError('TQ_ERR_DB_BAD_OPTIONS', 'tables must be an array of strings')
    }
    if (onProgress !== undefined && typeof onProgress !== 'function') {
      throw new DbError('TQ_ERR_DB_BAD_OPTIONS', 'onProgress must be a function')
    }
    const body = { type: 'dump' as const, ...(tables === undefined ? {} : { tables: [...tables] }) }
    return this.#send<'dump'>(body, [], onProgress === undefined ? {} : { onProgress })
  }

  /**
   * Replaces the whole database with `image`. The image is validated first (`TQ_ERR_DB_BAD_IMAGE` leaves
   * the database as it was); on disk the file is replaced atomically. Resolves with the applied index the
   * database now holds (`options.index`, or the one inside the image, 0 if none).
   *
   * An image in a `SharedArrayBuffer` (a snapshot file as the log store reads it) is handed to the worker
   * as it is, neither copied nor transferred: the worker only reads it, and the caller must not change it
   * until this resolves. Any other image is copied, unless `transfer`.
   */
  async restore(image: Uint8Array, options: RestoreOptions = {}): Promise<number> {
    if (!(image instanceof Uint8Array)) throw new DbError('TQ_ERR_DB_BAD_IMAGE', 'the image must be bytes')
    const restored = await this.#restore(image, indexOption(options.index), options.transfer === true)
    // The image (and any copy of it made here) is dead once SQLite holds the database, unless the caller keeps it.
    collectGarbageAfter(image.byteLength)
    return restored
  }

  async #restore(image: Uint8Array, index: { index?: number }, transfer: boolean): Promise<number> {
    if (transfer && image.buffer instanceof ArrayBuffer) {
      return this.#send<'restore'>({ type: 'restore', image, ...index }, [image.buffer])
    }
    // Shared memory is not copied by postMessage: the worker sees the same bytes (1 GiB copied on this
    // thread cost 3.7–5.6 s here, most of it page faults of the fresh copy, and held a second GiB).
    if (image.buffer instanceof SharedArrayBuffer) {
      return this.#send<'restore'>({ type: 'restore', image, ...index }, [])
    }
    // The caller's buffer stays the caller's (a snapshot installed from the leader is a view of the message
    // it came in, and moving a view moves its whole buffer): copy the image, a chunk per
    // event-loop turn, into a buffer of its own and transfer that. A structured clone would copy all of it
    // in one go on this thread (and the whole underlying ArrayBuffer of a view, not just the view).
    const copy = await copyInChunks(image)
    return this.#send<'restore'>({ type: 'restore', image: copy, ...index }, [copy.buffer])
  }

  /** The Raft index recorded with the last applied batch (0 when none was recorded). */
  async appliedIndex(): Promise<number> {
    return this.#send<'appliedIndex'>({ type: 'appliedIndex' }, [])
  }

  /**
   * Finishes the requests already made, closes the database and stops the worker. Idempotent. Requests made
   * after `close()` reject with `TQ_ERR_DB_CLOSED`.
   */
  async close(): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return this.#exited
    if (this.#state === 'failed') {
      await this.#worker.terminate()
      return
    }
    const closed = this.#send<'close'>({ type: 'close' }, [])
    this.#state = 'closing'
    try {
      await closed
    } finally {
      this.#state = 'closed'
      await Promise.race([this.#exited, this.#worker.terminate().then(() => undefined)])
      // A serialization still being copied out when the worker closed will not be answered.
      for (const [id, pending] of [...this.#pending]) {
        this.#settle(id)
        pending.reject(new DbError('TQ_ERR_DB_CLOSED', 'the database closed before answering'))
      }
    }
  }

  async #run(batch: Batch | PackedBatch, options: RunOptions): Promise<StatementResult[]> {
    let reply: WorkerReplyValues['run']
    if (batch instanceof PackedBatch && batch.bytes.byteLength >= packedBatchBytesMin) {
      // A copy of our own that moves to the worker: the entry's bytes stay with the Raft log, and a clone
      // would copy them twice (into the message, then out of it). Not `slice()`: on a Buffer it is a view,
      // and moving its memory would detach the log's (or a pool's) bytes.
      const packed = new Uint8Array(batch.bytes)
      reply = await this.#send<'run'>({ type: 'run', packed, options }, [packed.buffer as ArrayBuffer])
    } else {
      reply = await this.#send<'run'>(
        {
          type: 'run',
          batch: toWireBatch(batch instanceof PackedBatch ? unpackBatch(batch.bytes) : batch),
          options,
        },
        [],
      )
    }
    if (isPackedResults(reply)) return unpackResults(reply)
    const results = reply
    for (const result of results) {
      if (!('values' in result) || result.values === undefined) continue
      for (const row of result.values) {
        // Structured clone turns a Buffer into a plain Uint8Array; give callers Buffers back (no copy).
        // The rows were created by the clone, so writing into them is safe.
        const cells = row as unknown[]
        for (let i = 0; i < cells.length; i++) {
          const cell = cells[i]
          if (cell instanceof Uint8Array && !Buffer.isBuffer(cell)) {
            cells[i] = Buffer.from(cell.buffer, cell.byteOffset, cell.byteLength)
          }
        }
      }
    }
    return results
  }

  #send<T extends RequestType>(
    body: RequestBody & { type: T },
    transfer: ArrayBuffer[],
    callbacks: Pick<Pending, 'onProgress' | 'onCaptured'> = {},
  ): Promise<WorkerReplyValues[T]> {
    if (this.#state === 'failed') return Promise.reject(this.#failure ?? workerFailed('unknown'))
    if (this.#state !== 'open')
      return Promise.reject(new DbError('TQ_ERR_DB_CLOSED', 'the database is closed'))
    const id = this.#nextId++
    const request = { ...body, id } as WorkerRequest
    return new Promise<WorkerReplyValues[T]>((resolve, reject) => {
      // The reply's type is fixed by the request type (WorkerReplyValues); the worker is our own code.
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject, ...callbacks })
      if (this.#pending.size === 1) this.#worker.ref()
      if (request.type === 'run') {
        // Gathered until the end of this turn's I/O phase: the entries of one apply and the reads that
        // arrived together leave in one message. The worker still runs them one by one, in order.
        this.#outbox.push(request)
        for (const buffer of transfer) this.#outboxTransfer.push(buffer)
        if (!this.#flushScheduled) {
          this.#flushScheduled = true
          setImmediate(() => this.#flush())
        }
        return
      }
      this.#flush(true)
      this.#post(request, transfer)
    })
  }

  /** Messages posted to the worker so far (a batch counts once): shows that requests of one turn travel together. */
  get messagesPosted(): number {
    return this.#messagesPosted
  }

  /**
   * Posts the gathered `run` requests: one message, or each alone if the batch cannot be cloned. While
   * `runMessagesInFlightMax` messages are still being worked on, the requests wait and leave together when
   * an answer comes back: under load the batches grow by themselves, and every message saved is a wake-up
   * of the worker and a clone saved on this thread. With `force` (a request of another kind follows, which
   * must not overtake them) they leave now.
   */
  #flush(force = false): void {
    this.#flushScheduled = false
    const requests = this.#outbox
    if (requests.length === 0) return
    if (!force && this.#inFlight.length >= runMessagesInFlightMax) return
    const transfer = this.#outboxTransfer
    this.#outbox = []
    this.#outboxTransfer = []
    this.#inFlight.push(requests.at(-1)!.id)
    try {
      const runs = requests.map(compactRun)
      this.#worker.postMessage({ type: 'runs', runs } satisfies WorkerMessage, transfer)
      this.#messagesPosted++
    } catch {
      // One request that cannot be cloned must fail alone, not take the others with it.
      for (const request of requests) this.#post(request, [])
    }
  }

  #post(request: WorkerRequest, transfer: ArrayBuffer[]): void {
    try {
      this.#worker.postMessage(request satisfies WorkerMessage, transfer)
      this.#messagesPosted++
    } catch (error) {
      this.#settle(request.id)?.reject(
        new DbError('TQ_ERR_DB_BAD_STATEMENT', `cannot send the request: ${String(error)}`, {
          cause: error,
        }),
      )
    }
  }

  #onMessage(message: WorkerReply | CompactRunReply): void {
    if (isCompactRunReply(message)) {
      const [id, results] = message
      this.#onReply(id, (pending) => pending.resolve(expandResults(results)))
      return
    }
    if (message.type === 'replies') {
      for (const reply of message.replies) this.#onMessage(reply)
      return
    }
    if (message.type === 'progress') {
      try {
        this.#pending
          .get(message.id)
          ?.onProgress?.(message.rowsDumped, message.tablesDone, message.tablesTotal)
      } catch {
        // A failing progress callback is the caller's bug; it must not break the handle or the dump.
      }
      return
    }
    if (message.type === 'captured') {
      try {
        this.#pending.get(message.id)?.onCaptured?.()
      } catch {
        // As for progress: the caller's bug must not break the handle or the serialization.
      }
      return
    }
    if (message.type !== 'reply') return
    if (message.ok) this.#onReply(message.id, (pending) => pending.resolve(message.value))
    else this.#onReply(message.id, (pending) => pending.reject(dbErrorFromData(message.error)))
  }

  #onReply(id: number, settle: (pending: Pending) => void): void {
    // The worker answers in order: this answer settles every message up to it.
    while (this.#inFlight.length > 0 && this.#inFlight[0]! <= id) this.#inFlight.shift()
    if (this.#outbox.length > 0 && !this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(() => this.#flush())
    }
    const pending = this.#settle(id)
    if (pending !== undefined) settle(pending)
  }

  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id)
    this.#pending.delete(id)
    if (pending !== undefined && this.#pending.size === 0) this.#worker.unref()
    return pending
  }

  #fail(cause: unknown): void {
    if (this.#state === 'failed') return
    this.#state = 'failed'
    this.#failure = workerFailed(cause instanceof Error ? cause.message : String(cause), cause)
    for (const [id, pending] of [...this.#pending]) {
      this.#settle(id)
      pending.reject(this.#failure)
    }
  }
}

/** `run` messages the worker may have at once: one being run, one waiting, so it never idles between them. */
const runMessagesInFlightMax = 2

function workerFailed(reason: string, cause?: unknown): DbError {
  return new DbError('TQ_ERR_DB_WORKER_FAILED', `the db worker failed: ${reason}`, { cause })
}

function defaultWorkerUrl(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url)
}

/**
 * Starts the worker. A compiled `worker.js` starts directly. A `worker.ts` (tests and development under
 * tsx) needs tsx's loader inside the worker: on Node 20, `--import tsx` registers its hooks on the main
 * thread only, so a small bootstrap registers them in the worker and then imports the module.
 */
function startWorker(url: URL, config: WorkerConfig): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData: config })
  const tsxApi = import.meta.resolve('tsx/esm/api')
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((api) => { api.register(); return import(${JSON.stringify(url.href)}) })`
  return new Worker(bootstrap, { eval: true, workerData: config })
}

function checkSerializeOptions(
  options: SerializeOptions & { readonly prefix?: Uint8Array },
): RequestBody & { type: 'serialize' } {
  if (typeof options !== 'object' || options === null) {
    throw new DbError('TQ_ERR_DB_BAD_OPTIONS', 'serialize options must be an object')
  }
  const { vacuum, journalMode, prefix } = options
  if (prefix !== undefined && !(prefix instanceof Uint8Array)) {
    throw new DbError('TQ_ERR_DB_BAD_OPTIONS', 'prefix must be bytes')
  }
  if (vacuum !== undefined && typeof vacuum !== 'boolean') {
    throw new DbError('TQ_ERR_DB_BAD_OPTIONS', 'vacuum must be a boolean')
  }
  if (journalMode !== undefined && journalMode !== 'wal' && journalMode !== 'delete') {
    throw new DbError('TQ_ERR_DB_BAD_OPTIONS', "journalMode must be 'wal' or 'delete'")
  }
  return {
    type: 'serialize',
    ...(vacuum === true ? { vacuum } : {}),
    ...(journalMode === undefined ? {} : { journalMode }),
    ...(prefix === undefined ? {} : { prefix }),
  }
}

function discardResultsOption(discard: unknown): { discardResults?: true } {
  if (discard === undefined || discard === false) return {}
  if (discard !== true) throw new DbError('TQ_ERR_DB_BAD_OPTIONS', 'discardResults must be a boolean')
  return { discardResults: true }
}

/**
 * The options of a plain read, one object per combination: the reads gathered in one message then share it,
 * and structured clone writes it once for all of them.
 */
const queryRunOptionsByKey: readonly RunOptions[] = [false, true].flatMap((transaction) =>
  [false, true].map(
    (qualifyColumns): RunOptions =>
      Object.freeze({ mode: 'query', transaction, ...(qualifyColumns ? { qualifyColumns } : {}) }),
  ),
)

function queryRunOptions(transaction: boolean, qualifyColumns: boolean): RunOptions {
  return queryRunOptionsByKey[(transaction ? 2 : 0) + (qualifyColumns ? 1 : 0)]!
}

function checkTransaction(transaction: unknown): boolean {
  if (transaction === undefined) return false
  if (typeof transaction !== 'boolean')
    throw new DbError('TQ_ERR_DB_BAD_OPTIONS', 'transaction must be a boolean')
  return transaction
}

function checkQualifyColumns(qualifyColumns: unknown): boolean {
  if (qualifyColumns === undefined) return false
  if (typeof qualifyColumns !== 'boolean')
    throw new DbError('TQ_ERR_DB_BAD_OPTIONS', 'qualifyColumns must be a boolean')
  return qualifyColumns
}

function qualifyColumnsOption(qualifyColumns: unknown): { qualifyColumns?: true } {
  return checkQualifyColumns(qualifyColumns) ? { qualifyColumns: true } : {}
}

function checkApply(seed: Seed | undefined, nowMs: number | undefined): { seed: Seed; nowMs: number } {
  const isU32 = typeof seed === 'number' && Number.isInteger(seed) && seed >= 0 && seed <= 0xffff_ffff
  const isBytes = seed instanceof Uint8Array && seed.length === 16
  if (!isU32 && !isBytes) {
    throw new DbError('TQ_ERR_DB_BAD_OPTIONS', 'seed must be a u32 number or 16 bytes')
  }
  if (typeof nowMs !== 'number' || !Number.isSafeInteger(nowMs) || nowMs < 0 || nowMs > NOW_MS_MAX) {
    throw new DbError('TQ_ERR_DB_BAD_OPTIONS', `nowMs must be an integer in [0, ${NOW_MS_MAX}]`)
  }
  return { seed: isBytes ? Uint8Array.from(seed) : seed, nowMs }
}

function indexOption(index: number | undefined): { index?: number } {
  if (index === undefined) return {}
  if (!Number.isSafeInteger(index) || index < 1) {
    throw new DbError('TQ_ERR_DB_BAD_OPTIONS', `index must be a positive integer, got ${String(index)}`)
  }
  return { index }
}

/**
 * A packed batch at least this big goes to the worker as bytes, to be decoded there; a smaller one is decoded
 * here and sent as objects. Back to back on a 3-node cluster, sending every batch packed cost 6–18% more
 * cluster CPU per single-row INSERT in four pairs (a buffer per message costs more to clone than a few small
 * objects), and cluster CPU per 1,000-row bulk INSERT (about 140 KB) fell 9% (and 31%, a noisy pair).
 */
const packedBatchBytesMin = 8 * 1024

/** Results carry their `time` from the worker; it is dropped unless asked for, so results compare as data. */
function keepTimings(results: StatementResult[], timings: boolean | undefined): StatementResult[] {
  if (timings === true) return results
  for (const result of results) if ('time' in result) delete (result as { time?: number }).time
  return results
}
