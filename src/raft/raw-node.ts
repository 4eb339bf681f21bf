import { assert } from '../util/assert.js'
import type { LogReader } from './log-reader.js'
import type { ClusterConfig, ConfChange, HardState, Message, NodeId } from './message.js'
import {
  Raft,
  type ProposeResult,
  type RaftConfig,
  type ReadIndexResult,
  type Role,
  type TransferResult,
} from './raft.js'
import { type Ready, type SoftState, isHardStateEqual } from './ready.js'

export interface RaftStatus {
  readonly id: NodeId
  readonly role: Role
  readonly leaderId: NodeId
  readonly term: number
  readonly vote: NodeId
  readonly commit: number
  readonly applied: number
  readonly firstIndex: number
  readonly lastIndex: number
  readonly config: ClusterConfig
  readonly progress: ReadonlyMap<
    NodeId,
    { readonly match: number; readonly next: number; readonly state: string }
  >
}

/**
 * The public face of the Raft core: feed it time (`tick`), peer messages (`step`) and requests
 * (`propose`, `proposeConfChange`, `readIndex`, `transferLeadership`), then take one `Ready` at a time
 * and `advance()` once it is handled. Pure: no clocks, timers, sockets or files.
 */
export class RawNode {
  readonly #raft: Raft
  #prevSoftState: SoftState
  #prevHardState: HardState
  #pendingReady: Ready | undefined = undefined

  constructor(config: RaftConfig, storage: LogReader) {
    this.#raft = new Raft(config, storage)
    this.#prevSoftState = this.softState()
    this.#prevHardState = storage.hardState()
  }

  tick(): void {
    this.#raft.tick()
  }

  /** Hands a message from a peer to the core. Messages for other nodes are ignored. */
  step(message: Message): void {
    this.#raft.step(message)
  }

  /** Starts an election now, as if the election timeout had elapsed. */
  campaign(): void {
    this.#raft.campaign(false)
  }

  propose(data: Uint8Array): ProposeResult {
    return this.#raft.propose(data)
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    return this.#raft.proposeConfChange(change)
  }

  /** Asks for a linearizable read point; the answer arrives as a `ReadState` with this `context`. */
  readIndex(context: number): ReadIndexResult {
    return this.#raft.readIndex(context)
  }

  transferLeadership(to: NodeId): TransferResult {
    return this.#raft.transferLeadership(to)
  }

  /**
   * A leader's appends and heartbeats made since the last Ready, taken out now instead of with the next one,
   * so the driver can send them while it still persists the Ready in hand (see ReplicaOptions.sendAppendsAhead).
   * Safe for the same reason a leader may replicate entries before writing them (thesis §10.2.1): its own
   * acknowledgement counts only after `advance()`, so the commit index they carry is already committed.
   * Nothing while `durable` (the term and vote on disk) is behind the current ones, and only the leading run
   * of such messages, so that what goes to one peer keeps its order.
   */
  takeLeaderAppends(durable: Pick<HardState, 'term' | 'vote'>): Message[] {
    const raft = this.#raft
    if (raft.role !== 'leader' || raft.term !== durable.term || raft.vote !== durable.vote) return []
    const messages = raft.messages
    let count = 0
    while (count < messages.length) {
      const type = messages[count]!.type
      if (type !== 'append' && type !== 'heartbeat') break
      count++
    }
    return count === 0 ? [] : messages.splice(0, count)
  }

  hasReady(): boolean {
    const raft = this.#raft
    if (this.#pendingReady) return false
    if (raft.messages.length > 0 || raft.readStates.length > 0 || raft.droppedReads.length > 0) return true
    if (raft.needsReadBroadcast()) return true
    if (raft.log.unstableEntries.length > 0 || raft.log.unstableSnapshot) return true
    if (raft.log.hasNextCommittedEntries()) return true
    const soft = this.softState()
    if (soft.role !== this.#prevSoftState.role || soft.leaderId !== this.#prevSoftState.leaderId) return true
    return !isHardStateEqual(this.#hardState(), this.#prevHardState)
  }

  ready(): Ready {
    assert(this.#pendingReady === undefined, 'ready() called again before advance()')
    const raft = this.#raft
    raft.flushReadIndex()
    const soft = this.softState()
    const hard = this.#hardState()
    const softChanged =
      soft.role !== this.#prevSoftState.role || soft.leaderId !== this.#prevSoftState.leaderId
    const hardChanged = !isHardStateEqual(hard, this.#prevHardState)
    const entries = [...raft.log.unstableEntries]
    const ready: Ready = {
      softState: softChanged ? soft : undefined,
      hardState: hardChanged ? hard : undefined,
      entries,
      snapshot: raft.log.unstableSnapshot,
      committedEntries: raft.log.nextCommittedEntries(),
      messages: raft.messages,
      readStates: raft.readStates,
      droppedReads: raft.droppedReads,
      // A snapshot is acknowledged to the leader as soon as it is stored, so it must be durable first.
      mustSync:
        entries.length > 0 ||
        raft.log.unstableSnapshot !== undefined ||
        hard.term !== this.#prevHardState.term ||
        hard.vote !== this.#prevHardState.vote,
    }
    raft.messages = []
    raft.readStates = []
    raft.droppedReads = []
    if (softChanged) this.#prevSoftState = soft
    this.#pendingReady = ready
    return ready
  }

  /** The driver has handled the last `Ready` (persisted, sent, applied). */
  advance(): void {
    const ready = this.#pendingReady
    assert(ready !== undefined, 'advance() without a ready()')
    this.#pendingReady = undefined
    const log = this.#raft.log
    if (ready.hardState) this.#prevHardState = ready.hardState
    if (ready.snapshot) {
      log.stableSnapshotTo(ready.snapshot.meta.index)
      log.appliedTo(ready.snapshot.meta.index)
    }
    log.stableTo(ready.entries)
    const lastCommitted = ready.committedEntries.at(-1)
    if (lastCommitted) log.appliedTo(lastCommitted.index)
    this.#raft.onStable()
  }

  status(): RaftStatus {
    const raft = this.#raft
    const progress = new Map<NodeId, { match: number; next: number; state: string }>()
    for (const [id, pr] of raft.progress)
      progress.set(id, { match: pr.match, next: pr.next, state: pr.describe() })
    return {
      id: raft.id,
      role: raft.role,
      leaderId: raft.leaderId,
      term: raft.term,
      vote: raft.vote,
      commit: raft.log.committed,
      applied: raft.log.applied,
      firstIndex: raft.log.firstIndex(),
      lastIndex: raft.log.lastIndex(),
      config: raft.config(),
      progress,
    }
  }

  /** Core invariants; cheap, called after every step in tests and simulation. */
  check(): void {
    this.#raft.check()
  }

  /**
   * The role and the leader as this node knows them, without the rest of `status()` (which copies the
   * configuration and every follower's progress): asked on every request.
   */
  softState(): SoftState {
    return { role: this.#raft.role, leaderId: this.#raft.leaderId }
  }

  #hardState(): HardState {
    return { term: this.#raft.term, vote: this.#raft.vote, commit: this.#raft.log.committed }
  }
}
