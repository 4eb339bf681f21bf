// Command line for the simulator: `npm run sim -- --seconds 60` explores fresh seeds for a while;
// `npm run sim -- --seed 123` replays one seed and prints its trace hash; `--bug name` plants a bug.
import { parseArgs } from 'node:util'
import type { PlantedBug } from '../../src/raft/index.js'
import { type FaultProfile, type SimResult, runSeed } from './cluster.js'

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seconds: { type: 'string' },
    seeds: { type: 'string' },
    start: { type: 'string' },
    bug: { type: 'string', multiple: true },
    duration: { type: 'string' },
    verbose: { type: 'boolean' },
    profile: { type: 'string' },
  },
})

const bugs = (values.bug ?? []) as PlantedBug[]
const durationMs = values.duration ? Number(values.duration) : undefined
const profile = values.profile ? (JSON.parse(values.profile) as Partial<FaultProfile>) : undefined
const bugFlags = bugs.map((b) => ` --bug ${b}`).join('')

export function replayCommand(seed: number): string {
  const profileFlag = values.profile ? ` --profile '${values.profile}'` : ''
  return `npm run sim -- --seed ${seed}${bugFlags}${durationMs !== undefined ? ` --duration ${durationMs}` : ''}${profileFlag}`
}

function runOne(seed: number): Promise<SimResult> {
  return runSeed({
    seed,
    bugs,
    ...(durationMs !== undefined ? { durationMs } : {}),
    ...(profile ? { profile } : {}),
  })
}

function describe(result: SimResult): string {
  const p = result.profile
  return `seed=${result.seed} ${result.ok ? 'ok' : 'FAIL'} nodes=${p.nodeCount}+${p.spareCount} events=${result.events} virtualMs=${result.virtualMs} trace=${result.traceHash.toString(16)}`
}

if (values.seed !== undefined) {
  const result = await runOne(Number(values.seed))
  console.log(describe(result))
  console.log(JSON.stringify(result.stats))
  if (!result.ok) {
    console.log(`violation: ${result.violation}`)
    process.exitCode = 1
  }
} else {
  const seconds = Number(values.seconds ?? 60)
  const maxSeeds = values.seeds ? Number(values.seeds) : Number.POSITIVE_INFINITY
  let seed = values.start ? Number(values.start) : (Date.now() % 1_000_000_000) * 1000
  const deadline = Date.now() + seconds * 1000
  const totals: Record<string, number> = {}
  let runs = 0
  let failures = 0
  while (Date.now() < deadline && runs < maxSeeds) {
    const result = await runOne(seed)
    runs++
    for (const [k, v] of Object.entries(result.stats)) totals[k] = (totals[k] ?? 0) + v
    totals.events = (totals.events ?? 0) + result.events
    totals.virtualMs = (totals.virtualMs ?? 0) + result.virtualMs
    totals[`nodes${result.profile.nodeCount}`] = (totals[`nodes${result.profile.nodeCount}`] ?? 0) + 1
    if (values.verbose) console.log(describe(result))
    if (!result.ok) {
      failures++
      console.log(`FAIL seed=${seed}: ${result.violation}`)
      console.log(`replay: ${replayCommand(seed)}`)
    }
    seed++
  }
  console.log(`simulated ${runs} seeds, ${failures} failed`)
  console.log(JSON.stringify(totals))
  if (failures > 0) process.exitCode = 1
}
