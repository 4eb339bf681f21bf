// Goal: every in-memory replica stops growing at the same size, restored from a snapshot or not, so no
// statement succeeds on one replica and fails on another; method: two real workers, one fresh and one
// restored from the fresh one's image, filled with 8 MiB rows until SQLite refuses one.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Database } from '../../../src/db/index.js'

const apply = { seed: 1, nowMs: Date.UTC(2025, 0, 1) }
/** Past SQLite's memdb limit (1 GiB) with room to spare: a database that grows without limit stops here. */
const rowsMax = 160

async function fill(db: Database): Promise<{ rows: number; error?: string }> {
  for (let rows = 0; rows < rowsMax; rows++) {
    const [result] = await db.execute([['INSERT INTO t VALUES (zeroblob(8388608))']], apply)
    if (result !== undefined && 'error' in result) return { rows, error: result.error }
  }
  return { rows: rowsMax }
}

test('a fresh and a restored in-memory database refuse the same row, with the same error', async () => {
  const fresh = await Database.open()
  const restored = await Database.open()
  try {
    await fresh.execute(['CREATE TABLE t (b BLOB)'], apply)
    await restored.restore(await fresh.serialize())
    const freshFill = await fill(fresh)
    const restoredFill = await fill(restored)
    assert.deepEqual(freshFill, restoredFill)
    assert.match(freshFill.error ?? '', /database or disk is full/)
  } finally {
    await fresh.close()
    await restored.close()
  }
})
