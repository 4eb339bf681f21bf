/**
 * The set workload's verdict, from the simulator's set checker (test/sim/checkers/set-checker.ts): the
 * final read holds every acknowledged insert exactly once, indeterminate ones at most once, nothing else.
 * Reads made during the run (at the workload's level) may be stale, yet must still hold no duplicate and
 * no value that was never inserted or was inserted only after the read returned.
 */
import { checkSet, describeSetCheck } from '../../sim/checkers/set-checker.js'
import type { WorkloadReport } from '../workloads/workload.js'

export interface SetInsert {
  readonly value: number
  readonly type: 'ok' | 'fail' | 'info'
  readonly call: number
}

export interface SetRead {
  readonly id: number
  readonly call: number
  readonly ret: number
  readonly values: readonly number[]
}

export function checkSetWorkload(history: {
  readonly inserts: readonly SetInsert[]
  readonly reads: readonly SetRead[]
  /** Every row of the final read, or undefined when no final read succeeded. */
  readonly finalRead: readonly number[] | undefined
}): WorkloadReport {
  const acknowledged = history.inserts.filter((insert) => insert.type === 'ok').map((insert) => insert.value)
  const indeterminate = history.inserts
    .filter((insert) => insert.type === 'info')
    .map((insert) => insert.value)
  const anomalies: string[] = []
  const summary: Record<string, number> = {
    acknowledged: acknowledged.length,
    indeterminate: indeterminate.length,
    failed: history.inserts.length - acknowledged.length - indeterminate.length,
    reads: history.reads.length,
  }
  const attempted = new Map(history.inserts.map((insert) => [insert.value, insert]))
  let badReads = 0
  for (const read of history.reads) {
    const seen = new Set<number>()
    for (const value of read.values) {
      const insert = attempted.get(value)
      let problem: string | undefined
      if (seen.has(value)) problem = `holds ${value} twice`
      else if (insert === undefined || insert.type === 'fail') problem = `holds ${value}, never inserted`
      else if (insert.call > read.ret) problem = `holds ${value}, inserted only after the read returned`
      seen.add(value)
      if (problem !== undefined) {
        badReads++
        anomalies.push(`read #${read.id} [${read.call}, ${read.ret}] ${problem}`)
        break
      }
    }
  }
  summary.badReads = badReads
  if (history.finalRead === undefined) {
    anomalies.push('no final read succeeded')
    return { ok: false, summary, anomalies }
  }
  const result = checkSet({ acknowledged, indeterminate, finalRead: history.finalRead })
  Object.assign(summary, {
    finalRows: history.finalRead.length,
    lost: result.lost.length,
    duplicated: result.duplicated.length,
    unexpected: result.unexpected.length,
    recovered: result.recovered,
    absentIndeterminate: result.absentIndeterminate,
  })
  if (!result.ok) anomalies.push(...describeSetCheck(result).split('\n'))
  return { ok: anomalies.length === 0, summary, anomalies }
}
