import { TqliteError } from '../util/errors.js'

/**
 * Typed errors of `src/storage` (style.md §2.4): operating errors a caller can act on, each with a stable
 * `code`. Broken invariants (a save that would leave a gap in the log, for example) are not here: they are
 * programmer errors and throw `AssertionError` from `src/util/assert.ts`.
 */

export type StorageErrorCode =
  | 'TQ_ERR_STORAGE_CORRUPT'
  | 'TQ_ERR_STORAGE_DECODE'
  | 'TQ_ERR_STORAGE_DISK_FULL'
  | 'TQ_ERR_STORAGE_FAILED'
  | 'TQ_ERR_STORAGE_CLOSED'

/** Base class of every storage error; match on `code` or `instanceof`, never on the message. */
export class StorageError extends TqliteError<StorageErrorCode> {}

/**
 * Data that was durably written (before the last synced offset, or in a file that was fsynced before it was
 * referenced) cannot be read back. The node must stop: continuing would silently lose acknowledged state.
 * An operator restores the node from a peer (or from a backup) after inspecting `file` at `offset`.
 */
export class CorruptLogError extends StorageError {
  readonly file: string
  /** Byte offset in `file` of the first record that cannot be trusted. */
  readonly offset: number
  readonly reason: string

  constructor(
    fields: { readonly file: string; readonly offset: number; readonly reason: string },
    cause?: unknown,
  ) {
    super('TQ_ERR_STORAGE_CORRUPT', `corrupt ${fields.file} at offset ${fields.offset}: ${fields.reason}`, {
      cause,
    })
    this.file = fields.file
    this.offset = fields.offset
    this.reason = fields.reason
  }
}

/** Bytes that passed their checksum do not decode as the expected structure (`what`). */
export class DecodeError extends StorageError {
  readonly what: string

  constructor(what: string, reason: string) {
    super('TQ_ERR_STORAGE_DECODE', `cannot decode ${what}: ${reason}`)
    this.what = what
  }
}

/**
 * A write failed with ENOSPC. Nothing of the failed call was acknowledged, the in-memory view is unchanged and
 * the files were rolled back to the last acknowledged state, so the call may be retried once space is freed.
 */
export class DiskFullError extends StorageError {
  constructor(cause: unknown) {
    super('TQ_ERR_STORAGE_DISK_FULL', 'disk full: the write was rolled back and not acknowledged', { cause })
  }
}

/**
 * The store hit an error it cannot recover from in-process (a failed fsync, an I/O error on a write, a failed
 * rollback). A failed fsync is never retried: the kernel may already have dropped the dirty pages
 * ("fsyncgate"). Every later call throws this error; the process should stop and recover on restart.
 */
export class StorageFailedError extends StorageError {
  constructor(message: string, cause: unknown) {
    super('TQ_ERR_STORAGE_FAILED', message, { cause })
  }
}

/** The store was closed; no further calls are allowed. */
export class StorageClosedError extends StorageError {
  constructor() {
    super('TQ_ERR_STORAGE_CLOSED', 'the log store is closed')
  }
}

/** An error from the file system layer with a Node-style `code` (ENOSPC, EIO, ENOENT, ...). */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined
  const { code } = error
  return typeof code === 'string' ? code : undefined
}
