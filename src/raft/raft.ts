import { assert, assertNever } from '../util/assert.js'
import type { LogReader } from './log-reader.js'
import { applyConfChange, isVoter, members } from './membership.js'
import type {
  AppendMessage,
  AppendResponseMessage,
  ClusterConfig,
  ConfChange,
  Entry,
  HeartbeatMessage,
  HeartbeatResponseMessage,
  InstallSnapshotMessage,
  Message,
  NodeId,
  Snapshot,
  VoteMessage,
  VoteResponseMessage,
} from './message.js'
import type { PlantedBug } from './planted-bugs.js'
import { Progress } from './progress.js'
import { committedIndex, majority, voteResult } from './quorum.js'
import { RaftLog } from './raft-log.js'
import { ReadOnly, type ReadState } from './read-only.js'

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader'

export interface RaftLogger {
  debug(message: string, fields?: Record<string, unknown>): void
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
}

const silentLogger: RaftLogger = { debug() {}, info() {}, warn() {} }

export interface RaftConfig {
  readonly id: NodeId
  /** Ticks without hearing from a leader before a follower campaigns; randomized in [n, 2n). */
  readonly electionTicks: number
  /** Ticks between a leader's heartbeats. Must be well below `electionTicks`. */
  readonly heartbeatTicks: number
  /** Uniform random numbers in [0, 1), injected so simulation is deterministic. */
  readonly random: () => number
  readonly preVote?: boolean
  readonly checkQuorum?: boolean
  readonly inflightMessagesMax?: number
  readonly appendBytesMax?: number
  /**
   * While an append to a follower is unacknowledged, new entries that fit in one message wait for that
   * acknowledgement and then go together (Nagle's algorithm): fewer, larger appends, so each follower writes,
   * acknowledges and applies once per round trip instead of once per proposal. A backlog of more than one
   * message is still pipelined. Default true.
   */
  readonly coalesceAppends?: boolean
  /**
   * While a ReadIndex round waits for a majority, requests made meanwhile wait for it and then share the
   * next round, instead of each Ready starting a round of its own: fewer heartbeats per read under load, for
   * up to one more round trip of latency. Default true.
   */
  readonly coalesceReadRounds?: boolean
  /**
   * A commit index that advances goes to followers with the next append that carries entries, or with the
   * next heartbeat (every `heartbeatTicks`), instead of in an empty append of its own to every follower, as
   * hashicorp/raft (rqlite's) lets it wait for the next append or its commit timeout. Under load every append
   * carries it anyway; one client writing alone saves two messages, two acknowledgements and two follower
   * applies per write. Followers then apply (and answer `none` reads) up to a heartbeat later. Default true.
   */
  readonly lazyCommitBroadcast?: boolean
  readonly applyBytesMax?: number
  /** Index the state machine already holds (an on-disk database); entries up to it are not handed out again. */
  readonly applied?: number
  readonly logger?: RaftLogger
  /** Test-only switches that plant known bugs (see planted-bugs.ts). */
  readonly bugs?: ReadonlySet<PlantedBug>
}

export type ProposeResult =
  | { readonly accepted: true; readonly index: number; readonly term: number }
  | {
      readonly accepted: false
      readonly reason: 'notLeader' | 'transferring' | 'pendingConfChange' | 'termNotCommitted' | 'invalid'
      readonly leaderId: NodeId
      readonly detail?: string
    }

export type ReadIndexResult =
  | { readonly accepted: true }
  | { readonly accepted: false; readonly reason: 'notLeader'; readonly leaderId: NodeId }

export type TransferResult =
  | { readonly accepted: true }
  | {
      readonly accepted: false
      readonly reason: 'notLeader' | 'invalid'
      readonly leaderId: NodeId
      readonly detail?: string
    }

/** A configuration and the log index of the entry that introduced it. */
interface ConfigAt {
  readonly index: number
  readonly config: ClusterConfig
}

/**
 * The Raft state machine of one node (Ongaro & Ousterhout 2014; Ongaro's thesis 2014), in the style of
 * etcd's raft: pure, driven by `tick()` and `step()`, producing messages into `messages` and log changes
 * into `log`. `RawNode` wraps it with the `Ready`/`advance()` contract.
 */
export class Raft {
  readonly id: NodeId
  term = 0
  vote: NodeId = 0
  leaderId: NodeId = 0
  role: Role = 'follower'
  readonly log: RaftLog
  messages: Message[] = []
  readStates: ReadState[] = []
  /** Contexts of ReadIndex requests dropped because leadership was lost. */
  droppedReads: number[] = []

