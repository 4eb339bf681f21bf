// The simulator as a test: determinism (a seed replays to the same trace hash), a time-boxed exploration
// of fresh seeds that must find no violation, and the "test of the tests": every planted bug is caught
// within a fixed seed budget, which shows that the checks can fail.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type PlantedBug, plantedBugs } from '../../src/raft/index.js'
import { type FaultProfile, type SimResult, runSeed } from './cluster.js'

const seconds = Number(process.env.SIM_SECONDS ?? 60)

function failureReport(result: SimResult): string {
  return `seed=${result.seed} ${result.violation}\nreplay: npm run sim -- --seed ${result.seed}`
}

test('replaying a seed gives the same trace hash, and another seed a different one', async () => {
  for (const seed of [7, 4242]) {
    const first = await runSeed({ seed })
    const second = await runSeed({ seed })
    assert.equal(first.ok, true, failureReport(first))
    assert.ok(first.events > 1000, `seed ${seed} ran only ${first.events} events`)
    assert.equal(second.traceHash, first.traceHash, `seed ${seed} is not deterministic`)
    assert.equal(second.events, first.events)
  }
  assert.notEqual((await runSeed({ seed: 7 })).traceHash, (await runSeed({ seed: 8 })).traceHash)
})

test(`fresh seeds for ${seconds}s find no violation`, async () => {
  // Fresh seeds per run (from the clock) explore new space; each failure prints its replay command.
  const start = Number(process.env.SIM_START ?? (Date.now() % 1_000_000) * 1000)
  const deadline = Date.now() + seconds * 1000
  const failures: string[] = []
  let runs = 0
  let events = 0
  const faults: Record<string, number> = {}
  for (let seed = start; Date.now() < deadline; seed++) {
    const result = await runSeed({ seed })
    runs++
    events += result.events
    for (const name of [
      'crashes',
      'pauses',
      'transfers',
      'messagesDropped',
      'messagesDuplicated',
      'indeterminate',
      'snapshotsSent',
    ]) {
      faults[name] = (faults[name] ?? 0) + (result.stats[name] ?? 0)
    }
    if (!result.ok) failures.push(failureReport(result))
  }
  console.log(`# sim: ${runs} seeds from ${start}, ${events} events, faults ${JSON.stringify(faults)}`)
  assert.ok(runs > 0)
  assert.deepEqual(failures, [])
  // Snapshots are read back from "disk" before they are sent: that path must have been taken.
  assert.ok((faults.snapshotsSent ?? 0) > 0, 'no snapshot was sent to a lagging follower')
})

/**
 * Each planted bug and the seed budget within which the simulator, with the ordinary swarm of faults, must
 * catch it. Seeds are deterministic, so each test costs exactly its first catching seed; the budgets leave
 * room for changes to the simulator that move where a bug first shows. Measured first catches: the
 * membership race at 412 (leader completeness), ReadIndex without quorum at 347 (linearizability),
 * sendBeforePersist at 32 (durable term), the others at seed 2. At ce2efb5: ReadIndex without quorum 404,
 * sendBeforePersist 62, Figure 8 (its profile) 35; at 19fdb64, where committed entries already durable are
 * applied while the next ones are written: 75, 62 and 172, the others at seeds 1–2.
 *
 * Figure 8 needs leadership to move between nodes whose logs diverge. Since a leader replicates while it
 * persists (e189684), the ordinary swarm first catches it at seed 5,698 (it was 140), too slow for every
 * `npm test`; its test therefore runs the Figure 8 nemesis at full intensity on 5 nodes (first catch: seed
 * 81, by leader completeness). The ordinary swarm still catches it: `npm run sim -- --seed 5698 --bug
 * commitPreviousTermByCount`.
 *
 * The membership race needs a change proposed while a new leader's first commit is pending. Since the first
 * pre-vote round after a leader's death is retried quickly (elections end sooner), the ordinary swarm no
 * longer catches it within 1,200 seeds (it was 412); its test proposes a change at every election and
 * crashes the leader every 250 ms on 3 nodes (first catch: seed 137, by leader completeness; seed 818 since
 * committed entries already durable are applied while the next ones are written, which moves every seed's
 * timing).
 *
 * Since applies may take virtual time and overlap (`applyLatencyMs`, `pipelineApplies`), ReadIndex without
 * quorum is first caught by the ordinary swarm at seed 1,912 (it was 445; reads then wait for slower
 * applies); its test keeps applies instant (first catch: seed 445, as before), and `npm run sim -- --seed
 * 1912 --bug readIndexWithoutQuorum` shows the swarm still catches it. Figure 8 (its profile) moved from 172
 * to 602, the membership race from 818 to 587.
 */
const plantedBugBudgets: Record<PlantedBug, number> = {
  commitPreviousTermByCount: 900,
  skipUpToDateCheck: 50,
  truncateWithoutConflict: 50,
  trustStaleAppendResponse: 50,
  readIndexWithoutQuorum: 1000,
  confChangeBeforeTermCommit: 1500,
  sendBeforePersist: 200,
  snapshotVisibleBeforeRestore: 50,
  retryAmbiguousWrite: 50,
}

/** Fault profiles for the planted bugs the ordinary swarm finds too slowly (see above). */
const plantedBugProfiles: Partial<Record<PlantedBug, Partial<FaultProfile>>> = {
  commitPreviousTermByCount: { nodeCount: 5, leaderCrashEveryMs: 250, partitionEveryMs: 250 },
  confChangeBeforeTermCommit: { nodeCount: 3, changeOnElection: 1, leaderCrashEveryMs: 250 },
  readIndexWithoutQuorum: { applyLatencyMs: 0 },
}

for (const bug of plantedBugs) {
  test(`the simulator catches the planted bug ${bug}`, async () => {
    const budget = plantedBugBudgets[bug]
    const profile = plantedBugProfiles[bug]
    for (let seed = 1; seed <= budget; seed++) {
      const result = await runSeed({ seed, bugs: [bug], ...(profile ? { profile } : {}) })
      if (!result.ok) {
        console.log(`# ${bug}: caught at seed ${seed} by ${result.property}: ${result.violation}`)
        return
      }
    }
    assert.fail(`${bug} was not caught within ${budget} seeds`)
  })
}
