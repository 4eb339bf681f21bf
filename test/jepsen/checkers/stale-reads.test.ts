// Proves the register verdict: stale reads fail `linearizable` and `strong` but are only counted under
// `weak` and `none`, while reads of unknown values and future reads fail every level.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type {
  CasOperation,
  ReadOperation,
  RegisterOperation,
  WriteOperation,
} from '../../sim/checkers/history.js'
import { checkRegister } from './register.js'
import { checkStaleReads } from './stale-reads.js'

const INF = Number.POSITIVE_INFINITY
let nextId = 1
function read(call: number, ret: number, output: string | null, key = 'x'): ReadOperation {
  return { id: nextId++, client: 1, key, f: 'read', input: null, output, call, ret }
}
function write(call: number, ret: number, value: string, key = 'x'): WriteOperation {
  return {
    id: nextId++,
    client: 0,
    key,
    f: 'write',
    input: value,
    output: ret === INF ? undefined : null,
    call,
    ret,
  }
}
function cas(call: number, ret: number, expected: string | null, next: string, ok?: boolean): CasOperation {
  const output = ok === undefined ? undefined : { ok }
  return { id: nextId++, client: 2, key: 'x', f: 'cas', input: { expected, next }, output, call, ret }
}

const legal: RegisterOperation[] = [
  write(0, 10, 'a'),
  read(11, 12, 'a'),
  cas(13, 20, 'a', 'b', true),
  read(21, 22, 'b'),
  cas(23, 24, 'a', 'c', false),
  write(25, INF, 'd'),
  read(30, 31, 'd'),
]
// 'a' was overwritten by 'b' (finished at 30) before the read began at 40.
const stale: RegisterOperation[] = [write(0, 10, 'a'), write(20, 30, 'b'), read(40, 50, 'a')]

describe('checkStaleReads', () => {
  test('a linearizable history has no stale, unknown or future reads', () => {
    const result = checkStaleReads(legal)
    assert.deepEqual(
      [result.ok, result.reads, result.staleReads, result.unknownValueReads, result.futureReads],
      [true, 3, 0, 0, 0],
    )
  })

  test('a stale read is counted, not an anomaly', () => {
    const result = checkStaleReads(stale)
    assert.equal(result.ok, true)
    assert.equal(result.staleReads, 1)
    assert.match(result.staleExamples[0]!, /stale read: .*read\(\) -> "a" \[40, 50\]/)
    // A stale null: a write had finished before the read began.
    assert.equal(checkStaleReads([write(0, 10, 'a'), read(20, 30, null)]).staleReads, 1)
    // Concurrent with the overwrite: not provably stale.
    assert.equal(checkStaleReads([write(0, 10, 'a'), write(20, 45, 'b'), read(40, 50, 'a')]).staleReads, 0)
  })

  test('a future read is an anomaly', () => {
    const result = checkStaleReads([read(0, 10, 'a'), write(20, 30, 'a')])
    assert.equal(result.ok, false)
    assert.equal(result.futureReads, 1)
    assert.match(result.anomalies[0]!, /future read/)
  })

  test('reading a value never written, or only by a failed CAS, is an anomaly', () => {
    assert.equal(checkStaleReads([write(0, 10, 'a'), read(20, 30, 'zzz')]).unknownValueReads, 1)
    const result = checkStaleReads([cas(0, 10, 'q', 'b', false), read(20, 30, 'b')])
    assert.equal(result.ok, false)
    assert.match(result.anomalies[0]!, /unknown value/)
  })
})

describe('checkRegister', () => {
  test('a linearizable history passes at every level', () => {
    for (const level of ['none', 'weak', 'linearizable', 'strong'] as const) {
      const report = checkRegister(legal, level)
      assert.equal(report.ok, true, `${level}: ${report.anomalies.join('\n')}`)
      assert.equal(report.summary.staleReads, 0)
    }
  })

  test('a stale read fails linearizable and strong, and is only reported under weak and none', () => {
    for (const level of ['linearizable', 'strong'] as const) {
      const report = checkRegister(stale, level)
      assert.equal(report.ok, false)
      assert.match(report.anomalies.join('\n'), /not linearizable/)
    }
    for (const level of ['weak', 'none'] as const) {
      const report = checkRegister(stale, level)
      assert.equal(report.ok, true, report.anomalies.join('\n'))
      assert.equal(report.summary.staleReads, 1)
      assert.equal(report.summary.nonLinearizableKeys, 1)
    }
  })

  test('a future read fails every level', () => {
    for (const level of ['none', 'weak', 'linearizable', 'strong'] as const) {
      const report = checkRegister([read(0, 10, 'a'), write(20, 30, 'a')], level)
      assert.equal(report.ok, false, level)
      assert.equal(report.summary.futureReads, 1)
    }
  })

  test('keys are checked separately', () => {
    const report = checkRegister([...legal, write(0, 10, 'a', 'y'), read(20, 30, null, 'y')], 'linearizable')
    assert.equal(report.ok, false)
    assert.equal(report.summary.keys, 2)
    assert.equal(report.summary.nonLinearizableKeys, 1)
  })
})
