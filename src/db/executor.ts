/**
 * Runs batches of statements on one SQLite connection with rqlite's semantics (rqlite-reference.md §1.2,
 * §1.6, /db/execute, /db/query, /db/request), and records the Raft applied index with the data it describes.
 * Synchronous: it runs inside the db worker (`worker.ts`), never on the main thread.
 *
 * Write batches (`execute`, `request`):
 * - `transaction: true`: BEGIN; stop at the first failing statement and roll everything back; the results
 *   are the earlier statements' results plus the error (nothing after it), as rqlite returns them.
 * - otherwise every statement stands alone (a failure does not stop the batch), but the executor still wraps
 *   the batch in one transaction, so the applied index commits atomically with the batch's changes. SQLite
 *   undoes a failed statement's own changes and keeps the transaction, which is exactly autocommit's result.
 *   When that equivalence breaks (an error that rolls back the whole transaction, such as ON CONFLICT
 *   ROLLBACK, or a deferred foreign key failing at COMMIT), the batch is rolled back and replayed from the
 *   start in true autocommit mode with the same seed and time, so every replica takes the same path.
 * - a batch holding BEGIN/COMMIT/ROLLBACK or a connection change (PRAGMA setting, ATTACH, DETACH, VACUUM) runs
 *   in autocommit mode from the start (these cannot run inside a transaction, or would end ours); its index is
 *   written after it, which is not atomic with it (see DESIGN.md). A transaction the batch leaves open is
 *   committed at its end.
 *
 * Query batches run on the same connection with `beginLocal()` determinism, and refuse anything that is not
 * a read (`attempt to change database via query operation`, rqlite's message).
 */

import { assert } from '../util/assert.js'
import type { Determinism } from './determinism.js'
import { StaleIndexError } from './errors.js'
import type {
  SqliteBindArg,
  SqliteBindValue,
  SqliteColumn,
  SqliteDatabase,
  SqliteStatement,
} from './sqlite-port.js'
import { isSqliteError } from './sqlite-port.js'
import { type StatementKind, statementKind } from './statement-kind.js'
import { type SplitStatement, countParameters, splitStatements } from './statement-splitter.js'
import type {
  ErrorResult,
  ExecuteResult,
  NamedParams,
  ParamValue,
  QueryResult,
  Seed,
  SqlValue,
  StatementResult,
} from './types.js'

/** One batch element after validation on the main thread: what crosses to the worker. */
export interface WireStatement {
  readonly sql: string
  readonly positional: readonly ParamValue[]
  /** All named-parameter objects of the element, merged (rqlite allows several). */
  readonly named?: NamedParams
}

export type BatchMode = 'execute' | 'query' | 'request'

export interface RunOptions {
  readonly mode: BatchMode
  readonly transaction: boolean
  /** Leader-fixed seed and time; absent for a local read or local request (real clock, fresh seed). */
  readonly apply?: { readonly seed: Seed; readonly nowMs: number }
  /** Raft index to record with the batch (write modes only, and only with `apply`). */
  readonly index?: number
  /**
   * rqlite's `qualify_columns`: a read-only statement's column names become `table.name` (query and request
   * modes; write statements with RETURNING are never qualified, as in rqlite).
   */
  readonly qualifyColumns?: boolean
  /**
   * Nobody reads the results: the worker answers with an empty list (see `ExecuteOptions.discardResults`),
   * and statements are not timed.
   */
  readonly discardResults?: boolean
}

/** rqlite's per-statement error for a write attempted through a query. */
export const QUERY_WRITE_ERROR = 'attempt to change database via query operation'

export const META_TABLE = '_tqlite_meta'

/**
 * Prepared statements kept, by SQL text. Queries that differ only in literals (`WHERE id=17`) are distinct
 * texts: with 256, the bench's 2,000 point reads missed most of the time and `prepare` was a quarter of the
 * worker's time; 4,096 simple statements hold about 12 MiB. Measured back to back on a 3-node cluster, level
 * none at c=64: the leader's CPU per 1,000 reads 107 → 100 ms and 119 → 105 ms, 10,260 → 11,697 and
 * 9,203 → 10,187 reads/s.
 */
const STATEMENT_CACHE_MAX = 4096

