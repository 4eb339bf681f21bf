import {
  type ClusterConfig,
  type HardState,
  type ConfChange,
  type Entry,
  type Message,
  type NodeId,
  type PlantedBug,
  type ProposeResult,
  type RaftConfig,
  type RaftStatus,
  RawNode,
  type ReadIndexResult,
  type ReadState,
  type Ready,
  type Snapshot,
  type SoftState,
  type TransferResult,
  applyConfChange,
} from '../raft/index.js'
import { assert } from '../util/assert.js'
import {
  type CapturedState,
  type Clock,
  type ReplicaLogger,
  type ReplicaStateMachine,
  type ReplicaStorage,
  type ReplicaTransport,
  silentReplicaLogger,
} from './ports.js'

export interface ReplicaOptions {
  readonly id: NodeId
  readonly storage: ReplicaStorage
  readonly transport: ReplicaTransport
  readonly stateMachine: ReplicaStateMachine
  readonly clock: Clock
  /** Uniform random numbers in [0, 1) for election jitter. */
  readonly random: () => number
  readonly tickMs: number
  readonly electionTicks: number
  readonly heartbeatTicks: number
  /** Take a snapshot and compact the log after this many applied entries (0: never). */
  readonly snapshotEntries: number
  /**
   * Each snapshot's threshold is `snapshotEntries` plus up to this fraction of it, drawn at random (default 0).
   * The nodes of a cluster apply the same entries, so with one threshold they all snapshot at once, and commits,
   * which need a majority, stall with them (hashicorp/raft checks at a random point of [interval, 2 × interval)).
   */
  readonly snapshotJitter?: number
  /**
   * A snapshot due by `snapshotEntries` waits at least this many ticks after the start of the last one (default 0).
   * Each snapshot copies and writes the whole database, whatever the entries since the last: at 7,700 INSERTs/s
   * a 8,192-entry threshold came every 1.1 s on each node (hashicorp/raft, under rqlite, checks it only every
   * interval: 10–20 s).
   */
  readonly snapshotSpacingTicks?: number
  /**
   * Also take a snapshot this many ticks apart, plus up to `snapshotJitter` of it drawn each time, when anything
   * was applied since the last (`-raft-snap-int`; default 0: never). Drawn per node, as the threshold is: with
   * one timer started with the cluster, all three nodes of a bench cluster stopped applying for 1.4–2.4 s at
   * the same moment to capture 410–590 MB, and no commit could be answered meanwhile.
   */
  readonly snapshotIntervalTicks?: number
  /**
   * A follower hands committed entries to the state machine at most this often (ms; default 0: as they come).
   * Each hand-off wakes the SQLite worker and costs far more than the entries in it, and a follower's applies
   * answer nobody: only its `none` reads see them, which may be stale anyway. A leader, a candidate, and any
   * other state machine work (a snapshot, a restore) first take what is held, so nothing is reordered.
   */
  readonly followerApplyDelayMs?: number
  /**
   * A leader sends the appends and heartbeats its core makes while a Ready is being persisted at once,
   * instead of with the next Ready, after that write (default true). An acknowledgement that releases held
   * entries (coalesceAppends) otherwise waits for the leader's own disk write in progress before the next
   * append can leave, and under load the leader is writing most of the time.
   */
  readonly sendAppendsAhead?: boolean
  /**
   * The next committed entries go to the state machine as soon as it has taken the ones before
   * (`ReplicaStateMachine.apply`'s `handed`), not once they are done (default true). The SQLite worker runs
   * what it is handed in order, and waiting for each apply's answers before handing over the next made every
   * entry committed meanwhile wait for a whole round trip to the worker first.
   */
  readonly pipelineApplies?: boolean
  readonly appendBytesMax?: number
  readonly inflightMessagesMax?: number
  readonly coalesceAppends?: boolean
  readonly coalesceReadRounds?: boolean
  readonly lazyCommitBroadcast?: boolean
  readonly logger?: ReplicaLogger
  /** Test-only planted bugs (see src/raft/planted-bugs.ts); the driver's own are honoured here. */
  readonly bugs?: ReadonlySet<PlantedBug>
  /** Observation hooks for tests and the simulator's checkers. */
  readonly observer?: ReplicaObserver
}

