// `npm run soak -- --minutes 60 [--run-seconds 90] [--nodes 3] [--levels linearizable,strong]
//  [--workloads register,set,bank,append] [--seed N]`: back-to-back runs rotating workloads × nemesis sets
// × levels until the time is up, then a total: ops, faults by kind, anomalies, runs that did not converge.
// Each run keeps its own report folder inside the soak folder; soak-report.json sums them up.
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { NemesisName } from './nemesis.js'
import {
  type RunReport,
  type WorkloadName,
  levelNames,
  loadWorkloads,
  parseNemeses,
  runOnce,
  workloadNames,
} from './runner.js'
import type { Level } from './workloads/workload.js'

/** The nemesis sets a soak rotates through: every single fault, and a few mixes. */
export const nemesisSets: readonly (readonly NemesisName[])[] = [
  ['partition'],
  ['kill'],
  ['pause'],
  ['membership'],
  ['transfer', 'kill'],
  ['network'],
  ['snapshot', 'partition', 'kill'],
  ['clock', 'partition'],
  ['disk'],
  ['partition', 'pause', 'kill', 'network', 'transfer'],
]

/** The i-th combination: workloads change fastest, then nemesis sets, then levels. */
export function combination(
  i: number,
  workloads: readonly WorkloadName[],
  levels: readonly Level[],
): { workload: WorkloadName; nemeses: readonly NemesisName[]; level: Level } {
  const workload = workloads[i % workloads.length]!
  const nemeses = nemesisSets[Math.floor(i / workloads.length) % nemesisSets.length]!
  const level = levels[Math.floor(i / (workloads.length * nemesisSets.length)) % levels.length]!
  return { workload, nemeses, level }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '60' },
      'run-seconds': { type: 'string', default: '90' },
      nodes: { type: 'string', default: '3' },
      clients: { type: 'string', default: '8' },
      levels: { type: 'string', default: 'linearizable,strong' },
      workloads: { type: 'string', default: workloadNames.join(',') },
      nemeses: { type: 'string' },
      seed: { type: 'string' },
    },
  })
  const deadline = Date.now() + Number(values.minutes) * 60_000
  const runSeconds = Number(values['run-seconds'])
  const levels = values.levels.split(',') as Level[]
  const workloads = values.workloads.split(',') as WorkloadName[]
  for (const level of levels) if (!levelNames.includes(level)) throw new Error(`unknown level ${level}`)
  for (const w of workloads) if (!workloadNames.includes(w)) throw new Error(`unknown workload ${w}`)
  const onlyNemeses = values.nemeses !== undefined ? parseNemeses(values.nemeses) : undefined
  const baseSeed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31)
  const createWorkload = await loadWorkloads()
  const dir = await mkdtemp(join(tmpdir(), 'tqlite-soak-'))
  console.log(`soak: ${values.minutes} minutes, runs of ${runSeconds}s, seed ${baseSeed}, folder ${dir}`)

  const reports: RunReport[] = []
  // A run also spends time starting the cluster, healing, final reads and checking: about 30 s.
  for (let i = 0; Date.now() + 30_000 + Math.min(runSeconds, 20) * 1000 < deadline; i++) {
    const pick = combination(i, workloads, levels)
    const nemeses = onlyNemeses ?? pick.nemeses
    const seconds = Math.max(20, Math.min(runSeconds, Math.floor((deadline - Date.now() - 30_000) / 1000)))
    const report = await runOnce(
      {
        workload: pick.workload,
        nemeses,
        level: pick.level,
        seconds,
        nodes: Number(values.nodes),
        clients: Number(values.clients),
        seed: baseSeed + i,
        dir: await mkdtemp(join(dir, `run${String(i).padStart(3, '0')}-${pick.workload}-`)),
      },
      createWorkload,
      (line) => console.log(line),
    )
    reports.push(report)
  }

  const total = { ok: 0, fail: 0, info: 0 }
  const faults: Record<string, number> = {}
  const failed: { dir: string; seed: number; why: string }[] = []
  let anomalies = 0
  for (const report of reports) {
    total.ok += report.ops.ok
    total.fail += report.ops.fail
    total.info += report.ops.info
    for (const [kind, n] of Object.entries(report.faults)) faults[kind] = (faults[kind] ?? 0) + n
    anomalies += report.workload?.anomalies.length ?? 0
    if (!report.ok) {
      const why = report.error
        ? 'harness error'
        : !report.convergence?.converged
          ? 'not converged'
          : `${report.workload?.anomalies.length ?? 0} anomalies`
      failed.push({ dir: report.dir, seed: report.options.seed, why })
    }
  }
  const notConverged = reports.filter((r) => r.convergence?.converged !== true).length
  const soak = {
    ok: failed.length === 0 && reports.length > 0,
    runs: reports.length,
    ops: total,
    faults,
    faultsTotal: Object.values(faults).reduce((a, b) => a + b, 0),
    anomalies,
    notConverged,
    failed,
    command: `npm run soak -- ${process.argv
      .slice(2)
      .filter((_, i, all) => all[i] !== '--seed' && all[i - 1] !== '--seed')
      .join(' ')} --seed ${baseSeed}`,
    runsDetail: reports.map((r) => ({
      dir: r.dir,
      workload: r.options.workload,
      level: r.options.level,
      nemeses: r.options.nemeses,
      ok: r.ok,
      ops: r.ops,
      faults: r.faults,
      anomalies: r.workload?.anomalies.length ?? null,
      converged: r.convergence?.converged ?? false,
    })),
  }
  await writeFile(join(dir, 'soak-report.json'), `${JSON.stringify(soak, null, 2)}\n`)
  console.log(`soak: ${soak.ok ? 'PASS' : 'FAIL'}: ${reports.length} runs`)
  console.log(`  ops: ${total.ok} ok, ${total.fail} fail, ${total.info} info`)
  console.log(
    `  faults: ${soak.faultsTotal} (${Object.entries(faults)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')})`,
  )
  console.log(`  anomalies: ${anomalies}; runs not converged: ${notConverged}`)
  for (const f of failed) console.log(`  failed: ${f.why}, seed ${f.seed}: ${f.dir}`)
  console.log(`  report: ${join(dir, 'soak-report.json')}`)
  return soak.ok ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error))
    process.exit(2)
  },
)
