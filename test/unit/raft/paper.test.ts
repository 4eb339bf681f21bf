// Checks the Raft core against the rules of the Raft paper and thesis, one rule per test in the style of
// etcd's raft_paper_test.go, by driving RawNodes over MemoryLogs with hand-made messages and ticks.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  type Entry,
  type HardState,
  MemoryLog,
  type Message,
  type NodeId,
  type PlantedBug,
  type RaftConfig,
  RawNode,
  type ReadState,
  type VoteMessage,
  bootstrapLog,
} from '../../../src/raft/index.js'
import { type EnvNode, InteractionEnv, mulberry32 } from '../../raft/interaction-env.js'

// --- a minimal driver ---------------------------------------------------------------------------

interface Drained {
  messages: Message[]
  readStates: ReadState[]
  droppedReads: number[]
  committed: Entry[]
  hardStates: HardState[]
}

/** Handles every pending Ready of `n` like a driver would (persist, then advance) and returns what came out. */
function drain(n: EnvNode): Drained {
  const out: Drained = { messages: [], readStates: [], droppedReads: [], committed: [], hardStates: [] }
  while (n.node.hasReady()) {
    const ready = n.node.ready()
    if (ready.snapshot) n.storage.applySnapshot(ready.snapshot)
    n.storage.append(ready.entries)
    if (ready.hardState) {
      n.storage.setHardState(ready.hardState)
      out.hardStates.push(ready.hardState)
    }
    out.messages.push(...ready.messages)
    out.readStates.push(...ready.readStates)
    out.droppedReads.push(...ready.droppedReads)
    out.committed.push(...ready.committedEntries)
    n.node.advance()
    n.node.check()
  }
  return out
}

const data = (text: string): Uint8Array => new TextEncoder().encode(text)
const normal = (term: number, index: number, text = `e${index}`): Entry => ({
  kind: 'normal',
  term,
  index,
  data: data(text),
})

interface NodeOptions {
  voters?: NodeId[]
  /** Entries after the bootstrap entries (which are 1/1 .. 1/voters.length). */
  entries?: Entry[]
  term?: number
  vote?: NodeId
  commit?: number
  config?: Partial<RaftConfig>
  bugs?: Set<PlantedBug>
}

/** A single RawNode over its own MemoryLog, bootstrapped as a member of `voters` (default 1, 2, 3). */
function makeNode(id: NodeId, options: NodeOptions = {}): EnvNode {
  const voters = options.voters ?? [1, 2, 3]
  const boot = bootstrapLog(voters)
  const storage = new MemoryLog()
  storage.append([...boot.entries, ...(options.entries ?? [])])
  storage.setHardState({
    term: options.term ?? 1,
    vote: options.vote ?? 0,
    commit: options.commit ?? boot.hardState.commit,
  })
  const node = new RawNode(
    {
      id,
      electionTicks: 10,
      heartbeatTicks: 1,
      random: mulberry32(id),
      inflightMessagesMax: 4,
      // The section tests pin etcd's flow, where a commit goes out at once; the lazy one has its own tests.
      lazyCommitBroadcast: false,
      bugs: options.bugs ?? new Set(),
      ...options.config,
    },
    storage,
  )
  const n: EnvNode = { id, storage, node, applied: [] }
  drain(n)
  return n
}

/** Node 1 of {1, 2, 3} (or `options.voters`), taken through PreVote and a vote to leadership of term+1. */
function makeLeader(options: NodeOptions = {}): EnvNode {
  const n = makeNode(1, options)
  const term = n.node.status().term + 1
  const voters = options.voters ?? [1, 2, 3]
  const granting = voters.slice(1, Math.floor(voters.length / 2) + 1)
  n.node.campaign()
  for (const from of granting) n.node.step({ type: 'preVoteResponse', from, to: 1, term, reject: false })
  for (const from of granting) n.node.step({ type: 'voteResponse', from, to: 1, term, reject: false })
  assert.equal(n.node.status().role, 'leader')
  return n
}

function append(
  from: NodeId,
  to: NodeId,
  term: number,
  prev: [term: number, index: number],
  entries: Entry[],
  commit: number,
): Message {
  return { type: 'append', from, to, term, prevTerm: prev[0], prevIndex: prev[1], entries, commit }
}

/** An acceptance of the leader's (node 1's) appends up to `index` by `from`, in `term`. */
function ackAppend(leader: EnvNode, from: NodeId, index: number, term = 2): void {
  leader.node.step({
    type: 'appendResponse',
    from,
    to: 1,
    term,
    index,
    reject: false,
    rejectHint: 0,
    hintTerm: 0,
  })
}

