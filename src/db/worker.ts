/**
 * The db worker thread: the only place better-sqlite3 runs, so no SQL statement can stall the main
 * thread's event loop (Raft heartbeats). It owns one connection (the data), a pristine helper connection
 * (built-in date functions for `determinism.ts`), and answers `WorkerRequest`s one at a time, in order.
 */

import {
  closeSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parentPort, workerData } from 'node:worker_threads'
import BetterSqlite3 from 'better-sqlite3'
import { unpackBatch } from './batch-codec.js'
import { copyInChunks, ownsWholeBuffer } from './buffers.js'
import { type CompactRun, compactResults, expandRun } from './compact-runs.js'
import { installDeterminism } from './determinism.js'
import { dumpDatabase } from './dump.js'
import { DbError, dbErrorToData } from './errors.js'
import { Executor } from './executor.js'
import { packResults } from './packed-results.js'
import type { CompactRunReply, WorkerConfig, WorkerMessage, WorkerReply, WorkerRequest } from './protocol.js'
import type { SqliteDatabase, SqliteOpen } from './sqlite-port.js'
import { isSqliteError } from './sqlite-port.js'
import type { StatementResult } from './types.js'
import { toWireBatch } from './wire-batch.js'
import { collectGarbageAfter } from '../util/collect-garbage.js'

/** The real library, checked against the port by this assignment. */
const openSqlite: SqliteOpen = (filename, options) => new BetterSqlite3(filename, options)

interface Connection {
  readonly db: SqliteDatabase
  readonly executor: Executor
}

const port = parentPort
if (port === null) throw new Error('src/db/worker.ts must run in a worker thread')
// workerData is written by database.ts in this same program.
const config = workerData as WorkerConfig
const nativeOptions = config.nativeBinding === undefined ? {} : { nativeBinding: config.nativeBinding }

let helper: SqliteDatabase
let connection: Connection

try {
  helper = openSqlite(':memory:', nativeOptions)
  helper.defaultSafeIntegers(true)
  connection = connect(openSqlite(config.path ?? emptyImage(), nativeOptions))
  const sqliteVersion = String(helper.prepare('SELECT sqlite_version()').pluck().get())
  post({ type: 'ready', sqliteVersion, appliedIndex: connection.executor.appliedIndex })
  port.on('message', (message: WorkerMessage) =>
    message.type === 'runs' ? handleRuns(message.runs) : handle(message),
  )
} catch (error) {
  post({ type: 'openFailed', error: { code: 'TQ_ERR_DB_OPEN_FAILED', message: describe(error) } })
  port.close()
}

/** Sets up a freshly opened connection: integers exact, journal mode, foreign keys, determinism, executor. */
function connect(db: SqliteDatabase): Connection {
  db.defaultSafeIntegers(true)
  if (!db.memory) {
    // The Raft log is the durability: WAL with synchronous=NORMAL may lose the newest transactions on power
    // loss, but never corrupts, and the applied index goes back together with the data it describes.
    db.exec('PRAGMA journal_mode = WAL')
    db.exec('PRAGMA synchronous = NORMAL')
  }
  db.exec(`PRAGMA foreign_keys = ${config.foreignKeys ? 'ON' : 'OFF'}`)
  return { db, executor: new Executor(db, installDeterminism(db, helper)) }
}

/** Replies held back while a batch runs, to be posted together (see `WorkerMessage`). */
let held: { replies: Reply[]; transfer: Set<ArrayBuffer>; since: number } | undefined

type Reply = WorkerReply | CompactRunReply

/** A reply may wait this long for the rest of its batch; past it, what is ready is posted. */
const holdMsMax = 2

function handleRuns(runs: readonly CompactRun[]): void {
  held = { replies: [], transfer: new Set(), since: performance.now() }
  try {
    for (const run of runs) {
      handle(expandRun(run))
      // A slow statement must not hold back the answers of the quick ones before it.
      if (performance.now() - held.since > holdMsMax) postHeld()
    }
  } finally {
    postHeld()
    held = undefined
  }
}

function postHeld(): void {
  if (held === undefined) return
  const { replies, transfer } = held
  held.replies = []
  held.transfer = new Set()
  held.since = performance.now()
  if (replies.length === 0) return
  postTransferring(replies.length === 1 ? replies[0]! : { type: 'replies', replies }, [...transfer])
}