export interface ReplicaObserver {
  onReady?(ready: Ready): void
  onPersisted?(ready: Ready): void
  onSnapshotApplied?(index: number): void
}

export interface ReplicaEvents {
  /** A linearizable read may be served once the state machine has applied `index`. */
  onReadState?(state: ReadState): void
  /** A ReadIndex request will never be answered (leadership was lost). */
  onReadDropped?(context: number): void
  onSoftState?(state: SoftState): void
  /** The replica stopped because durability can no longer be guaranteed (a failed fsync, a full disk). */
  onFatal?(error: unknown): void
}

/**
 * Runs the Raft core for real (design.md, src/replica): owns the tick timer and the Ready loop. Each Ready is
 * handled in order: persist (one fsync for the batch), then send, then restore/apply, then advance. Messages
 * that reflect persisted state (votes, acknowledgements) therefore leave only after it is durable.
 */
export class Replica {
  readonly id: NodeId
  readonly #options: ReplicaOptions
  readonly #node: RawNode
  readonly #logger: ReplicaLogger
  readonly #bugs: ReadonlySet<PlantedBug>
  events: ReplicaEvents = {}
  #stopTicking: (() => void) | undefined
  #running = false
  #stopped = false
  #failed: unknown = undefined
  /**
   * State machine work (restore, apply, snapshot), started in order: an apply lets the next task start once
   * the state machine has taken its entries (see `pipelineApplies`), any other task once it is done.
   */
  #applyQueue: Promise<void> = Promise.resolve()
  /** Settles once every apply started so far has finished; other tasks wait for it first. Never rejects. */
  #appliesDone: Promise<void> = Promise.resolve()
  /** Index of the last entry handed to the state machine: ahead of `#applied` while applies run. */
  #handed: number
  /** A due snapshot is queued behind the applies in progress (see `#apply`). */
  #dueSnapshotQueued = false
  #applyTasks = 0
  /** Committed entries a follower holds back (see `followerApplyDelayMs`), in order. */
  #heldEntries: Entry[] = []
  /** Cancels the timer that hands `#heldEntries` over. */
  #cancelHeldTimer: (() => void) | undefined
  #snapshotsTaken = 0
  /** A snapshot's state is being captured (see #maybeSnapshot). */
  #snapshotCapturing = false
  /** The snapshot being written to storage, if any (see #maybeSnapshot). */
  #snapshotWrite: Promise<number | undefined> | undefined
  /** Ticks so far: the clock that spaces snapshots (deterministic under the simulator). */
  #ticks = 0
  /** No due snapshot before this tick (see #maybeSnapshot). */
  #snapshotNotBefore = 0
  /** Applied entries past the last snapshot that make the next one due (see `snapshotJitter`). */
  #snapshotThreshold: number
  #snapshotsRestored = 0
  /** A `requestSnapshot` task is queued. */
  #snapshotRequested = false
  /** The tick of the next `snapshotIntervalTicks` request. */
  #nextIntervalSnapshot: number
  /** Index of the last entry handed to the state machine (or restored from a snapshot). */
  #applied: number
  /** The configuration in force at `#applied`: what a snapshot taken there must carry. */
  #appliedConfig: ClusterConfig
  /** The term and vote known to be on disk (storage's at start, then each save's once it resolves). */
  #durable: Pick<HardState, 'term' | 'vote'>

