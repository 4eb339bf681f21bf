// Goal: every `npm test` runs each real workload (register, set, bank, append) against real processes under
// faults for a few seconds and checks the history: the one-minute slice of `npm run soak`.
// Method: runOnce with the workloads of workloads/index.ts, short faults (2–3.5 s) of two kinds per run, at
// linearizable or strong; the run must report no anomaly and the replicas must converge.
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { test } from 'node:test'
import type { NemesisName } from './nemesis.js'
import { loadWorkloads, runOnce, type WorkloadName } from './runner.js'
import type { Level } from './workloads/workload.js'

const runs: { workload: WorkloadName; nemeses: NemesisName[]; level: Level }[] = [
  { workload: 'register', nemeses: ['partition', 'kill'], level: 'linearizable' },
  { workload: 'set', nemeses: ['pause', 'transfer'], level: 'linearizable' },
  { workload: 'bank', nemeses: ['kill', 'network'], level: 'strong' },
  { workload: 'append', nemeses: ['partition', 'snapshot'], level: 'linearizable' },
]

for (const run of runs) {
  test(`${run.workload} at ${run.level} under ${run.nemeses.join('+')}: no anomaly, replicas converge`, {
    timeout: 120_000,
  }, async () => {
    const create = await loadWorkloads()
    const lines: string[] = []
    const report = await runOnce(
      {
        ...run,
        seconds: 12,
        nodes: 3,
        clients: 5,
        seed: Date.now() % 1_000_000,
        faultMs: [2000, 3500],
        quietMs: [500, 1000],
      },
      create,
      (line) => lines.push(line),
    )
    try {
      assert.equal(report.error, undefined, report.error)
      assert.ok(report.convergence?.converged, report.convergence?.detail)
      assert.ok(report.ok, lines.join('\n'))
      assert.ok(report.ops.ok > 0, JSON.stringify(report.ops))
    } finally {
      // Kept for a failure: the folder holds the history and the nodes' logs.
      if (report.ok) await rm(report.dir, { recursive: true, force: true })
    }
  })
}
