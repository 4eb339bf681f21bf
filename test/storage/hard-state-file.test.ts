// Goal: the hard-state file's recovery rules (last readable slot wins, one torn slot at most, damage before a
// readable slot is corruption, a single surviving copy is repaired); method: hand-built files of encoded slots.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CorruptLogError } from '../../src/storage/errors.js'
import {
  type HardStateRecord,
  encodeHardStateSlot,
  hardStateSlotBytes,
  recoverHardStateFile,
} from '../../src/storage/hard-state-file.js'

const record = (term: number): HardStateRecord => ({
  hardState: { term, vote: 1, commit: term },
  generation: 1,
  logSyncedBytes: term * 10,
  hasSnapshotFile: false,
  snapshotIndex: 0,
  snapshotTerm: 0,
})
const file = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}
const slot = (term: number) => encodeHardStateSlot(record(term))
const recover = (bytes: Uint8Array) => recoverHardStateFile(bytes, 'hs', { verifyChecksums: true })
const corruptAt = (offset: number) => (error: unknown) =>
  error instanceof CorruptLogError && error.file === 'hs' && error.offset === offset

test('the last readable slot wins; a torn last slot is ignored and repaired away', () => {
  const intact = recover(file(slot(1), slot(2), slot(3)))
  assert.deepStrictEqual(intact.record, record(3))
  assert.equal(intact.appendOffset, 3 * hardStateSlotBytes)
  assert.equal(intact.repairOffset, undefined)
  for (let cut = 1; cut < hardStateSlotBytes; cut++) {
    const torn = recover(file(slot(1), slot(2), slot(3).subarray(0, cut)))
    // Copy A (72 bytes) complete: that record is used and rewritten in place; otherwise the previous one wins.
    const expected = cut >= hardStateSlotBytes / 2 ? 3 : 2
    assert.deepStrictEqual(torn.record, record(expected), `cut ${cut}`)
    // Either way the slot at 288 is (re)written: in place over the lone copy A, or over the torn bytes.
    assert.equal(torn.repairOffset, 2 * hardStateSlotBytes)
  }
})

test('damage before a readable slot, two torn slots, differing copies, or nothing readable: corruption', () => {
  const damaged = slot(2)
  damaged[10]! ^= 1
  damaged[hardStateSlotBytes / 2 + 10]! ^= 1
  assert.throws(() => recover(file(slot(1), damaged, slot(3))), corruptAt(hardStateSlotBytes))
  assert.throws(() => recover(file(slot(1), damaged, damaged)), corruptAt(hardStateSlotBytes))
  const mixed = file(slot(1).subarray(0, hardStateSlotBytes / 2), slot(2).subarray(hardStateSlotBytes / 2))
  assert.throws(() => recover(file(slot(1), mixed)), corruptAt(hardStateSlotBytes))
  assert.throws(() => recover(new Uint8Array(0)), corruptAt(0))
  assert.throws(() => recover(damaged), corruptAt(0))
})

test('one damaged copy is absorbed by the other, and the slot is marked for repair', () => {
  const oneCopy = slot(3)
  oneCopy[20]! ^= 0x80
  const recovered = recover(file(slot(1), slot(2), oneCopy))
  assert.deepStrictEqual(recovered.record, record(3))
  assert.equal(recovered.repairOffset, 2 * hardStateSlotBytes)
})
