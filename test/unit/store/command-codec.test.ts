// Goal: every command decodes to what was encoded, statements as the packed batch the db worker decodes, and
// entries written in the two earlier layouts still decode; method: round trips through the codec.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Packr } from 'msgpackr'
import { PackedBatch, packBatch, unpackBatch } from '../../../src/db/batch-codec.js'
import type { Batch } from '../../../src/db/types.js'
import { type Command, decodeCommand, encodeCommand } from '../../../src/store/command-codec.js'

const batch: Batch = [
  ['INSERT INTO t (v) VALUES (?)', 'x'.repeat(100)],
  ['INSERT INTO t (v, n) VALUES (:v, :n)', { v: 'named', n: 9007199254740993n }],
  'DELETE FROM t WHERE v IS NULL',
]
const execute = {
  kind: 'execute',
  statements: batch,
  transaction: true,
  seed: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]),
  nowMs: 1_700_000_000_123,
  clientId: 'client-1',
  seq: 42,
  mixed: true,
} as const satisfies Command

/** The command as decoded, with its statements unpacked (they stay packed for the db worker). */
function roundTrip(command: Command): Record<string, unknown> {
  const decoded = decodeCommand(encodeCommand(command)) as Record<string, unknown>
  const { statements } = decoded
  if (statements === undefined) return decoded
  assert.ok(statements instanceof PackedBatch, 'statements reach the state machine packed')
  return { ...decoded, statements: unpackBatch(statements.bytes) }
}

test('an execute and a query round-trip, their statements packed for the worker', () => {
  assert.deepEqual(roundTrip(execute), { ...execute, seed: Buffer.from(execute.seed) })
  const query = { kind: 'query', statements: ['SELECT 1'], transaction: false, seed: 7, nowMs: 5 } as const
  assert.deepEqual(roundTrip(query as unknown as Command), query)
})

test('statements already packed, and a header longer than the room before the batch, round-trip too', () => {
  const packed = { ...execute, statements: packBatch(batch) }
  assert.deepEqual(roundTrip(packed), { ...execute, seed: Buffer.from(execute.seed) })
  const longClient = { ...execute, clientId: 'c'.repeat(400) }
  assert.deepEqual(roundTrip(longClient), { ...longClient, seed: Buffer.from(execute.seed) })
})

test('commands without statements round-trip', () => {
  const meta = { kind: 'nodeMeta', nodeId: 2, raftAddress: 'h:4002', httpAddress: 'h:4001' } as const
  assert.deepEqual(decodeCommand(encodeCommand(meta)), meta)
  const decoded = decodeCommand(encodeCommand({ kind: 'load', image: new Uint8Array([83, 81]) }))
  assert.deepEqual({ ...decoded }, { kind: 'load', image: Buffer.from([83, 81]) })
})

test('entries in the earlier layouts decode: statements packed inside the command, or the batch itself', () => {
  const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'auto' as 'bigint' })
  const inside = packr.pack({ ...execute, statements: packBatch(batch).bytes })
  const decoded = decodeCommand(inside) as Record<string, unknown>
  assert.ok(decoded.statements instanceof PackedBatch)
  assert.deepEqual(unpackBatch(decoded.statements.bytes), batch)
  const whole = decodeCommand(packr.pack(execute)) as Record<string, unknown>
  assert.deepEqual(whole.statements, batch)
})

test('a damaged entry in the new layout is a decode error, not a wrong command', () => {
  const bytes = encodeCommand(execute)
  assert.equal(bytes[0], 0xc1)
  assert.throws(() => decodeCommand(bytes.subarray(0, 3)), { name: 'CommandDecodeError' })
  const long = Uint8Array.from(bytes)
  new DataView(long.buffer).setUint32(1, long.byteLength, true)
  assert.throws(() => decodeCommand(long), { name: 'CommandDecodeError' })
})
