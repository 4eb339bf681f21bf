// Goal: a long write batch's results cross from the worker as one packed buffer (packed-results.ts) and come
// out exactly as the executor made them: the same fields in the same order, zero fields omitted, times kept;
// anything that does not pack exactly (errors, rows, a bigint id, a short batch) is left as it is.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Database, PackedBatch, packBatch } from '../../../src/db/index.js'
import { packResults, packedResultsMin, unpackResults } from '../../../src/db/packed-results.js'
import type { StatementResult } from '../../../src/db/types.js'

const apply = { seed: 7, nowMs: Date.UTC(2024, 4, 1, 12, 0, 0) }

test('execute results round-trip through the packed form, fields and order included', () => {
  const results: StatementResult[] = Array.from({ length: packedResultsMin + 8 }, (_, i) => {
    if (i % 4 === 0) return { last_insert_id: i + 1, rows_affected: 1, time: i / 1e6 }
    if (i % 4 === 1) return { rows_affected: 3, time: 0 } // an UPDATE: no id
    if (i % 4 === 2) return { last_insert_id: -(2 ** 53 - 1) } // no time asked for, smallest exact id
    return {} // CREATE TABLE on a fresh connection
  })
  const packed = packResults(results)
  assert.ok(packed, 'plain execute results pack')
  const back = unpackResults(packed)
  assert.deepEqual(back, results)
  assert.equal(JSON.stringify(back), JSON.stringify(results), 'same keys in the same order')
})

test('results that do not pack exactly are left alone', () => {
  const plain = (): StatementResult[] =>
    Array.from({ length: packedResultsMin }, (_, i) => ({ last_insert_id: i + 1, rows_affected: 1 }))
  assert.ok(packResults(plain()))
  assert.equal(packResults(plain().slice(1)), undefined, 'fewer than packedResultsMin slots')
  const withError = plain()
  withError[5] = { error: 'UNIQUE constraint failed: t.id' }
  assert.equal(packResults(withError), undefined)
  const withRows = plain()
  withRows[7] = { columns: ['id'], types: ['integer'], values: [[1]] }
  assert.equal(packResults(withRows), undefined)
  const withBigint = plain()
  withBigint[9] = { last_insert_id: 2n ** 60n, rows_affected: 1 }
  assert.equal(packResults(withBigint), undefined, 'an id beyond 2^53 would lose digits in a float')
})

test('a bulk INSERT through the worker answers every slot as before, packed or not', async () => {
  const db = await Database.open()
  try {
    await db.execute(['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)'], apply)
    const rows = 1000
    const batch = Array.from({ length: rows }, (_, i) => ['INSERT INTO t(v) VALUES(?)', `v${i}`] as const)
    const timed = await db.execute(batch, { ...apply, transaction: true, timings: true })
    assert.equal(timed.length, rows)
    timed.forEach((result, i) => {
      assert.equal('last_insert_id' in result ? result.last_insert_id : undefined, i + 1)
      assert.equal('rows_affected' in result ? result.rows_affected : undefined, 1)
      assert.equal(typeof ('time' in result ? result.time : undefined), 'number')
    })
    const untimed = await db.execute(batch, apply)
    assert.deepEqual(
      untimed,
      Array.from({ length: rows }, (_, i) => ({ last_insert_id: rows + i + 1, rows_affected: 1 })),
    )
    // An error slot keeps the whole answer on the cloned path, with the rows around it intact.
    const mixed = await db.execute(
      [...batch.slice(0, 40), ['INSERT INTO t(id, v) VALUES(1, ?)', 'dup'], ...batch.slice(0, 10)],
      apply,
    )
    assert.equal(mixed.length, 51)
    assert.match(String('error' in mixed[40]! ? mixed[40].error : ''), /UNIQUE constraint failed/)
    assert.deepEqual(mixed[50], { last_insert_id: 2 * rows + 50, rows_affected: 1 })
    // An id past 2^53 stays an exact bigint (it cannot be packed into a float).
    await db.execute([['INSERT INTO t(id, v) VALUES(?, ?)', 2n ** 60n, 'big']], apply)
    const big = await db.execute(batch.slice(0, packedResultsMin), apply)
    assert.equal('last_insert_id' in big[0]! ? big[0].last_insert_id : undefined, 2n ** 60n + 1n)
  } finally {
    await db.close()
  }
})

test('a packed batch moves to the worker as a copy: the bytes it came in stay whole', async () => {
  const db = await Database.open()
  try {
    await db.execute(['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)'], apply)
    const batch = Array.from(
      { length: 200 },
      (_, i) => ['INSERT INTO t(v) VALUES(?)', `v${i}`.padEnd(64)] as const,
    )
    const bytes = packBatch(batch).bytes
    assert.ok(bytes.byteLength >= 8 * 1024, 'large enough to go to the worker as bytes')
    // As a Raft entry holds it: a Buffer view into a larger buffer (the message or file it arrived in).
    const arrival = Buffer.alloc(bytes.byteLength + 64)
    arrival.set(bytes, 32)
    const view = arrival.subarray(32, 32 + bytes.byteLength)
    const results = await db.execute(new PackedBatch(view), { ...apply, transaction: true })
    assert.equal(results.length, 200)
    assert.equal(arrival.buffer.byteLength, bytes.byteLength + 64, 'the arrival buffer is not detached')
    assert.equal(Buffer.compare(view, bytes), 0, 'the entry still holds its bytes')
    const again = await db.execute(new PackedBatch(view), apply)
    assert.deepEqual(again.at(-1), { last_insert_id: 400, rows_affected: 1 })
  } finally {
    await db.close()
  }
})