  readonly #electionTicks: number
  readonly #heartbeatTicks: number
  readonly #random: () => number
  readonly #preVote: boolean
  readonly #checkQuorum: boolean
  readonly #inflightMessagesMax: number
  readonly #appendBytesMax: number
  readonly #coalesceAppends: boolean
  readonly #lazyCommitBroadcast: boolean
  readonly #coalesceReadRounds: boolean
  readonly #bugs: ReadonlySet<PlantedBug>
  readonly logger: RaftLogger

  #electionElapsed = 0
  /** Ticks a pre-candidate waits for its pre-votes before it asks again (randomized per round). */
  #preVoteRetryTicks = 1
  /** Whether a leader was heard from since the last pre-vote round. */
  #preVoteQuickRetry = false
  #heartbeatElapsed = 0
  #randomizedElectionTimeout = 0
  #votes = new Map<NodeId, boolean>()
  readonly progress = new Map<NodeId, Progress>()
  /** Configuration from the snapshot, and every configuration entry in the log after it, in order. */
  #baseConfig: ClusterConfig
  #configHistory: ConfigAt[] = []
  /** Index of this leader's no-op: proposals of membership changes wait until it is committed. */
  #termStartIndex = 0
  leadTransferee: NodeId = 0
  readonly #readOnly = new ReadOnly()

  constructor(config: RaftConfig, storage: LogReader) {
    assert(Number.isSafeInteger(config.id) && config.id > 0, `invalid node id ${config.id}`)
    assert(
      config.heartbeatTicks > 0 && config.electionTicks > config.heartbeatTicks,
      'election ticks must exceed heartbeat ticks',
    )
    this.id = config.id
    this.#electionTicks = config.electionTicks
    this.#heartbeatTicks = config.heartbeatTicks
    this.#random = config.random
    this.#preVote = config.preVote ?? true
    this.#checkQuorum = config.checkQuorum ?? true
    this.#inflightMessagesMax = config.inflightMessagesMax ?? 256
    this.#appendBytesMax = config.appendBytesMax ?? 1 << 20
    this.#coalesceAppends = config.coalesceAppends ?? true
    this.#lazyCommitBroadcast = config.lazyCommitBroadcast ?? true
    this.#coalesceReadRounds = config.coalesceReadRounds ?? true
    this.#bugs = config.bugs ?? new Set()
    this.logger = config.logger ?? silentLogger
    this.log = new RaftLog(storage)
    const hardState = storage.hardState()
    this.term = hardState.term
    this.vote = hardState.vote
    if (config.applied !== undefined && config.applied > this.log.applied) {
      this.log.appliedTo(Math.min(config.applied, this.log.committed))
    }
    this.#baseConfig = storage.snapshotMeta().config
    const last = storage.lastIndex()
    if (storage.firstIndex() <= last) {
      this.#recordConfigEntries(storage.entries({ from: storage.firstIndex(), to: last + 1 }))
    }
    this.becomeFollower(this.term, 0)
  }

  // --- configuration -------------------------------------------------------------------------

  config(): ClusterConfig {
    return this.#configHistory.at(-1)?.config ?? this.#baseConfig
  }

