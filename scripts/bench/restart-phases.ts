// Times the phases of one node's start-up from a data directory holding a big snapshot, in one process and
// without a cluster (the data directory of a stopped node, e.g. from `restart.ts prepare`):
//
//   node --import tsx scripts/bench/restart-phases.ts DATA_DIR    # DATA_DIR/raft is the log store
//
// Phases: `LogStore.open` (read and checksum of the snapshot file, log replay), `Fsm.restore` of its
// snapshot into a fresh in-memory `Database`, and the first `SELECT COUNT(*)` of the biggest table. Prints
// the wall time of each and the process RSS after it. It opens the store as the node would (which may
// repair a torn log tail, exactly as the node's next start would).
import { join } from 'node:path'
import { Database } from '../../src/db/index.js'
import { NodeFs } from '../../src/storage/fs.js'
import { LogStore } from '../../src/storage/log-store.js'
import { Fsm } from '../../src/store/fsm.js'
import { createLogger } from '../../src/util/logger.js'

const dataDir = process.argv[2]
if (dataDir === undefined) throw new Error('usage: restart-phases.ts DATA_DIR')
const logger = createLogger({ write: (line) => console.log(`    ${line}`) })

async function phase<T>(name: string, run: () => Promise<T>): Promise<T> {
  const started = performance.now()
  const value = await run()
  const ms = performance.now() - started
  const rss = process.memoryUsage().rss / 2 ** 20
  console.log(`${name.padEnd(34)} ${ms.toFixed(0).padStart(6)} ms   RSS ${rss.toFixed(0)} MiB`)
  return value
}

const total = performance.now()
const db = await phase('Database.open', () => Database.open())
const store = await phase('LogStore.open', () =>
  LogStore.open(new NodeFs(), join(dataDir, 'raft'), { logger: logger.child({ component: 'storage' }) }),
)
const fsm = new Fsm(db)
await phase('Fsm.restore', async () => fsm.restore(await store.readSnapshot()))
const table = await db.query(
  ["SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name = 'big' DESC LIMIT 1"],
  {},
)
const name = String((table[0] as { values?: unknown[][] }).values?.[0]?.[0] ?? 'sqlite_schema')
const count = await phase(`SELECT COUNT(*) FROM ${name}`, () =>
  db.query([`SELECT COUNT(*) FROM "${name}"`], {}),
)
console.log(`  ${JSON.stringify(count)}; total ${(performance.now() - total).toFixed(0)} ms`)
await store.close()
await db.close()