/** An element split into pieces, with its binding values converted once. */
interface PreparedElement {
  readonly source: string
  readonly pieces: readonly SplitStatement[]
  readonly positional: readonly SqliteBindValue[]
  readonly named: { readonly [name: string]: SqliteBindValue } | undefined
}

type BatchTransaction = 'none' | 'wrapped' | 'user'

export class Executor {
  readonly #db: SqliteDatabase
  readonly #determinism: Determinism
  readonly #cache = new Map<string, SqliteStatement>()
  /** The statement prepared last (see #statement). */
  #last: { readonly sql: string; readonly statement: SqliteStatement } | undefined
  readonly #lastInsertRowid: SqliteStatement
  #appliedIndex: number
  /** `qualifyColumns` of the batch being run (`run` is synchronous, one batch at a time). */
  #qualifyColumns = false
  /** Whether the batch being run times its statements: not when nobody reads its results. */
  #timed = true
  /**
   * Column details of statements run by queries since the last batch that was not one (any such batch may
   * change the schema, so it starts the cache afresh): `columns()` cost 3 µs per call here, more than a point
   * read itself (1.3 µs), and was the largest part of the worker's time per read.
   */
  #columnDetails = new WeakMap<SqliteStatement, ColumnDetails>()
  /** The mode of the batch being run. */
  #mode: BatchMode = 'query'

  /** `db` must have safe integers on by default and the determinism overrides installed. */
  constructor(db: SqliteDatabase, determinism: Determinism) {
    this.#db = db
    this.#determinism = determinism
    this.#lastInsertRowid = db.prepare('SELECT last_insert_rowid()').pluck()
    this.#appliedIndex = ensureMetaTable(db)
  }

  get appliedIndex(): number {
    return this.#appliedIndex
  }

  /**
   * Runs `batch` and returns one result per non-empty element (an element that is only whitespace or
   * comments gets no slot, as in rqlite). SQL errors are results; exceptions mean a bug or an I/O failure.
   */
  run(batch: readonly WireStatement[], options: RunOptions): StatementResult[] {
    this.#qualifyColumns = options.qualifyColumns === true && options.mode !== 'execute'
    this.#timed = options.discardResults !== true
    this.#mode = options.mode
    // Queries run only read-only statements (#runPiece refuses others), so only they keep the cache.
    if (options.mode !== 'query') this.#columnDetails = new WeakMap()
    try {
      return this.#run(batch, options)
    } finally {
      this.#qualifyColumns = false
      this.#timed = true
    }
  }

  #run(batch: readonly WireStatement[], options: RunOptions): StatementResult[] {
    const elements = batch.map(prepareElement).filter((element) => element.pieces.length > 0)
    if (options.mode === 'query') return this.#runQuery(elements, options.transaction)
    if (options.index !== undefined && options.index <= this.#appliedIndex) {
      throw new StaleIndexError(options.index, this.#appliedIndex)
    }
    const begin = (): void => {
      if (options.apply === undefined) this.#determinism.beginLocal()
      else this.#determinism.beginApply(options.apply.seed, options.apply.nowMs)
    }
    begin()
    const { mode, index } = options
    try {
      if (options.transaction) return this.#runTransactional(elements, mode, index)
      const needsAutocommit = elements.some((element) =>
        element.pieces.some((piece) => {
          const kind = statementKind(piece.leading)
          return kind === 'transactionControl' || kind === 'connectionChange'
        }),
      )
      if (!needsAutocommit) {
        const results = this.#runWrapped(elements, mode, index)
        if (results !== null) return results
        begin() // replay with the same random stream and time
      }
      return this.#runAutocommit(elements, mode, index)
    } finally {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK') // only after an exception: every path closes its own
    }
  }

  /** Replaces the recorded applied index (restore with an index). Autocommit; not inside a batch. */
  recordAppliedIndex(index: number): void {
    this.#writeIndex(index)
    this.#appliedIndex = index
  }

  #runQuery(elements: readonly PreparedElement[], transaction: boolean): StatementResult[] {
    this.#determinism.beginLocal()
    if (transaction) this.#db.exec('BEGIN')
    try {
      return elements.map((element) => this.#runElement(element, 'query', 'none'))
    } finally {
      // Nothing was written (writes are refused), so ending the read transaction with ROLLBACK loses nothing.
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK')
    }
  }

