// Proves the set verdict rejects a lost acknowledged insert, a duplicate, unknown values and bad reads
// during the run, and accepts indeterminate inserts either way.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type SetInsert, checkSetWorkload } from './set.js'

const inserts: SetInsert[] = [
  { value: 1, type: 'ok', call: 0 },
  { value: 2, type: 'ok', call: 1 },
  { value: 3, type: 'info', call: 2 },
  { value: 4, type: 'info', call: 3 },
  { value: 5, type: 'fail', call: 4 },
]

test('every acknowledged insert once, indeterminate ones present or absent: ok', () => {
  const report = checkSetWorkload({
    inserts,
    reads: [{ id: 9, call: 5, ret: 6, values: [1] }],
    finalRead: [2, 1, 3],
  })
  assert.equal(report.ok, true, report.anomalies.join('\n'))
  assert.equal(report.summary.recovered, 1)
  assert.equal(report.summary.absentIndeterminate, 1)
})

test('a lost write is rejected', () => {
  const report = checkSetWorkload({ inserts, reads: [], finalRead: [1, 3] })
  assert.equal(report.ok, false)
  assert.equal(report.summary.lost, 1)
  assert.match(report.anomalies.join('\n'), /lost 1: 2/)
})

test('a duplicate is rejected, in the final read and in a read during the run', () => {
  const report = checkSetWorkload({ inserts, reads: [], finalRead: [1, 2, 2] })
  assert.equal(report.ok, false)
  assert.equal(report.summary.duplicated, 1)
  const during = checkSetWorkload({
    inserts,
    reads: [{ id: 9, call: 5, ret: 6, values: [1, 1] }],
    finalRead: [1, 2],
  })
  assert.equal(during.ok, false)
  assert.match(during.anomalies[0]!, /holds 1 twice/)
})

test('values never inserted, failed, or read before their insert began are rejected', () => {
  assert.equal(checkSetWorkload({ inserts, reads: [], finalRead: [1, 2, 5] }).summary.unexpected, 1)
  assert.equal(checkSetWorkload({ inserts, reads: [], finalRead: [1, 2, 99] }).ok, false)
  const future = checkSetWorkload({
    inserts,
    reads: [{ id: 9, call: 0, ret: 0.5, values: [2] }],
    finalRead: [1, 2],
  })
  assert.equal(future.ok, false)
  assert.match(future.anomalies[0]!, /after the read returned/)
})

test('no final read is a failure', () => {
  assert.equal(checkSetWorkload({ inserts, reads: [], finalRead: undefined }).ok, false)
})
