/**
 * Measures how long the main thread stalls while a big database is snapshotted, persisted, reopened and
 * restored (not run by `npm test`: `node --import tsx test/integration/db/snapshot-stall.bench.ts [MB]`).
 *
 * Steps, each timed with `monitorEventLoopDelay` (10 ms resolution; max and p99 of the event-loop delay):
 * 1. `Fsm.snapshot()` then `LogStore.createSnapshot()`;
 * 2. `LogStore.open()` of the directory holding that snapshot;
 * 3. `Fsm.restore(snapshot)` into a second, empty `Database`;
 * with an idle second first as the baseline (on a loaded machine the event loop is late even when idle).
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Database } from '../../../src/db/index.js'
import { bootstrapLog } from '../../../src/raft/index.js'
import { NodeFs } from '../../../src/storage/fs.js'
import { LogStore } from '../../../src/storage/log-store.js'
import { Fsm } from '../../../src/store/fsm.js'

const megabytes = Number(process.argv[2] ?? 200)

async function step<T>(name: string, run: () => Promise<T>): Promise<T> {
  const histogram = monitorEventLoopDelay({ resolution: 10 })
  histogram.enable()
  const started = performance.now()
  const value = await run()
  const elapsed = performance.now() - started
  histogram.disable()
  const ms = (ns: number): string => (ns / 1e6).toFixed(0)
  console.log(
    `${name.padEnd(40)} wall ${elapsed.toFixed(0).padStart(6)} ms   max stall ${ms(histogram.max).padStart(5)} ms   p99 ${ms(histogram.percentile(99)).padStart(5)} ms`,
  )
  return value
}

const dir = await mkdtemp(join(tmpdir(), 'tqlite-stall-'))
const db = await Database.open()
const other = await Database.open()
try {
  const built = await db.execute(
    [
      'CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)',
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${megabytes * 1000})
       INSERT INTO t (v) SELECT randomblob(1000) FROM n`,
    ],
    { transaction: true, seed: 1, nowMs: 1, index: 1 },
  )
  for (const result of built) if ('error' in result) throw new Error(String(result.error))
  const fsm = new Fsm(db)
  const fs = new NodeFs()
  const store = await LogStore.open(fs, dir)
  const { entries, hardState } = bootstrapLog([1])
  await store.save({ entries, hardState: { ...hardState, commit: entries.at(-1)!.index } })
  const index = store.lastIndex()
  const config = { voters: [1], nonVoters: [] }

  // The machine's own noise (other processes on the cores): an idle second, for comparison.
  await step('idle 1 s (baseline)', () => new Promise((resolve) => setTimeout(resolve, 1000)))
  const data = await step('Fsm.snapshot + LogStore.createSnapshot', async () => {
    const data = await (await fsm.snapshot()).data
    await store.createSnapshot({ meta: { index, term: store.term(index), config }, data })
    return data
  })
  console.log(`  snapshot image: ${(data.byteLength / 2 ** 20).toFixed(0)} MiB`)
  await store.close()

  const reopened = await step('LogStore.open (with the snapshot)', () => LogStore.open(fs, dir))
  const snapshot = await reopened.readSnapshot()
  await step('Fsm.restore', () => new Fsm(other).restore(snapshot))
  await reopened.close()
  const [count] = await other.query(['SELECT count(*) FROM t'], {})
  console.log(`  restored rows: ${JSON.stringify(count)}`)
} finally {
  await db.close()
  await other.close()
  await rm(dir, { recursive: true, force: true })
}