function vote(
  from: NodeId,
  to: NodeId,
  term: number,
  last: [term: number, index: number],
  type: 'vote' | 'preVote' = 'vote',
): VoteMessage {
  return { type, from, to, term, lastTerm: last[0], lastIndex: last[1], transfer: false }
}

const ofType = <T extends Message['type']>(
  messages: readonly Message[],
  type: T,
): (Message & { type: T })[] => messages.filter((m): m is Message & { type: T } => m.type === type)

const logOf = (n: EnvNode): string[] =>
  n.storage
    .entries({ from: n.storage.firstIndex(), to: n.storage.lastIndex() + 1 })
    .map((e) => `${e.term}/${e.index}`)

/** A bootstrapped InteractionEnv cluster with node 1 elected and everything delivered. */
function electedCluster(ids: NodeId[], config: Partial<RaftConfig> = {}): InteractionEnv {
  const env = new InteractionEnv()
  // The core's defaults, as a node runs it (the scripts' environment turns coalescing off).
  env.raftConfig = config
  env.bootstrap(ids)
  env.get(1).node.campaign()
  env.stabilize()
  assert.equal(env.get(1).node.status().role, 'leader')
  return env
}

// --- §5.1 terms ------------------------------------------------------------------------------------

describe('§5.1 Raft basics: terms', () => {
  test('§5.1: a node that receives a higher term becomes follower (from every role)', () => {
    const roles: Record<string, () => EnvNode> = {
      follower: () => makeNode(1),
      preCandidate: () => {
        const n = makeNode(1)
        n.node.campaign()
        return n
      },
      candidate: () => {
        const n = makeNode(1)
        n.node.campaign()
        n.node.step({ type: 'preVoteResponse', from: 2, to: 1, term: 2, reject: false })
        return n
      },
      leader: () => makeLeader(),
    }
    for (const [role, make] of Object.entries(roles)) {
      const n = make()
      assert.equal(n.node.status().role, role)
      n.node.step(append(3, 1, 7, [0, 0], [], 0))
      const s = n.node.status()
      assert.deepEqual([s.role, s.term, s.leaderId], ['follower', 7, 3], `from ${role}`)
      assert.deepEqual(drain(n).hardStates.at(-1), { term: 7, vote: 0, commit: 3 }, `from ${role}`)
    }
  })

  test('§5.1: a request with a stale term is rejected, and the reply carries the current term', () => {
    const n = makeNode(1, { term: 3, entries: [normal(2, 4)] })
    n.node.step(append(2, 1, 2, [2, 4], [normal(2, 5)], 4))
    const { messages } = drain(n)
    assert.deepEqual(
      ofType(messages, 'appendResponse').map((m) => [m.to, m.term, m.reject]),
      [[2, 3, true]],
    )
    assert.equal(n.node.status().lastIndex, 4, 'nothing was appended')
    assert.equal(n.node.status().leaderId, 0, 'the stale sender is not taken as leader')
  })
})

// --- §5.2 leader election --------------------------------------------------------------------------

