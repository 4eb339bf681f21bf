// Applies overlap (the replica's `pipelineApplies`): the state machine says when it holds a call's entries, the
// next call hands over its own before the first call's results are in, and results are still taken, and
// waiters answered, in log order. Checked against a db whose answers come only when the test says so.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { StatementResult } from '../../../src/db/types.js'
import type { Entry } from '../../../src/raft/index.js'
import { encodeCommand } from '../../../src/store/command-codec.js'
import { Fsm, type FsmDatabase } from '../../../src/store/fsm.js'
import { executeEntry } from './entries.js'

/** A db that records what it is handed and answers everything handed so far, in order, on `answerAll`. */
function heldDb() {
  const handed: number[] = []
  const pending: (() => void)[] = []
  const run = (options: { index?: number }): Promise<StatementResult[]> => {
    handed.push(options.index ?? -1)
    return new Promise((resolve) =>
      pending.push(() => resolve([{ last_insert_id: options.index ?? 0, rows_affected: 1 }])),
    )
  }
  const db: FsmDatabase = {
    execute: (_batch, options) => run(options),
    request: (_batch, options) => run(options),
    query: () => Promise.resolve([]),
    serialize: () => Promise.resolve(new Uint8Array()),
    restore: () => Promise.resolve(0),
  }
  const answerAll = (): void => {
    for (const answer of pending.splice(0)) answer()
  }
  return { db, handed, answerAll }
}

function nodeMetaEntry(index: number): Entry {
  const data = encodeCommand({ kind: 'nodeMeta', nodeId: 7, raftAddress: 'r:1', httpAddress: 'h:1' })
  return { index, term: 1, kind: 'normal', data }
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

test('a second apply hands its entries over before the first one’s results are in; both finish in log order', async () => {
  const { db, handed, answerAll } = heldDb()
  const fsm = new Fsm(db)
  const applied: number[] = []
  fsm.onApplied = (index) => applied.push(index)
  const answered: number[] = []
  for (const index of [1, 2, 3]) void fsm.wait(index, 1).then(() => answered.push(index))
  const taken: string[] = []
  const first = fsm.apply([executeEntry(1), executeEntry(2)], () => taken.push('first'))
  assert.deepEqual(taken, ['first'], 'the first call says at once that it holds its entries')
  const second = fsm.apply([executeEntry(3)], () => taken.push('second'))
  assert.deepEqual(handed, [1, 2, 3], 'the second call handed its entry over while the first ran')
  const finished: string[] = []
  void first.then(() => finished.push('first'))
  void second.then(() => finished.push('second'))
  answerAll()
  await Promise.all([first, second])
  await settle()
  assert.deepEqual(applied, [1, 2, 3])
  assert.deepEqual(answered, [1, 2, 3])
  assert.deepEqual(finished, ['first', 'second'])
  assert.equal(fsm.appliedIndex, 3)
})

test('an apply holding an entry that waits for the ones before says it holds them only once it does', async () => {
  const { db, handed, answerAll } = heldDb()
  const fsm = new Fsm(db)
  let taken = false
  const applying = fsm.apply([executeEntry(1), nodeMetaEntry(2), executeEntry(3)], () => {
    taken = true
  })
  await settle()
  assert.deepEqual(handed, [1], 'the node entry waits for the execute before it')
  assert.equal(taken, false)
  answerAll()
  await settle()
  assert.deepEqual(handed, [1, 3])
  assert.equal(taken, true)
  assert.equal(fsm.nodes.get(7)?.raftAddress, 'r:1')
  answerAll()
  await applying
  assert.equal(fsm.appliedIndex, 3)
})
