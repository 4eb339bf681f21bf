// Property-based tests (fast-check) of the quorum arithmetic, single-server membership changes and the
// leader's per-follower Progress bookkeeping, each compared with a deliberately naive model.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { applyConfChange } from '../../../src/raft/membership.js'
import type { ClusterConfig, ConfChange, NodeId } from '../../../src/raft/message.js'
import { Progress } from '../../../src/raft/progress.js'
import { committedIndex, majority, voteResult } from '../../../src/raft/quorum.js'

const nodeId = fc.integer({ min: 1, max: 12 })
const voterSet = fc.uniqueArray(nodeId, { maxLength: 9 })
/** Match indexes for some node ids (voters or not); ids without an entry have matched nothing. */
const matchMap = fc
  .array(fc.tuple(nodeId, fc.nat({ max: 50 })), { maxLength: 14 })
  .map((pairs) => new Map(pairs))
const voteMap = fc.array(fc.tuple(nodeId, fc.boolean()), { maxLength: 14 }).map((pairs) => new Map(pairs))

/** Naive commit index: the largest index that more than half of the voters have reached (0 if none). */
function naiveCommitted(voters: readonly NodeId[], match: ReadonlyMap<NodeId, number>): number {
  const of = (id: NodeId): number => match.get(id) ?? 0
  let best = 0
  for (const candidate of voters.map(of)) {
    const reached = voters.filter((id) => of(id) >= candidate).length
    if (2 * reached > voters.length && candidate > best) best = candidate
  }
  return best
}

/** Naive election result: won with more than half granted; lost once even all silent voters could not make it. */
function naiveVote(
  voters: readonly NodeId[],
  votes: ReadonlyMap<NodeId, boolean>,
): 'won' | 'lost' | 'pending' {
  const granted = voters.filter((id) => votes.get(id) === true).length
  const rejected = voters.filter((id) => votes.get(id) === false).length
  if (voters.length === 0) return 'lost'
  if (2 * granted > voters.length) return 'won'
  if (2 * (voters.length - rejected) <= voters.length) return 'lost'
  return 'pending'
}

describe('quorum arithmetic', () => {
  test('majority(n) is the smallest count that is more than half of n', () => {
    for (let n = 1; n <= 100; n++) {
      const m = majority(n)
      assert.ok(2 * m > n && 2 * (m - 1) <= n, `majority(${n}) = ${m}`)
    }
  })

  test('committedIndex equals the naive model (the largest index a strict majority of voters reached)', () => {
    fc.assert(
      fc.property(voterSet, matchMap, (voters, match) => {
        assert.equal(
          committedIndex(voters, (id) => match.get(id) ?? 0),
          naiveCommitted(voters, match),
        )
      }),
      { numRuns: 2000 },
    )
  })

  test('committedIndex ignores non-voters and never decreases when a voter acknowledges more', () => {
    fc.assert(
      fc.property(voterSet, matchMap, nodeId, fc.nat({ max: 50 }), (voters, match, who, more) => {
        const before = committedIndex(voters, (id) => match.get(id) ?? 0)
        const bumped = new Map(match).set(who, (match.get(who) ?? 0) + more)
        const after = committedIndex(voters, (id) => bumped.get(id) ?? 0)
        if (voters.includes(who)) assert.ok(after >= before)
        else assert.equal(after, before)
      }),
      { numRuns: 1000 },
    )
  })

  test('voteResult equals the naive counting model (votes of non-voters do not count)', () => {
    fc.assert(
      fc.property(voterSet, voteMap, (voters, votes) => {
        assert.equal(voteResult(voters, votes), naiveVote(voters, votes))
      }),
      { numRuns: 2000 },
    )
  })

  test('voteResult is decided (never pending) once every voter has answered', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(nodeId, { minLength: 1, maxLength: 9 }),
        fc.infiniteStream(fc.boolean()),
        (voters, answers) => {
          const votes = new Map(voters.map((id) => [id, answers.next().value as boolean]))
          assert.notEqual(voteResult(voters, votes), 'pending')
        },
      ),
    )
  })
})

// --- membership ----------------------------------------------------------------------------------------

/** A configuration: every id of 1..12 is a voter, a non-voter or absent; lists sorted ascending. */
const clusterConfig: fc.Arbitrary<ClusterConfig> = fc
  .array(fc.constantFrom('voter', 'nonVoter', 'absent'), { minLength: 12, maxLength: 12 })
  .map((roles) => ({
    voters: roles.flatMap((r, i) => (r === 'voter' ? [i + 1] : [])),
    nonVoters: roles.flatMap((r, i) => (r === 'nonVoter' ? [i + 1] : [])),
  }))

const confChange: fc.Arbitrary<ConfChange> = fc.record({
  type: fc.constantFrom('addVoter', 'addNonVoter', 'promote', 'remove'),
  nodeId: fc.oneof({ weight: 9, arbitrary: nodeId }, { weight: 1, arbitrary: fc.constantFrom(0, -3, 2.5) }),
}) as fc.Arbitrary<ConfChange>

