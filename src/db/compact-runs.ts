/**
 * The compact form in which `run` requests and their results cross between the main thread and the db
 * worker: tuples and bare strings instead of objects.
 *
 * Why: structured clone writes every object's property names and rebuilds each object key by key on the
 * other side. A point read's request and reply cost about 7 µs of cloning between the two threads (in
 * process, `v8.serialize`/`deserialize` of 30 of them at a time, three rounds: a request 1.0–1.8 µs to write
 * and 2.9–4.4 µs to read, a reply 1.4–1.7 µs and 3.6–3.9 µs), where the read itself takes about 5 µs in the
 * executor. As tuples: a request 0.3–0.6 / 0.5–0.9 µs, a reply 0.9–1.6 µs to write and 1.9–2.8 µs to read and
 * turn back into objects. Objects shared by several requests (the options of every plain read) are written once
 * per message: structured clone keeps identity. Through `Database` (the real worker), both forms loaded in one
 * process and alternated, 12 rounds of 1,500 turns of 30 point reads, four runs: the worker's CPU per read
 * 15.7 / 17.2 / 14.2 / 17.5 → 13.8 / 15.9 / 12.7 / 15.1 µs, the main thread's 12.9 / 14.6 / 11.5 / 15.0 →
 * 12.0 / 14.1 / 10.8 / 13.2 µs (docs/benchmarks.md; on a cluster the change is below the noise of runs).
 */
import type { RunOptions, WireStatement } from './executor.js'
import type { CompactRunReply, WorkerReply, WorkerRequest } from './protocol.js'
import type { NamedParams, ParamValue, QueryResult, SqlValue, StatementResult } from './types.js'

export type RunRequest = Extract<WorkerRequest, { type: 'run' }>

/** A statement: its SQL alone when it has no parameters, else SQL, positional values and named ones. */
export type CompactStatement =
  | string
  | readonly [sql: string, positional: readonly ParamValue[]]
  | readonly [sql: string, positional: readonly ParamValue[], named: NamedParams]

/** A `run` request: the statements, or the batch still in msgpack (`PackedBatch`). */
export type CompactRun = readonly [
  id: number,
  options: RunOptions,
  statements: readonly CompactStatement[] | Uint8Array,
]

/** A query result as a tuple (`undefined`: the field is absent); other results stay objects. */
export type CompactResult =
  | readonly [
      columns: readonly string[],
      types: readonly string[],
      values: ReadonlyArray<readonly SqlValue[]> | undefined,
      time: number | undefined,
    ]
  | Exclude<StatementResult, QueryResult>

export function compactRun(request: RunRequest): CompactRun {
  if ('packed' in request) return [request.id, request.options, request.packed]
  return [request.id, request.options, request.batch.map(compactStatement)]
}

export function expandRun([id, options, statements]: CompactRun): RunRequest {
  if (statements instanceof Uint8Array) return { type: 'run', id, packed: statements, options }
  return { type: 'run', id, batch: statements.map(expandStatement), options }
}

function compactStatement(statement: WireStatement): CompactStatement {
  const { sql, positional, named } = statement
  if (named !== undefined) return [sql, positional, named]
  return positional.length === 0 ? sql : [sql, positional]
}

const noValues: readonly ParamValue[] = Object.freeze([])

function expandStatement(statement: CompactStatement): WireStatement {
  if (typeof statement === 'string') return { sql: statement, positional: noValues }
  const [sql, positional, named] = statement
  return named === undefined ? { sql, positional } : { sql, positional, named }
}

export function compactResults(results: readonly StatementResult[]): CompactResult[] {
  return results.map((result) =>
    'columns' in result ? [result.columns, result.types, result.values, result.time] : result,
  )
}

export function expandResults(results: readonly CompactResult[]): StatementResult[] {
  return results.map((result) => {
    if (!Array.isArray(result)) return result as Exclude<StatementResult, QueryResult>
    const [columns, types, values, time] = result as Extract<CompactResult, readonly unknown[]>
    const query: {
      columns: readonly string[]
      types: readonly string[]
      values?: typeof values
      time?: number
    } = { columns, types }
    if (values !== undefined) query.values = values
    if (time !== undefined) query.time = time
    return query
  })
}

/** Compact replies are the only arrays the worker posts. */
export function isCompactRunReply(message: WorkerReply | CompactRunReply): message is CompactRunReply {
  return Array.isArray(message)
}