describe('§5.2 leader election', () => {
  test('§5.2 + §9.6: a follower whose election timeout elapses pre-votes for term+1 without changing its term', () => {
    const n = makeNode(1, { config: { random: () => 0 } })
    for (let i = 0; i < 9; i++) n.node.tick()
    assert.equal(n.node.status().role, 'follower')
    n.node.tick()
    assert.equal(n.node.status().role, 'preCandidate')
    const out = drain(n)
    assert.deepEqual(
      out.messages.map((m) => [m.type, m.to, m.term]),
      [
        ['preVote', 2, 2],
        ['preVote', 3, 2],
      ],
    )
    assert.equal(n.node.status().term, 1)
    assert.deepEqual(out.hardStates, [], 'no term or vote is persisted for a pre-vote')
  })

  test('§5.2: election timeout randomized in [n, 2n)', () => {
    const ticksToCampaign = (random: () => number): number => {
      const n = makeNode(1, { config: { random } })
      for (let ticks = 1; ticks <= 100; ticks++) {
        n.node.tick()
        if (n.node.status().role !== 'follower') return ticks
      }
      return Number.POSITIVE_INFINITY
    }
    assert.equal(
      ticksToCampaign(() => 0),
      10,
    )
    assert.equal(
      ticksToCampaign(() => 0.999999),
      19,
    )
    const seen = new Set<number>()
    for (let seed = 1; seed <= 200; seed++) {
      const ticks = ticksToCampaign(mulberry32(seed))
      assert.ok(ticks >= 10 && ticks < 20, `seed ${seed}: ${ticks} ticks`)
      seen.add(ticks)
    }
    assert.equal(seen.size, 10, `every value of [10, 20) occurs over 200 seeds: ${[...seen].sort()}`)
  })

  test('§5.2: a candidate wins with a majority of votes, loses on a majority of refusals, else waits', () => {
    const cases: { size: number; votes: Record<number, boolean>; role: string }[] = [
      { size: 1, votes: {}, role: 'leader' },
      { size: 3, votes: { 2: true, 3: true }, role: 'leader' },
      { size: 3, votes: { 2: true }, role: 'leader' },
      { size: 5, votes: { 2: true, 3: true, 4: true, 5: true }, role: 'leader' },
      { size: 5, votes: { 2: true, 3: true }, role: 'leader' },
      { size: 3, votes: { 2: false, 3: false }, role: 'follower' },
      { size: 5, votes: { 2: false, 3: false, 4: false }, role: 'follower' },
      { size: 3, votes: {}, role: 'candidate' },
      { size: 5, votes: { 2: true }, role: 'candidate' },
      { size: 5, votes: { 2: true, 3: false, 4: false }, role: 'candidate' },
    ]
    for (const { size, votes, role } of cases) {
      const voters = Array.from({ length: size }, (_, i) => i + 1)
      const n = makeNode(1, { voters })
      n.node.campaign()
      for (const id of voters.slice(1))
        n.node.step({ type: 'preVoteResponse', from: id, to: 1, term: 2, reject: false })
      if (size > 1) assert.equal(n.node.status().role, 'candidate')
      for (const [id, granted] of Object.entries(votes)) {
        n.node.step({ type: 'voteResponse', from: Number(id), to: 1, term: 2, reject: !granted })
      }
      assert.equal(n.node.status().role, role, `${size} voters, votes ${JSON.stringify(votes)}`)
      assert.equal(n.node.status().term, 2)
    }
  })

  test('§5.2: a node grants at most one vote per term, first come first served', () => {
    const n = makeNode(1)
    n.node.step(vote(2, 1, 2, [1, 3]))
    n.node.step(vote(3, 1, 2, [1, 3]))
    n.node.step(vote(2, 1, 2, [1, 3])) // a retransmission is answered the same way
    const { messages, hardStates } = drain(n)
    assert.deepEqual(
      ofType(messages, 'voteResponse').map((m) => [m.to, m.reject]),
      [
        [2, false],
        [3, true],
        [2, false],
      ],
    )
    assert.deepEqual(hardStates.at(-1), { term: 2, vote: 2, commit: 3 }, 'the vote is persisted')
  })

  test('§5.2: a candidate that hears from a leader of its own term returns to follower', () => {
    for (const message of [
      append(2, 1, 2, [1, 3], [], 3),
      { type: 'heartbeat', from: 2, to: 1, term: 2, commit: 3, readRound: 0 } as const,
    ]) {
      const n = makeNode(1)
      n.node.campaign()
      n.node.step({ type: 'preVoteResponse', from: 2, to: 1, term: 2, reject: false })
      assert.equal(n.node.status().role, 'candidate')
      n.node.step(message)
      const s = n.node.status()
      assert.deepEqual([s.role, s.term, s.leaderId, s.vote], ['follower', 2, 2, 1], message.type)
    }
  })

  test('§5.2: a leader sends heartbeats to every follower each heartbeat interval', () => {
    const n = makeLeader({ voters: [1, 2, 3, 4], config: { heartbeatTicks: 3 } })
    drain(n)
    n.node.tick()
    n.node.tick()
    assert.deepEqual(ofType(drain(n).messages, 'heartbeat'), [])
    n.node.tick()
    assert.deepEqual(
      ofType(drain(n).messages, 'heartbeat').map((m) => [m.to, m.term]),
      [
        [2, 2],
        [3, 2],
        [4, 2],
      ],
    )
  })

  test('§4.2.3 / §9.6: a follower that heard from its leader within the election timeout ignores vote requests', () => {
    const n = makeNode(1, { config: { random: () => 0.99 } }) // its own timeout is 19 ticks
    n.node.step({ type: 'heartbeat', from: 2, to: 1, term: 1, commit: 3, readRound: 0 })
    drain(n)
    n.node.step(vote(3, 1, 2, [1, 3]))
    assert.deepEqual(drain(n).messages, [], 'ignored: no answer, no new term')
    assert.equal(n.node.status().term, 1)
    n.node.step({ ...vote(3, 1, 2, [1, 3]), transfer: true })
    assert.deepEqual(
      drain(n).messages.map((m) => [m.type, m.term, m.type === 'voteResponse' && m.reject]),
      [['voteResponse', 2, false]],
      'a campaign started by a leadership transfer is not ignored',
    )
    const m = makeNode(1, { config: { random: () => 0.99 } })
    m.node.step({ type: 'heartbeat', from: 2, to: 1, term: 1, commit: 3, readRound: 0 })
    for (let i = 0; i < 10; i++) m.node.tick()
    m.node.step(vote(3, 1, 2, [1, 3]))
    assert.deepEqual(
      ofType(drain(m).messages, 'voteResponse').map((r) => r.reject),
      [false],
      'after the timeout it votes',
    )
  })
})

