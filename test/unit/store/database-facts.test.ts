// /status asks the SQLite worker for the database's own applied index and foreign-key setting; a worker held
// by a snapshot capture must not hold /status too. Checked over a fake worker whose answers the test holds.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Replica } from '../../../src/replica/replica.js'
import type { Fsm } from '../../../src/store/fsm.js'
import { Store, type StoreOptions } from '../../../src/store/store.js'

function storeOverHeldWorker() {
  const worker = { appliedIndex: 5, hold: false, held: [] as (() => void)[] }
  const local = {
    appliedIndex: () =>
      worker.hold
        ? new Promise<number>((resolve) => worker.held.push(() => resolve(worker.appliedIndex)))
        : Promise.resolve(worker.appliedIndex),
    query: () => Promise.resolve([{ columns: ['foreign_keys'], types: ['integer'], values: [[1]] }]),
  }
  const options = { nodeId: 1, replica: { events: {} } as unknown as Replica, fsm: {} as Fsm, local }
  return { store: new Store(options as unknown as StoreOptions), worker }
}

test('a busy worker: the facts it gave last, after the wait; its answer once it comes', async () => {
  const { store, worker } = storeOverHeldWorker()
  assert.deepEqual(await store.databaseFacts(20), { appliedIndex: 5, foreignKeys: true })
  worker.appliedIndex = 9
  worker.hold = true
  assert.deepEqual(await store.databaseFacts(20), { appliedIndex: 5, foreignKeys: true })
  // The worker answers: that answer is what the next busy moment reports.
  worker.held.shift()!()
  const answered = store.databaseFacts(20)
  worker.held.shift()!()
  assert.deepEqual(await answered, { appliedIndex: 9, foreignKeys: true })
  worker.appliedIndex = 12
  assert.deepEqual(await store.databaseFacts(20), { appliedIndex: 9, foreignKeys: true })
})

test('the first question waits for the worker however long it takes: there is nothing to answer before', async () => {
  const { store, worker } = storeOverHeldWorker()
  worker.hold = true
  let settled = false
  const first = store.databaseFacts(0).then((facts) => {
    settled = true
    return facts
  })
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(settled, false)
  worker.held.shift()!()
  assert.deepEqual(await first, { appliedIndex: 5, foreignKeys: true })
})