  constructor(options: ReplicaOptions) {
    this.id = options.id
    this.#options = options
    this.#logger = options.logger ?? silentReplicaLogger
    this.#bugs = options.bugs ?? new Set()
    const snapshotMeta = options.storage.snapshotMeta()
    this.#applied = snapshotMeta.index
    this.#handed = snapshotMeta.index
    this.#appliedConfig = snapshotMeta.config
    const { term, vote } = options.storage.hardState()
    this.#durable = { term, vote }
    this.#snapshotThreshold = this.#drawSnapshotThreshold()
    this.#nextIntervalSnapshot = this.#drawSnapshotInterval()
    const raftConfig: RaftConfig = {
      id: options.id,
      electionTicks: options.electionTicks,
      heartbeatTicks: options.heartbeatTicks,
      random: options.random,
      bugs: this.#bugs,
      ...(options.appendBytesMax !== undefined ? { appendBytesMax: options.appendBytesMax } : {}),
      ...(options.inflightMessagesMax !== undefined
        ? { inflightMessagesMax: options.inflightMessagesMax }
        : {}),
      ...(options.coalesceAppends !== undefined ? { coalesceAppends: options.coalesceAppends } : {}),
      ...(options.coalesceReadRounds !== undefined ? { coalesceReadRounds: options.coalesceReadRounds } : {}),
      ...(options.lazyCommitBroadcast !== undefined
        ? { lazyCommitBroadcast: options.lazyCommitBroadcast }
        : {}),
    }
    this.#node = new RawNode(raftConfig, options.storage)
  }

