// The driver's contract, checked with hand-controlled storage and a manual clock: messages leave only after
// the state they reflect is durable, a failed save stops the replica, and snapshots carry the configuration
// in force at their index.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  type Entry,
  type HardState,
  MemoryLog,
  type Message,
  type PlantedBug,
  type Snapshot,
  bootstrapLog,
} from '../../../src/raft/index.js'
import type { ReplicaStateMachine, ReplicaStorage } from '../../../src/replica/ports.js'
import { Replica, type ReplicaOptions } from '../../../src/replica/replica.js'

interface Deferred {
  resolve(): void
  reject(error: Error): void
}

/** MemoryLog storage whose saves complete only when the test says so. */
function controlledStorage(voters: number[]) {
  const log = new MemoryLog()
  const { entries, hardState } = bootstrapLog(voters)
  log.append(entries)
  log.setHardState(hardState)
  const pending: Deferred[] = []
  const snapshots: Snapshot[] = []
  const storage: ReplicaStorage = {
    hardState: () => log.hardState(),
    snapshotMeta: () => log.snapshotMeta(),
    snapshot: () => log.snapshot(),
    firstIndex: () => log.firstIndex(),
    lastIndex: () => log.lastIndex(),
    term: (index) => log.term(index),
    entries: (range) => log.entries(range),
    save(update: { hardState?: HardState; entries?: readonly Entry[]; snapshot?: Snapshot }) {
      if (update.snapshot) log.applySnapshot(update.snapshot)
      if (update.entries) log.append(update.entries)
      if (update.hardState) log.setHardState(update.hardState)
      return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }))
    },
    async createSnapshot(snapshot) {
      log.createSnapshot(snapshot)
      snapshots.push(snapshot)
    },
  }
  return { storage, pending, snapshots, log }
}

const appliedEntries: Entry[] = []
const stateMachine: ReplicaStateMachine = {
  async apply(entries) {
    appliedEntries.push(...entries)
  },
  async restore() {},
  async snapshot() {
    return { data: Promise.resolve(new TextEncoder().encode(`applied ${appliedEntries.length}`)) }
  },
}

function makeReplica(
  storage: ReplicaStorage,
  sent: Message[],
  snapshotEntries = 0,
  bugs = new Set<PlantedBug>(),
  machine: ReplicaStateMachine = stateMachine,
  extra: Partial<ReplicaOptions> = {},
) {
  let tick: (() => void) | undefined
  /** One-shot timers (`Clock.after`), fired by the test. */
  const timers: { readonly ms: number; readonly run: () => void; cancelled: boolean }[] = []
  const replica = new Replica({
    id: 1,
    storage,
    transport: { send: (m) => sent.push(m) },
    stateMachine: machine,
    clock: {
      every: (_ms, run) => {
        tick = run
        return () => {
          tick = undefined
        }
      },
      after: (ms, run) => {
        const timer = { ms, run, cancelled: false }
        timers.push(timer)
        return () => {
          timer.cancelled = true
        }
      },
    },
    random: () => 0.5,
    tickMs: 10,
    electionTicks: 10,
    heartbeatTicks: 1,
    snapshotEntries,
    bugs,
    ...extra,
  })
  return { replica, tick: () => tick?.(), timers }
}

/** Lets the driver's promise continuations run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

/** A one-node replica that snapshots every 3 entries, started and elected leader. */
async function startLeader(storage: ReplicaStorage, pending: Deferred[]): Promise<Replica> {
  return (await startLeaderTicking(storage, pending)).replica
}

/** The same, with its state machine given and its clock in the test's hand. */
async function startLeaderTicking(
  storage: ReplicaStorage,
  pending: Deferred[],
  machine: ReplicaStateMachine = stateMachine,
  extra: Partial<ReplicaOptions> = {},
): Promise<{ replica: Replica; tick: () => void }> {
  const started = makeReplica(storage, [], 3, new Set(), machine, extra)
  started.replica.start()
  started.replica.campaign()
  await drainSaves(pending)
  return started
}

