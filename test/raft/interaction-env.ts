// A scriptable cluster of RawNodes over MemoryLogs, where the test is the network: messages wait in
// per-node inboxes until a command delivers or drops them (etcd's rafttest.InteractionEnv).
import {
  type ConfChange,
  type LogReader,
  applyConfChange,
  MemoryLog,
  type Message,
  type NodeId,
  type PlantedBug,
  type RaftConfig,
  RawNode,
  type Ready,
  bootstrapLog,
  describeEntry,
  describeMessage,
  describeReady,
} from '../../src/raft/index.js'

export interface EnvNode {
  id: NodeId
  storage: MemoryLog
  node: RawNode
  /** State machine: the data of applied normal entries, in order. */
  applied: string[]
}

/** Deterministic PRNG (mulberry32) so randomized election timeouts replay exactly. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export class InteractionEnv {
  readonly nodes = new Map<NodeId, EnvNode>()
  readonly inbox = new Map<NodeId, Message[]>()
  /** Directed links that drop everything: "from->to". */
  readonly cut = new Set<string>()
  bugs = new Set<PlantedBug>()
  /**
   * Nodes whose snapshot data is not at hand: their storage answers `snapshot()` with undefined, as a durable
   * store does while it reads the data from disk.
   */
  readonly snapshotWithheld = new Set<NodeId>()
  output: string[] = []
  /**
   * Overrides of the nodes' Raft config, read when a node is made. Appends and ReadIndex rounds are not
   * coalesced, and commits are broadcast at once, by default: the scripts pin etcd's flow (an append per
   * proposal, a round per Ready, an append per commit); these options have their own tests
   * (test/unit/raft/paper.test.ts) and are drawn per seed by the simulator.
   */
  raftConfig: Partial<RaftConfig> = {
    coalesceAppends: false,
    coalesceReadRounds: false,
    lazyCommitBroadcast: false,
  }

  #newNode(id: NodeId, storage: MemoryLog): EnvNode {
    const node = new RawNode(
      {
        id,
        electionTicks: 10,
        heartbeatTicks: 1,
        random: mulberry32(id),
        bugs: this.bugs,
        inflightMessagesMax: 4,
        appendBytesMax: 256,
        ...this.raftConfig,
      },
      this.#reader(id, storage),
    )
    return { id, storage, node, applied: [] }
  }

  #reader(id: NodeId, storage: MemoryLog): LogReader {
    return {
      hardState: () => storage.hardState(),
      snapshotMeta: () => storage.snapshotMeta(),
      snapshot: () => (this.snapshotWithheld.has(id) ? undefined : storage.snapshot()),
      firstIndex: () => storage.firstIndex(),
      lastIndex: () => storage.lastIndex(),
      term: (index) => storage.term(index),
      entries: (range) => storage.entries(range),
    }
  }

  bootstrap(ids: NodeId[]): void {
    const { entries, hardState } = bootstrapLog(ids)
    for (const id of ids) {
      const storage = new MemoryLog()
      storage.append(entries)
      storage.setHardState(hardState)
      this.nodes.set(id, this.#newNode(id, storage))
      this.inbox.set(id, [])
    }
  }

  /** A fresh node with an empty log, about to join. */
  addNode(id: NodeId): void {
    this.nodes.set(id, this.#newNode(id, new MemoryLog()))
    this.inbox.set(id, [])
  }

  /** Restart from durable state only: everything volatile (and undelivered mail to it) is lost. */
  restart(id: NodeId): void {
    const old = this.get(id)
    const fresh = this.#newNode(id, old.storage)
    // The scripted state machine is rebuilt from the log by re-applying.
    this.nodes.set(id, fresh)
    this.inbox.set(id, [])
  }

  get(id: NodeId): EnvNode {
    const n = this.nodes.get(id)
    if (!n) throw new Error(`no node ${id}`)
    return n
  }

  /** Handles one Ready of a node: persist, queue messages, apply, advance. Returns its description. */
  processReady(id: NodeId): string {
    const n = this.get(id)
    if (!n.node.hasReady()) return ''
    const ready = n.node.ready()
    this.#persist(n, ready)
    for (const m of ready.messages) this.#post(m)
    for (const entry of ready.committedEntries)
      if (entry.kind === 'normal') n.applied.push(describeEntry(entry))
    n.node.advance()
    n.node.check()
    return describeReady(ready)
  }

  #persist(n: EnvNode, ready: Ready): void {
    if (ready.snapshot) {
      n.storage.applySnapshot(ready.snapshot)
      n.applied = new TextDecoder()
        .decode(ready.snapshot.data)
        .split('\n')
        .filter((line) => line !== '')
    }
    n.storage.append(ready.entries)
    if (ready.hardState) n.storage.setHardState(ready.hardState)
  }

  #post(m: Message): void {
    if (this.cut.has(`${m.from}->${m.to}`)) return
    this.inbox.get(m.to)?.push(m)
  }

  /** Delivers queued messages to `id` (all, or only those from `from`). Returns their descriptions. */
  deliver(id: NodeId, options: { from?: NodeId; drop?: boolean } = {}): string[] {
    const queue = this.inbox.get(id) ?? []
    const keep: Message[] = []
    const lines: string[] = []
    const take = queue.splice(0)
    for (const m of take) {
      if (options.from !== undefined && m.from !== options.from) {
        keep.push(m)
        continue
      }
      lines.push(`${options.drop ? 'dropped' : 'delivered'}: ${describeMessage(m)}`)
      if (!options.drop) this.get(id).node.step(m)
    }
    queue.push(...keep)
    return lines
  }

  /** Runs Ready handling and delivery until nothing moves. */
  stabilize(ids?: NodeId[]): string {
    const targets = ids ?? [...this.nodes.keys()].sort((a, b) => a - b)
    const out: string[] = []
    for (let round = 0; round < 1000; round++) {
      let moved = false
      for (const id of targets) {
        const text = this.processReady(id)
        if (text) {
          out.push(`> ${id} ready`, ...indent(text))
          moved = true
        }
      }
      for (const id of targets) {
        if ((this.inbox.get(id) ?? []).length === 0) continue
        const lines = this.deliver(id)
        out.push(`> ${id} receiving`, ...indent(lines.join('\n')))
        moved = true
      }
      if (!moved) return out.join('\n')
    }
    throw new Error('stabilize did not converge')
  }

  status(id: NodeId): string {
    const s = this.get(id).node.status()
    const progress = [...s.progress.entries()]
      .sort(([a], [b]) => a - b)
      .map(([pid, p]) => `  ${pid}: ${p.state}`)
    return [
      `${id}: ${s.role} term=${s.term} leader=${s.leaderId} commit=${s.commit} applied=${s.applied} last=${s.lastIndex} voters=${s.config.voters.join(',')}${s.config.nonVoters.length > 0 ? ` nonVoters=${s.config.nonVoters.join(',')}` : ''}`,
      ...progress,
    ].join('\n')
  }

  log(id: NodeId): string {
    const { storage } = this.get(id)
    const first = storage.firstIndex()
    const entries = storage.entries({ from: first, to: storage.lastIndex() + 1 })
    const snap = storage.snapshotMeta()
    return [
      ...(snap.index > 0 ? [`snapshot ${snap.term}/${snap.index}`] : []),
      ...entries.map(describeEntry),
    ].join('\n')
  }

  /** Takes a snapshot at an applied `index` and compacts the log to it. */
  compact(id: NodeId, index: number): void {
    const { storage, applied, node } = this.get(id)
    if (index > node.status().applied) throw new Error(`compact ${id} ${index}: beyond the applied index`)
    // The snapshot carries the configuration in force at its index (paper §7), not the newest one.
    let config = storage.snapshotMeta().config
    for (const entry of storage.entries({ from: storage.firstIndex(), to: index + 1 })) {
      if (entry.kind !== 'confChange') continue
      const next = applyConfChange(config, entry.change)
      if (next.ok) config = next.config
    }
    const data = applied.filter((line) => Number(line.split(' ')[0]!.split('/')[1]) <= index)
    storage.createSnapshot({
      meta: { index, term: storage.term(index), config },
      data: new TextEncoder().encode(data.join('\n')),
    })
  }

  proposeConfChange(id: NodeId, change: ConfChange): string {
    const r = this.get(id).node.proposeConfChange(change)
    return r.accepted
      ? `accepted index=${r.index}`
      : `refused: ${r.reason}${r.detail ? ` (${r.detail})` : ''}`
  }
}

function indent(text: string): string[] {
  return text === '' ? [] : text.split('\n').map((line) => `  ${line}`)
}
