// One simulated node: the real driver (src/replica) running the real Raft core, over a simulated disk
// (fsync takes time; a crash loses what was not synced), a simulated network and a key-value state machine.
import {
  type ConfChange,
  type Entry,
  type HardState,
  MemoryLog,
  type Message,
  type NodeId,
  type PlantedBug,
  type RaftStatus,
  type Ready,
  type Snapshot,
} from '../../src/raft/index.js'
import type { ReplicaStateMachine, ReplicaStorage } from '../../src/replica/ports.js'
import { Replica } from '../../src/replica/replica.js'
import {
  type KvCommand,
  type KvResult,
  KvStateMachine,
  decodeCommand,
  encodeCommand,
} from './kv-state-machine.js'
import type { Prng } from './prng.js'
import { SafetyViolation } from './checkers/safety.js'
import { SimDisk } from './sim-disk.js'

/** What a node needs from the simulated world around it. */
export interface NodeHost {
  readonly now: number
  after(delayMs: number, run: () => void): void
  every(intervalMs: number, run: () => void): () => void
  send(message: Message): void
  diskLatencyMs(): number
  restoreLatencyMs(): number
  /** How long an apply runs after the state machine has taken its entries (0: it finishes at once). */
  applyLatencyMs(): number
  readonly snapshotEvery: number
  readonly appendBytesMax: number
  readonly inflightMessagesMax: number
  readonly coalesceAppends: boolean
  readonly coalesceReadRounds: boolean
  readonly lazyCommitBroadcast: boolean
  readonly followerApplyDelayMs: number
  readonly sendAppendsAhead: boolean
  readonly pipelineApplies: boolean
  readonly snapshotSpacingTicks: number
  readonly snapshotIntervalTicks: number
  readonly bugs: ReadonlySet<PlantedBug>
  readonly random: Prng
  observer: NodeObserver
  /** The driver stopped on an error (an assertion in the core, a storage failure): a violation. */
  fatal(node: SimNode, error: unknown): void
}

/** Hooks through which the safety checker watches every node. */
export interface NodeObserver {
  onReady(node: SimNode, ready: Ready): void
  onPersisted(node: SimNode, ready: Ready): void
  onSend(node: SimNode, message: Message): void
  onApply(node: SimNode, entry: Entry): void
  onSnapshotApplied(node: SimNode, index: number): void
  onRestart(node: SimNode): void
}

export type ProposalOutcome =
  | { kind: 'ok'; result: KvResult; index: number; term: number }
  | { kind: 'failed'; reason: string; leaderId: NodeId }
export type ReadOutcome =
  | { kind: 'ok'; value: string | null }
  | { kind: 'failed'; reason: string; leaderId: NodeId }

interface PendingProposal {
  readonly term: number
  readonly done: (outcome: ProposalOutcome) => void
}

interface PendingRead {
  readonly key: string
  readonly done: (outcome: ReadOutcome) => void
  index: number
}

export const tickMs = 10

export class SimNode {
  readonly id: NodeId
  readonly disk = new SimDisk()
  readonly #host: NodeHost
  up = false
  /** Bumped at every start and crash, so events scheduled by an earlier life are ignored. */
  incarnation = 0
  pausedUntil = 0
  storage: MemoryLog = new MemoryLog()
  replica!: Replica
  sm = new KvStateMachine()
  /** Disk writes in flight: while one is, the driver's Ready loop is blocked on I/O, not runnable. */
  savesInFlight = 0
  /** Snapshot restores in flight: while one is, the driver's apply queue is blocked on I/O. */
  restoresInFlight = 0
  /** Snapshot images being copied out after capture: applies go on meanwhile, so they block nothing. */
  snapshotCopiesInFlight = 0
  /** Applies taken but still running (a worker's round trip): the apply queue waits on I/O meanwhile. */
  appliesInFlight = 0
  /** Settles when the last apply handed over has finished: applies finish in order. */
  #applyFinished: Promise<void> = Promise.resolve()
  #proposals = new Map<number, PendingProposal>()
  #reads = new Map<number, PendingRead>()
  #readsAwaitingApply: PendingRead[] = []
  #nextReadContext = 1
  /**
   * The snapshot index whose data is in memory for the Raft core, or -1: as the durable store does, the data
   * is held from start-up or a read until handed out once, and read from disk again when the core asks.
   */
  #snapshotHeld = -1
  #snapshotReading = false

  constructor(id: NodeId, host: NodeHost) {
    this.id = id
    this.#host = host
  }

  get appliedIndex(): number {
    return this.replica?.appliedIndex ?? 0
  }

  status(): RaftStatus {
    return this.replica.status()
  }

  /** Whether the driver has work it can do right now (microtask continuations not blocked on I/O). */
  get runnable(): boolean {
    if (!this.up) return false
    return (
      (this.replica.handlingReady && this.savesInFlight === 0) ||
      (this.replica.applying && this.restoresInFlight === 0 && this.appliesInFlight === 0)
    )
  }