  /**
   * Starts ticking. Committed entries after the snapshot are handed to the state machine again. With
   * `electionSoon`, all but one tick of the election timeout count as elapsed already (etcd's
   * advanceTicksForElection), so a cluster restarted as a whole elects a leader after 1 to `electionTicks`
   * ticks instead of `electionTicks` to twice that. Harmless when a leader is alive: its followers ignore the
   * pre-votes (leader stickiness), and its first heartbeat resets the count.
   */
  start(options: { readonly electionSoon?: boolean } = {}): void {
    assert(!this.#stopTicking && !this.#stopped, 'replica started twice')
    if (options.electionSoon === true)
      for (let i = 0; i < this.#options.electionTicks - 1; i++) this.#node.tick()
    this.#stopTicking = this.#options.clock.every(this.#options.tickMs, () => this.tick())
    this.#logger.info('replica started', { id: this.id, ...this.#statusFields() })
    this.#kick()
  }

  /** Stops ticking and handling Readys; pending work is abandoned (a crash or a shutdown). */
  stop(): void {
    this.#stopped = true
    this.#stopTicking?.()
    this.#stopTicking = undefined
    this.#cancelHeldTimer?.()
    this.#cancelHeldTimer = undefined
  }

  get appliedIndex(): number {
    return this.#applied
  }

  /** Whether the Ready loop is running (possibly waiting on storage). */
  get handlingReady(): boolean {
    return this.#running
  }

  /** Whether state machine work is queued or running (possibly waiting on the state machine). */
  get applying(): boolean {
    return this.#applyTasks > 0
  }

  get failed(): unknown {
    return this.#failed
  }

  tick(): void {
    if (this.#stopped) return
    this.#ticks++
    this.#node.tick()
    this.#afterInput()
    // The spacing ends: a snapshot that came due meanwhile is taken now (applies would check again, but none
    // may come). Queued behind the state machine's work, it finds nothing to do if an apply took it first.
    if (this.#ticks === this.#snapshotNotBefore)
      this.#enqueueApply(async () => void (await this.#maybeSnapshot()))
    if (this.#ticks >= this.#nextIntervalSnapshot) {
      this.#nextIntervalSnapshot = this.#ticks + this.#drawSnapshotInterval()
      this.requestSnapshot()
    }
  }

  receive(message: Message): void {
    if (this.#stopped) return
    this.#node.step(message)
    this.#afterInput()
  }

  campaign(): void {
    this.#node.campaign()
    this.#kick()
  }

  propose(data: Uint8Array): ProposeResult {
    const result = this.#node.propose(data)
    if (result.accepted) this.#afterInput()
    return result
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    const result = this.#node.proposeConfChange(change)
    if (result.accepted) this.#afterInput()
    return result
  }

  readIndex(context: number): ReadIndexResult {
    const result = this.#node.readIndex(context)
    if (result.accepted) this.#kick()
    return result
  }

  transferLeadership(to: NodeId): TransferResult {
    const result = this.#node.transferLeadership(to)
    this.#kick()
    return result
  }

  status(): RaftStatus {
    return this.#node.status()
  }

  /** The role and the leader, without the rest of `status()`. */
  softState(): SoftState {
    return this.#node.softState()
  }

  /**
   * After the core took input: while a Ready is being handled (its write in progress), sends what the
   * leader's core has made since (see `sendAppendsAhead`); otherwise `#kick` takes a Ready at once, which
   * sends the same early.
   */
  #afterInput(): void {
    if (this.#running && !this.#stopped && this.#options.sendAppendsAhead !== false)
      for (const message of this.#node.takeLeaderAppends(this.#durable)) this.#options.transport.send(message)
    this.#kick()
  }

  #kick(): void {
    if (this.#running || this.#stopped) return
    this.#running = true
    void this.#loop()
  }

  async #loop(): Promise<void> {
    try {
      while (!this.#stopped && this.#node.hasReady()) {
        await this.#handle(this.#node.ready())
      }
    } catch (error) {
      this.#fail(error)
    } finally {
      this.#running = false
    }
    if (!this.#stopped && this.#node.hasReady()) this.#kick()
  }

  async #handle(ready: Ready): Promise<void> {
    const { storage } = this.#options
    this.#options.observer?.onReady?.(ready)
    if (ready.softState) {
      this.#logger.info('role changed', {
        id: this.id,
        role: ready.softState.role,
        leader: ready.softState.leaderId,
      })
      this.events.onSoftState?.(ready.softState)
    }
    const sendEarly = this.#bugs.has('sendBeforePersist')
    if (sendEarly) this.#send(ready)
    // Raft thesis §10.2.1: a leader replicates its new entries while it writes them to its own disk, so a
    // commit costs one disk write, not two in a row. Safe because the core counts the leader's own
    // acknowledgement only after advance() (onStable), and no commit is visible before the next Ready.
    // Only appends and heartbeats go early, and only when this Ready changes no term or vote.
    const leaderEarly =
      !sendEarly &&
      this.#node.softState().role === 'leader' &&
      ready.snapshot === undefined &&
      (ready.hardState === undefined || sameVote(ready.hardState, storage.hardState()))
    let sentEarly: ReadonlySet<Message> | undefined
    if (leaderEarly) {
      const early = ready.messages.filter((m) => m.type === 'append' || m.type === 'heartbeat')
      for (const message of early) this.#options.transport.send(message)
      sentEarly = new Set(early)
    }
    const { snapshot, committedEntries } = ready
    // Committed entries already durable here go to the state machine now, while this Ready's own entries
    // are written: on a leader they are the entries its followers have just acknowledged, and their answers
    // waited for the next write to finish, about one disk write more than a commit needs. Only those below
    // this Ready's first entry count as durable (the entries from there on may replace what storage holds).
    let appliedEarly = 0
    if (snapshot === undefined && committedEntries.length > 0 && !this.#holdsApplies()) {
      const durableLast =
        ready.entries.length > 0
          ? Math.min(storage.lastIndex(), ready.entries[0]!.index - 1)
          : storage.lastIndex()
      appliedEarly = Math.max(
        0,
        Math.min(committedEntries.length, durableLast - committedEntries[0]!.index + 1),
      )
      if (appliedEarly > 0) {
        const early =
          appliedEarly === committedEntries.length
            ? committedEntries
            : committedEntries.slice(0, appliedEarly)
        this.#applyCommitted(early)
      }
    }
    if (snapshot || ready.entries.length > 0 || ready.hardState) {
      await storage.save({
        ...(ready.hardState ? { hardState: ready.hardState } : {}),
        ...(ready.entries.length > 0 ? { entries: ready.entries } : {}),
        ...(snapshot ? { snapshot } : {}),
      })
      if (this.#stopped) return
      if (ready.hardState) this.#durable = { term: ready.hardState.term, vote: ready.hardState.vote }
    }
    this.#options.observer?.onPersisted?.(ready)
    if (!sendEarly) {
      for (const message of ready.messages)
        if (!sentEarly?.has(message)) this.#options.transport.send(message)
    }
    // The state machine works on its own queue, so a long query or a big snapshot on the database never
    // holds back the next Ready (heartbeats, votes, acknowledgements).
    if (snapshot) this.#enqueueApply(() => this.#restore(snapshot))
    const rest = appliedEarly === 0 ? committedEntries : committedEntries.slice(appliedEarly)
    if (this.#holdsApplies()) {
      if (rest.length > 0) this.#holdEntries(rest, this.#options.followerApplyDelayMs ?? 0)
    } else if (rest.length > 0) this.#applyCommitted(rest)
    else this.#releaseHeldEntries()
    for (const state of ready.readStates) this.events.onReadState?.(state)
    for (const context of ready.droppedReads) this.events.onReadDropped?.(context)
    this.#node.advance()
  }

  /**
   * Runs `task` after every earlier state machine task, and after the entries held back so far, in order; a
   * failure stops the replica.
   */
  #enqueueApply(task: () => Promise<void>): void {
    this.#releaseHeldEntries()
    this.#enqueueTask(task)
  }

  #enqueueTask(task: () => Promise<void>): void {
    this.#applyTasks++
    this.#applyQueue = this.#applyQueue.then(async () => {
      try {
        await this.#appliesDone
        if (!this.#stopped) await task()
      } catch (error) {
        this.#fail(error)
      } finally {
        this.#applyTasks--
      }
    })
  }

  /** Queues committed `entries` for the state machine, after the entries held back so far. */
  #applyCommitted(entries: readonly Entry[]): void {
    this.#releaseHeldEntries()
    this.#enqueueEntries(entries)
  }

