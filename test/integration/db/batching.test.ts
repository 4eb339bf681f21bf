// Goal: requests made in one event-loop turn reach the worker as one message (the postMessage per request
// showed in the leader's profile), yet each gets its own answer, in order, and a failing one fails alone.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Database, DbError } from '../../../src/db/index.js'

/** Writes carry the leader's seed and clock (determinism.ts). */
const apply = { seed: 7, nowMs: Date.UTC(2024, 4, 1, 12, 0, 0) }

test('executes and queries of one turn travel in one message and are answered one by one, in order', async () => {
  const db = await Database.open()
  try {
    await db.execute(['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)'], apply)
    const before = db.messagesPosted
    const writes = Array.from({ length: 20 }, (_, i) =>
      db.execute([['INSERT INTO t(id, v) VALUES(?, ?)', i + 1, `v${i + 1}`]], apply),
    )
    const bad = db.execute(['INSERT INTO nowhere VALUES(1)'], apply)
    const reads = Array.from({ length: 20 }, (_, i) =>
      db.query([`SELECT count(*) AS n FROM t WHERE id <= ${i + 1}`]),
    )
    const written = await Promise.all(writes)
    assert.deepEqual(
      written.map((r) => ('last_insert_id' in r[0]! ? Number(r[0].last_insert_id) : undefined)),
      Array.from({ length: 20 }, (_, i) => i + 1),
    )
    const failed = await bad
    assert.match(String('error' in failed[0]! ? failed[0].error : ''), /no such table: nowhere/)
    // Every read ran after all the writes before it in the turn: each counts all 20 rows up to its id.
    const counts = (await Promise.all(reads)).map((r) =>
      Number('values' in r[0]! ? r[0].values?.[0]?.[0] : -1),
    )
    assert.deepEqual(
      counts,
      Array.from({ length: 20 }, (_, i) => i + 1),
    )
    assert.equal(db.messagesPosted - before, 1, '41 requests of one turn are one message')
    // A request of a later turn is a message of its own.
    await db.query(['SELECT 1'])
    assert.equal(db.messagesPosted - before, 2)
  } finally {
    await db.close()
  }
})

test('while the worker is busy with two messages, requests of later turns wait and leave together', async () => {
  const db = await Database.open()
  try {
    const slow =
      'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) SELECT count(*) FROM c'
    const turn = () => new Promise<void>((resolve) => setImmediate(resolve))
    const before = db.messagesPosted
    const busy = [db.query([slow])]
    await turn()
    busy.push(db.query([slow]))
    await turn()
    const quick: Promise<unknown>[] = []
    for (let i = 1; i <= 10; i++) {
      quick.push(db.query([`SELECT ${i}`]))
      await turn()
    }
    const answers = await Promise.all(quick)
    assert.deepEqual(
      answers.map((r) => (r as { values: unknown[][] }[])[0]!.values[0]![0]),
      Array.from({ length: 10 }, (_, i) => i + 1),
    )
    await Promise.all(busy)
    // Two slow messages, then the ten quick queries of ten turns in one (or two, if an answer came between).
    assert.ok(db.messagesPosted - before <= 4, `${db.messagesPosted - before} messages for 12 requests`)
  } finally {
    await db.close()
  }
})

test('a request that cannot be sent fails alone; the rest of its batch is answered', async () => {
  const db = await Database.open()
  try {
    const ok = db.query(['SELECT 1 AS one'])
    // A function cannot be cloned: posting the batch fails, so each request is posted alone.
    const unsendable = db.query([['SELECT ?', (() => 1) as unknown as number]])
    const ok2 = db.query(['SELECT 2 AS two'])
    await assert.rejects(unsendable, (error: unknown) => error instanceof DbError)
    const [a, b] = await Promise.all([ok, ok2])
    assert.deepEqual('values' in a[0]! ? a[0].values : undefined, [[1]])
    assert.deepEqual('values' in b[0]! ? b[0].values : undefined, [[2]])
  } finally {
    await db.close()
  }
})