/**
 * A state machine whose snapshots are captured at once but whose bytes come only when the test says so
 * (`copies`): a big database being copied out of the worker.
 */
function slowCopyStateMachine() {
  const applied: Entry[] = []
  const copies: (() => void)[] = []
  /** The last applied index at each capture. */
  const capturedAt: number[] = []
  const machine: ReplicaStateMachine = {
    async apply(entries) {
      applied.push(...entries)
    },
    async restore() {},
    async snapshot() {
      capturedAt.push(applied.at(-1)!.index)
      const image = new TextEncoder().encode(`applied ${applied.length}`)
      return { data: new Promise<Uint8Array>((resolve) => copies.push(() => resolve(image))) }
    },
  }
  return { machine, copies, capturedAt }
}

/** Proposes one entry per word, then lets the driver apply them. */
async function proposeWords(replica: Replica, pending: Deferred[], words: readonly string[]): Promise<void> {
  for (const word of words) replica.propose(new TextEncoder().encode(word))
  await drainSaves(pending)
}

/** Lets the driver run for a while, completing every save it makes. */
async function drainSaves(pending: Deferred[]): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await settle()
    while (pending.length > 0) pending.shift()!.resolve()
  }
}

/** How many vote requests left while the candidate's term and vote were still being written. */
async function votesSentBeforeDurable(bugs = new Set<PlantedBug>()): Promise<number> {
  const { storage, pending } = controlledStorage([1, 2, 3])
  const sent: Message[] = []
  const { replica } = makeReplica(storage, sent, 0, bugs)
  replica.start()
  await settle()
  replica.campaign() // PreVote first: no durable state changes, so the pre-votes leave at once
  await settle()
  const preVotes = sent.filter((m) => m.type === 'preVote')
  assert.equal(preVotes.length, 2)
  replica.receive({ type: 'preVoteResponse', from: 2, to: 1, term: preVotes[0]!.term, reject: false })
  await settle()
  const early = sent.filter((m) => m.type === 'vote').length
  assert.equal(pending.length, 1)
  pending.shift()!.resolve()
  await settle()
  assert.equal(sent.filter((m) => m.type === 'vote').length, 2)
  replica.stop()
  return early
}

test('vote requests leave only after the new term and vote are durable', async () => {
  assert.equal(await votesSentBeforeDurable(), 0)
})

test('the same check catches the planted sendBeforePersist bug', async () => {
  assert.equal(await votesSentBeforeDurable(new Set(['sendBeforePersist'])), 2)
})

test('a failed save stops the replica and reports it; nothing more is sent', async () => {
  const { storage, pending } = controlledStorage([1, 2, 3])
  const sent: Message[] = []
  const { replica, tick } = makeReplica(storage, sent)
  let fatal: unknown
  replica.events = { onFatal: (error) => (fatal = error) }
  replica.start()
  replica.campaign()
  await settle()
  const preVote = sent.find((m) => m.type === 'preVote')!
  replica.receive({ type: 'preVoteResponse', from: 2, to: 1, term: preVote.term, reject: false })
  await settle()
  assert.equal(pending.length, 1, 'becoming candidate must write the new term and vote')
  pending.shift()!.reject(new Error('EIO: fsync failed'))
  await settle()
  assert.match(String(fatal), /EIO/)
  assert.ok(replica.failed)
  const before = sent.length
  for (let i = 0; i < 50; i++) tick()
  replica.campaign()
  await settle()
  assert.equal(sent.length, before, 'a failed replica kept sending')
})

test('snapshots are taken every N applied entries and carry the configuration at their index', async () => {
  const { storage, pending, snapshots, log } = controlledStorage([1])
  const replica = await startLeader(storage, pending)
  assert.equal(replica.status().role, 'leader')
  await proposeWords(replica, pending, ['a', 'b', 'c', 'd'])
  assert.ok(snapshots.length >= 1, 'no snapshot taken')
  const last = snapshots.at(-1)!
  assert.deepEqual(last.meta.config, { voters: [1], nonVoters: [] })
  assert.equal(log.firstIndex(), last.meta.index + 1, 'the log was not compacted to the snapshot')
  assert.ok(replica.appliedIndex >= last.meta.index)
  replica.stop()
})

