/**
 * The register workload's verdict: the simulator's linearizability checker (per key) for `linearizable`
 * and `strong`; for `weak` and `none`, where stale reads are allowed, only what those levels still forbid
 * (stale-reads.ts), with the linearizability violations counted rather than failing the run.
 */
import type { RegisterOperation } from '../../sim/checkers/history.js'
import { type CheckOptions, checkLinearizable } from '../../sim/checkers/linearizability.js'
import type { Level, WorkloadReport } from '../workloads/workload.js'
import { checkStaleReads } from './stale-reads.js'

export function checkRegister(
  ops: readonly RegisterOperation[],
  level: Level,
  options: CheckOptions = {},
): WorkloadReport {
  const strict = level === 'linearizable' || level === 'strong'
  const byKey = new Map<string, RegisterOperation[]>()
  for (const op of ops) {
    const list = byKey.get(op.key) ?? []
    list.push(op)
    byKey.set(op.key, list)
  }
  const anomalies: string[] = []
  let illegalKeys = 0
  let unknownKeys = 0
  const started = Date.now()
  const budget = options.timeBudgetMs ?? 60_000
  for (const [key, keyOps] of byKey) {
    const remaining = Math.max(1000, budget - (Date.now() - started))
    const result = checkLinearizable(keyOps, { ...options, timeBudgetMs: remaining })
    if (result.result === 'illegal') {
      illegalKeys++
      if (strict) anomalies.push(`not linearizable: ${result.detail}`)
    } else if (result.result === 'unknown') {
      unknownKeys++
      if (strict)
        anomalies.push(`linearizability of key ${JSON.stringify(key)} not decided: ${result.reason}`)
    }
  }
  const stale = checkStaleReads(ops)
  anomalies.push(...stale.anomalies)
  if (strict) anomalies.push(...stale.staleExamples)
  const ok = stale.ok && (!strict || (illegalKeys === 0 && unknownKeys === 0 && stale.staleReads === 0))
  return {
    ok,
    summary: {
      operations: ops.length,
      reads: stale.reads,
      keys: byKey.size,
      nonLinearizableKeys: illegalKeys,
      undecidedKeys: unknownKeys,
      staleReads: Math.max(stale.staleReads, illegalKeys > 0 ? 1 : 0),
      provablyStaleReads: stale.staleReads,
      unknownValueReads: stale.unknownValueReads,
      futureReads: stale.futureReads,
    },
    anomalies,
  }
}
