/**
 * Messages between `Database` (main thread) and `worker.ts`. Structured clone carries them: `bigint`s
 * survive, class instances do not (errors travel as `DbErrorData`), and a `Buffer` arrives as a plain
 * `Uint8Array`, which the receiver turns back into a `Buffer` without copying.
 */

import type { CompactResult, CompactRun } from './compact-runs.js'
import type { DbErrorData } from './errors.js'
import type { RunOptions, WireStatement } from './executor.js'
import type { PackedResults } from './packed-results.js'
import type { StatementResult } from './types.js'

/** `workerData` of the db worker. */
export interface WorkerConfig {
  /** File path for on-disk mode, or null for an in-memory database. */
  readonly path: string | null
  readonly foreignKeys: boolean
  readonly nativeBinding?: string
}

export type WorkerRequest =
  | {
      readonly id: number
      readonly type: 'run'
      readonly batch: readonly WireStatement[]
      readonly options: RunOptions
    }
  /** A batch still in msgpack (`PackedBatch`): the worker decodes and checks it. */
  | { readonly id: number; readonly type: 'run'; readonly packed: Uint8Array; readonly options: RunOptions }
  | {
      readonly id: number
      readonly type: 'serialize'
      readonly vacuum?: boolean
      readonly journalMode?: 'wal' | 'delete'
      /** Bytes placed before the image in the same buffer (the Raft snapshot's header). */
      readonly prefix?: Uint8Array
      /** Post `captured` as soon as the image is taken, before it is copied out. */
      readonly announceCapture?: boolean
    }
  | { readonly id: number; readonly type: 'dump'; readonly tables?: readonly string[] }
  | { readonly id: number; readonly type: 'restore'; readonly image: Uint8Array; readonly index?: number }
  | { readonly id: number; readonly type: 'appliedIndex' }
  | { readonly id: number; readonly type: 'close' }

/**
 * What the main thread posts: one request, or the `run` requests gathered in one event-loop turn (the
 * statements of one Raft apply, concurrent reads) in compact form (`compact-runs.ts`). One message instead of
 * many: each postMessage costs the main thread a structured clone and a wake-up of the worker, which the
 * profile showed per request.
 */
export type WorkerMessage = WorkerRequest | { readonly type: 'runs'; readonly runs: readonly CompactRun[] }

/** The successful answer to a `run` request whose results are a list (not packed), in compact form. */
export type CompactRunReply = readonly [id: number, results: readonly CompactResult[]]

/** What each request answers with. */
export interface WorkerReplyValues {
  /** Long write batches come packed (`packed-results.ts`); `Database` unpacks them. */
  readonly run: StatementResult[] | PackedResults
  readonly serialize: Uint8Array
  readonly dump: string
  readonly restore: number
  readonly appliedIndex: number
  readonly close: null
}

export type WorkerReply =
  /** The replies to a `runs` message, in order (possibly split into several such messages). */
  | { readonly type: 'replies'; readonly replies: readonly (WorkerReply | CompactRunReply)[] }
  | { readonly type: 'ready'; readonly sqliteVersion: string; readonly appliedIndex: number }
  | { readonly type: 'openFailed'; readonly error: DbErrorData }
  | { readonly type: 'reply'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly type: 'reply'; readonly id: number; readonly ok: false; readonly error: DbErrorData }
  /**
   * Sent for a `serialize` with `announceCapture` once the image is taken: requests after it no longer
   * change it, although the image is still being copied out (between those requests) before the reply.
   */
  | { readonly type: 'captured'; readonly id: number }
  /** Sent while request `id` (a dump) is still running; the worker does not wait for it to be read. */
  | {
      readonly type: 'progress'
      readonly id: number
      readonly rowsDumped: number
      readonly tablesDone: number
      readonly tablesTotal: number
    }