test('with snapshotJitter, a snapshot is due at a threshold drawn in [N, N + jitter × N)', async () => {
  /** The index of the first snapshot, proposing one entry at a time, with every random draw `draw`. */
  const firstSnapshotAt = async (snapshotJitter: number, draw: number): Promise<number> => {
    const { storage, pending, snapshots } = controlledStorage([1])
    const { replica } = makeReplica(storage, [], 4, new Set(), stateMachine, {
      snapshotJitter,
      random: () => draw,
    })
    replica.start()
    replica.campaign()
    await drainSaves(pending)
    for (let i = 0; snapshots.length === 0 && i < 20; i++) await proposeWords(replica, pending, [`w${i}`])
    replica.stop()
    return snapshots[0]!.meta.index
  }
  assert.equal(await firstSnapshotAt(0, 0.99), 4, 'without jitter: at N')
  assert.equal(await firstSnapshotAt(0.5, 0), 4, 'the lowest draw: at N')
  assert.equal(await firstSnapshotAt(0.5, 0.99), 5, 'the highest draw: N + floor(N × 0.5 × 0.99)')
  assert.equal(await firstSnapshotAt(1, 0.99), 7)
})

test('electionSoon counts all but one tick of the election timeout as elapsed at start', async () => {
  // random() = 0.5 and electionTicks = 10: the randomized election timeout is 15 ticks.
  const preVotesAfter = async (ticks: number, electionSoon: boolean): Promise<number> => {
    const { storage } = controlledStorage([1, 2, 3])
    const sent: Message[] = []
    const { replica, tick } = makeReplica(storage, sent)
    replica.start({ electionSoon })
    for (let i = 0; i < ticks; i++) tick()
    await settle()
    replica.stop()
    return sent.filter((m) => m.type === 'preVote').length
  }
  assert.equal(await preVotesAfter(6, true), 2, 'nine ticks counted at start, six more reach 15')
  assert.equal(await preVotesAfter(5, true), 0)
  assert.equal(await preVotesAfter(6, false), 0, 'without it the node waits the whole timeout')
  assert.equal(await preVotesAfter(15, false), 2)
})

test('entries keep being applied while a snapshot is written to storage', async () => {
  const { storage, pending, log } = controlledStorage([1])
  // createSnapshot completes only when the test says so: a big snapshot file being written and synced.
  const snapshotWrites: Deferred[] = []
  storage.createSnapshot = (snapshot) =>
    new Promise<void>((resolve, reject) =>
      snapshotWrites.push({
        resolve: () => {
          log.createSnapshot(snapshot)
          resolve()
        },
        reject,
      }),
    )
  const replica = await startLeader(storage, pending)
  const drain = () => drainSaves(pending)
  await proposeWords(replica, pending, ['a', 'b', 'c'])
  assert.equal(snapshotWrites.length, 1, 'a snapshot is being written')
  const appliedDuring = replica.appliedIndex
  await proposeWords(replica, pending, ['d', 'e'])
  assert.equal(replica.appliedIndex, appliedDuring + 2, 'applies waited for the snapshot file')
  assert.equal(snapshotWrites.length, 1, 'one snapshot written at a time')
  snapshotWrites.shift()!.resolve()
  await drain()
  assert.equal(replica.stats.snapshotsTaken, 1)
  replica.stop()
})