/** Posts `message`, moving `transfer` when it can (pooled memory cannot move), else cloning. */
function postTransferring(message: Reply, transfer: ArrayBuffer[]): void {
  if (transfer.length > 0) {
    try {
      port?.postMessage(message, transfer)
      return
    } catch {
      // Some buffers cannot be transferred (for example pooled memory); cloning always works.
    }
  }
  port?.postMessage(message)
}

/** A reply to a request: held while a batch runs, else posted at once. */
function answer(message: Reply, transfer: ArrayBuffer[]): void {
  if (held !== undefined) {
    held.replies.push(message)
    for (const buffer of transfer) held.transfer.add(buffer)
    return
  }
  postTransferring(message, transfer)
}

function handle(request: WorkerRequest): void {
  try {
    switch (request.type) {
      case 'run': {
        const batch = 'packed' in request ? toWireBatch(unpackBatch(request.packed)) : request.batch
        const results = connection.executor.run(batch, request.options)
        if (request.options.discardResults === true) {
          answer([request.id, []], [])
          return
        }
        const packed = packResults(results)
        if (packed === undefined) answer([request.id, compactResults(results)], transferablesOf(results))
        else reply(request.id, packed, [packed.packedResults.buffer as ArrayBuffer])
        return
      }
      case 'serialize':
        serialize(request)
        return
      case 'dump': {
        const { id } = request
        const text = dumpDatabase(connection.db, {
          ...(request.tables === undefined ? {} : { tables: request.tables }),
          onProgress: (rowsDumped, tablesDone, tablesTotal) =>
            post({ type: 'progress', id, rowsDumped, tablesDone, tablesTotal }),
        })
        reply(id, text, [])
        return
      }
      case 'restore':
        reply(request.id, restore(request.image, request.index), [])
        // SQLite holds its own copy now; the image given (and a WAL image's copy) is dead here.
        collectGarbageAfter(request.image.byteLength)
        return
      case 'appliedIndex':
        reply(request.id, connection.executor.appliedIndex, [])
        return
      case 'close':
        connection.db.close()
        helper.close()
        reply(request.id, null, [])
        port?.close()
        return
    }
  } catch (error) {
    answer(failure(request.id, error), [])
  }
}

/** The failed answer to request `id`: a `DbError` as it is, anything else as an internal error. */
function failure(id: number, error: unknown): WorkerReply {
  const data =
    error instanceof DbError
      ? dbErrorToData(error)
      : { code: 'TQ_ERR_DB_INTERNAL' as const, message: describe(error) }
  return { type: 'reply', id, ok: false, error: data }
}

/**
 * Answers with the image, after `prefix`, in a buffer of its own that can be transferred to the main thread
 * (SQLite's serialization lives in external memory that postMessage cannot detach; a clone would copy it on
 * the receiving thread). Only taking the image stops other requests: SQLite's copy of 455 MB took 1.5 s,
 * and the copy out of it as long again, which runs in chunks between the requests that follow. So a Raft
 * snapshot stops applies only for SQLite's part, and `announceCapture` tells the caller when that is over.
 */
function serialize(request: Extract<WorkerRequest, { type: 'serialize' }>): void {
  const { id, prefix } = request
  const image = normalizeHeader(request.vacuum === true ? vacuumedImage() : connection.db.serialize())
  if (request.journalMode === 'wal' && image.length >= 20) {
    image[18] = 2
    image[19] = 2
  }
  if (request.announceCapture === true) post({ type: 'captured', id })
  copyInChunks(image, prefix === undefined ? {} : { prefix }).then(
    // Always transferred: a clone would be copied on the main thread, stalling it for a big database.
    (owned) => {
      reply(id, owned, [owned.buffer])
      // SQLite's serialization, copied out, is dead here; the copy has moved to the main thread.
      collectGarbageAfter(image.length)
    },
    (error: unknown) => answer(failure(id, error), []),
  )
}

/**
 * `VACUUM INTO` a fresh file reads the live database and leaves it as it was (a plain VACUUM would rewrite
 * it, and would have to be replicated). The file lives beside an on-disk database, where there is room for
 * a copy of it, or in the temporary directory for an in-memory one.
 */
