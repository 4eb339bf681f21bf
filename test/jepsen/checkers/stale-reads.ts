/**
 * What `weak` and `none` reads still promise on a register history (test/sim/checkers/history.ts format).
 * Such reads may be stale, so the history need not be linearizable, but every read must return a value
 * that some write (or successful or indeterminate CAS) on that key actually proposed, or the initial
 * `null`, and that write must have been invoked before the read returned: reading a value from the future,
 * from a definitely failed write, or out of nowhere is an anomaly at every level.
 *
 * It also counts reads that are provably stale: the value read had been overwritten by a write that both
 * began after the read value's write returned and returned before the read began (for `null`: any write
 * that returned before the read began). Each of them is a linearizability violation by itself, so under
 * `linearizable` and `strong` this count must be 0; under `weak`/`none` it shows staleness is observable.
 */
import type { RegisterOperation } from '../../sim/checkers/history.js'
import { describeOperation } from '../../sim/checkers/history.js'

export interface StaleReadsResult {
  /** No read of an unknown value and no future read. */
  readonly ok: boolean
  readonly reads: number
  readonly staleReads: number
  readonly unknownValueReads: number
  readonly futureReads: number
  /** One line per anomaly (unknown and future reads), then a few examples of stale reads. */
  readonly anomalies: readonly string[]
  readonly staleExamples: readonly string[]
}

const examplesMax = 10

/** `ops` may hold several keys; failed operations must already be dropped (as `HistoryRecorder` does). */
export function checkStaleReads(ops: readonly RegisterOperation[]): StaleReadsResult {
  // Writers of each (key, value): a write's input, or a CAS's next value unless the CAS definitely failed.
  const writers = new Map<string, Map<string, RegisterOperation>>()
  // Per key, acknowledged value-changing operations, for the staleness test.
  const acknowledged = new Map<string, RegisterOperation[]>()
  for (const op of ops) {
    let value: string | undefined
    if (op.f === 'write') value = op.input
    else if (op.f === 'cas' && op.output?.ok !== false) value = op.input.next
    if (value === undefined) continue
    const byValue = writers.get(op.key) ?? new Map<string, RegisterOperation>()
    writers.set(op.key, byValue)
    if (byValue.has(value)) throw new RangeError(`value ${JSON.stringify(value)} written twice on ${op.key}`)
    byValue.set(value, op)
    if (op.ret !== Number.POSITIVE_INFINITY) {
      const list = acknowledged.get(op.key) ?? []
      list.push(op)
      acknowledged.set(op.key, list)
    }
  }

  const anomalies: string[] = []
  const staleExamples: string[] = []
  let reads = 0
  let staleReads = 0
  let unknownValueReads = 0
  let futureReads = 0
  for (const op of ops) {
    if (op.f !== 'read') continue
    reads++
    const value = op.output
    let writer: RegisterOperation | undefined
    if (value !== null) {
      writer = writers.get(op.key)?.get(value)
      if (writer === undefined) {
        unknownValueReads++
        anomalies.push(`unknown value: ${describeOperation(op)} read a value no write or CAS proposed`)
        continue
      }
      if (writer.call > op.ret) {
        futureReads++
        anomalies.push(
          `future read: ${describeOperation(op)} returned before its writer ${describeOperation(writer)} began`,
        )
        continue
      }
    }
    // Overwritten for sure: a later write, ordered after the read value's write, finished before the read.
    const after = writer?.ret ?? Number.NEGATIVE_INFINITY
    const overwrite = (acknowledged.get(op.key) ?? []).find(
      (other) => other !== writer && other.call > after && other.ret < op.call,
    )
    if (overwrite !== undefined) {
      staleReads++
      if (staleExamples.length < examplesMax) {
        staleExamples.push(
          `stale read: ${describeOperation(op)} after ${describeOperation(overwrite)} had overwritten it`,
        )
      }
    }
  }
  return {
    ok: unknownValueReads === 0 && futureReads === 0,
    reads,
    staleReads,
    unknownValueReads,
    futureReads,
    anomalies,
    staleExamples,
  }
}
