// Proves the bank checker rejects reads with a wrong total, missing or extra accounts and negative
// balances, and accepts consistent snapshots (stale ones too).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type BankRead, checkBank } from './bank.js'

const options = { accounts: [1, 2, 3], total: 30 }
let nextId = 1
function read(balances: [number, number][], final = false): BankRead {
  return { id: nextId++, client: 0, call: 0, ret: 1, balances, final }
}

test('consistent snapshots pass', () => {
  const result = checkBank(
    [
      read([
        [1, 10],
        [2, 10],
        [3, 10],
      ]),
      read(
        [
          [3, 0],
          [1, 25],
          [2, 5],
        ],
        true,
      ),
    ],
    {
      ...options,
      requireFinal: true,
    },
  )
  assert.deepEqual(
    [result.ok, result.reads, result.wrongSum, result.wrongAccounts, result.negative],
    [true, 2, 0, 0, 0],
  )
})

test('a read with the wrong total is rejected', () => {
  const result = checkBank(
    [
      read([
        [1, 10],
        [2, 10],
        [3, 11],
      ]),
    ],
    options,
  )
  assert.equal(result.ok, false)
  assert.equal(result.wrongSum, 1)
  assert.match(result.anomalies[0]!, /wrong total: .*summed to 31, expected 30: 1:10 2:10 3:11/)
})

test('missing accounts, negative balances and a missing final read are rejected', () => {
  assert.equal(
    checkBank(
      [
        read([
          [1, 15],
          [2, 15],
        ]),
      ],
      options,
    ).wrongAccounts,
    1,
  )
  assert.equal(
    checkBank(
      [
        read([
          [1, 10],
          [2, 10],
          [3, 10],
          [4, 0],
        ]),
      ],
      options,
    ).wrongAccounts,
    1,
  )
  const negative = checkBank(
    [
      read([
        [1, 40],
        [2, -10],
        [3, 0],
      ]),
    ],
    options,
  )
  assert.equal(negative.ok, false)
  assert.equal(negative.negative, 1)
  const noFinal = checkBank(
    [
      read([
        [1, 10],
        [2, 10],
        [3, 10],
      ]),
    ],
    { ...options, requireFinal: true },
  )
  assert.equal(noFinal.ok, false)
  assert.equal(noFinal.missingFinal, true)
})