test("entries keep being applied while a snapshot's bytes are copied out; it holds the captured index", async () => {
  const { storage, pending, snapshots } = controlledStorage([1])
  const { machine, copies, capturedAt } = slowCopyStateMachine()
  const { replica } = await startLeaderTicking(storage, pending, machine)
  const drain = () => drainSaves(pending)
  await proposeWords(replica, pending, ['a', 'b', 'c'])
  assert.equal(copies.length, 1, 'a snapshot was captured')
  const before = replica.appliedIndex
  await proposeWords(replica, pending, ['d', 'e'])
  assert.equal(replica.appliedIndex, before + 2, 'applies waited for the copy')
  copies.shift()!()
  await drain()
  assert.equal(snapshots.length, 1)
  assert.equal(snapshots[0]!.meta.index, capturedAt[0])
  assert.ok(capturedAt[0]! < replica.appliedIndex)
  replica.stop()
})

test('an interval snapshot comes snapshotIntervalTicks plus the drawn jitter after the start, then again', async () => {
  const { storage, pending, snapshots } = controlledStorage([1])
  const started = makeReplica(storage, [], 0, new Set(), stateMachine, {
    snapshotIntervalTicks: 20,
    snapshotJitter: 0.25,
  })
  const { replica, tick } = started
  replica.start()
  replica.campaign()
  await drainSaves(pending)
  await proposeWords(replica, pending, ['a'])
  // random() is 0.5: 20 + floor(20 × 0.25 × 0.5) = 22 ticks.
  for (let i = 0; i < 21; i++) tick()
  await drainSaves(pending)
  assert.equal(snapshots.length, 0, 'taken before the interval passed')
  tick()
  await drainSaves(pending)
  assert.equal(snapshots.length, 1, 'not taken once the interval passed')
  await proposeWords(replica, pending, ['b'])
  for (let i = 0; i < 21; i++) tick()
  await drainSaves(pending)
  assert.equal(snapshots.length, 1)
  tick()
  await drainSaves(pending)
  assert.equal(snapshots.length, 2, 'the next interval was not drawn again')
  replica.stop()
})

test('a timed snapshot request waits behind queued state machine work instead of being dropped', async () => {
  const { storage, pending, snapshots } = controlledStorage([1])
  const held: (() => void)[] = []
  const machine: ReplicaStateMachine = {
    // Every apply waits for the test: the state machine always has work queued, as under a steady load.
    apply: () => new Promise<void>((resolve) => held.push(resolve)),
    async restore() {},
    async snapshot() {
      return { data: Promise.resolve(new TextEncoder().encode('image')) }
    },
  }
  const started = makeReplica(storage, [], 0, new Set(), machine)
  const { replica } = started
  replica.start()
  replica.campaign()
  await drainSaves(pending)
  replica.propose(new TextEncoder().encode('a'))
  await drainSaves(pending)
  assert.ok(held.length > 0, 'an apply is in progress')
  replica.requestSnapshot()
  for (let i = 0; i < 10 && held.length > 0; i++) {
    held.shift()!()
    await drainSaves(pending)
  }
  assert.equal(held.length, 0)
  assert.equal(snapshots.length, 1, 'the timed request was dropped while applies were queued')
  assert.equal(replica.stats.snapshotsTaken, 1)
  replica.stop()
})

/**
 * With one snapshot taken and the next one due but deferred: `early` ticks start no capture, the next tick
 * starts it, and once its bytes come it is the second snapshot taken.
 */
async function expectSecondSnapshotAfter(
  early: number,
  run: { tick: () => void; drain: () => Promise<void>; copies: (() => void)[]; snapshots: Snapshot[] },
): Promise<void> {
  for (let i = 0; i < early; i++) run.tick()
  await run.drain()
  assert.equal(run.copies.length, 0, 'taken one tick early')
  run.tick()
  await run.drain()
  assert.equal(run.copies.length, 1, 'the deferred snapshot was not taken once the spacing passed')
  run.copies.shift()!()
  await run.drain()
  assert.equal(run.snapshots.length, 2)
}

