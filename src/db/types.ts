/**
 * The data that goes into and comes out of `Database`: rqlite's statement grammar and result shapes
 * (rqlite-reference.md §1.3 and §1.6). Field names are rqlite's wire names on purpose, so the HTTP layer
 * can serialise results without renaming.
 */

/**
 * A value read from SQLite. INTEGER is a `number` when it is within ±(2^53 − 1) and a `bigint` otherwise,
 * so every int64 is exact; REAL is a `number`; TEXT a `string`; BLOB a `Buffer`; NULL `null`.
 *
 * Serialising to JSON: `JSON.stringify` throws on `bigint`. Write a `bigint` as its bare decimal digits
 * (`value.toString()`, unquoted) so the JSON number is exact, as rqlite emits int64; write a `Buffer` as
 * base64 (or an array of byte values for rqlite's `blob_array`).
 */
export type SqlValue = null | number | bigint | string | Buffer

/**
 * A value bound to a statement parameter. Integral `number`s and `bigint`s bind as INTEGER (as rqlite binds
 * a JSON integer literal), other numbers as REAL, `boolean` as 1/0, `Uint8Array`/`Buffer` as BLOB.
 */
export type ParamValue = null | number | bigint | string | boolean | Uint8Array

/** Named parameters, keyed by name without the `:`, `@` or `$` prefix (rqlite's form). */
export type NamedParams = { readonly [name: string]: ParamValue }

/**
 * One element of a batch: a SQL string (which may hold several `;`-separated statements), or an array of the
 * SQL string followed by positional values and/or objects of named values.
 */
export type Statement = string | readonly [sql: string, ...params: ReadonlyArray<ParamValue | NamedParams>]

export type Batch = readonly Statement[]

/**
 * Result of a statement that does not return rows. Zero values are omitted, as rqlite's Go structs do
 * (`omitempty`): a `CREATE TABLE` on a fresh connection gives `{}`. `last_insert_id` is SQLite's
 * `last_insert_rowid()` for the connection, so it carries over from earlier inserts, as in rqlite.
 */
export interface ExecuteResult {
  readonly last_insert_id?: number | bigint
  readonly rows_affected?: number
  /** Seconds SQLite spent on the statement; only with the `timings` option (rqlite's per-result `time`). */
  readonly time?: number
}

/**
 * Result of a statement that returns rows (a query, or a write with `RETURNING`). `values` is omitted
 * when there are no rows; `types` holds the lower-cased declared types.
 */
export interface QueryResult {
  readonly columns: readonly string[]
  readonly types: readonly string[]
  readonly values?: ReadonlyArray<readonly SqlValue[]>
  /** Seconds SQLite spent on the statement; only with the `timings` option. */
  readonly time?: number
}

/** A statement that failed. This is data, not an exception; the message is SQLite's. */
export interface ErrorResult {
  readonly error: string
}

export type StatementResult = ExecuteResult | QueryResult | ErrorResult

export function isErrorResult(result: StatementResult): result is ErrorResult {
  return 'error' in result
}

export function isQueryResult(result: StatementResult): result is QueryResult {
  return 'columns' in result
}

/**
 * The random seed the leader fixes for one log entry: a u32 `number` (mixed with `nowMs`), or 16 bytes
 * used as the whole 128-bit generator state. Prefer 16 bytes: with a u32, two entries stamped with the same
 * millisecond share a stream with probability 2^-32, and `randomblob()` values would repeat.
 */
export type Seed = number | Uint8Array