// --- §5.3 log replication --------------------------------------------------------------------------

describe('§5.3 log replication', () => {
  test('§5.3: the leader appends a proposal to its log and sends it to every follower', () => {
    const env = electedCluster([1, 2, 3])
    const leader = env.get(1)
    const result = leader.node.propose(data('x'))
    assert.deepEqual(result, { accepted: true, index: 5, term: 2 })
    const ready = leader.node.ready()
    assert.deepEqual(
      ready.entries.map((e) => `${e.term}/${e.index}`),
      ['2/5'],
    )
    assert.deepEqual(
      ofType(ready.messages, 'append').map((m) => [
        m.to,
        m.prevTerm,
        m.prevIndex,
        m.entries.length,
        m.commit,
      ]),
      [
        [2, 2, 4, 1, 4],
        [3, 2, 4, 1, 4],
      ],
    )
  })

  test('§5.3: follower rejects append with mismatching prevTerm (and hints where to retry)', () => {
    const n = makeNode(1, { term: 2, entries: [normal(2, 4), normal(2, 5)] })
    n.node.step(append(2, 1, 3, [3, 5], [normal(3, 6)], 5)) // same index, other term
    n.node.step(append(2, 1, 3, [3, 8], [normal(3, 9)], 5)) // beyond the end of the log
    const responses = ofType(drain(n).messages, 'appendResponse')
    assert.deepEqual(
      responses.map((m) => [m.reject, m.index, m.hintTerm, m.rejectHint]),
      [
        [true, 5, 2, 5],
        [true, 8, 2, 5],
      ],
    )
    assert.deepEqual(logOf(n).slice(3), ['2/4', '2/5'], 'the log is unchanged')
    assert.equal(n.node.status().commit, 3, 'nothing is committed past the point of agreement')
  })

  test('§5.3: a follower deletes a conflicting entry and all that follow it, but keeps matching ones', () => {
    const conflicting = makeNode(1, { term: 2, entries: [normal(2, 4), normal(2, 5), normal(2, 6)] })
    conflicting.node.step(append(2, 1, 3, [2, 4], [normal(3, 5)], 3))
    assert.deepEqual(
      ofType(drain(conflicting).messages, 'appendResponse').map((m) => [m.reject, m.index]),
      [[false, 5]],
    )
    assert.deepEqual(logOf(conflicting).slice(3), ['2/4', '3/5'])

    const matching = makeNode(1, { term: 2, entries: [normal(2, 4), normal(2, 5), normal(2, 6)] })
    matching.node.step(append(2, 1, 2, [2, 4], [normal(2, 5)], 3)) // a delayed, already applied append
    drain(matching)
    assert.deepEqual(
      logOf(matching).slice(3),
      ['2/4', '2/5', '2/6'],
      'entries after a matching append are kept',
    )
  })

  test('§5.3: a leader commits an entry once a majority stores it, and followers learn it later', () => {
    // The commit broadcast at once, as etcd sends it; the lazy default is tested below.
    const env = electedCluster([1, 2, 3, 4, 5], { lazyCommitBroadcast: false })
    const leader = env.get(1)
    leader.node.propose(data('x'))
    const appends = ofType(drain(leader).messages, 'append')
    const ack = (from: NodeId): void => ackAppend(leader, from, 7)
    assert.equal(appends.length, 4)
    ack(2)
    assert.equal(leader.node.status().commit, 6, 'two of five copies: not committed')
    ack(3)
    assert.equal(leader.node.status().commit, 7, 'three of five copies: committed')
    const out = drain(leader)
    assert.deepEqual(
      out.committed.map((e) => `${e.term}/${e.index}`),
      ['2/7'],
    )
    assert.deepEqual(
      ofType(out.messages, 'append').map((m) => [m.to, m.commit]),
      [
        [2, 7],
        [3, 7],
        [4, 7],
        [5, 7],
      ],
      'the next appends carry the new commit index',
    )
  })

  test('§5.3, lazily: a new commit index waits for the next append with entries, or the next heartbeat', () => {
    const env = electedCluster([1, 2, 3])
    const leader = env.get(1)
    leader.node.propose(data('x'))
    assert.equal(ofType(drain(leader).messages, 'append').length, 2)
    ackAppend(leader, 2, 5)
    assert.equal(leader.node.status().commit, 5, 'two of three copies: committed')
    const out = drain(leader)
    assert.deepEqual(
      out.committed.map((e) => `${e.term}/${e.index}`),
      ['2/5'],
    )
    assert.deepEqual(out.messages, [], 'no empty append only to say so')
    leader.node.propose(data('y'))
    assert.deepEqual(
      ofType(drain(leader).messages, 'append').map((m) => [m.to, m.entries.length, m.commit]),
      [[2, 1, 5]],
      'the next entries carry it (node 3 still has x in flight, so y waits for its acknowledgement)',
    )
    leader.node.tick()
    assert.deepEqual(
      ofType(drain(leader).messages, 'heartbeat').map((m) => [m.to, m.commit]),
      [
        [2, 5],
        [3, 4],
      ],
      'a heartbeat carries it, up to what each follower holds',
    )
  })

  test('§5.3: a follower commits up to min(leaderCommit, index of the last new entry)', () => {
    const n = makeNode(1, { term: 2, entries: [normal(2, 4)] })
    n.node.step(append(2, 1, 2, [2, 4], [normal(2, 5)], 9))
    assert.equal(n.node.status().commit, 5)
    n.node.step({ type: 'heartbeat', from: 2, to: 1, term: 2, commit: 9, readRound: 0 })
    assert.equal(n.node.status().commit, 5, 'a heartbeat never commits past the log')
    assert.deepEqual(
      drain(n).committed.map((e) => `${e.term}/${e.index}`),
      ['2/4', '2/5'],
    )
  })
})