function vacuumedImage(): Buffer {
  const directory = mkdtempSync(
    config.path === null ? join(tmpdir(), 'tqlite-vacuum-') : `${config.path}.vacuum-`,
  )
  try {
    const file = join(directory, 'image.db')
    connection.db.prepare('VACUUM INTO ?').run(file)
    return readFileSync(file)
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
}

/**
 * An in-memory database is opened from an image (SQLite's memdb), as a restored one is, never as a plain
 * `:memory:` database. The two differ in one way that matters: memdb caps the database at its image's size or
 * 1 GiB, whichever is larger (SQLITE_MEMDB_DEFAULT_MAXSIZE; better-sqlite3 offers no way to raise it), while
 * `:memory:` grows without limit. With both, a node restored from a snapshot failed an INSERT past 1 GiB with
 * "database or disk is full" that the nodes which had applied every entry took: the replicas diverged. Now
 * every replica fails the same statement the same way (rqlite's in-memory databases have a limit as well;
 * `-on-disk` has none).
 */
function emptyImage(): Buffer {
  const blank = openSqlite(':memory:', nativeOptions)
  try {
    return blank.serialize()
  } finally {
    blank.close()
  }
}

/**
 * Replaces the database with `bytes`. The image is checked by opening it in memory first; until that
 * succeeds nothing is changed. On disk, the file is replaced atomically: written beside it, fsynced,
 * renamed over it, and the directory fsynced.
 */
function restore(bytes: Uint8Array, index: number | undefined): number {
  // Shared memory belongs to the main thread too (the log store's snapshot): never written here. The
  // header is rewritten only for a WAL image, which is then copied first.
  const shared = bytes.buffer instanceof SharedArrayBuffer
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const image = normalizeHeader(shared && isWalHeader(view) ? Buffer.from(view) : view)
  let candidate: SqliteDatabase
  try {
    if (image.subarray(0, 16).toString('latin1') !== 'SQLite format 3\u0000') {
      throw new Error('the image does not start with the SQLite header')
    }
    candidate = openSqlite(image, nativeOptions)
    candidate.prepare('SELECT count(*) FROM sqlite_schema').get()
  } catch (error) {
    throw new DbError('TQ_ERR_DB_BAD_IMAGE', `not a usable SQLite database image: ${describe(error)}`, {
      cause: error,
    })
  }
  if (config.path === null) {
    connection.db.close()
    connection = connect(candidate)
    if (index !== undefined) connection.executor.recordAppliedIndex(index)
    return connection.executor.appliedIndex
  }
  let fileImage = image
  if (index !== undefined) {
    const staged = connect(candidate)
    staged.executor.recordAppliedIndex(index)
    fileImage = normalizeHeader(staged.db.serialize())
  }
  candidate.close()
  connection.db.close()
  try {
    writeFileAtomically(config.path, fileImage)
  } finally {
    // After a failed write the old file is still whole (the rename is the only step that replaces it).
    connection = connect(openSqlite(config.path, nativeOptions))
  }
  return connection.executor.appliedIndex
}

function writeFileAtomically(path: string, bytes: Buffer): void {
  const temporary = `${path}.restore-tmp`
  const fd = openSync(temporary, 'w')
  try {
    let offset = 0
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  // A closed WAL database has checkpointed and removed its -wal; remove leftovers so that no old frames
  // are replayed onto the new file.
  rmSync(`${path}-wal`, { force: true })
  rmSync(`${path}-shm`, { force: true })
  renameSync(temporary, path)
  const directory = openSync(dirname(path), 'r')
  try {
    fsyncSync(directory)
  } finally {
    closeSync(directory)
  }
}

/**
 * Bytes 18 and 19 of the header say "WAL mode" (2) for an on-disk database; an in-memory database cannot
 * open such an image. Writing 1 (rollback journal) makes images independent of the mode that produced them.
 */
function normalizeHeader(image: Buffer): Buffer {
  if (isWalHeader(image)) {
    image[18] = 1
    image[19] = 1
  }
  return image
}

function isWalHeader(image: Buffer): boolean {
  return image.length >= 20 && image[18] === 2 && image[19] === 2
}

/** BLOB values whose memory can move to the main thread instead of being copied. */
function transferablesOf(results: readonly StatementResult[]): ArrayBuffer[] {
  const found = new Set<ArrayBuffer>()
  for (const result of results) {
    if (!('values' in result) || result.values === undefined) continue
    for (const row of result.values) {
      for (const value of row) {
        if (Buffer.isBuffer(value) && ownsWholeBuffer(value) && value.buffer instanceof ArrayBuffer) {
          found.add(value.buffer)
        }
      }
    }
  }
  return [...found]
}

function reply(id: number, value: unknown, transfer: ArrayBuffer[]): void {
  answer({ type: 'reply', id, ok: true, value }, transfer)
}

function post(message: WorkerReply): void {
  port?.postMessage(message)
}

function describe(error: unknown): string {
  if (isSqliteError(error)) return `${error.code}: ${error.message}`
  if (error instanceof Error) return error.message
  return String(error)
}