const isSortedUnique = (ids: readonly NodeId[]): boolean => ids.every((id, i) => i === 0 || ids[i - 1]! < id)

/** Naive model of one change: the new role of the node, or undefined when the change must be refused. */
function naiveChange(
  config: ClusterConfig,
  change: ConfChange,
): Map<NodeId, 'voter' | 'nonVoter'> | undefined {
  const roles = new Map<NodeId, 'voter' | 'nonVoter'>()
  for (const id of config.voters) roles.set(id, 'voter')
  for (const id of config.nonVoters) roles.set(id, 'nonVoter')
  const id = change.nodeId
  if (!Number.isSafeInteger(id) || id <= 0) return undefined
  const role = roles.get(id)
  switch (change.type) {
    case 'addVoter':
      if (role === 'voter') return undefined
      roles.set(id, 'voter')
      break
    case 'addNonVoter':
      if (role !== undefined) return undefined
      roles.set(id, 'nonVoter')
      break
    case 'promote':
      if (role !== 'nonVoter') return undefined
      roles.set(id, 'voter')
      break
    case 'remove':
      if (role === undefined) return undefined
      if (role === 'voter' && config.voters.length === 1) return undefined
      roles.delete(id)
      break
  }
  return roles
}

const deepFreeze = (config: ClusterConfig): ClusterConfig =>
  Object.freeze({
    voters: Object.freeze([...config.voters]),
    nonVoters: Object.freeze([...config.nonVoters]),
  })

describe('applyConfChange', () => {
  test('never mutates its input; results keep voters and non-voters disjoint, sorted and unique', () => {
    fc.assert(
      fc.property(clusterConfig, confChange, (config, change) => {
        const frozen = deepFreeze(config) // a mutation attempt would throw (ES modules are strict)
        const before = JSON.stringify(frozen)
        const result = applyConfChange(frozen, change)
        assert.equal(JSON.stringify(frozen), before)
        if (!result.ok) return
        const { voters, nonVoters } = result.config
        assert.ok(isSortedUnique(voters), `voters ${voters}`)
        assert.ok(isSortedUnique(nonVoters), `nonVoters ${nonVoters}`)
        assert.ok(
          voters.every((id) => !nonVoters.includes(id)),
          'disjoint',
        )
        assert.notEqual(result.config.voters, frozen.voters, 'a fresh array, not the input')
      }),
      { numRuns: 2000 },
    )
  })

  test('accepts and refuses exactly as the naive model, and changes only the named node', () => {
    fc.assert(
      fc.property(clusterConfig, confChange, (config, change) => {
        const expected = naiveChange(config, change)
        const result = applyConfChange(config, change)
        assert.equal(
          result.ok,
          expected !== undefined,
          `${change.type}(${change.nodeId}) on ${JSON.stringify(config)}`,
        )
        if (!result.ok || !expected) return
        const voters = [...expected]
          .flatMap(([id, role]) => (role === 'voter' ? [id] : []))
          .sort((a, b) => a - b)
        const nonVoters = [...expected]
          .flatMap(([id, role]) => (role === 'nonVoter' ? [id] : []))
          .sort((a, b) => a - b)
        assert.deepEqual(result.config, { voters, nonVoters })
      }),
      { numRuns: 2000 },
    )
  })

  test('a sequence of accepted changes from a bootstrap configuration never leaves the cluster without a voter', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(nodeId, { minLength: 1, maxLength: 5 }),
        fc.array(confChange, { maxLength: 30 }),
        (founders, changes) => {
          let config: ClusterConfig = { voters: [...founders].sort((a, b) => a - b), nonVoters: [] }
          for (const change of changes) {
            const result = applyConfChange(config, change)
            if (result.ok) config = result.config
            assert.ok(config.voters.length >= 1)
          }
        },
      ),
    )
  })
})

// --- Progress ------------------------------------------------------------------------------------------

type ProgressOp =
  | { op: 'send'; count: number }
  | { op: 'ack'; offset: number }
  | { op: 'reject'; offset: number; hint: number }
  | { op: 'heartbeatResponse' }
  | { op: 'becomeProbe' }
  | { op: 'becomeReplicate' }
  | { op: 'becomeSnapshot'; ahead: number }

const progressOp: fc.Arbitrary<ProgressOp> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ op: fc.constant('send' as const), count: fc.integer({ min: 0, max: 3 }) }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('ack' as const), offset: fc.integer({ min: -2, max: 8 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('reject' as const),
      offset: fc.integer({ min: -2, max: 8 }),
      hint: fc.nat({ max: 30 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'heartbeatResponse' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'becomeProbe' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'becomeReplicate' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('becomeSnapshot' as const),
      ahead: fc.integer({ min: 0, max: 5 }),
    }),
  },
)

