// A plain execute is proposed without a session, so that every replica but the leader answering it skips its
// results; only a sender that may send the request again (the write queue) names one, and then every replica
// keeps the results to answer the retry. Checked by proposing through a Store over a fake replica and applying
// the proposed entry to a follower's state machine over a recording db.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { StatementResult } from '../../../src/db/types.js'
import type { Entry } from '../../../src/raft/index.js'
import type { Replica } from '../../../src/replica/replica.js'
import { decodeCommand } from '../../../src/store/command-codec.js'
import { Fsm, type FsmDatabase } from '../../../src/store/fsm.js'
import { Store, type StoreOptions } from '../../../src/store/store.js'

function recordingDb() {
  const discarded: boolean[] = []
  const db: FsmDatabase = {
    execute: (_batch, options) => {
      discarded.push(options.discardResults === true)
      return Promise.resolve(
        options.discardResults === true ? [] : [{ last_insert_id: 1, rows_affected: 1 } as StatementResult],
      )
    },
    request: () => Promise.reject(new Error('not used')),
    query: () => Promise.resolve([]),
    serialize: () => Promise.resolve(new Uint8Array()),
    restore: () => Promise.resolve(0),
  }
  return { db, discarded }
}

/** A leader's store whose proposals are recorded, not replicated; `commit` applies them to its own Fsm. */
function leaderStore() {
  const proposed: (Entry & { kind: 'normal' })[] = []
  const replica = {
    events: {},
    status: () => ({ role: 'leader', leaderId: 1, term: 1, config: { voters: [1], nonVoters: [] } }),
    softState: () => ({ role: 'leader', leaderId: 1 }),
    propose(data: Uint8Array) {
      const entry = { index: proposed.length + 1, term: 1, kind: 'normal' as const, data }
      proposed.push(entry)
      return { accepted: true, index: entry.index, term: entry.term }
    },
  }
  const leader = recordingDb()
  const fsm = new Fsm(leader.db)
  // Only what execute() touches is provided: the replica (status, softState, propose) and the state machine.
  const options = { nodeId: 1, replica: replica as unknown as Replica, fsm } as unknown as StoreOptions
  const store = new Store(options)
  return { store, proposed, fsm, leader }
}

test('a plain execute carries no session: a follower discards its results, the waiting leader gets them', async () => {
  const { store, proposed, fsm, leader } = leaderStore()
  const answered = store.execute({ statements: ['INSERT INTO t VALUES (1)'] })
  assert.equal(proposed.length, 1)
  const command = decodeCommand(proposed[0]!.data)
  assert.equal(command.kind, 'execute')
  assert.equal(command.kind === 'execute' && command.clientId, '')

  await fsm.apply(proposed)
  assert.deepEqual((await answered).results, [{ last_insert_id: 1, rows_affected: 1 }])
  assert.deepEqual(leader.discarded, [false])

  const follower = recordingDb()
  await new Fsm(follower.db).apply(proposed)
  assert.deepEqual(follower.discarded, [true])
})

test('an execute with a session (the write queue) keeps its results on every replica, for a retry', async () => {
  const { store, proposed, fsm } = leaderStore()
  const session = { clientId: 'queue-7', seq: 3 }
  const answered = store.execute({ statements: ['INSERT INTO t VALUES (1)'], session })
  const command = decodeCommand(proposed[0]!.data)
  assert.ok(command.kind === 'execute' && command.clientId === 'queue-7' && command.seq === 3)
  await fsm.apply(proposed)
  await answered

  const follower = recordingDb()
  await new Fsm(follower.db).apply(proposed)
  assert.deepEqual(follower.discarded, [false])
})
