// `npm run jepsen -- --workload register --nemesis partition,kill --seconds 60 [--nodes 3|5]
//  [--level linearizable] [--clients 8] [--seed N] [--keep-data]`: one run; exit code 1 on any anomaly or
// when the replicas did not converge. See runner.ts.
import { parseArgs } from 'node:util'
import { levelNames, loadWorkloads, parseNemeses, runOnce, workloadNames } from './runner.js'
import type { WorkloadName } from './runner.js'
import type { Level } from './workloads/workload.js'

const usage = `usage: npm run jepsen -- --workload register|set|bank|append [--nemesis kill,pause,partition,network,
  membership,transfer,clock,disk,snapshot] [--seconds 60] [--nodes 3|5] [--level none|weak|linearizable|strong]
  [--clients 8] [--seed N] [--keep-data]`

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      workload: { type: 'string', default: 'register' },
      nemesis: { type: 'string', default: 'partition,kill' },
      seconds: { type: 'string', default: '60' },
      nodes: { type: 'string', default: '3' },
      level: { type: 'string', default: 'linearizable' },
      clients: { type: 'string', default: '8' },
      seed: { type: 'string' },
      'keep-data': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(usage)
    return 0
  }
  const workload = values.workload as WorkloadName
  const level = values.level as Level
  if (!workloadNames.includes(workload)) throw new Error(`unknown workload ${workload}\n${usage}`)
  if (!levelNames.includes(level)) throw new Error(`unknown level ${level}\n${usage}`)
  const nodes = Number(values.nodes)
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 9) throw new Error(`--nodes must be 1..9\n${usage}`)
  const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31)
  const report = await runOnce(
    {
      workload,
      nemeses: parseNemeses(values.nemesis),
      seconds: Number(values.seconds),
      nodes,
      level,
      clients: Number(values.clients),
      seed,
      keepData: values['keep-data'],
    },
    await loadWorkloads(),
  )
  if (!report.ok)
    console.log(`jepsen: replay with --seed ${seed} (faults and clients draw from it; timing still varies)`)
  return report.ok ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error))
    process.exit(2)
  },
)
