// The state machine asks the db worker to ship statement results back only when someone reads them: the
// client waiting on the leader, or a session that keeps them to answer a retry. A follower applying an
// entry nobody waits for gets none (a bulk insert would ship a thousand). Checked against a recording db.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { StatementResult } from '../../../src/db/types.js'
import { Fsm, type FsmDatabase } from '../../../src/store/fsm.js'
import { executeEntry } from './entries.js'

function recordingDb() {
  const calls: { method: string; discardResults: boolean }[] = []
  const answer = (method: string, options: { discardResults?: boolean }): Promise<StatementResult[]> => {
    calls.push({ method, discardResults: options.discardResults === true })
    return Promise.resolve(options.discardResults === true ? [] : [{ last_insert_id: 1, rows_affected: 1 }])
  }
  const db: FsmDatabase = {
    execute: (_batch, options) => answer('execute', options),
    request: (_batch, options) => answer('request', options),
    query: () => Promise.resolve([]),
    serialize: () => Promise.resolve(new Uint8Array()),
    restore: () => Promise.resolve(0),
  }
  return { db, calls }
}

test('results are shipped for a waiting client and for sessions, and discarded when nobody reads them', async () => {
  const { db, calls } = recordingDb()
  const fsm = new Fsm(db)
  const waited = fsm.wait(2, 1)
  await fsm.apply([
    executeEntry(1),
    executeEntry(2),
    executeEntry(3, { clientId: 'queue-1', seq: 1 }),
    executeEntry(4, { mixed: true }),
  ])
  assert.deepEqual(calls, [
    { method: 'execute', discardResults: true },
    { method: 'execute', discardResults: false },
    { method: 'execute', discardResults: false },
    { method: 'request', discardResults: true },
  ])
  assert.deepEqual(await waited, [{ last_insert_id: 1, rows_affected: 1 }])
  assert.equal(fsm.appliedIndex, 4)
})