test('a due snapshot waits snapshotSpacingTicks from the start of the last one, however cheap that was', async () => {
  const { storage, pending, snapshots } = controlledStorage([1])
  const { machine, copies } = slowCopyStateMachine()
  const { replica, tick } = await startLeaderTicking(storage, pending, machine, { snapshotSpacingTicks: 20 })
  const drain = () => drainSaves(pending)
  await proposeWords(replica, pending, ['a', 'b', 'c'])
  assert.equal(copies.length, 1)
  // The first snapshot costs 1 tick: nine times that would allow the next after 10 ticks, the floor says 20.
  tick()
  copies.shift()!()
  await drain()
  assert.equal(snapshots.length, 1)
  for (let i = 0; i < 10; i++) tick()
  await proposeWords(replica, pending, ['d', 'e', 'f', 'g'])
  await drain()
  assert.equal(copies.length, 0, 'taken again before the spacing passed')
  await expectSecondSnapshotAfter(8, { tick, drain, copies, snapshots })
  replica.stop()
})

test("a due snapshot waits nine times the last one's cost after it, then is taken without more applies", async () => {
  const { storage, pending, snapshots } = controlledStorage([1])
  const { machine, copies, capturedAt } = slowCopyStateMachine()
  const { replica, tick } = await startLeaderTicking(storage, pending, machine)
  const drain = () => drainSaves(pending)
  await proposeWords(replica, pending, ['a', 'b', 'c'])
  assert.equal(copies.length, 1)
  // The first snapshot costs 4 ticks, so the next due one waits 36 ticks after it.
  for (let i = 0; i < 4; i++) tick()
  copies.shift()!()
  await drain()
  assert.equal(snapshots.length, 1)
  await proposeWords(replica, pending, ['d', 'e', 'f', 'g'])
  assert.equal(copies.length, 0, 'taken again before the spacing passed')
  await expectSecondSnapshotAfter(35, { tick, drain, copies, snapshots })
  assert.equal(snapshots[1]!.meta.index, capturedAt[1])
  replica.stop()
})

/** Node 1's append from leader `from` in `term`: `entries` (index, term) after (prevIndex, prevTerm), with `commit`. */
function appendFrom(
  from: number,
  term: number,
  prev: [index: number, term: number],
  entries: [index: number, term: number][],
  commit: number,
): Message {
  return {
    type: 'append',
    from,
    to: 1,
    term,
    prevIndex: prev[0],
    prevTerm: prev[1],
    entries: entries.map(([index, t]) => ({
      kind: 'normal',
      index,
      term: t,
      data: new TextEncoder().encode(`w${index}t${t}`),
    })),
    commit,
  }
}

/**
 * Node 1, a follower of leader 2 in a 3-voter cluster, whose state machine records each hand-over, after
 * the leader's appends of `entries` entries in term 2 (indexes 4 on; the bootstrap holds 1–3), all committed.
 */
async function followerWithHeldApplies(entries: number, followerApplyDelayMs = 10) {
  const { storage, pending } = controlledStorage([1, 2, 3])
  const sent: Message[] = []
  const handed: number[][] = []
  const machine: ReplicaStateMachine = {
    async apply(applied) {
      handed.push(applied.map((entry) => entry.index))
    },
    async restore() {},
    async snapshot() {
      return { data: Promise.resolve(new Uint8Array()) }
    },
  }
  const { replica, timers } = makeReplica(storage, sent, 0, new Set(), machine, { followerApplyDelayMs })
  replica.start()
  for (let index = 4; index < 4 + entries; index++) {
    replica.receive(appendFrom(2, 2, [index - 1, index === 4 ? 1 : 2], [[index, 2]], index))
    await drainSaves(pending)
  }
  assert.equal(replica.softState().role, 'follower')
  assert.equal(sent.filter((m) => m.type === 'appendResponse').length, entries, 'every append acknowledged')
  return { replica, handed, timers, pending, sent }
}