// --- §5.4 safety -----------------------------------------------------------------------------------

describe('§5.4 safety', () => {
  test('§5.4.1: vote refused to a candidate with an older log, granted to an at least as up-to-date one', () => {
    // The voter's log ends with 2/5.
    const cases: { last: [number, number]; granted: boolean }[] = [
      { last: [1, 10], granted: false }, // longer, but its last term is older
      { last: [2, 4], granted: false }, // same last term, shorter
      { last: [2, 5], granted: true },
      { last: [2, 6], granted: true },
      { last: [3, 1], granted: true }, // newer last term wins regardless of length
    ]
    for (const type of ['vote', 'preVote'] as const) {
      for (const { last, granted } of cases) {
        const n = makeNode(1, { term: 2, entries: [normal(2, 4), normal(2, 5)] })
        n.node.step(vote(2, 1, 3, last, type))
        const [response] = drain(n).messages
        assert.ok(response && (response.type === 'voteResponse' || response.type === 'preVoteResponse'))
        assert.equal(!response.reject, granted, `${type} from a log ending ${last.join('/')}`)
        if (type === 'preVote') assert.equal(n.node.status().term, 2, 'a pre-vote does not change the term')
      }
    }
  })

  test('§5.4.2 / Figure 8: a leader does not commit an entry of an earlier term by counting replicas', () => {
    // Node 1 holds 1/4 from term 1 (uncommitted) and becomes leader of term 2, appending its no-op 2/5.
    const leader = makeLeader({ entries: [normal(1, 4, 'old')] })
    drain(leader)
    const ack = (index: number): void => ackAppend(leader, 2, index)
    ack(4)
    assert.equal(leader.node.status().progress.get(2)?.match, 4)
    assert.equal(leader.node.status().commit, 3, '1/4 is on 2 of 3 nodes, but is from term 1')
    ack(5)
    assert.equal(
      leader.node.status().commit,
      5,
      'the no-op of term 2 commits, and 1/4 with it (Log Matching)',
    )
    assert.deepEqual(
      drain(leader).committed.map((e) => `${e.term}/${e.index}`),
      ['1/4', '2/5'],
    )
  })

  test('§5.4.2 / Figure 8: the planted bug commitPreviousTermByCount commits the old entry (test of the test)', () => {
    const leader = makeLeader({
      entries: [normal(1, 4, 'old')],
      bugs: new Set(['commitPreviousTermByCount']),
    })
    drain(leader)
    ackAppend(leader, 2, 4)
    assert.equal(leader.node.status().commit, 4)
  })

  test('Figure 2: a restarted node keeps its term, vote and log, and re-applies its committed entries', () => {
    // Node 2 must learn the commit before it restarts: at once, not with a later heartbeat.
    const env = electedCluster([1, 2, 3], { lazyCommitBroadcast: false })
    env.get(1).node.propose(data('a'))
    env.stabilize()
    const before = env.get(2).node.status()
    env.restart(2)
    const after = env.get(2).node.status()
    assert.deepEqual(
      [after.term, after.vote, after.lastIndex, after.commit],
      [before.term, before.vote, 5, 5],
    )
    assert.deepEqual(
      [after.role, after.leaderId, after.applied],
      ['follower', 0, 0],
      'volatile state is gone',
    )
    env.processReady(2)
    assert.deepEqual(env.get(2).applied, ['2/5 a'])
  })
})

