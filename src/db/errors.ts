import { TqliteError } from '../util/errors.js'

/**
 * Typed errors of `src/db` (style.md §2.4): operating errors a caller can act on, each with a stable
 * `code`. A SQL statement that fails is NOT one of these: it is data, reported in that statement's result
 * slot as `{ error: "..." }`. These errors are about the request or the database handle itself.
 */

export type DbErrorCode =
  /** The handle was closed (by `close()`), or is closing; the request was not run. */
  | 'TQ_ERR_DB_CLOSED'
  /** The worker thread died or could not start; the handle is unusable and must be reopened. */
  | 'TQ_ERR_DB_WORKER_FAILED'
  /** The SQLite database could not be opened (bad path, not a database, permissions). */
  | 'TQ_ERR_DB_OPEN_FAILED'
  /** A statement in the batch does not have the rqlite shape (string, or `[sql, ...params]`). */
  | 'TQ_ERR_DB_BAD_STATEMENT'
  /** Request options are invalid (seed, nowMs, index out of range or of the wrong type). */
  | 'TQ_ERR_DB_BAD_OPTIONS'
  /** `restore()` was given bytes that are not a usable SQLite database image; nothing was changed. */
  | 'TQ_ERR_DB_BAD_IMAGE'
  /** `execute(..., { index })` with an index that is not above the applied index; nothing was run. */
  | 'TQ_ERR_DB_STALE_INDEX'
  /** An unexpected exception inside the worker while running a request (a bug, or SQLite I/O failure). */
  | 'TQ_ERR_DB_INTERNAL'

/** Base class of every `src/db` error; match on `code` or `instanceof`, never on the message. */
export class DbError extends TqliteError<DbErrorCode> {}

/** A batch element is malformed; `statementIndex` is its position in the batch as given. */
export class BadStatementError extends DbError {
  readonly statementIndex: number

  constructor(statementIndex: number, reason: string) {
    super('TQ_ERR_DB_BAD_STATEMENT', `statement ${statementIndex}: ${reason}`)
    this.statementIndex = statementIndex
  }
}

/**
 * A batch was offered with a Raft index at or below the one already recorded in the database: applying it
 * would apply an entry twice. The store must skip it (or it has a bug). Nothing was executed.
 */
export class StaleIndexError extends DbError {
  readonly index: number
  readonly appliedIndex: number

  constructor(index: number, appliedIndex: number) {
    super('TQ_ERR_DB_STALE_INDEX', `index ${index} is not above the applied index ${appliedIndex}`)
    this.index = index
    this.appliedIndex = appliedIndex
  }
}

/** The plain-data form of a `DbError` that crosses the worker boundary (structured clone drops classes). */
export interface DbErrorData {
  readonly code: DbErrorCode
  readonly message: string
  readonly statementIndex?: number
  readonly index?: number
  readonly appliedIndex?: number
}

export function dbErrorToData(error: DbError): DbErrorData {
  if (error instanceof StaleIndexError) {
    return { code: error.code, message: error.message, index: error.index, appliedIndex: error.appliedIndex }
  }
  return { code: error.code, message: error.message }
}

/** Rebuilds the typed error on the main thread, so `instanceof` works for callers. */
export function dbErrorFromData(data: DbErrorData): DbError {
  if (data.code === 'TQ_ERR_DB_STALE_INDEX' && data.index !== undefined && data.appliedIndex !== undefined) {
    return new StaleIndexError(data.index, data.appliedIndex)
  }
  return new DbError(data.code, data.message)
}