describe('Progress', () => {
  test('inflight bookkeeping: bounded, ascending, freed exactly up to the acknowledged index; match < next', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(progressOp, { maxLength: 60 }),
        (max, start, ops) => {
          const pr = new Progress(start, max)
          let lastIndex = start + 10 // the leader's log; appends never go beyond it
          for (const step of ops) {
            const before = { match: pr.match, next: pr.next, inflights: [...pr.inflights], state: pr.state }
            switch (step.op) {
              case 'send': {
                // As the leader does: only when not paused, and never in snapshot state (which is always paused).
                if (pr.isPaused()) break
                const last = step.count === 0 ? undefined : pr.next + step.count - 1
                if (last !== undefined) lastIndex = Math.max(lastIndex, last)
                pr.sentAppend(last)
                if (pr.state === 'replicate' && last !== undefined) {
                  assert.equal(pr.next, last + 1, 'optimistic next after a pipelined append')
                  assert.deepEqual(pr.inflights, [...before.inflights, last])
                }
                if (pr.state === 'probe') assert.ok(pr.probeSent && pr.isPaused(), 'one probe at a time')
                break
              }
              case 'ack': {
                const index = Math.max(0, Math.min(lastIndex, pr.match + step.offset))
                const updated = pr.maybeUpdate(index)
                assert.equal(updated, index > before.match)
                assert.equal(pr.match, Math.max(before.match, index), 'match never goes back')
                assert.ok(pr.next >= before.next, 'an acknowledgement never moves next back')
                if (pr.state === 'replicate') {
                  pr.freeInflightsTo(pr.match)
                  assert.deepEqual(
                    pr.inflights,
                    before.inflights.filter((i) => i > pr.match),
                    'exactly the acknowledged prefix is freed',
                  )
                }
                break
              }
              case 'reject': {
                const rejected = Math.max(0, pr.next - 1 + step.offset - 2)
                const changed = pr.maybeDecreaseTo(rejected, step.hint)
                if (before.state === 'replicate') {
                  assert.equal(changed, rejected > before.match, 'stale rejections are ignored')
                  if (changed) assert.equal(pr.next, pr.match + 1)
                } else if (before.state === 'probe') {
                  assert.equal(
                    changed,
                    rejected === before.next - 1,
                    'only the answer to the last probe counts',
                  )
                  if (changed) {
                    assert.ok(pr.next <= before.next, 'a rejection never moves next forward')
                    assert.ok(!pr.probeSent, 'the next probe may go out')
                  }
                }
                if (!changed) assert.deepEqual([pr.match, pr.next], [before.match, before.next])
                if (changed && pr.state === 'replicate') pr.becomeProbe()
                break
              }
              case 'heartbeatResponse':
                // As the leader does: a full window may have been lost, so one slot is freed.
                pr.probeSent = false
                if (pr.state === 'replicate' && pr.isPaused()) pr.inflights.shift()
                break
              case 'becomeProbe':
                pr.becomeProbe()
                assert.ok(pr.next >= pr.match + 1)
                break
              case 'becomeReplicate':
                pr.becomeReplicate()
                assert.equal(pr.next, pr.match + 1)
                break
              case 'becomeSnapshot':
                pr.becomeSnapshot(Math.max(pr.match, lastIndex - step.ahead))
                assert.ok(pr.isPaused(), 'no appends while a snapshot is in flight')
                break
            }
            // Invariants after every step.
            assert.ok(pr.match < pr.next, `match ${pr.match} < next ${pr.next} after ${JSON.stringify(step)}`)
            assert.ok(pr.inflights.length <= max, 'the window is bounded')
            assert.ok(isSortedUnique(pr.inflights), `inflights ascending: ${pr.inflights}`)
            if (pr.state !== 'replicate') assert.deepEqual(pr.inflights, [], `no inflights in ${pr.state}`)
            else
              assert.ok(
                pr.inflights.every((i) => i < pr.next),
                'every in-flight append is below next',
              )
            const paused =
              pr.state === 'probe'
                ? pr.probeSent
                : pr.state === 'replicate'
                  ? pr.inflights.length >= max
                  : true
            assert.equal(pr.isPaused(), paused)
          }
        },
      ),
      { numRuns: 1500 },
    )
  })

  test('leaving snapshot state resumes after the snapshot (or the match), never before', () => {
    fc.assert(
      fc.property(fc.nat({ max: 30 }), fc.nat({ max: 30 }), fc.nat({ max: 30 }), (match, snapshot, acked) => {
        const pr = new Progress(match + 1, 4)
        pr.maybeUpdate(match)
        pr.becomeSnapshot(snapshot)
        pr.maybeUpdate(acked)
        pr.becomeProbe()
        assert.equal(pr.next, Math.max(pr.match + 1, snapshot + 1))
        assert.equal(pr.pendingSnapshot, 0)
      }),
    )
  })
})