test('a follower with followerApplyDelayMs hands committed entries over together, once the delay passes', async () => {
  const { replica, handed, timers } = await followerWithHeldApplies(3)
  assert.deepEqual(handed, [], 'applied before the delay passed')
  assert.equal(replica.appliedIndex, 0)
  assert.deepEqual(
    timers.map((t) => [t.ms, t.cancelled]),
    [[10, false]],
    'one timer for the whole hold',
  )
  timers[0]!.run()
  await settle()
  assert.deepEqual(handed, [[1, 2, 3, 4, 5, 6]])
  assert.equal(replica.appliedIndex, 6)
  replica.stop()
})

test('without followerApplyDelayMs a follower applies each commit as it learns it', async () => {
  const { replica, handed, timers } = await followerWithHeldApplies(2, 0)
  assert.deepEqual(handed, [[1, 2, 3], [4], [5]])
  assert.equal(timers.length, 0)
  replica.stop()
})

test('a follower that starts an election first applies what it held, without waiting for the delay', async () => {
  const { replica, handed, timers, pending, sent } = await followerWithHeldApplies(2)
  replica.campaign()
  await drainSaves(pending)
  const preVote = sent.find((m) => m.type === 'preVote')!
  replica.receive({ type: 'preVoteResponse', from: 3, to: 1, term: preVote.term, reject: false })
  await drainSaves(pending)
  assert.equal(replica.softState().role, 'candidate')
  assert.deepEqual(handed, [[1, 2, 3, 4, 5]])
  assert.equal(timers[0]!.cancelled, true)
  replica.stop()
})

test('a snapshot asked of a follower includes the entries it held back', async () => {
  const { replica, handed, timers } = await followerWithHeldApplies(2)
  const taken = await replica.snapshotNow()
  assert.equal(taken, 5)
  assert.deepEqual(handed, [[1, 2, 3, 4, 5]])
  assert.equal(timers[0]!.cancelled, true)
  replica.stop()
})

test('a stopped follower cancels the hand-over of what it held', async () => {
  const { replica, handed, timers } = await followerWithHeldApplies(1)
  replica.stop()
  assert.equal(timers[0]!.cancelled, true)
  timers[0]!.run()
  await settle()
  assert.deepEqual(handed, [])
})

test('committed entries already durable are applied while the next entries are written', async () => {
  const { replica, handed, pending } = await followerWithHeldApplies(2, 0)
  replica.receive(appendFrom(2, 2, [5, 2], [[6, 2]], 5))
  await drainSaves(pending)
  assert.deepEqual(handed.flat(), [1, 2, 3, 4, 5], 'entry 6 is not committed yet')
  // Entry 7 is being written (its save stays pending) when entry 6, written before, is committed.
  replica.receive(appendFrom(2, 2, [6, 2], [[7, 2]], 6))
  await settle()
  assert.equal(pending.length, 1, "entry 7's save is still pending")
  assert.deepEqual(handed.at(-1), [6], 'entry 6 waited for the write of entry 7')
  replica.receive(appendFrom(2, 2, [7, 2], [], 7))
  await settle()
  assert.deepEqual(handed.flat(), [1, 2, 3, 4, 5, 6], 'entry 7 was applied before it was durable')
  await drainSaves(pending)
  assert.deepEqual(handed.flat(), [1, 2, 3, 4, 5, 6, 7])
  replica.stop()
})

test('committed entries that replace what storage holds wait until they are written', async () => {
  const { replica, handed, pending } = await followerWithHeldApplies(1, 0)
  // Entries 5 and 6 of term 2 are written but never committed; leader 3 of term 3 replaces them.
  replica.receive(
    appendFrom(
      2,
      2,
      [4, 2],
      [
        [5, 2],
        [6, 2],
      ],
      4,
    ),
  )
  await drainSaves(pending)
  replica.receive(
    appendFrom(
      3,
      3,
      [4, 2],
      [
        [5, 3],
        [6, 3],
      ],
      6,
    ),
  )
  await settle()
  assert.equal(pending.length, 1, 'the replacing entries are being written')
  assert.deepEqual(handed.flat(), [1, 2, 3, 4], 'a replacing entry was applied before it was durable')
  await drainSaves(pending)
  assert.deepEqual(handed.flat(), [1, 2, 3, 4, 5, 6])
  replica.stop()
})