  /** Starts (or restarts) from what is on disk. */
  start(): void {
    this.incarnation++
    this.up = true
    this.savesInFlight = 0
    this.restoresInFlight = 0
    this.appliesInFlight = 0
    this.#applyFinished = Promise.resolve()
    this.snapshotCopiesInFlight = 0
    this.storage = this.disk.load()
    this.sm = KvStateMachine.deserialize(this.storage.snapshot().data)
    this.#smApplied = this.storage.snapshotMeta().index
    // The start-up restore took the data the store read at open.
    this.#snapshotHeld = -1
    this.#snapshotReading = false
    const host = this.#host
    const observer = host.observer
    this.replica = new Replica({
      id: this.id,
      storage: this.#storagePort(),
      transport: {
        send: (message) => {
          observer.onSend(this, message)
          host.send(message)
        },
      },
      stateMachine: this.#stateMachinePort(),
      clock: {
        every: (ms, run) => host.every(ms, run),
        after: (ms, run) => {
          let active = true
          host.after(ms, () => {
            if (active) run()
          })
          return () => {
            active = false
          }
        },
      },
      random: () => host.random.float(),
      tickMs,
      electionTicks: 10,
      heartbeatTicks: 2,
      snapshotEntries: host.snapshotEvery,
      appendBytesMax: host.appendBytesMax,
      inflightMessagesMax: host.inflightMessagesMax,
      coalesceAppends: host.coalesceAppends,
      coalesceReadRounds: host.coalesceReadRounds,
      lazyCommitBroadcast: host.lazyCommitBroadcast,
      followerApplyDelayMs: host.followerApplyDelayMs,
      sendAppendsAhead: host.sendAppendsAhead,
      pipelineApplies: host.pipelineApplies,
      snapshotSpacingTicks: host.snapshotSpacingTicks,
      snapshotIntervalTicks: host.snapshotIntervalTicks,
      bugs: host.bugs,
      observer: {
        onReady: (ready) => observer.onReady(this, ready),
        onPersisted: (ready) => observer.onPersisted(this, ready),
        onSnapshotApplied: (index) => observer.onSnapshotApplied(this, index),
      },
    })
    this.replica.events = {
      onReadState: (state) => {
        const read = this.#reads.get(state.context)
        if (!read) return
        this.#reads.delete(state.context)
        read.index = state.index
        this.#readsAwaitingApply.push(read)
        this.#serveReads()
      },
      onFatal: (error) => host.fatal(this, error),
      onReadDropped: (context) => {
        const read = this.#reads.get(context)
        if (!read) return
        this.#reads.delete(context)
        read.done({ kind: 'failed', reason: 'leadershipLost', leaderId: 0 })
      },
    }
    observer.onRestart(this)
    this.replica.start()
  }

  /** Power loss: volatile state is gone; waiting clients never hear back. */
  crash(): void {
    this.up = false
    this.incarnation++
    this.replica.stop()
    this.disk.crash(this.#host.random)
    this.#proposals.clear()
    this.#reads.clear()
    this.#readsAwaitingApply = []
  }

  receive(message: Message): void {
    if (this.up) this.replica.receive(message)
  }

  propose(command: KvCommand, done: (outcome: ProposalOutcome) => void): void {
    const result = this.replica.propose(encodeCommand(command))
    if (!result.accepted) {
      done({ kind: 'failed', reason: result.reason, leaderId: result.leaderId })
      return
    }
    this.#proposals.set(result.index, { term: result.term, done })
  }

  proposeConfChange(change: ConfChange): boolean {
    return this.replica.proposeConfChange(change).accepted
  }

  transferLeadership(to: NodeId): boolean {
    return this.replica.transferLeadership(to).accepted
  }

  readLinearizable(key: string, done: (outcome: ReadOutcome) => void): void {
    const context = this.#nextReadContext++
    const result = this.replica.readIndex(context)
    if (!result.accepted) {
      done({ kind: 'failed', reason: result.reason, leaderId: result.leaderId })
      return
    }
    this.#reads.set(context, { key, done, index: 0 })
  }

  /** Runs `complete` after a simulated delay unless the node crashed meanwhile; the driver waits on it. */
  #io<T>(
    kind: 'savesInFlight' | 'restoresInFlight' | 'snapshotCopiesInFlight' | 'appliesInFlight',
    delayMs: number,
    complete: () => T,
  ): Promise<T> {
    const host = this.#host
    const incarnation = this.incarnation
    this[kind]++
    return new Promise<T>((resolve) => {
      host.after(delayMs, () => {
        if (this.incarnation !== incarnation) return // the promise is abandoned with the crashed driver
        this[kind]--
        resolve(complete())
      })
    })
  }

