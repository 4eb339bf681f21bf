/**
 * The results of a long write batch as one `Float64Array`, for the worker's answer to the main thread.
 *
 * Structured clone copies objects one property at a time, on both threads: for a 1,000-row bulk INSERT the
 * worker spent 0.17 ms serializing the thousand `{ last_insert_id, rows_affected, time }` objects and the
 * leader's main thread 0.38 ms deserializing them (v8.serialize/deserialize of that array, in process), on
 * the thread that also answers HTTP and drives Raft. Three numbers per slot in a transferred buffer cost
 * neither: the main thread builds the objects again, which V8 does quickly for objects of one shape.
 */

import type { StatementResult } from './types.js'

/**
 * Batches with fewer results are answered as they are, so single-row writes and small batches keep the plain
 * path. The value is a choice, not a measured break-even: only 1,000-row batches were measured.
 */
export const packedResultsMin = 32

/** Three numbers per slot: last_insert_id and rows_affected (0 when omitted), time (NaN when omitted). */
export interface PackedResults {
  readonly packedResults: Float64Array
}

/**
 * `results` packed, or undefined when a slot is not an execute result that packs exactly: an error, rows,
 * a `last_insert_id` beyond ±2^53 (a bigint), or when there are fewer than `packedResultsMin` slots.
 */
export function packResults(results: readonly StatementResult[]): PackedResults | undefined {
  if (results.length < packedResultsMin) return undefined
  const packed = new Float64Array(results.length * 3)
  for (let i = 0; i < results.length; i++) {
    const result = results[i] as {
      readonly last_insert_id?: unknown
      readonly rows_affected?: unknown
      readonly time?: unknown
      readonly error?: unknown
      readonly columns?: unknown
    }
    if (result.error !== undefined || result.columns !== undefined) return undefined
    const id = result.last_insert_id ?? 0
    const rows = result.rows_affected ?? 0
    const time = result.time
    if (typeof id !== 'number' || typeof rows !== 'number') return undefined
    if (time !== undefined && typeof time !== 'number') return undefined
    packed[i * 3] = id
    packed[i * 3 + 1] = rows
    packed[i * 3 + 2] = time ?? Number.NaN
  }
  return { packedResults: packed }
}

export function isPackedResults(value: unknown): value is PackedResults {
  return typeof value === 'object' && value !== null && 'packedResults' in value
}

/** The results again, with the fields (and their order) the executor gave them; zero fields stay omitted. */
export function unpackResults({ packedResults: packed }: PackedResults): StatementResult[] {
  const results: StatementResult[] = new Array(packed.length / 3)
  for (let i = 0; i < results.length; i++) {
    const id = packed[i * 3]!
    const rows = packed[i * 3 + 1]!
    const time = packed[i * 3 + 2]!
    const result: { last_insert_id?: number; rows_affected?: number; time?: number } = {}
    if (id !== 0) result.last_insert_id = id
    if (rows !== 0) result.rows_affected = rows
    if (!Number.isNaN(time)) result.time = time
    results[i] = result
  }
  return results
}