/**
 * Node 1 of three, elected leader with node 2's votes, every save completed; `sent` holds what it sent. Its
 * first entry (the new term's empty one) is acknowledged by both followers unless `ackFirst` is false.
 */
async function threeNodeLeader(extra: Partial<ReplicaOptions> = {}) {
  const { storage, pending, log } = controlledStorage([1, 2, 3])
  const sent: Message[] = []
  const { replica } = makeReplica(storage, sent, 0, new Set(), stateMachine, extra)
  replica.start()
  replica.campaign()
  await settle()
  const preVote = sent.find((m) => m.type === 'preVote')!
  replica.receive({ type: 'preVoteResponse', from: 2, to: 1, term: preVote.term, reject: false })
  await drainSaves(pending)
  const vote = sent.find((m) => m.type === 'vote')!
  replica.receive({ type: 'voteResponse', from: 2, to: 1, term: vote.term, reject: false })
  await drainSaves(pending)
  assert.equal(replica.status().role, 'leader')
  const term = vote.term
  for (const from of [2, 3])
    replica.receive({
      type: 'appendResponse',
      from,
      to: 1,
      term,
      index: log.lastIndex(),
      reject: false,
      rejectHint: 0,
      hintTerm: 0,
    })
  await drainSaves(pending)
  return { replica, sent, pending, log, term }
}

/** Proposes `word`, which the leader must accept. */
function proposed(replica: Replica, word: string): { index: number } {
  const result = replica.propose(new TextEncoder().encode(word))
  assert.ok(result.accepted, `the proposal of ${word} was refused`)
  return result
}

/** Appends to `to` that carry the entry at `index`. */
function appendsCarrying(sent: readonly Message[], to: number, index: number): number {
  return sent.filter((m) => m.type === 'append' && m.to === to && m.entries.some((e) => e.index === index))
    .length
}

/**
 * Entry A is being written (its save pending) and is in flight to node 2; entry B, proposed behind it, is
 * held (coalesceAppends). Node 2 acknowledges A. Returns how many appends carrying B had left for node 2
 * before A's save completed, and after.
 */
async function appendsOfHeldEntryDuringWrite(extra: Partial<ReplicaOptions>): Promise<[number, number]> {
  const { replica, sent, pending, log, term } = await threeNodeLeader(extra)
  const a = proposed(replica, 'a')
  await settle()
  assert.equal(pending.length, 1, "entry A's save is pending")
  assert.equal(appendsCarrying(sent, 2, a.index), 1, 'A left while being written')
  const b = proposed(replica, 'b')
  await settle()
  assert.equal(appendsCarrying(sent, 2, b.index), 0, 'B is held while A is in flight')
  replica.receive({
    type: 'appendResponse',
    from: 2,
    to: 1,
    term,
    index: a.index,
    reject: false,
    rejectHint: 0,
    hintTerm: 0,
  })
  await settle()
  assert.equal(pending.length, 1, "entry A's save is still pending")
  const during = appendsCarrying(sent, 2, b.index)
  await drainSaves(pending)
  const after = appendsCarrying(sent, 2, b.index)
  assert.equal(log.lastIndex(), b.index)
  replica.stop()
  return [during, after]
}

test('a leader sends the append an acknowledgement releases while its own write is in progress', async () => {
  assert.deepEqual(await appendsOfHeldEntryDuringWrite({}), [1, 1])
})

test('with sendAppendsAhead off, that append waits for the write in progress', async () => {
  assert.deepEqual(await appendsOfHeldEntryDuringWrite({ sendAppendsAhead: false }), [0, 1])
})

/** A state machine that takes entries at once (`handed`) and finishes each apply when the test says so. */
function heldStateMachine() {
  const calls: number[][] = []
  const finish: (() => void)[] = []
  let snapshots = 0
  const machine: ReplicaStateMachine = {
    apply(entries, handed) {
      calls.push(entries.map((e) => e.index))
      handed?.()
      return new Promise<void>((resolve) => finish.push(resolve))
    },
    async restore() {},
    async snapshot() {
      snapshots++
      return { data: Promise.resolve(new TextEncoder().encode('state')) }
    },
  }
  return { machine, calls, finish, snapshots: () => snapshots }
}

