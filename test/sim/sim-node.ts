// One simulated node: the real Raft core plus a driver that follows the Ready contract over a simulated
// disk (fsync takes time, a crash loses what was not synced) and a simulated state machine.
import {
  type ClusterConfig,
  type ConfChange,
  type Entry,
  MemoryLog,
  type Message,
  type NodeId,
  type PlantedBug,
  RawNode,
  type Ready,
  type Snapshot,
  applyConfChange,
  isMember,
} from '../../src/raft/index.js'
import {
  type KvCommand,
  type KvResult,
  KvStateMachine,
  decodeCommand,
  encodeCommand,
} from './kv-state-machine.js'
import type { Prng } from './prng.js'
import { SimDisk } from './sim-disk.js'

/** What a node needs from the simulated world around it. */
export interface NodeHost {
  readonly now: number
  after(delayMs: number, run: () => void): void
  send(message: Message): void
  diskLatencyMs(): number
  restoreLatencyMs(): number
  readonly snapshotEvery: number
  readonly appendBytesMax: number
  readonly inflightMessagesMax: number
  readonly bugs: ReadonlySet<PlantedBug>
  readonly random: Prng
  observer: NodeObserver
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

export class SimNode {
  readonly id: NodeId
  readonly disk = new SimDisk()
  readonly #host: NodeHost
  up = false
  /** Bumped at every crash, so events scheduled by an earlier life are ignored. */
  incarnation = 0
  pausedUntil = 0
  storage: MemoryLog = new MemoryLog()
  raw!: RawNode
  sm = new KvStateMachine()
  appliedIndex = 0
  /** Configuration as of `appliedIndex` (what a snapshot taken now must carry). */
  appliedConfig: ClusterConfig = { voters: [], nonVoters: [] }
  #busy = false
  #proposals = new Map<number, PendingProposal>()
  #reads = new Map<number, PendingRead>()
  #readsAwaitingApply: PendingRead[] = []
  #nextReadContext = 1

  constructor(id: NodeId, host: NodeHost) {
    this.id = id
    this.#host = host
  }

  /** Starts (or restarts) from what is on disk. */
  start(): void {
    this.incarnation++
    this.up = true
    this.#busy = false
    this.storage = this.disk.load()
    const snapshot = this.storage.snapshot()
    this.sm = KvStateMachine.deserialize(snapshot.data)
    this.appliedIndex = snapshot.meta.index
    this.appliedConfig = snapshot.meta.config
    this.raw = new RawNode(
      {
        id: this.id,
        electionTicks: 10,
        heartbeatTicks: 2,
        random: () => this.#host.random.float(),
        bugs: this.#host.bugs,
        inflightMessagesMax: this.#host.inflightMessagesMax,
        appendBytesMax: this.#host.appendBytesMax,
      },
      this.storage,
    )
    this.#host.observer.onRestart(this)
    this.#drive()
  }

  /** Power loss: volatile state is gone; waiting clients never hear back. */
  crash(): void {
    this.up = false
    this.incarnation++
    this.disk.crash(this.#host.random)
    this.#proposals.clear()
    this.#reads.clear()
    this.#readsAwaitingApply = []
  }

  tick(): void {
    if (!this.up) return
    this.raw.tick()
    this.#drive()
  }

  receive(message: Message): void {
    if (!this.up) return
    this.raw.step(message)
    this.#drive()
  }

  campaign(): void {
    this.raw.campaign()
    this.#drive()
  }

  propose(command: KvCommand, done: (outcome: ProposalOutcome) => void): void {
    const result = this.raw.propose(encodeCommand(command))
    if (!result.accepted) {
      done({ kind: 'failed', reason: result.reason, leaderId: result.leaderId })
      return
    }
    this.#proposals.set(result.index, { term: result.term, done })
    this.#drive()
  }

  proposeConfChange(change: ConfChange): boolean {
    const result = this.raw.proposeConfChange(change)
    this.#drive()
    return result.accepted
  }

  transferLeadership(to: NodeId): boolean {
    const result = this.raw.transferLeadership(to)
    this.#drive()
    return result.accepted
  }

  readLinearizable(key: string, done: (outcome: ReadOutcome) => void): void {
    const context = this.#nextReadContext++
    const result = this.raw.readIndex(context)
    if (!result.accepted) {
      done({ kind: 'failed', reason: result.reason, leaderId: result.leaderId })
      return
    }
    this.#reads.set(context, { key, done, index: 0 })
    this.#drive()
  }

  /** Runs Ready handling until the core has nothing more or the driver waits for the disk. */
  #drive(): void {
    while (this.up && !this.#busy && this.raw.hasReady()) this.#handleReady(this.raw.ready())
  }

  #handleReady(ready: Ready): void {
    const host = this.#host
    host.observer.onReady(this, ready)
    if (ready.snapshot) {
      this.storage.applySnapshot(ready.snapshot)
      this.disk.write({ kind: 'snapshot', snapshot: ready.snapshot })
    }
    if (ready.entries.length > 0) {
      this.storage.append(ready.entries)
      this.disk.write({ kind: 'entries', entries: ready.entries })
    }
    if (ready.hardState) {
      this.storage.setHardState(ready.hardState)
      this.disk.write({ kind: 'hardState', hardState: ready.hardState })
    }
    host.observer.onPersisted(this, ready)
    const sendEarly = host.bugs.has('sendBeforePersist')
    if (sendEarly) this.#send(ready.messages)
    if (!ready.mustSync && !ready.snapshot) {
      this.#afterPersist(ready, !sendEarly)
      return
    }
    this.#busy = true
    const incarnation = this.incarnation
    host.after(host.diskLatencyMs(), () => {
      if (this.incarnation !== incarnation) return
      this.disk.sync()
      this.#afterPersist(ready, !sendEarly)
    })
  }