// --- chapter 6 of the thesis: client interaction and leader health ------------------------------------

describe('thesis chapter 6: ReadIndex and CheckQuorum', () => {
  test('§6.4 ReadIndex: the leader answers only after a majority acknowledges a heartbeat round', () => {
    const env = electedCluster([1, 2, 3, 4, 5])
    const leader = env.get(1)
    assert.deepEqual(leader.node.readIndex(42), { accepted: true })
    const out = drain(leader)
    const beats = ofType(out.messages, 'heartbeat')
    assert.deepEqual(out.readStates, [])
    assert.equal(beats.length, 4)
    assert.ok(beats.every((m) => m.readRound === beats[0]?.readRound && m.readRound > 0))
    const round = beats[0]!.readRound
    const ack = (from: NodeId): void =>
      leader.node.step({ type: 'heartbeatResponse', from, to: 1, term: 2, readRound: round })
    ack(2)
    assert.deepEqual(drain(leader).readStates, [], 'the leader and one follower are not a majority of 5')
    ack(2)
    assert.deepEqual(drain(leader).readStates, [], 'a duplicate acknowledgement counts once')
    ack(3)
    assert.deepEqual(drain(leader).readStates, [{ context: 42, index: 6 }])
  })

  test('§6.4 ReadIndex: a new leader answers reads only once it has committed its no-op', () => {
    const leader = makeLeader()
    drain(leader)
    leader.node.readIndex(7)
    const round = ofType(drain(leader).messages, 'heartbeat')[0]!.readRound
    leader.node.step({ type: 'heartbeatResponse', from: 2, to: 1, term: 2, readRound: round })
    leader.node.step({ type: 'heartbeatResponse', from: 3, to: 1, term: 2, readRound: round })
    assert.deepEqual(drain(leader).readStates, [], 'leadership confirmed, but commit index 3 may be stale')
    leader.node.step({
      type: 'appendResponse',
      from: 2,
      to: 1,
      term: 2,
      index: 4,
      reject: false,
      rejectHint: 0,
      hintTerm: 0,
    })
    assert.deepEqual(drain(leader).readStates, [{ context: 7, index: 4 }])
  })

  test('§6.4 ReadIndex: a follower refuses and names the leader; a deposed leader drops pending reads', () => {
    const env = electedCluster([1, 2, 3])
    assert.deepEqual(env.get(2).node.readIndex(1), { accepted: false, reason: 'notLeader', leaderId: 1 })
    const leader = env.get(1)
    leader.node.readIndex(5)
    leader.node.readIndex(6)
    drain(leader)
    leader.node.step(append(3, 1, 9, [2, 4], [], 4))
    const out = drain(leader)
    assert.deepEqual(out.droppedReads, [5, 6])
    assert.deepEqual(out.readStates, [])
  })

  test('§6.2 CheckQuorum: a leader that hears from no majority for an election timeout steps down', () => {
    const env = electedCluster([1, 2, 3])
    const leader = env.get(1)
    for (let i = 0; i < 10; i++) leader.node.tick()
    assert.equal(leader.node.status().role, 'leader', 'the followers answered during the previous round')
    for (let i = 0; i < 9; i++) leader.node.tick()
    assert.equal(leader.node.status().role, 'leader')
    leader.node.tick()
    const s = leader.node.status()
    assert.deepEqual([s.role, s.term, s.leaderId], ['follower', 2, 0])
  })

  test('§9.6 PreVote: a pre-candidate that loses changes neither its term nor its vote', () => {
    const n = makeNode(1, { term: 4, vote: 3 })
    n.node.campaign()
    n.node.step({ type: 'preVoteResponse', from: 2, to: 1, term: 4, reject: true })
    n.node.step({ type: 'preVoteResponse', from: 3, to: 1, term: 4, reject: true })
    const s = n.node.status()
    assert.deepEqual([s.role, s.term, s.vote], ['follower', 4, 3])
    assert.deepEqual(drain(n).hardStates, [])
  })

  test('§3.10 leadership transfer: proposals are refused meanwhile, and the target campaigns at once', () => {
    const env = electedCluster([1, 2, 3])
    const leader = env.get(1)
    assert.deepEqual(leader.node.transferLeadership(3), { accepted: true })
    assert.equal(leader.node.propose(data('x')).accepted, false)
    const [timeoutNow] = drain(leader).messages
    assert.deepEqual(timeoutNow, { type: 'timeoutNow', from: 1, to: 3, term: 2 })
    const target = env.get(3)
    target.node.step(timeoutNow!)
    assert.equal(target.node.status().role, 'candidate', 'no pre-vote, no waiting for a timeout')
    assert.deepEqual(
      ofType(drain(target).messages, 'vote').map((m) => [m.to, m.term, m.transfer]),
      [
        [1, 3, true],
        [2, 3, true],
      ],
    )
  })
})