  #runTransactional(
    elements: readonly PreparedElement[],
    mode: BatchMode,
    index: number | undefined,
  ): StatementResult[] {
    const results: StatementResult[] = []
    this.#db.exec('BEGIN')
    let failed = false
    for (const element of elements) {
      const result = this.#runElement(element, mode, 'user')
      results.push(result)
      if ('error' in result) {
        failed = true
        break
      }
    }
    if (!failed) {
      if (index !== undefined) this.#writeIndex(index)
      const commitError = this.#tryCommit()
      if (commitError === null) {
        if (index !== undefined) this.#appliedIndex = index
        return results
      }
      // A deferred constraint failed at COMMIT: the whole transaction is undone; report it on the last slot.
      if (results.length > 0) results[results.length - 1] = commitError
    }
    if (this.#db.inTransaction) this.#db.exec('ROLLBACK')
    if (index !== undefined) this.recordAppliedIndex(index) // the entry was applied: its outcome is "failed"
    return results
  }

  /** Returns null when the batch transaction could not stand in for autocommit and was rolled back. */
  #runWrapped(
    elements: readonly PreparedElement[],
    mode: BatchMode,
    index: number | undefined,
  ): StatementResult[] | null {
    const results: StatementResult[] = []
    this.#db.exec('BEGIN')
    for (const element of elements) {
      const result = this.#runElement(element, mode, 'wrapped')
      results.push(result)
      // An error that rolled back the whole transaction also undid the earlier statements.
      if ('error' in result && !this.#db.inTransaction) return null
    }
    if (index !== undefined) this.#writeIndex(index)
    if (this.#tryCommit() !== null) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK')
      return null
    }
    if (index !== undefined) this.#appliedIndex = index
    return results
  }

  #runAutocommit(
    elements: readonly PreparedElement[],
    mode: BatchMode,
    index: number | undefined,
  ): StatementResult[] {
    assert(!this.#db.inTransaction, 'autocommit batch started inside a transaction')
    const results = elements.map((element) => this.#runElement(element, mode, 'none'))
    if (this.#db.inTransaction && this.#tryCommit() !== null && this.#db.inTransaction) {
      this.#db.exec('ROLLBACK')
    }
    if (index !== undefined) this.recordAppliedIndex(index)
    return results
  }

  #tryCommit(): ErrorResult | null {
    try {
      this.#db.exec('COMMIT')
      return null
    } catch (error) {
      if (isSqliteError(error)) return { error: error.message }
      throw error
    }
  }

  #writeIndex(index: number): void {
    const update = this.#statement(`UPDATE ${META_TABLE} SET applied_index = ?`)
    let changed = false
    try {
      changed = update.run(BigInt(index)).changes === 1
    } catch (error) {
      if (!isSqliteError(error)) throw error
    }
    if (changed) return
    // A user statement dropped or altered the table: rebuild it, the same way on every replica. CREATE TABLE AS
    // (unlike INSERT) leaves last_insert_rowid() alone, so the next result's last_insert_id is not disturbed.
    this.#db.exec(`DROP TABLE IF EXISTS ${META_TABLE}`)
    this.#db.exec(`CREATE TABLE ${META_TABLE} AS SELECT 1 AS id, ${index} AS applied_index`)
    this.#cache.clear()
    this.#last = undefined
  }

  /** Runs every piece of one element; the element's result is its last piece's, or the first error. */
  #runElement(element: PreparedElement, mode: BatchMode, transaction: BatchTransaction): StatementResult {
    // Two clock reads per statement were 3% of a follower's worker under bulk INSERTs, whose results it drops.
    if (!this.#timed) return this.#runPieces(element, mode, transaction)
    const started = performance.now()
    const result = this.#runPieces(element, mode, transaction)
    // rqlite's per-result `time`; error slots carry none. The caller drops it unless timings were asked for.
    if (!('error' in result)) (result as { time?: number }).time = (performance.now() - started) / 1000
    return result
  }

  #runPieces(element: PreparedElement, mode: BatchMode, transaction: BatchTransaction): StatementResult {
    let result: StatementResult = {}
    let positionalOffset = 0
    const pieces = element.pieces
    for (let i = 0; i < pieces.length; i++) {
      let piece = pieces[i]
      assert(piece !== undefined, 'piece index in range')
      for (;;) {
        const { args, consumed } = bindArguments(piece, element, positionalOffset, i === pieces.length - 1)
        result = this.#runPiece(piece, args, mode, transaction)
        const next = pieces[i + 1]
        // The splitter cut a trigger body short (END used as a name): join with the next piece and retry.
        if ('error' in result && result.error === 'incomplete input' && next !== undefined) {
          const sql = element.source.slice(piece.start, next.end)
          piece = { ...next, ...countParameters(sql), sql, start: piece.start, leading: piece.leading }
          i++
          continue
        }
        positionalOffset += consumed
        break
      }
      if ('error' in result) return result
    }
    return result
  }

  #runPiece(
    piece: SplitStatement,
    args: readonly SqliteBindArg[],
    mode: BatchMode,
    transaction: BatchTransaction,
  ): StatementResult {
    const kind = statementKind(piece.leading)
    // Not even prepared: SQLite applies many PRAGMA settings while compiling the statement.
    if (mode === 'query' && (kind === 'transactionControl' || kind === 'connectionChange')) {
      return { error: QUERY_WRITE_ERROR }
    }
    if (transaction === 'user' && kind === 'transactionControl') return { error: controlInTransaction(piece) }
    assert(
      transaction !== 'wrapped' || (kind !== 'transactionControl' && kind !== 'connectionChange'),
      'a batch with transaction control or connection changes must run in autocommit mode',
    )
    try {
      // Prepared before the query check, so a query with a syntax error or a missing table reports that.
      const statement = this.#statement(piece.sql, kind === 'read' || kind === 'other')
      if (mode === 'query' && !isQueryable(statement, kind, piece)) return { error: QUERY_WRITE_ERROR }
      if (!statement.reader) return executeResult(statement.run(...args))
      if (mode === 'execute' && statement.readonly) {
        // A read sent to /db/execute: run it for its effects and answer with the write shape, as rqlite does.
        statement.all(...args)
        return executeResult({ changes: 0, lastInsertRowid: this.#lastInsertRowid.get() as bigint })
      }
      const rows = statement.all(...args) as unknown[][]
      // rqlite qualifies only statements that are read-only (StmtReadOnly), so never a write's RETURNING.
      return queryResult(this.#columnsOf(statement), rows, this.#qualifyColumns && statement.readonly)
    } catch (error) {
      // better-sqlite3 raises SqliteError for SQL failures, RangeError/TypeError for binding mistakes.
      if (isSqliteError(error) || error instanceof RangeError || error instanceof TypeError) {
        return { error: error.message }
      }
      throw error
    }
  }

  /**
   * The statement's column names and declared types. Cached only while queries run: within any other batch
   * the schema may change between two runs of one statement (SQLite then re-prepares it on its next step).
   */
  #columnsOf(statement: SqliteStatement): ColumnDetails {
    if (this.#mode !== 'query') return columnDetails(statement.columns())
    const cached = this.#columnDetails.get(statement)
    if (cached !== undefined) return cached
    const details = columnDetails(statement.columns())
    this.#columnDetails.set(statement, details)
    return details
  }

  #statement(sql: string, isCacheable = true): SqliteStatement {
    if (!isCacheable) {
      const statement = this.#db.prepare(sql)
      if (statement.reader) statement.raw(true)
      return statement
    }
    // A bulk insert prepares the same text a thousand times in a row: skip the LRU bookkeeping for it.
    if (this.#last?.sql === sql) return this.#last.statement
    let statement = this.#cache.get(sql)
    if (statement !== undefined) {
      this.#cache.delete(sql) // re-insert below: Map order is the LRU order
    } else {
      statement = this.#db.prepare(sql)
      if (statement.reader) statement.raw(true)
    }
    setBounded(this.#cache, sql, statement, STATEMENT_CACHE_MAX)
    this.#last = { sql, statement }
    return statement
  }
}

/**
 * Creates the applied-index table when the database has none (a fresh database, or an image from outside),
 * and returns the recorded index.
 */
function ensureMetaTable(db: SqliteDatabase): number {
  const exists = db
    .prepare(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '${META_TABLE}'`)
    .pluck()
    .get()
  if (exists === 0n || exists === 0) {
    db.exec(`CREATE TABLE ${META_TABLE} AS SELECT 1 AS id, 0 AS applied_index`)
    return 0
  }
  try {
    const value = db.prepare(`SELECT applied_index FROM ${META_TABLE}`).pluck().get()
    if (typeof value === 'bigint' || typeof value === 'number') return Number(value)
  } catch (error) {
    if (!isSqliteError(error)) throw error
  }
  return 0
}

/** A query may run statements that only read: reads by kind and by SQLite's own verdict (EXPLAIN runs nothing). */
function isQueryable(statement: SqliteStatement, kind: StatementKind, piece: SplitStatement): boolean {
  return kind === 'read' && statement.reader && (statement.readonly || piece.leading[0] === 'EXPLAIN')
}

function controlInTransaction(piece: SplitStatement): string {
  return piece.leading[0] === 'BEGIN'
    ? 'cannot start a transaction within a transaction'
    : `cannot ${piece.leading[0] === 'ROLLBACK' ? 'roll back' : 'commit'} inside a transaction batch; the batch commits or rolls back as a whole`
}

/**
 * The arguments for one piece. Positional values bind by position, as rqlite (go-sqlite3) binds them: the
 * piece's unnamed indices (`?`, `?N`, and gaps below a `?N`), in order, take the next positional values;
 * better-sqlite3 wants plain `?` values as arguments and `?N` values in the object under key "N". Named
 * parameters come from the element's named values. The last piece also gets any surplus values, so
 * better-sqlite3 reports "Too many parameter values were provided" as rqlite reports a mismatch.
 */
function bindArguments(
  piece: SplitStatement,
  element: PreparedElement,
  offset: number,
  isLast: boolean,
): { args: readonly SqliteBindArg[]; consumed: number } {
  const names = piece.parameterNames
  // The common case (one piece, plain `?` only): the element's values as they are, without a copy. The
  // loop below would bind the same: each `?` the next value, the surplus after them.
  if (isLast && offset === 0 && onlyPlainPlaceholders(names)) {
    return { args: element.positional, consumed: Math.max(names.length, element.positional.length) }
  }
  const args: SqliteBindArg[] = []
  const object: Record<string, SqliteBindValue> = {}
  let hasNames = false
  let next = offset
  for (const name of names) {
    if (name === null || name.startsWith('?')) {
      const value = element.positional[next]
      if (name === null) {
        if (value !== undefined) args.push(value)
      } else {
        hasNames = true
        if (value !== undefined) object[name.slice(1)] = value
      }
      next++
      continue
    }
    hasNames = true
    const key = name.slice(1)
    const named = element.named
    if (named !== undefined && Object.hasOwn(named, key)) object[key] = named[key] ?? null
  }
  if (isLast) while (next < element.positional.length) args.push(element.positional[next++] ?? null)
  if (hasNames) args.push(object)
  return { args, consumed: next - offset }
}

function onlyPlainPlaceholders(names: ReadonlyArray<string | null>): boolean {
  for (let i = 0; i < names.length; i++) if (names[i] !== null) return false
  return true
}

/**
 * Split results of recent SQL texts. A bulk insert sends the same text a thousand times per request, and
 * splitting it again each time was a fifth of the worker's time; pieces are never modified, so they can be
 * shared. Long texts (a loaded dump) are not kept.
 */
const splitCache = new Map<string, readonly SplitStatement[]>()
const SPLIT_CACHE_MAX = 4096
const SPLIT_CACHE_SQL_MAX = 4096
let lastSplit: { readonly sql: string; readonly pieces: readonly SplitStatement[] } | undefined

function splitOnce(sql: string): readonly SplitStatement[] {
  if (sql.length > SPLIT_CACHE_SQL_MAX) return splitStatements(sql)
  // A bulk insert repeats one text a thousand times, each a string of its own (decoded from the entry):
  // comparing it with the last is cheaper than hashing it for the map (5% of a bulk batch's time).
  if (lastSplit !== undefined && lastSplit.sql === sql) return lastSplit.pieces
  let pieces = splitCache.get(sql)
  if (pieces === undefined) {
    pieces = splitStatements(sql)
    setBounded(splitCache, sql, pieces, SPLIT_CACHE_MAX)
  }
  lastSplit = { sql, pieces }
  return pieces
}

/** Sets `key` last in `map`'s order, first dropping the oldest entry when the map is full. */
function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  if (!map.has(key) && map.size >= max) {
    const oldest = map.keys().next()
    if (oldest.done !== true) map.delete(oldest.value)
  }
  map.set(key, value)
}

function prepareElement(statement: WireStatement): PreparedElement {
  const named = statement.named
  return {
    source: statement.sql,
    pieces: splitOnce(statement.sql),
    positional: statement.positional.map(toBindValue),
    named:
      named === undefined
        ? undefined
        : Object.fromEntries(Object.entries(named).map(([name, value]) => [name, toBindValue(value)])),
  }
}

/**
 * rqlite binds a JSON integer as INTEGER and other numbers as REAL; better-sqlite3 binds every `number` as
 * REAL, so integral numbers become `bigint`s here. Booleans bind as 1/0 and byte arrays as BLOBs.
 */
function toBindValue(value: ParamValue): SqliteBindValue {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : value
  if (typeof value === 'boolean') return value ? 1n : 0n
  if (value instanceof Uint8Array && !Buffer.isBuffer(value)) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  }
  return value
}

function toSqlValue(value: unknown): SqlValue {
  if (typeof value === 'bigint') return exactInteger(value)
  if (value === null || typeof value === 'number' || typeof value === 'string' || Buffer.isBuffer(value)) {
    return value
  }
  throw new TypeError(`unexpected value from SQLite: ${typeof value}`)
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** A `number` when it is exact as one, else the `bigint`. */
function exactInteger(value: bigint): number | bigint {
  return value >= -MAX_SAFE && value <= MAX_SAFE ? Number(value) : value
}

/** rqlite omits zero fields (Go `omitempty`). */
function executeResult(run: { changes: number; lastInsertRowid: number | bigint }): ExecuteResult {
  const id = run.lastInsertRowid
  const lastInsertId = typeof id === 'bigint' ? exactInteger(id) : id
  const result: { last_insert_id?: number | bigint; rows_affected?: number } = {}
  if (lastInsertId !== 0) result.last_insert_id = lastInsertId
  if (run.changes !== 0) result.rows_affected = run.changes
  return result
}

/** What a query result needs from `columns()`, which builds five strings per column on each call. */
interface ColumnDetails {
  readonly names: readonly string[]
  /** `table.name` where the column has an origin table (`qualify_columns`). */
  readonly qualifiedNames: readonly string[]
  /** Declared types in lower case; null where there is none (an expression), typed then by the first row. */
  readonly declaredTypes: readonly (string | null)[]
  /** `declaredTypes` when every column has one: shared by the results (each is cloned when posted). */
  readonly types: readonly string[] | undefined
}

function columnDetails(columns: readonly SqliteColumn[]): ColumnDetails {
  const names = columns.map((column) => column.name)
  const qualifiedNames = columns.map((column) =>
    column.table !== null && column.table !== '' ? `${column.table}.${column.name}` : column.name,
  )
  const declaredTypes = columns.map((column) =>
    column.type !== null && column.type !== '' ? column.type.toLowerCase() : null,
  )
  const types = declaredTypes.every((type): type is string => type !== null) ? declaredTypes : undefined
  return { names, qualifiedNames, declaredTypes, types }
}

/**
 * `types`: the declared type lower-cased; for an expression (no declared type) rqlite reports the storage
 * class of the first row's value (`COUNT(*)` → "integer"), or "" when there is no row or the value is NULL.
 *
 * `qualify`: rqlite's `qualify_columns` (db.go `qualifyRowColumns`): a column with an origin table
 * (`sqlite3_column_table_name`) is named `table.name`, where `name` is the result column's name, so an
 * alias is kept (`SELECT x AS y FROM t` → `t.y`); an expression keeps its plain name.
 */
function queryResult(details: ColumnDetails, rows: readonly unknown[][], qualify: boolean): QueryResult {
  const first = rows[0]
  const types =
    details.types ?? details.declaredTypes.map((type, i) => type ?? storageClass(first?.[i] ?? null))
  const columns = qualify ? details.qualifiedNames : details.names
  if (rows.length === 0) return { columns, types }
  return { columns, types, values: rows.map((row) => row.map(toSqlValue)) }
}

/** The storage class of a value as better-sqlite3 returns it under safe integers (INTEGER is a bigint). */
function storageClass(value: unknown): string {
  if (typeof value === 'bigint') return 'integer'
  if (typeof value === 'number') return 'real'
  if (typeof value === 'string') return 'text'
  if (Buffer.isBuffer(value)) return 'blob'
  return ''
}