  /**
   * Hands `entries` to the state machine after every earlier task has started (and every earlier non-apply
   * task has finished); the next task may start once the state machine has taken them (`pipelineApplies`).
   */
  #enqueueEntries(entries: readonly Entry[]): void {
    this.#applyTasks++
    this.#applyQueue = this.#applyQueue.then(
      () =>
        new Promise<void>((taken) => {
          if (this.#stopped) {
            this.#applyTasks--
            taken()
            return
          }
          const finished = this.#apply(entries, taken)
            .catch((error: unknown) => this.#fail(error))
            .finally(() => {
              this.#applyTasks--
              taken()
            })
          this.#appliesDone = this.#appliesDone.then(() => finished)
        }),
    )
  }

  /** A follower holds committed entries back now (`followerApplyDelayMs`); asked again after each write. */
  #holdsApplies(): boolean {
    return (this.#options.followerApplyDelayMs ?? 0) > 0 && this.#node.softState().role === 'follower'
  }

  #holdEntries(entries: readonly Entry[], delayMs: number): void {
    // One at a time: a follower catching up may be handed more entries than a call's arguments can carry.
    for (const entry of entries) this.#heldEntries.push(entry)
    this.#cancelHeldTimer ??= this.#options.clock.after(delayMs, () => {
      this.#cancelHeldTimer = undefined
      if (!this.#stopped) this.#releaseHeldEntries()
    })
  }

  /** Queues the held entries for the state machine now. */
  #releaseHeldEntries(): void {
    this.#cancelHeldTimer?.()
    this.#cancelHeldTimer = undefined
    if (this.#heldEntries.length === 0) return
    const entries = this.#heldEntries
    this.#heldEntries = []
    this.#enqueueEntries(entries)
  }

  async #restore(snapshot: Snapshot): Promise<void> {
    const { meta } = snapshot
    this.#logger.info('restoring snapshot', { id: this.id, index: meta.index, term: meta.term })
    if (this.#bugs.has('snapshotVisibleBeforeRestore')) {
      // The planted bug (rqlite #2747): the snapshot counts as applied before the state machine holds it.
      void this.#options.stateMachine.restore(snapshot)
    } else {
      await this.#options.stateMachine.restore(snapshot)
      if (this.#stopped) return
    }
    this.#applied = meta.index
    this.#handed = meta.index
    this.#appliedConfig = meta.config
    this.#snapshotsRestored++
    this.#options.observer?.onSnapshotApplied?.(meta.index)
  }

  async #apply(entries: readonly Entry[], taken: () => void): Promise<void> {
    assert(entries[0]!.index === this.#handed + 1, 'committed entries continue the handed index')
    this.#handed = entries.at(-1)!.index
    const pipelined = this.#options.pipelineApplies !== false
    await this.#options.stateMachine.apply(entries, pipelined ? taken : undefined)
    if (this.#stopped) return
    assert(entries[0]!.index === this.#applied + 1, 'applies finish in the order they were handed over')
    for (const entry of entries) {
      if (entry.kind !== 'confChange') continue
      const next = applyConfChange(this.#appliedConfig, entry.change)
      if (next.ok) this.#appliedConfig = next.config
    }
    this.#applied = entries.at(-1)!.index
    // A snapshot must capture the state at `#applied`: now, only if nothing later has been handed over yet
    // (the check and the capture happen in one turn); otherwise behind the applies in progress.
    if (this.#handed === this.#applied) await this.#maybeSnapshot()
    else if (this.#snapshotDue() && !this.#dueSnapshotQueued) {
      this.#dueSnapshotQueued = true
      this.#enqueueTask(async () => {
        this.#dueSnapshotQueued = false
        await this.#maybeSnapshot()
      })
    }
  }

  #send(ready: Ready): void {
    for (const message of ready.messages) this.#options.transport.send(message)
  }

  /**
   * Takes a snapshot soon if anything was applied since the last one (`snapshotIntervalTicks`), after the
   * state machine work already queued, unless one is being written. One request waits at a time. Requests
   * are not dropped while work is queued: under a steady bulk load (1,000-row entries, never 8,192 of them)
   * the queue was never empty when the timer fired, and the log, held in memory, grew by 22 MB/s unbounded.
   */
  requestSnapshot(): void {
    if (this.#snapshotRequested) return
    this.#snapshotRequested = true
    this.#enqueueApply(async () => {
      this.#snapshotRequested = false
      if (this.#snapshotWrite === undefined) await this.#maybeSnapshot(true, false)
    })
  }

  /**
   * Takes a snapshot of everything applied so far, after the state machine work already queued (rqlite's
   * POST /snapshot). Resolves with the snapshot's index, or undefined when nothing new was applied since the
   * last one.
   */
  snapshotNow(): Promise<number | undefined> {
    let taken: number | undefined
    let failure: unknown
    this.#enqueueApply(async () => {
      try {
        taken = await this.#maybeSnapshot(true)
      } catch (error) {
        failure = error
        throw error
      }
    })
    // The queue settles even when a stopped replica skips the task.
    return this.#applyQueue.then(() => {
      if (failure !== undefined) throw failure
      return taken
    })
  }

  /** Counters for /debug/vars. */
  get stats(): { readonly snapshotsTaken: number; readonly snapshotsRestored: number } {
    return { snapshotsTaken: this.#snapshotsTaken, snapshotsRestored: this.#snapshotsRestored }
  }

  /**
   * Takes a snapshot when due (or now, with `force`). Only capturing the state machine's state stops applies
   * (SQLite's copy of the database); its bytes are copied out and the file written while applies go on. One
   * snapshot is taken at a time; while one is, a due one is skipped and a forced one waits for it. With
   * `waitWritten`, resolves once the snapshot is durable.
   *
   * A due snapshot also waits `snapshotSpacingTicks` from the start of the last one, and until `snapshotSpacing`
   * times the last one's cost has passed since it ended:
   * taking one costs time in proportion to the database, not to the entries since the last, and with 455 MB
   * and 8,192 entries between snapshots a node under load was snapshotting most of the time.
   */
  async #maybeSnapshot(force = false, waitWritten = force): Promise<number | undefined> {
    // Applies that overlap (pipelineApplies) may each find a snapshot due as they finish: one at a time. A
    // forced one is a queued task, which runs only once every apply, and the capture in it, has finished.
    if (this.#snapshotCapturing && !force) return undefined
    if (this.#snapshotWrite !== undefined) {
      if (!force) return undefined
      await this.#snapshotWrite.catch(() => undefined)
    }
    const { storage, stateMachine } = this.#options
    if (this.#applied <= storage.snapshotMeta().index) return undefined
    if (!force) {
      if (!this.#snapshotDue()) return undefined
      this.#snapshotThreshold = this.#drawSnapshotThreshold()
    }
    const index = this.#applied
    const config = this.#appliedConfig
    const term = storage.term(index)
    const startTick = this.#ticks
    this.#snapshotCapturing = true
    let captured: CapturedState
    try {
      captured = await stateMachine.snapshot()
    } finally {
      this.#snapshotCapturing = false
    }
    // Applies waited for this part: worth seeing in the log when it is long.
    this.#logger.info('snapshot captured', { id: this.id, index, ticks: this.#ticks - startTick })
    if (this.#stopped) {
      // Its copy fails once the state machine closes; nobody waits for it any more.
      captured.data.catch(() => undefined)
      return undefined
    }
    const write = captured.data.then(async (data) => {
      this.#snapshotNotBefore = Math.max(
        this.#ticks + snapshotSpacing * (this.#ticks - startTick),
        startTick + (this.#options.snapshotSpacingTicks ?? 0),
      )
      // A snapshot from the leader may have replaced the log while the state machine was serializing.
      if (this.#stopped || storage.snapshotMeta().index >= index) return undefined
      await storage.createSnapshot({ meta: { index, term, config }, data })
      this.#snapshotsTaken++
      this.#logger.info('snapshot taken', {
        id: this.id,
        index,
        term,
        bytes: data.byteLength,
        ticks: this.#ticks - startTick,
      })
      return index
    })
    this.#snapshotWrite = write
    const settled = () => {
      if (this.#snapshotWrite === write) this.#snapshotWrite = undefined
    }
    write.then(settled, (error: unknown) => {
      settled()
      this.#fail(error)
    })
    return waitWritten ? await write : undefined
  }

  /** Enough entries were applied since the last snapshot, and its spacing has passed. */
  #snapshotDue(): boolean {
    const { storage, snapshotEntries } = this.#options
    const snapshotIndex = storage.snapshotMeta().index
    return (
      snapshotEntries > 0 &&
      this.#applied - snapshotIndex >= this.#snapshotThreshold &&
      this.#ticks >= this.#snapshotNotBefore
    )
  }

  /** Ticks to the next interval snapshot request (Infinity without `snapshotIntervalTicks`). */
  #drawSnapshotInterval(): number {
    const { snapshotIntervalTicks = 0, snapshotJitter = 0 } = this.#options
    if (snapshotIntervalTicks <= 0) return Number.POSITIVE_INFINITY
    return snapshotIntervalTicks + Math.floor(snapshotIntervalTicks * snapshotJitter * this.#options.random())
  }

  #drawSnapshotThreshold(): number {
    const { snapshotEntries, snapshotJitter = 0 } = this.#options
    if (snapshotJitter <= 0) return snapshotEntries
    return snapshotEntries + Math.floor(snapshotEntries * snapshotJitter * this.#options.random())
  }

  #fail(error: unknown): void {
    this.#failed = error
    // Storage failures and broken invariants alike: continuing could corrupt the cluster, so fail-stop.
    this.#logger.error('replica stopped', { id: this.id, error: String(error) })
    this.stop()
    this.events.onFatal?.(error)
  }

  #statusFields(): Record<string, unknown> {
    const s = this.#node.status()
    return { term: s.term, commit: s.commit, lastIndex: s.lastIndex, voters: s.config.voters }
  }
}

/**
 * A due snapshot waits this many times the last one's cost (in ticks, from capture until its bytes were
 * ready) after it: snapshots then keep the state machine busy at most a tenth of the time. The log grows
 * meanwhile (455 MB took 3 s here, so up to 27 s of writes), which a restart replays.
 */
const snapshotSpacing = 9

function sameVote(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote
}