/** Options of `Database.execute`: the apply path of a committed Raft entry. */
export interface ExecuteOptions {
  /** Run the batch as one transaction: stop at the first error and roll everything back. */
  readonly transaction?: boolean
  /** Keep each successful result's `time` (seconds spent in SQLite). */
  readonly timings?: boolean
  /** Leader-fixed seed of `random()` and `randomblob()` for this batch. */
  readonly seed: Seed
  /** Leader-fixed wall-clock time (ms since the Unix epoch, UTC) that `'now'` means in this batch. */
  readonly nowMs: number
  /**
   * The Raft index of the entry; recorded in the database in the same transaction as the batch's
   * changes, and must be above the recorded one. Omit it to run without recording (tests, tools).
   */
  readonly index?: number
  /**
   * Nobody reads the results (a replica applying an entry no client waits for): the batch runs the same,
   * but the worker answers with an empty list instead of shipping one result per statement.
   */
  readonly discardResults?: boolean
}

/** Options of `Database.query`: a local read-only read with the real clock. */
export interface QueryOptions {
  /** Run all statements inside one read transaction (one consistent view). */
  readonly transaction?: boolean
  /** Keep each successful result's `time` (seconds spent in SQLite). */
  readonly timings?: boolean
  /**
   * rqlite's `qualify_columns`: in the result of a read-only statement, a column that comes from a table is
   * named `table.name` (`SELECT * FROM a JOIN b …` → `a.id`, `b.id`). `name` is the result column's name, so
   * an alias stays (`SELECT x AS y FROM t` → `t.y`); the table is the origin table, traced through views and
   * subqueries; an expression keeps its plain name. Default false: names as SQLite gives them.
   */
  readonly qualifyColumns?: boolean
}

/**
 * Options of `Database.request`: statements that return rows are answered as queries, the rest as executes.
 * When the request goes through Raft, pass `seed`, `nowMs` and `index` as for `execute`; a purely local
 * request may omit them and then uses the real clock and a fresh random seed.
 */
export interface RequestOptions {
  readonly transaction?: boolean
  /** Keep each successful result's `time` (seconds spent in SQLite). */
  readonly timings?: boolean
  readonly seed?: Seed
  readonly nowMs?: number
  readonly index?: number
  /**
   * rqlite's `qualify_columns`, as for `query`: column names of read-only statements become `table.name`.
   * Never applied to a write's `RETURNING` rows (rqlite qualifies only statements SQLite calls read-only).
   * It changes only the answer, never the database, so an applied request may pass it on any replica.
   */
  readonly qualifyColumns?: boolean
  /**
   * Nobody reads the results (a replica applying an entry no client waits for): the batch runs the same,
   * but the worker answers with an empty list instead of shipping one result per statement.
   */
  readonly discardResults?: boolean
}

/** Options of `Database.restore`. */
export interface RestoreOptions {
  /**
   * Record this applied index in the restored database (for loading a plain SQLite file through the log).
   * Omitted: the image keeps the applied index it carries (0 for an image that has none).
   */
  readonly index?: number
  /** Transfer (detach) the caller's buffer to the worker instead of copying it. */
  readonly transfer?: boolean
}

/** Options of `Database.dump`. */
export interface DumpOptions {
  /**
   * Only these tables, with their indexes and triggers (and the views named here). Names compare as SQLite
   * compares identifiers (ASCII case-insensitive); a name that matches nothing is simply absent, as in rqlite.
   */
  readonly tables?: readonly string[]
  /**
   * Progress of a long dump, reported from the worker about every 100 000 rows and after each table. Called
   * on the main thread; the dump itself never waits for it.
   */
  readonly onProgress?: (rowsDumped: number, tablesDone: number, tablesTotal: number) => void
}

/** Options of `Database.serialize`. */
export interface SerializeOptions {
  /**
   * A VACUUMed copy (`VACUUM INTO` a temporary file): no free pages, smaller. The live database is unchanged.
   */
  readonly vacuum?: boolean
  /**
   * Header bytes 18–19 of the image: `'delete'` (1, legacy rollback journal; the default, which any SQLite
   * opens, also in memory) or `'wal'` (2, what an on-disk rqlite database is in). `restore` accepts both.
   */
  readonly journalMode?: 'wal' | 'delete'
}