  /** Index of the newest configuration entry in the log (0 when the configuration comes from the snapshot). */
  #lastConfigIndex(): number {
    return this.#configHistory.at(-1)?.index ?? 0
  }

  isVoter(): boolean {
    return isVoter(this.config(), this.id)
  }

  /** Configurations take effect as soon as their entry is in the log (thesis §4.1). */
  #recordConfigEntries(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.kind !== 'confChange') continue
      const result = applyConfChange(this.config(), entry.change)
      assert(
        result.ok,
        `log holds an invalid membership change at ${entry.index}: ${result.ok ? '' : result.reason}`,
      )
      this.#configHistory.push({ index: entry.index, config: result.config })
      if (this.role === 'leader') this.#syncProgressWithConfig()
    }
  }

  /** Entries from `index` on were removed from the log: so were the configurations they carried. */
  #forgetConfigsFrom(index: number): void {
    while (this.#configHistory.length > 0 && this.#configHistory.at(-1)!.index >= index)
      this.#configHistory.pop()
  }

  #syncProgressWithConfig(): void {
    const ids = new Set(members(this.config()))
    for (const id of ids) {
      if (!this.progress.has(id)) {
        const pr = new Progress(this.log.lastIndex() + 1, this.#inflightMessagesMax)
        pr.recentActive = true
        this.progress.set(id, pr)
      }
    }
    for (const id of [...this.progress.keys()]) {
      if (!ids.has(id) && id !== this.id) this.progress.delete(id)
    }
  }

  // --- role transitions ----------------------------------------------------------------------

  becomeFollower(term: number, leaderId: NodeId): void {
    const wasLeader = this.role === 'leader'
    this.#reset(term)
    this.role = 'follower'
    this.leaderId = leaderId
    if (wasLeader || leaderId !== 0) this.logger.debug('became follower', { id: this.id, term, leaderId })
  }

  becomePreCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become pre-candidate')
    // PreVote (thesis §9.6): poll at term+1 without changing our term or vote.
    this.#votes = new Map()
    this.role = 'preCandidate'
    this.leaderId = 0
    this.#electionElapsed = 0
    // The first round after hearing from a leader is retried soon (see #tickElection); later rounds wait a
    // whole election timeout, so a node cut off from the others does not keep asking every tick.
    this.#preVoteRetryTicks = this.#preVoteQuickRetry
      ? 1 + Math.floor(this.#random() * Math.max(1, Math.floor(this.#electionTicks / 5)))
      : this.#randomizedElectionTimeout
    this.#preVoteQuickRetry = false
  }

  becomeCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become candidate')
    this.#reset(this.term + 1)
    this.vote = this.id
    this.role = 'candidate'
  }

  becomeLeader(): void {
    assert(this.role === 'candidate', `becomeLeader from ${this.role}`)
    this.#reset(this.term)
    this.role = 'leader'
    this.leaderId = this.id
    this.#syncProgressWithConfig()
    const self = this.progress.get(this.id)
    if (self) {
      self.match = this.log.stableLastIndex()
      self.becomeReplicate()
    }
    // §8: a no-op of the new term lets this leader commit earlier terms' entries and serve reads.
    this.#termStartIndex = this.log.lastIndex() + 1
    // The planted Figure 8 bug takes the paper's form: no no-op, which would otherwise hide it.
    if (!this.#bugs.has('commitPreviousTermByCount')) {
      this.#appendEntries([{ kind: 'noop', index: this.#termStartIndex, term: this.term }])
    }
    this.logger.info('became leader', { id: this.id, term: this.term })
    if (!this.#bugs.has('commitPreviousTermByCount'))
      assert(this.log.lastTerm() === this.term, 'the no-op is the last entry')
  }

  #reset(term: number): void {
    if (this.term !== term) {
      this.term = term
      this.vote = 0
    }
    this.leaderId = 0
    this.#electionElapsed = 0
    this.#heartbeatElapsed = 0
    this.#randomizedElectionTimeout = this.#electionTicks + Math.floor(this.#random() * this.#electionTicks)
    this.#votes = new Map()
    this.progress.clear()
    this.leadTransferee = 0
    this.#termStartIndex = 0
    this.droppedReads.push(...this.#readOnly.reset())
  }

  // --- time ----------------------------------------------------------------------------------

  tick(): void {
    if (this.role === 'leader') this.#tickHeartbeat()
    else this.#tickElection()
  }

  #tickElection(): void {
    this.#electionElapsed++
    // A pre-candidate asks again soon. Voters still in a leader's lease ignore a pre-vote without a word, and
    // their lease may end a tick after ours (the ticks of two nodes are not in phase): waiting a whole
    // election timeout more for that made leader failover take up to twice as long. Pre-votes change no
    // term, so asking again disturbs nothing.
    const timeout = this.role === 'preCandidate' ? this.#preVoteRetryTicks : this.#randomizedElectionTimeout
    if (this.isVoter() && this.#electionElapsed >= timeout) {
      this.#electionElapsed = 0
      this.campaign(false)
    }
  }

  #tickHeartbeat(): void {
    this.#heartbeatElapsed++
    this.#electionElapsed++
    for (const pr of this.progress.values()) {
      // A snapshot that was lost in transit would otherwise pause this follower forever.
      if (pr.state === 'snapshot' && ++pr.snapshotElapsed >= 2 * this.#electionTicks) pr.becomeProbe()
    }
    if (this.#electionElapsed >= this.#electionTicks) {
      this.#electionElapsed = 0
      // CheckQuorum (thesis §6.2): a leader that has not heard from a majority steps down.
      if (this.#checkQuorum && !this.#quorumActive()) {
        this.logger.info('stepped down: quorum inactive', { id: this.id, term: this.term })
        this.becomeFollower(this.term, 0)
        return
      }
      if (this.leadTransferee !== 0) {
        this.logger.info('leadership transfer timed out', { id: this.id, to: this.leadTransferee })
        this.leadTransferee = 0
      }
    }
    if (this.#heartbeatElapsed >= this.#heartbeatTicks) {
      this.#heartbeatElapsed = 0
      // While reads wait, every heartbeat repeats the latest round, so one lost round cannot strand them.
      this.#broadcastHeartbeat(this.#readOnly.pendingCount > 0 ? this.#readOnly.sentRound : 0)
    }
  }

  #quorumActive(): boolean {
    const voters = this.config().voters
    let active = 0
    for (const id of voters) {
      const pr = this.progress.get(id)
      if (id === this.id || pr?.recentActive) active++
    }
    for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false
    return active >= majority(voters.length)
  }

  // --- elections -----------------------------------------------------------------------------

  /** Starts an election now (after an election timeout, or forced by `timeoutNow`). */
  campaign(transfer: boolean): void {
    if (!this.isVoter() || this.role === 'leader') return
    if (this.#preVote && !transfer) {
      this.becomePreCandidate()
      this.#requestVotes('preVote', this.term + 1, false)
    } else {
      this.#startElection(transfer)
    }
  }

  #startElection(transfer: boolean): void {
    this.becomeCandidate()
    this.#requestVotes('vote', this.term, transfer)
  }

  #requestVotes(type: 'vote' | 'preVote', term: number, transfer: boolean): void {
    this.#votes.set(this.id, true)
    if (this.#tallyVotes()) return
    for (const id of this.config().voters) {
      if (id === this.id) continue
      this.#send({
        type,
        from: this.id,
        to: id,
        term,
        lastIndex: this.log.lastIndex(),
        lastTerm: this.log.lastTerm(),
        transfer,
      })
    }
  }

  /** Acts on the election result so far; returns whether it was decided. */
  #tallyVotes(): boolean {
    const result = voteResult(this.config().voters, this.#votes)
    if (result === 'pending') return false
    if (result === 'won') {
      if (this.role === 'preCandidate') this.#startElection(false)
      else this.becomeLeader()
    } else {
      this.becomeFollower(this.term, 0)
    }
    return true
  }

  #handleVote(m: VoteMessage): void {
    // §5.4.1 election restriction; the planted bug skips it.
    const upToDate = this.#bugs.has('skipUpToDateCheck') || this.log.isUpToDate(m.lastIndex, m.lastTerm)
    const canVote =
      this.vote === m.from ||
      (this.vote === 0 && this.leaderId === 0) ||
      (m.type === 'preVote' && m.term > this.term)
    const grant = canVote && upToDate
    const responseType = m.type === 'vote' ? 'voteResponse' : 'preVoteResponse'
    if (grant) {
      // A granted pre-vote answers at the candidate's future term, so it is not mistaken for stale.
      this.#send({ type: responseType, from: this.id, to: m.from, term: m.term, reject: false })
      if (m.type === 'vote') {
        this.#electionElapsed = 0
        this.vote = m.from
      }
    } else {
      this.#send({ type: responseType, from: this.id, to: m.from, term: this.term, reject: true })
    }
  }

  #handleVoteResponse(m: VoteResponseMessage): void {
    const expected =
      this.role === 'candidate'
        ? 'voteResponse'
        : this.role === 'preCandidate'
          ? 'preVoteResponse'
          : undefined
    if (m.type !== expected) return
    if (!this.#votes.has(m.from)) this.#votes.set(m.from, !m.reject)
    this.#tallyVotes()
  }

  // --- proposals -----------------------------------------------------------------------------

  propose(data: Uint8Array): ProposeResult {
    if (this.role !== 'leader') return { accepted: false, reason: 'notLeader', leaderId: this.leaderId }
    if (this.leadTransferee !== 0) return { accepted: false, reason: 'transferring', leaderId: this.leaderId }
    const index = this.log.lastIndex() + 1
    this.#appendEntries([{ kind: 'normal', index, term: this.term, data }])
    return { accepted: true, index, term: this.term }
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    const leaderId = this.leaderId
    if (this.role !== 'leader') return { accepted: false, reason: 'notLeader', leaderId }
    if (this.leadTransferee !== 0) return { accepted: false, reason: 'transferring', leaderId }
    // Ongaro's 2015 fix for single-server changes: first commit an entry of this term.
    if (!this.#bugs.has('confChangeBeforeTermCommit') && this.log.committed < this.#termStartIndex) {
      return { accepted: false, reason: 'termNotCommitted', leaderId }
    }
    if (this.#lastConfigIndex() > this.log.committed)
      return { accepted: false, reason: 'pendingConfChange', leaderId }
    if (change.type === 'remove' && change.nodeId === this.id) {
      // A leader outside its own latest configuration can be left holding the only up-to-date log while
      // unable to campaign; removing it after a transfer avoids that deadlock.
      return {
        accepted: false,
        reason: 'invalid',
        leaderId,
        detail: 'the leader cannot remove itself; transfer leadership first',
      }
    }
    const result = applyConfChange(this.config(), change)
    if (!result.ok) return { accepted: false, reason: 'invalid', leaderId, detail: result.reason }
    const index = this.log.lastIndex() + 1
    this.#appendEntries([{ kind: 'confChange', index, term: this.term, change }])
    return { accepted: true, index, term: this.term }
  }

  #appendEntries(entries: readonly Entry[]): void {
    this.log.append(entries)
    this.#recordConfigEntries(entries)
    // The leader counts itself toward a quorum only once the entries are durable (see advance()).
    if (this.#isSingleVoterLeader()) return
    this.#broadcastAppend()
  }

  #isSingleVoterLeader(): boolean {
    const voters = this.config().voters
    return voters.length === 1 && voters[0] === this.id && this.progress.size === 1
  }

  /** The driver made the log durable up to `index`: the leader's own acknowledgement. */
  onStable(): void {
    if (this.role !== 'leader') return
    const self = this.progress.get(this.id)
    if (!self) return
    if (self.maybeUpdate(this.log.stableLastIndex()) && this.#maybeCommit()) this.#broadcastCommit()
  }

  // --- replication (leader) ------------------------------------------------------------------

  #maybeCommit(): boolean {
    const candidate = committedIndex(this.config().voters, (id) => this.progress.get(id)?.match ?? 0)
    if (candidate <= this.log.committed) return false
    // Figure 8: only an entry of the current term is committed by counting replicas.
    if (!this.#bugs.has('commitPreviousTermByCount') && this.log.term(candidate) !== this.term) return false
    this.log.commitTo(candidate)
    this.#afterCommit()
    return true
  }

  #afterCommit(): void {
    if (this.#readOnly.pendingCount > 0) this.#releaseReads()
  }

  #broadcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.#sendAppend(id, true)
  }

  /** The commit index advanced: tell the followers now, or (lazily) with whatever is sent to them next. */
  #broadcastCommit(): void {
    if (!this.#lazyCommitBroadcast) return this.#broadcastAppend()
    for (const id of this.progress.keys()) if (id !== this.id) this.#sendAppend(id, false)
  }

  /**
   * Sends the next append (or snapshot) to `to` unless its progress is paused, or its entries are held back
   * for coalescing (see `coalesceAppends`; `force` sends them anyway); returns whether it sent.
   */
  #sendAppend(to: NodeId, sendIfEmpty: boolean, force = false): boolean {
    const pr = this.progress.get(to)
    if (!pr || pr.isPaused()) return false
    const prevIndex = pr.next - 1
    const prevTerm = this.log.term(prevIndex)
    const entries =
      prevTerm === undefined
        ? undefined
        : this.log.slice(pr.next, this.log.lastIndex() + 1, this.#appendBytesMax)
    if (prevTerm === undefined || entries === undefined) return this.#sendSnapshot(to, pr)
    if (entries.length === 0 && !sendIfEmpty) return false
    // Held also when the caller sends for the commit index's sake (sendIfEmpty): the acknowledgement of the
    // append in flight sends these entries, and the commit index with them.
    if (
      this.#coalesceAppends &&
      !force &&
      pr.state === 'replicate' &&
      pr.inflights.length > 0 &&
      entries.length > 0 &&
      entries.at(-1)!.index === this.log.lastIndex()
    )
      return false
    const message: AppendMessage = {
      type: 'append',
      from: this.id,
      to,
      term: this.term,
      prevIndex,
      prevTerm,
      entries,
      commit: this.log.committed,
    }
    this.#send(message)
    pr.sentAppend(entries.length > 0 ? entries.at(-1)!.index : undefined)
    return true
  }

  #sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false
    const snapshot: Snapshot | undefined = this.log.storage.snapshot()
    if (snapshot === undefined) {
      // Storage is fetching its data; the follower's next heartbeat response brings this call back.
      this.logger.debug('snapshot not at hand, sending it later', { id: this.id, to })
      return false
    }
    assert(snapshot.meta.index > 0, 'sending an empty snapshot')
    pr.becomeSnapshot(snapshot.meta.index)
    this.#send({ type: 'installSnapshot', from: this.id, to, term: this.term, snapshot })
    this.logger.debug('sent snapshot', { id: this.id, to, index: snapshot.meta.index })
    return true
  }

  #broadcastHeartbeat(readRound: number): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue
      const heartbeat: HeartbeatMessage = {
        type: 'heartbeat',
        from: this.id,
        to: id,
        term: this.term,
        // A follower must not commit past what it is known to hold (etcd does the same).
        commit: Math.min(pr.match, this.log.committed),
        readRound,
      }
      this.#send(heartbeat)
    }
  }

  #handleAppendResponse(m: AppendResponseMessage): void {
    const pr = this.progress.get(m.from)
    if (!pr) return
    pr.recentActive = true
    if (m.reject) {
      const hint = m.hintTerm > 0 ? this.log.findConflictByTerm(m.rejectHint, m.hintTerm) : m.rejectHint
      if (pr.maybeDecreaseTo(m.index, hint)) {
        if (pr.state === 'replicate') pr.becomeProbe()
        this.#sendAppend(m.from, true)
      }
      return
    }
    // The planted bug assumes every append sent so far has arrived, which reordering and loss disprove.
    const acked = this.#bugs.has('trustStaleAppendResponse') ? Math.max(m.index, pr.next - 1) : m.index
    const wasPaused = pr.isPaused()
    if (!pr.maybeUpdate(acked)) {
      if (pr.state === 'probe' && pr.match === acked) pr.becomeReplicate()
      if (wasPaused && !pr.isPaused()) this.#sendAppend(m.from, false)
      return
    }
    if (pr.state === 'probe') pr.becomeReplicate()
    else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      pr.becomeProbe()
      pr.becomeReplicate()
    } else if (pr.state === 'replicate') pr.freeInflightsTo(pr.match)
    if (this.#maybeCommit()) {
      this.#broadcastCommit()
    } else {
      while (this.#sendAppend(m.from, false)) {}
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.#sendTimeoutNow(m.from)
  }

  #handleHeartbeatResponse(m: HeartbeatResponseMessage): void {
    const pr = this.progress.get(m.from)
    if (!pr) return
    pr.recentActive = true
    pr.probeSent = false
    // Appends of a full window may all have been lost: free one slot so replication can resume.
    if (pr.state === 'replicate' && pr.isPaused()) pr.inflights.shift()
    // Forced: the append whose acknowledgement held-back entries wait for may have been lost.
    if (pr.match < this.log.lastIndex()) this.#sendAppend(m.from, true, true)
    if (m.readRound > pr.readRoundAcked) {
      pr.readRoundAcked = m.readRound
      this.#releaseReads()
    }
  }

  // --- ReadIndex (thesis §6.4) -----------------------------------------------------------------

  readIndex(context: number): ReadIndexResult {
    if (this.role !== 'leader') return { accepted: false, reason: 'notLeader', leaderId: this.leaderId }
    if (this.#bugs.has('readIndexWithoutQuorum')) {
      this.readStates.push({ context, index: this.log.committed })
      return { accepted: true }
    }
    // The read index is the commit index once this leader has committed its no-op (so it is current);
    // requests made before that are confirmed by a later round and get the commit index at release time.
    this.#readOnly.add(context, this.log.committed)
    if (this.config().voters.length === 1) this.flushReadIndex()
    return { accepted: true }
  }

  /** Broadcasts the heartbeat round that confirms pending ReadIndex requests (one round serves them all). */
  flushReadIndex(): void {
    if (!this.needsReadBroadcast() || this.role !== 'leader') return
    const round = this.#readOnly.nextRound()
    this.#broadcastHeartbeat(round)
    this.#releaseReads()
  }

  /** Requests wait for a round, and none is in flight (or rounds are not coalesced). */
  needsReadBroadcast(): boolean {
    if (!this.#readOnly.needsBroadcast) return false
    // Released by the in-flight round's acknowledgements: hasReady() then sees this again, and ready() sends it.
    return !(this.#coalesceReadRounds && this.#readOnly.roundInFlight)
  }

  #releaseReads(): void {
    if (this.log.committed < this.#termStartIndex) return
    const released = this.#readOnly.release(
      this.config().voters,
      this.id,
      (id) => this.progress.get(id)?.readRoundAcked ?? 0,
    )
    for (const read of released) {
      // A request registered before the no-op committed must wait for at least the current commit.
      this.readStates.push({ context: read.context, index: Math.max(read.index, this.#termStartIndex) })
    }
  }

  // --- leadership transfer (thesis §3.10) ------------------------------------------------------

  transferLeadership(to: NodeId): TransferResult {
    if (this.role !== 'leader') return { accepted: false, reason: 'notLeader', leaderId: this.leaderId }
    if (to === this.id || !isVoter(this.config(), to)) {
      return {
        accepted: false,
        reason: 'invalid',
        leaderId: this.leaderId,
        detail: `node ${to} is not another voter`,
      }
    }
    this.leadTransferee = to
    this.#electionElapsed = 0
    const pr = this.progress.get(to)!
    if (pr.match === this.log.lastIndex()) this.#sendTimeoutNow(to)
    else this.#sendAppend(to, true)
    return { accepted: true }
  }

  #sendTimeoutNow(to: NodeId): void {
    this.#send({ type: 'timeoutNow', from: this.id, to, term: this.term })
  }

  // --- followers -------------------------------------------------------------------------------

  #handleAppend(m: AppendMessage): void {
    this.#electionElapsed = 0
    this.#preVoteQuickRetry = true
    this.leaderId = m.from
    if (m.prevIndex < this.log.committed) {
      this.#sendAppendResponse(m.from, {
        index: this.log.committed,
        reject: false,
        rejectHint: 0,
        hintTerm: 0,
      })
      return
    }
    if (this.log.matchTerm(m.prevIndex, m.prevTerm)) {
      const lastNewIndex = m.prevIndex + m.entries.length
      this.#appendFromLeader(m)
      this.log.commitTo(Math.min(m.commit, lastNewIndex))
      this.#sendAppendResponse(m.from, { index: lastNewIndex, reject: false, rejectHint: 0, hintTerm: 0 })
      return
    }
    // §5.3 with fast back-off: tell the leader the largest index that may still match.
    const hintIndex = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm)
    this.#sendAppendResponse(m.from, {
      index: m.prevIndex,
      reject: true,
      rejectHint: hintIndex,
      hintTerm: this.log.term(hintIndex) ?? 0,
    })
  }

  #appendFromLeader(m: AppendMessage): void {
    let toAppend: readonly Entry[]
    if (this.#bugs.has('truncateWithoutConflict')) {
      // The planted bug replaces everything after prevIndex, even entries that matched.
      toAppend = m.entries
      if (toAppend.length === 0 && m.prevIndex > this.log.committed) this.#truncateAfter(m.prevIndex)
    } else {
      const conflict = this.log.findConflict(m.entries)
      toAppend = conflict === 0 ? [] : m.entries.slice(conflict - m.entries[0]!.index)
    }
    if (toAppend.length === 0) return
    this.#forgetConfigsFrom(toAppend[0]!.index)
    this.log.truncateAndAppend(toAppend)
    this.#recordConfigEntries(toAppend)
  }

  /** Test-only path of the planted bug: drop entries after `index` without a conflict. */
  #truncateAfter(index: number): void {
    if (index >= this.log.lastIndex() || index < this.log.firstIndex()) return
    const keep = this.log.slice(index, index + 1)
    if (!keep || keep.length === 0) return
    this.#forgetConfigsFrom(index)
    this.log.truncateAndAppend(keep)
    this.#recordConfigEntries(keep)
  }

  #sendAppendResponse(
    to: NodeId,
    body: { index: number; reject: boolean; rejectHint: number; hintTerm: number },
  ): void {
    this.#send({ type: 'appendResponse', from: this.id, to, term: this.term, ...body })
  }

  #handleHeartbeat(m: HeartbeatMessage): void {
    this.#electionElapsed = 0
    this.#preVoteQuickRetry = true
    this.leaderId = m.from
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()))
    this.#send({
      type: 'heartbeatResponse',
      from: this.id,
      to: m.from,
      term: this.term,
      readRound: m.readRound,
    })
  }

  #handleInstallSnapshot(m: InstallSnapshotMessage): void {
    this.#electionElapsed = 0
    this.#preVoteQuickRetry = true
    this.leaderId = m.from
    const { meta } = m.snapshot
    if (meta.index <= this.log.committed) {
      this.#sendAppendResponse(m.from, {
        index: this.log.committed,
        reject: false,
        rejectHint: 0,
        hintTerm: 0,
      })
      return
    }
    if (this.log.matchTerm(meta.index, meta.term)) {
      // Our log already holds the snapshot's last entry: the entries up to it are committed.
      this.log.commitTo(meta.index)
    } else {
      this.logger.info('restoring snapshot', { id: this.id, index: meta.index, term: meta.term })
      this.log.restore(m.snapshot)
      this.#baseConfig = meta.config
      this.#configHistory = []
    }
    this.#sendAppendResponse(m.from, {
      index: this.log.lastIndex(),
      reject: false,
      rejectHint: 0,
      hintTerm: 0,
    })
  }

  // --- the message gateway -----------------------------------------------------------------------

  step(m: Message): void {
    if (m.to !== this.id) return
    if (m.term > this.term) {
      if (!this.#stepHigherTerm(m)) return
    } else if (m.term < this.term) {
      this.#stepLowerTerm(m)
      return
    }
    this.#stepCurrentTerm(m)
  }

  /** Returns whether the message should still be handled at the (possibly new) current term. */
  #stepHigherTerm(m: Message): boolean {
    if (m.type === 'vote' || m.type === 'preVote') {
      // Leader stickiness (thesis §4.2.3): while we hear from a leader, ignore disruptive candidates.
      const inLease = this.#checkQuorum && this.leaderId !== 0 && this.#electionElapsed < this.#electionTicks
      if (inLease && !m.transfer) return false
    }
    if (m.type === 'preVote') return true
    if (m.type === 'preVoteResponse' && !m.reject) return true
    const leaderId =
      m.type === 'append' || m.type === 'heartbeat' || m.type === 'installSnapshot' ? m.from : 0
    this.becomeFollower(m.term, leaderId)
    return true
  }

  #stepLowerTerm(m: Message): void {
    if (m.type === 'appendResponse' && this.role === 'leader' && this.#bugs.has('trustStaleAppendResponse')) {
      this.#handleAppendResponse(m)
      return
    }
    if ((this.#checkQuorum || this.#preVote) && (m.type === 'append' || m.type === 'heartbeat')) {
      // A stale leader learns our term and steps down, instead of being ignored forever.
      this.#sendAppendResponse(m.from, { index: 0, reject: true, rejectHint: 0, hintTerm: 0 })
    } else if (m.type === 'preVote') {
      this.#send({ type: 'preVoteResponse', from: this.id, to: m.from, term: this.term, reject: true })
    }
  }

  #stepCurrentTerm(m: Message): void {
    switch (m.type) {
      case 'vote':
      case 'preVote':
        this.#handleVote(m)
        return
      case 'voteResponse':
      case 'preVoteResponse':
        this.#handleVoteResponse(m)
        return
      case 'append':
      case 'heartbeat':
      case 'installSnapshot':
        if (this.role === 'leader') {
          this.logger.warn('two leaders in one term', { id: this.id, term: this.term, other: m.from })
          return
        }
        if (this.role !== 'follower') this.becomeFollower(this.term, m.from)
        if (m.type === 'append') this.#handleAppend(m)
        else if (m.type === 'heartbeat') this.#handleHeartbeat(m)
        else this.#handleInstallSnapshot(m)
        return
      case 'appendResponse':
        if (this.role === 'leader') this.#handleAppendResponse(m)
        return
      case 'heartbeatResponse':
        if (this.role === 'leader') this.#handleHeartbeatResponse(m)
        return
      case 'timeoutNow':
        if (this.role === 'follower' && this.isVoter()) this.campaign(true)
        return
      default:
        assertNever(m, 'message')
    }
  }

  #send(m: Message): void {
    if (m.to === this.id) return
    this.messages.push(m)
  }

  /** Invariants checked after every step in tests and simulation. */
  check(): void {
    this.log.check()
    if (this.role === 'leader') {
      assert(this.leaderId === this.id, 'a leader knows it leads')
      assert(this.vote === this.id, 'a leader voted for itself')
    } else {
      assert(this.progress.size === 0, 'only a leader tracks progress')
    }
    if (this.role !== 'leader') assert(this.#readOnly.pendingCount === 0, 'only a leader holds pending reads')
    for (const pr of this.progress.values())
      assert(pr.match < pr.next, `progress match ${pr.match} >= next ${pr.next}`)
    if (this.role === 'leader') assert(this.isVoter(), 'a leader is a voter of its own configuration')
  }
}