// --- not in the paper: how the leader batches appends and ReadIndex rounds ------------------------

describe('coalescing (Nagle): small appends and ReadIndex rounds wait for the one in flight', () => {
  /** The leader of {1, 2, 3} with proposals `texts`, one Ready each; returns the appends sent to node 2. */
  function proposeOneByOne(config: Partial<RaftConfig>, texts: string[]) {
    const env = electedCluster([1, 2, 3], config)
    const leader = env.get(1)
    const sent = texts.map((text) => {
      leader.node.propose(data(text))
      return ofType(drain(leader).messages, 'append').filter((m) => m.to === 2)
    })
    return { leader, sent }
  }
  const carried = (appends: readonly { entries: readonly Entry[] }[]): number[][] =>
    appends.map((m) => m.entries.map((e) => e.index))

  test('entries proposed while an append is in flight go together once it is acknowledged, with the commit', () => {
    const { leader, sent } = proposeOneByOne({}, ['a', 'b', 'c'])
    assert.deepEqual(sent.map(carried), [[[5]], [], []], 'b and c wait for the acknowledgement of a')
    ackAppend(leader, 2, 5)
    const next = ofType(drain(leader).messages, 'append').filter((m) => m.to === 2)
    assert.deepEqual(carried(next), [[6, 7]])
    assert.equal(next[0]!.commit, 5, 'a is committed (leader and node 2), and the append says so')
  })

  test('without coalescing, every proposal is its own append (the test of the test)', () => {
    const { sent } = proposeOneByOne({ coalesceAppends: false }, ['a', 'b', 'c'])
    assert.deepEqual(sent.map(carried), [[[5]], [[6]], [[7]]])
  })

  test('a backlog of a full message is still pipelined: only what fits in one waits', () => {
    // 256 bytes per append: two of these 100-byte entries (with their overhead) fill one.
    const text = 'x'.repeat(100)
    const { leader, sent } = proposeOneByOne({ appendBytesMax: 256 }, [text, text, text, text, text])
    assert.deepEqual(
      sent.map(carried),
      [[[5]], [], [], [[6, 7]], []],
      'once 6, 7 and 8 wait, more than one append waits: a full one goes at once',
    )
    ackAppend(leader, 2, 5)
    assert.deepEqual(carried(ofType(drain(leader).messages, 'append').filter((m) => m.to === 2)), [])
    ackAppend(leader, 2, 7)
    assert.deepEqual(carried(ofType(drain(leader).messages, 'append').filter((m) => m.to === 2)), [[8, 9]])
  })

  test('a heartbeat response sends held entries: the append they waited for may have been lost', () => {
    const { leader, sent } = proposeOneByOne({}, ['a', 'b'])
    assert.deepEqual(sent.map(carried), [[[5]], []])
    leader.node.step({ type: 'heartbeatResponse', from: 2, to: 1, term: 2, readRound: 0 })
    const next = ofType(drain(leader).messages, 'append').filter((m) => m.to === 2)
    assert.deepEqual(carried(next), [[6]])
  })

  test('reads made while a ReadIndex round is in flight wait for it, then share the next round', () => {
    for (const coalesceReadRounds of [true, false]) {
      const env = electedCluster([1, 2, 3], { coalesceReadRounds })
      const leader = env.get(1)
      const rounds = (): number[] => [
        ...new Set(ofType(drain(leader).messages, 'heartbeat').map((m) => m.readRound)),
      ]
      leader.node.readIndex(1)
      const [first] = rounds()
      leader.node.readIndex(2)
      leader.node.readIndex(3)
      const meanwhile = rounds()
      if (!coalesceReadRounds) {
        assert.equal(meanwhile.length, 1, 'the test of the test: without coalescing, a round per Ready')
        continue
      }
      assert.deepEqual(meanwhile, [], 'no new round while the first waits')
      leader.node.step({ type: 'heartbeatResponse', from: 2, to: 1, term: 2, readRound: first! })
      const out = drain(leader)
      assert.deepEqual(
        out.readStates.map((r) => r.context),
        [1],
        'the first round confirms only the read made before it',
      )
      const next = [...new Set(ofType(out.messages, 'heartbeat').map((m) => m.readRound))]
      assert.equal(next.length, 1, 'one round for both reads made meanwhile')
      leader.node.step({ type: 'heartbeatResponse', from: 3, to: 1, term: 2, readRound: next[0]! })
      assert.deepEqual(
        drain(leader).readStates.map((r) => r.context),
        [2, 3],
      )
    }
  })
})

