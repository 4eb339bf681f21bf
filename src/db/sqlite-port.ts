/**
 * The slice of better-sqlite3@12 that `src/db` uses, declared by the consumer (like kysely's
 * `SqliteDatabase`). Only `worker.ts` touches the real module; everything else is written against these
 * types, and `worker.ts` assigns the real constructor to `SqliteOpen`, so the compiler checks that the
 * real library still satisfies this port.
 *
 * Facts this code relies on (dependencies.md §1): `prepare()` rejects a string with more than one statement;
 * `reader` is true when the statement returns rows and `readonly` is `sqlite3_stmt_readonly()`; under
 * safe integers every INTEGER comes back as a `bigint`; BLOBs come back as `Buffer`s; a JS `number` binds
 * as REAL and a `bigint` as INTEGER; an application function overrides a built-in of the same name.
 */

/** Values better-sqlite3 accepts as bound parameters. */
export type SqliteBindValue = null | number | bigint | string | Buffer

/** What a bound call takes: positional values, optionally plus one object of named values. */
export type SqliteBindArg = SqliteBindValue | { readonly [name: string]: SqliteBindValue }

/** What a user-defined function receives and may return (with `safeIntegers: true`). */
export type SqliteFunctionValue = null | number | bigint | string | Buffer

export interface SqliteColumn {
  readonly name: string
  /** The declared type as written in the schema (`"VARCHAR(20)"`), or null for an expression. */
  readonly type: string | null
  /**
   * `sqlite3_column_table_name()`: the table the column's value comes from, traced through views and
   * subqueries; null for an expression. Needs SQLITE_ENABLE_COLUMN_METADATA (on in better-sqlite3's build).
   */
  readonly table: string | null
}

export interface SqliteRunResult {
  /** Rows changed by this statement (0 when the statement changed nothing, e.g. DDL). */
  readonly changes: number
  /** `sqlite3_last_insert_rowid()` of the connection after the statement. */
  readonly lastInsertRowid: number | bigint
}

export interface SqliteStatement {
  readonly reader: boolean
  readonly readonly: boolean
  run(...params: SqliteBindArg[]): SqliteRunResult
  get(...params: SqliteBindArg[]): unknown
  all(...params: SqliteBindArg[]): unknown[]
  /** Steps row by row, so a dump of a big table never holds all of its rows. */
  iterate(...params: SqliteBindArg[]): IterableIterator<unknown>
  raw(toggle?: boolean): this
  pluck(toggle?: boolean): this
  safeIntegers(toggle?: boolean): this
  columns(): SqliteColumn[]
}

export interface SqliteFunctionOptions {
  readonly varargs?: boolean
  readonly deterministic?: boolean
  readonly safeIntegers?: boolean
  readonly directOnly?: boolean
}

export interface SqliteDatabase {
  readonly inTransaction: boolean
  readonly memory: boolean
  prepare(sql: string): SqliteStatement
  exec(sql: string): this
  // better-sqlite3 calls `fn` with the SQL arguments; their types depend on the SQL, so they are checked
  // inside each function, not here.
  function(
    name: string,
    options: SqliteFunctionOptions,
    fn: (...args: SqliteFunctionValue[]) => SqliteFunctionValue,
  ): this
  defaultSafeIntegers(toggle?: boolean): this
  serialize(): Buffer
  close(): this
}

export interface SqliteOpenOptions {
  /** Path to the compiled addon, or undefined to let better-sqlite3 find it (for the SEA build later). */
  readonly nativeBinding?: string
}

/** Opens a database: a file path, `':memory:'`, or a serialized image (deserialized into memory). */
export type SqliteOpen = (filename: string | Buffer, options?: SqliteOpenOptions) => SqliteDatabase

/** True for errors raised by SQLite itself (better-sqlite3's `SqliteError`, `code` like `SQLITE_ERROR`). */
export function isSqliteError(error: unknown): error is Error & { readonly code: string } {
  return (
    error instanceof Error &&
    error.name === 'SqliteError' &&
    typeof (error as { code?: unknown }).code === 'string'
  )
}