  #storagePort(): ReplicaStorage {
    const log = this.storage
    const disk = this.disk
    return {
      hardState: () => log.hardState(),
      snapshotMeta: () => log.snapshotMeta(),
      snapshot: () => this.#snapshotForCore(log),
      firstIndex: () => log.firstIndex(),
      lastIndex: () => log.lastIndex(),
      term: (index) => log.term(index),
      entries: (range) => log.entries(range),
      save: (update: { hardState?: HardState; entries?: readonly Entry[]; snapshot?: Snapshot }) => {
        // Written now (the page cache), durable only when the simulated fsync completes.
        if (update.snapshot) {
          this.#snapshotHeld = -1
          log.applySnapshot(update.snapshot)
          disk.write({ kind: 'snapshot', snapshot: update.snapshot })
        }
        if (update.entries) {
          log.append(update.entries)
          disk.write({ kind: 'entries', entries: update.entries })
        }
        if (update.hardState) {
          log.setHardState(update.hardState)
          disk.write({ kind: 'hardState', hardState: update.hardState })
        }
        return this.#io('savesInFlight', this.#host.diskLatencyMs(), () => disk.sync())
      },
      createSnapshot: (snapshot) => {
        const stateAt = KvStateMachine.deserialize(snapshot.data).lastIndex
        // A snapshot taken while a later apply had already been handed over would hold that apply's effects.
        if (stateAt !== snapshot.meta.index)
          throw new SafetyViolation(
            'snapshot state',
            `node ${this.id}: snapshot at index ${snapshot.meta.index} holds the state after index ${stateAt}`,
          )
        this.#snapshotHeld = -1
        log.createSnapshot(snapshot)
        disk.compact(snapshot)
        return Promise.resolve()
      },
    }
  }

  /** `LogReader.snapshot` as the durable store answers it: undefined while the data is read from disk. */
  #snapshotForCore(log: MemoryLog): Snapshot | undefined {
    const { index } = log.snapshotMeta()
    if (index === 0) return log.snapshot()
    if (this.#snapshotHeld === index) {
      this.#snapshotHeld = -1
      return log.snapshot()
    }
    if (!this.#snapshotReading) {
      this.#snapshotReading = true
      const incarnation = this.incarnation
      this.#host.after(this.#host.restoreLatencyMs(), () => {
        if (this.incarnation !== incarnation) return
        this.#snapshotReading = false
        // A snapshot that replaced the one read meanwhile is read again when the core next asks.
        if (log.snapshotMeta().index === index) this.#snapshotHeld = index
      })
    }
    return undefined
  }

  #stateMachinePort(): ReplicaStateMachine {
    return {
      apply: (entries, handed) => {
        // Applied (and visible) now, finished later, in order: a worker that runs what it is handed in turn.
        for (const entry of entries) this.#apply(entry)
        this.#serveReads()
        const latencyMs = this.#host.applyLatencyMs()
        if (latencyMs <= 0) return Promise.resolve()
        handed?.()
        const running = this.#io('appliesInFlight', latencyMs, () => undefined)
        const finished = Promise.all([this.#applyFinished, running]).then(() => {})
        this.#applyFinished = finished
        return finished
      },
      restore: (snapshot) =>
        this.#io('restoresInFlight', this.#host.restoreLatencyMs(), () => {
          this.sm = KvStateMachine.deserialize(snapshot.data)
          this.#smApplied = snapshot.meta.index
        }),
      snapshot: () => {
        // Captured now, its bytes ready later (a big database copied out of the worker): entries applied and
        // snapshots installed meanwhile must not leak into it.
        const image = this.sm.serialize()
        return Promise.resolve({
          data: this.#io('snapshotCopiesInFlight', this.#host.restoreLatencyMs(), () => image),
        })
      },
    }
  }

  #apply(entry: Entry): void {
    this.#host.observer.onApply(this, entry)
    let result: KvResult | undefined
    if (entry.kind === 'normal') result = this.sm.apply(decodeCommand(entry.data))
    this.sm.lastIndex = entry.index
    this.#smApplied = entry.index
    const proposal = this.#proposals.get(entry.index)
    if (!proposal) return
    this.#proposals.delete(entry.index)
    if (proposal.term === entry.term && result)
      proposal.done({ kind: 'ok', result, index: entry.index, term: entry.term })
    else proposal.done({ kind: 'failed', reason: 'overwritten', leaderId: 0 })
  }

  #serveReads(): void {
    if (this.#readsAwaitingApply.length === 0) return
    const waiting: PendingRead[] = []
    for (const read of this.#readsAwaitingApply) {
      // Entries are applied before the driver records them as applied, so count the batch in progress.
      if (read.index <= this.#appliedThroughSm()) read.done({ kind: 'ok', value: this.sm.read(read.key) })
      else waiting.push(read)
    }
    this.#readsAwaitingApply = waiting
  }

  #smApplied = 0

  #appliedThroughSm(): number {
    return Math.max(this.#smApplied, this.replica.appliedIndex)
  }
}