  #afterPersist(ready: Ready, send: boolean): void {
    if (send) this.#send(ready.messages)
    if (ready.snapshot) {
      this.#busy = true
      this.#restoreSnapshot(ready.snapshot, ready)
      return
    }
    this.#finish(ready)
  }

  /** The state machine becomes the snapshot's state; only then may the node report it applied. */
  #restoreSnapshot(snapshot: Snapshot, ready: Ready): void {
    const host = this.#host
    const incarnation = this.incarnation
    const restore = () => {
      this.sm = KvStateMachine.deserialize(snapshot.data)
      this.appliedConfig = snapshot.meta.config
    }
    if (host.bugs.has('snapshotVisibleBeforeRestore')) {
      // The planted bug: report the snapshot applied at once and restore the data later, so entries
      // applied in between are overwritten when the restore lands.
      this.appliedIndex = snapshot.meta.index
      host.observer.onSnapshotApplied(this, snapshot.meta.index)
      host.after(host.restoreLatencyMs(), () => {
        if (this.incarnation === incarnation) restore()
      })
      this.#finish(ready)
      return
    }
    host.after(host.restoreLatencyMs(), () => {
      if (this.incarnation !== incarnation) return
      restore()
      this.appliedIndex = snapshot.meta.index
      host.observer.onSnapshotApplied(this, snapshot.meta.index)
      this.#finish(ready)
    })
  }

  #finish(ready: Ready): void {
    for (const entry of ready.committedEntries) this.#apply(entry)
    for (const state of ready.readStates) {
      const read = this.#reads.get(state.context)
      if (!read) continue
      this.#reads.delete(state.context)
      read.index = state.index
      this.#readsAwaitingApply.push(read)
    }
    for (const context of ready.droppedReads) {
      const read = this.#reads.get(context)
      if (!read) continue
      this.#reads.delete(context)
      read.done({ kind: 'failed', reason: 'leadershipLost', leaderId: 0 })
    }
    this.#serveReads()
    this.raw.advance()
    this.raw.check()
    this.#busy = false
    this.#maybeCompact()
    this.#drive()
  }

  #send(messages: readonly Message[]): void {
    for (const m of messages) {
      this.#host.observer.onSend(this, m)
      this.#host.send(m)
    }
  }

  #apply(entry: Entry): void {
    this.#host.observer.onApply(this, entry)
    this.appliedIndex = entry.index
    let result: KvResult | undefined
    if (entry.kind === 'normal') result = this.sm.apply(decodeCommand(entry.data))
    else if (entry.kind === 'confChange') {
      const next = applyConfChange(this.appliedConfig, entry.change)
      if (next.ok) this.appliedConfig = next.config
    }
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
      if (read.index <= this.appliedIndex) read.done({ kind: 'ok', value: this.sm.read(read.key) })
      else waiting.push(read)
    }
    this.#readsAwaitingApply = waiting
  }

  #maybeCompact(): void {
    const snapshotIndex = this.storage.snapshotMeta().index
    if (this.appliedIndex - snapshotIndex < this.#host.snapshotEvery) return
    const index = this.appliedIndex
    const snapshot: Snapshot = {
      meta: { index, term: this.storage.term(index), config: this.appliedConfig },
      data: this.sm.serialize(),
    }
    this.storage.createSnapshot(snapshot)
    this.disk.compact(snapshot)
  }

  isMemberOf(config: ClusterConfig): boolean {
    return isMember(config, this.id)
  }
}
