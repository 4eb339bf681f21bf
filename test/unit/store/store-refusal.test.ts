// Store.execute refuses a write it cannot propose at once (a throw, not a rejection): the HTTP route forwards
// on that refusal and lets go of the statements once execute returns (test/unit/http/execute-route.test.ts).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Replica } from '../../../src/replica/replica.js'
import { NotLeaderError } from '../../../src/store/errors.js'
import { Store, type StoreOptions } from '../../../src/store/store.js'

function store(role: 'leader' | 'follower', accepts: boolean) {
  const proposed: Uint8Array[] = []
  const replica = {
    events: {},
    status: () => ({ role, leaderId: 2, term: 1, config: { voters: [1, 2], nonVoters: [] } }),
    softState: () => ({ role, leaderId: 2 }),
    propose(data: Uint8Array) {
      if (!accepts) return { accepted: false }
      proposed.push(data)
      return { accepted: true, index: proposed.length, term: 1 }
    },
  }
  // Only what execute() touches before it waits is provided: the replica, and the members the state machine knows.
  const fsm = {
    nodes: new Map([[2, { nodeId: 2, httpAddress: '127.0.0.1:4011', raftAddress: '127.0.0.1:4012' }]]),
  }
  const options = { nodeId: 1, replica: replica as unknown as Replica, fsm } as unknown as StoreOptions
  return { store: new Store(options), proposed }
}

test('a follower throws NotLeaderError from execute itself', () => {
  const { store: follower, proposed } = store('follower', true)
  assert.throws(
    () => follower.execute({ statements: ['INSERT INTO t VALUES (1)'] }),
    (error) => error instanceof NotLeaderError && error.leaderRaftAddress === '127.0.0.1:4012',
  )
  assert.equal(proposed.length, 0)
})

test('a leader whose proposal is refused (leadership moving) throws NotLeaderError from execute itself', () => {
  const { store: leader } = store('leader', false)
  assert.throws(() => leader.execute({ statements: ['INSERT INTO t VALUES (1)'] }), NotLeaderError)
})

test('a refused pragma throws from execute itself too', () => {
  const { store: leader, proposed } = store('leader', true)
  assert.throws(() => leader.execute({ statements: ['PRAGMA journal_mode=WAL'] }))
  assert.equal(proposed.length, 0)
})
