// Proves the set checker reports lost, duplicated and unexpected values and accepts legal outcomes, using hand-written final reads and a seeded simulated workload with injected faults.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { checkSet, describeSetCheck } from './set-checker.js'

describe('checkSet', () => {
  test('every acknowledged value once, indeterminate ones present or absent: ok', () => {
    const result = checkSet({
      acknowledged: ['a', 'b', 'c'],
      indeterminate: ['d', 'e'],
      finalRead: ['c', 'a', 'd', 'b'],
    })
    assert.deepEqual(result, {
      ok: true,
      lost: [],
      duplicated: [],
      unexpected: [],
      recovered: 1,
      absentIndeterminate: 1,
    })
    assert.equal(describeSetCheck(result), 'set ok (1 indeterminate inserts applied, 1 absent)')
  })

  test('an empty workload with an empty read is ok', () => {
    assert.equal(checkSet({ acknowledged: [], indeterminate: [], finalRead: [] }).ok, true)
  })

  test('an acknowledged value missing from the final read is lost', () => {
    const result = checkSet({ acknowledged: ['a', 'b', 'c'], indeterminate: [], finalRead: ['a'] })
    assert.equal(result.ok, false)
    assert.deepEqual(result.lost, ['b', 'c'])
    assert.equal(describeSetCheck(result), 'lost 2: "b", "c"')
  })

  test('a value read twice is duplicated, acknowledged or indeterminate alike', () => {
    const result = checkSet({
      acknowledged: ['a'],
      indeterminate: ['b'],
      finalRead: ['a', 'b', 'a', 'b', 'b'],
    })
    assert.equal(result.ok, false)
    assert.deepEqual(result.duplicated, [
      { value: 'a', count: 2 },
      { value: 'b', count: 3 },
    ])
    assert.deepEqual(result.lost, [])
    assert.deepEqual(result.unexpected, [])
  })

  test('a value never attempted is unexpected, and so is one whose insert definitely failed', () => {
    // The failed insert of "f" is, by the history format, simply not listed.
    const result = checkSet({ acknowledged: ['a'], indeterminate: [], finalRead: ['a', 'zzz', 'f', 'zzz'] })
    assert.equal(result.ok, false)
    assert.deepEqual(result.unexpected, ['zzz', 'f'])
    assert.deepEqual(result.duplicated, [{ value: 'zzz', count: 2 }])
    assert.equal(describeSetCheck(result), 'duplicated 1: "zzz" x2\nunexpected 2: "zzz", "f"')
  })

  test('a value both acknowledged and indeterminate must be present', () => {
    const result = checkSet({ acknowledged: ['a'], indeterminate: ['a'], finalRead: [] })
    assert.deepEqual(result.lost, ['a'])
    assert.equal(result.absentIndeterminate, 0)
  })

  test('numbers work as values, and 1 is not "1"', () => {
    const result = checkSet<number | string>({ acknowledged: [1, 2], indeterminate: [], finalRead: [1, '2'] })
    assert.deepEqual(result.lost, [2])
    assert.deepEqual(result.unexpected, ['2'])
  })

  test('a seeded simulated workload passes, and each injected fault is reported', () => {
    let seed = 99
    const random = (): number => {
      seed = (seed + 0x6d2b79f5) | 0
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
    const acknowledged: number[] = []
    const indeterminate: number[] = []
    const stored: number[] = []
    for (let value = 0; value < 5_000; value++) {
      const roll = random()
      if (roll < 0.8) {
        acknowledged.push(value)
        stored.push(value)
      } else if (roll < 0.9) {
        indeterminate.push(value)
        if (random() < 0.5) stored.push(value)
      }
      // Otherwise the insert definitely failed and was not applied.
    }
    const shuffled = [...stored]
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]
    }
    assert.equal(checkSet({ acknowledged, indeterminate, finalRead: shuffled }).ok, true)

    const lostValue = acknowledged[1234]!
    const withLoss = shuffled.filter((value) => value !== lostValue)
    assert.deepEqual(checkSet({ acknowledged, indeterminate, finalRead: withLoss }).lost, [lostValue])

    const duplicate = shuffled[17]!
    const withDuplicate = [...shuffled, duplicate]
    assert.deepEqual(checkSet({ acknowledged, indeterminate, finalRead: withDuplicate }).duplicated, [
      { value: duplicate, count: 2 },
    ])

    const withStranger = [...shuffled, 1_000_000]
    assert.deepEqual(
      checkSet({ acknowledged, indeterminate, finalRead: withStranger }).unexpected,
      [1_000_000],
    )
  })
})
