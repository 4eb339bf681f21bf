// Goal: a batch in msgpack (as a Raft entry carries it) runs exactly like the same batch as objects, whether
// it is big enough to be decoded by the worker or small enough to be decoded on the main thread; a malformed
// one is refused the same way. Method: a real worker, results and rows compared.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { type Batch, Database, DbError, PackedBatch, packBatch } from '../../../src/db/index.js'
import { unpackBatch } from '../../../src/db/batch-codec.js'
import { decodeCommand, encodeCommand, pack } from '../../../src/store/command-codec.js'

const apply = { seed: 3, nowMs: Date.UTC(2025, 0, 1) }
let db: Database

before(async () => {
  db = await Database.open()
  await db.execute(['CREATE TABLE t (id INTEGER PRIMARY KEY, big INTEGER, photo BLOB, name TEXT)'], apply)
})
after(() => db.close())

/** Rows with every kind of parameter: exact 64-bit integers, bytes, named parameters. */
function rowsBatch(first: number, count: number): Batch {
  return Array.from({ length: count }, (_, i) =>
    i % 2 === 0
      ? [
          'INSERT INTO t (id, big, photo, name) VALUES (?, ?, ?, ?)',
          first + i,
          9007199254740993n,
          Buffer.from([i & 255, 1]),
          `n${i}`,
        ]
      : [
          'INSERT INTO t (id, big, photo, name) VALUES (:id, :big, :photo, :name)',
          { id: first + i, big: -9007199254740993n, photo: Buffer.from('x'), name: 'named' },
        ],
  )
}

test('packed batches, big (decoded by the worker) and small (decoded here), run like the objects they hold', async () => {
  for (const count of [2, 400]) {
    const plain = rowsBatch(100_000, count)
    const packed = packBatch(rowsBatch(200_000, count))
    if (count === 400)
      assert.ok(packed.bytes.byteLength >= 8 * 1024, 'the big batch must take the worker path')
    else assert.ok(packed.bytes.byteLength < 8 * 1024)
    const fromPlain = await db.execute(plain, apply)
    const fromPacked = await db.execute(packed, apply)
    assert.equal(fromPacked.length, count)
    assert.deepEqual(
      fromPacked.map((r) => ('rows_affected' in r ? r.rows_affected : r)),
      fromPlain.map((r) => ('rows_affected' in r ? r.rows_affected : r)),
    )
    const [plainRows, packedRows] = await db.query([
      'SELECT id - 100000, big, photo, name FROM t WHERE id BETWEEN 100000 AND 199999 ORDER BY id',
      'SELECT id - 200000, big, photo, name FROM t WHERE id >= 200000 ORDER BY id',
    ])
    assert.ok(packedRows && 'values' in packedRows && plainRows && 'values' in plainRows)
    assert.equal(packedRows.values?.length, count)
    assert.deepEqual(packedRows.values, plainRows.values)
    await db.execute(['DELETE FROM t'], apply)
  }
})

test('a malformed packed batch is refused as the same batch as objects is, big or small', async () => {
  for (const padding of [0, 20_000]) {
    const bad = packBatch(['SELECT 1', 'x'.repeat(padding), [42]] as unknown as Batch)
    await assert.rejects(
      db.execute(bad, apply),
      (error: unknown) => error instanceof DbError && error.code === 'TQ_ERR_DB_BAD_STATEMENT',
    )
  }
})

test('a command carries its statements packed, and an entry written before that still decodes', () => {
  const statements: Batch = [['INSERT INTO t (big) VALUES (?)', 9007199254740993n]]
  const command = {
    kind: 'execute' as const,
    statements,
    transaction: false,
    seed: new Uint8Array(16),
    nowMs: 1,
    clientId: '',
    seq: 0,
  }
  const decoded = decodeCommand(encodeCommand(command))
  assert.ok(decoded.kind === 'execute' && decoded.statements instanceof PackedBatch)
  assert.deepEqual(unpackBatch(decoded.statements.bytes), statements)
  const old = decodeCommand(pack(command))
  assert.ok(old.kind === 'execute')
  assert.deepEqual(old.statements, statements)
})