describe('thesis §10.2.1: a leader may send appends before it has written them itself', () => {
  /** The leader of {1, 2, 3} after proposing `a` (its Ready in hand, being written) and `b` behind it. */
  function leaderWriting() {
    const env = electedCluster([1, 2, 3])
    const leader = env.get(1)
    leader.node.propose(data('a'))
    const writing = leader.node.ready()
    const a = writing.entries.at(-1)!.index
    leader.node.propose(data('b'))
    const status = leader.node.status()
    /** The write ends: the Ready's entries are stored and the leader is told (advance). */
    const written = (): void => {
      leader.storage.append(writing.entries)
      if (writing.hardState) leader.storage.setHardState(writing.hardState)
      leader.node.advance()
    }
    return { leader, writing, written, a, durable: { term: status.term, vote: status.vote } }
  }

  test('appends made while a Ready is in hand are taken at once, and not again with the next Ready', () => {
    const { leader, writing, written, a, durable } = leaderWriting()
    assert.equal(ofType(writing.messages, 'append').filter((m) => m.to === 2).length, 1)
    assert.deepEqual(leader.node.takeLeaderAppends(durable), [], 'b is held while a is in flight')
    ackAppend(leader, 2, a)
    const ahead = leader.node.takeLeaderAppends(durable)
    assert.deepEqual(
      ahead.map((m) => [m.type, m.to, m.type === 'append' ? m.entries.map((e) => e.index) : []]),
      [['append', 2, [a + 1]]],
    )
    const ack = ahead[0]!
    assert.equal(
      ack.type === 'append' && ack.commit,
      a - 1,
      'a is not committed: the leader has not written it',
    )
    written()
    assert.deepEqual(
      ofType(drain(leader).messages, 'append').filter((m) => m.to === 2),
      [],
    )
  })

  test('nothing is taken while the term and vote on disk are behind, or by a follower', () => {
    const { leader, written, a, durable } = leaderWriting()
    ackAppend(leader, 2, a)
    assert.deepEqual(leader.node.takeLeaderAppends({ term: durable.term - 1, vote: durable.vote }), [])
    assert.deepEqual(leader.node.takeLeaderAppends({ term: durable.term, vote: 0 }), [])
    written()
    const next = ofType(drain(leader).messages, 'append').filter((m) => m.to === 2)
    assert.equal(next.length, 1, 'the append goes with the next Ready instead')
    const follower = makeNode(2)
    follower.node.step(append(1, 2, 2, [1, 3], [normal(2, 4)], 3))
    assert.deepEqual(follower.node.takeLeaderAppends({ term: 2, vote: 0 }), [])
  })

  test('only the leading appends and heartbeats are taken: what goes to one peer keeps its order', () => {
    const { leader, written, a, durable } = leaderWriting()
    // A stale pre-vote request is refused: the refusal comes first, and the append made after it waits too.
    leader.node.step({ type: 'preVote', from: 3, to: 1, term: 1, lastIndex: 1, lastTerm: 1, transfer: false })
    ackAppend(leader, 2, a)
    assert.deepEqual(leader.node.takeLeaderAppends(durable), [])
    written()
    const types = drain(leader).messages.map((m) => m.type)
    assert.deepEqual(types.slice(0, 2), ['preVoteResponse', 'append'])
  })
})