/** A one-node leader over `machine`, whose first applies (up to its term's empty entry) are still running. */
async function leaderWithApplyRunning(
  machine: ReplicaStateMachine,
  extra: Partial<ReplicaOptions>,
  snapshotEntries = 0,
) {
  const { storage, pending } = controlledStorage([1])
  const { replica } = makeReplica(storage, [], snapshotEntries, new Set(), machine, extra)
  replica.start()
  replica.campaign()
  await drainSaves(pending)
  assert.equal(replica.status().role, 'leader')
  return { replica, pending }
}

test('committed entries go to the state machine while the apply before them still runs', async () => {
  const held = heldStateMachine()
  const { replica, pending } = await leaderWithApplyRunning(held.machine, {})
  const before = held.calls.length
  assert.ok(before >= 1)
  proposed(replica, 'a')
  await drainSaves(pending)
  assert.equal(held.calls.length, before + 1, 'the new apply did not wait for the ones before to finish')
  assert.equal(replica.appliedIndex, 0, 'none has finished')
  for (const done of held.finish.splice(0)) done()
  await settle()
  assert.equal(replica.appliedIndex, held.calls.at(-1)!.at(-1))
  replica.stop()
})

test('with pipelineApplies off, the next apply waits for the one before to finish', async () => {
  const held = heldStateMachine()
  const { replica, pending } = await leaderWithApplyRunning(held.machine, { pipelineApplies: false })
  proposed(replica, 'a')
  await drainSaves(pending)
  assert.equal(held.calls.length, 1)
  while (held.finish.length > 0) {
    const calls = held.calls.length
    held.finish.shift()!()
    await settle()
    assert.ok(held.calls.length <= calls + 1, 'more than one apply at a time')
  }
  assert.equal(replica.appliedIndex, held.calls.at(-1)!.at(-1))
  replica.stop()
})

test('a snapshot waits for the applies in progress and captures the state after them', async () => {
  const held = heldStateMachine()
  const { replica, pending } = await leaderWithApplyRunning(held.machine, {})
  proposed(replica, 'a')
  await drainSaves(pending)
  assert.ok(held.finish.length >= 2)
  const taken = replica.snapshotNow()
  while (held.finish.length > 1) {
    held.finish.shift()!()
    await settle()
    assert.equal(held.snapshots(), 0, 'captured while an apply was still running')
  }
  held.finish.shift()!()
  assert.equal(await taken, held.calls.at(-1)!.at(-1))
  assert.equal(held.snapshots(), 1)
  replica.stop()
})

test('applies that finish while a snapshot is being captured do not start another', async () => {
  const held = heldStateMachine()
  const captures: (() => void)[] = []
  const machine: ReplicaStateMachine = {
    ...held.machine,
    snapshot: () =>
      new Promise((resolve) =>
        captures.push(() => resolve({ data: Promise.resolve(new TextEncoder().encode('state')) })),
      ),
  }
  // Due after two entries: after the second apply (the new term's empty entry), when nothing follows it yet.
  const { replica, pending } = await leaderWithApplyRunning(machine, {}, 2)
  assert.deepEqual(held.calls, [[1], [2]])
  for (const done of held.finish.splice(0)) done()
  await settle()
  assert.equal(captures.length, 1, 'a snapshot is due after the second apply')
  proposed(replica, 'a')
  await drainSaves(pending)
  assert.equal(held.calls.length, 3, 'the next apply waited for the capture')
  for (const done of held.finish.splice(0)) done()
  await settle()
  assert.equal(captures.length, 1, 'a second snapshot began while the first was being captured')
  for (const capture of captures.splice(0)) capture()
  await drainSaves(pending)
  replica.stop()
})
