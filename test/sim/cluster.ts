// The simulated world for one seed: N nodes running the real Raft core and the simulated driver, a network
// with per-link delay, loss, duplication and partitions, crashes with torn writes, paused nodes, clock
// drift, membership changes and leader transfers, and clients whose history is checked at the end.
// Everything random comes from the seed, so a failure replays exactly.
import {
  type ConfChange,
  type Message,
  type NodeId,
  type PlantedBug,
  bootstrapLog,
  isMember,
  isVoter,
} from '../../src/raft/index.js'
import { HistoryRecorder } from './checkers/history.js'
import { checkLinearizable } from './checkers/linearizability.js'
import { SafetyChecker, SafetyViolation } from './checkers/safety.js'
import { EventQueue } from './event-queue.js'
import type { KvCommand, KvOp } from './kv-state-machine.js'
import { Prng, fnv1a } from './prng.js'
import { type NodeHost, type NodeObserver, SimNode } from './sim-node.js'

/** The faults one seed draws (swarm testing: some seeds calm, some brutal). */
export interface FaultProfile {
  readonly nodeCount: 1 | 3 | 5
  readonly spareCount: number
  readonly dropRate: number
  readonly duplicateRate: number
  readonly delayMinMs: number
  readonly delayJitterMs: number
  readonly diskLatencyMs: number
  readonly diskSpikeRate: number
  readonly crashEveryMs: number
  /**
   * The "Figure 8" nemesis (as in MIT 6.824's Figure8 test): crash the leader this often, restarting a random
   * crashed node whenever fewer than a majority are up, so leadership moves between nodes with diverging logs.
   */
  readonly leaderCrashEveryMs: number
  readonly partitionEveryMs: number
  readonly pauseEveryMs: number
  readonly membershipEveryMs: number
  /**
   * Chance that a membership change is proposed the moment a node becomes leader, as happens when joining
   * nodes retry until a leader accepts them: the change then races the new leader's first commit.
   */
  readonly changeOnElection: number
  readonly transferEveryMs: number
  readonly snapshotEvery: number
  readonly appendBytesMax: number
  readonly inflightMessagesMax: number
  /** The leader holds back small appends while one is in flight (RaftConfig.coalesceAppends). */
  readonly coalesceAppends: boolean
  /** ReadIndex requests wait for the round in flight (RaftConfig.coalesceReadRounds). */
  readonly coalesceReadRounds: boolean
  /** A new commit index waits for the next append or heartbeat (RaftConfig.lazyCommitBroadcast). */
  readonly lazyCommitBroadcast: boolean
  /** Followers hold committed entries back this long before applying them (ReplicaOptions). */
  readonly followerApplyDelayMs: number
  /** A leader sends appends made while it writes at once (ReplicaOptions.sendAppendsAhead). */
  readonly sendAppendsAhead: boolean
  /** How long an apply runs after the state machine has taken its entries (0: at once). */
  readonly applyLatencyMs: number
  /** The next apply is handed over while the one before runs (ReplicaOptions.pipelineApplies). */
  readonly pipelineApplies: boolean
  /** Ticks a threshold snapshot waits after the last one began (ReplicaOptions.snapshotSpacingTicks). */
  readonly snapshotSpacingTicks: number
  /** Interval snapshots (ReplicaOptions.snapshotIntervalTicks; 0: none). */
  readonly snapshotIntervalTicks: number
  readonly clockDrift: number
  readonly clientCount: number
  readonly keyCount: number
}

export function drawProfile(random: Prng, overrides: Partial<FaultProfile> = {}): FaultProfile {
  const nodeCount = random.pick([1, 3, 3, 3, 5, 5] as const)
  const sometimes = (intervalsMs: readonly number[]): number =>
    random.chance(0.5) ? random.pick(intervalsMs) : Number.POSITIVE_INFINITY
  return {
    nodeCount,
    spareCount: nodeCount === 1 ? random.int(0, 1) : random.int(0, 2),
    dropRate: random.pick([0, 0, 0.01, 0.05, 0.15]),
    duplicateRate: random.pick([0, 0, 0.02, 0.1, 0.3]),
    delayMinMs: random.pick([0.2, 1, 3]),
    delayJitterMs: random.pick([0, 2, 10, 40]),
    diskLatencyMs: random.pick([0.1, 0.5, 2, 8, 20]),
    diskSpikeRate: random.pick([0, 0.01, 0.05]),
    // Each kind of fault is on in about half the seeds, at one of a few intensities (swarm testing), so
    // calm seeds with one fault and brutal seeds with all of them both occur.
    crashEveryMs: sometimes([3000, 1500, 600]),
    leaderCrashEveryMs: sometimes([1000, 500, 250]),
    partitionEveryMs: sometimes([2500, 1200, 500, 250]),
    pauseEveryMs: sometimes([3000, 1000]),
    membershipEveryMs: sometimes([2000, 700, 200, 50]),
    changeOnElection: random.chance(0.5) ? random.pick([0.5, 1]) : 0,
    transferEveryMs: sometimes([2500, 800]),
    snapshotEvery: random.pick([5, 20, 100, 1000]),
    appendBytesMax: random.pick([64, 4096, 65536]),
    inflightMessagesMax: random.pick([1, 8, 64]),
    clockDrift: random.pick([0, 0.02, 0.1]),
    clientCount: random.int(2, 5),
    keyCount: random.int(1, 4),
    // Drawn last, so that the draws above (and the seeds found with them) are what they were without it.
    coalesceAppends: random.chance(0.5),
    coalesceReadRounds: random.chance(0.5),
    lazyCommitBroadcast: random.chance(0.5),
    snapshotSpacingTicks: random.pick([0, 0, 10, 100]),
    snapshotIntervalTicks: random.pick([0, 0, 20, 200]),
    followerApplyDelayMs: random.pick([0, 0, 2, 10, 100]),
    sendAppendsAhead: random.chance(0.5),
    applyLatencyMs: random.pick([0, 0, 0.2, 2, 10]),
    pipelineApplies: random.chance(0.5),
    ...overrides,
  }
}

export interface SimOptions {
  readonly seed: number
  /** Virtual milliseconds of the faulty phase. */
  readonly durationMs?: number
  /** Virtual milliseconds the healed cluster gets to converge. */
  readonly livenessMs?: number
  readonly bugs?: readonly PlantedBug[]
  readonly profile?: Partial<FaultProfile>
  /** Stop after this many events (a safety net against runaway seeds). */
  readonly eventLimit?: number
}

export interface SimResult {
  readonly seed: number
  readonly ok: boolean
  readonly violation?: string
  readonly property?: string
  readonly traceHash: number
  readonly events: number
  readonly virtualMs: number
  readonly stats: Record<string, number>
  readonly profile: FaultProfile
}

const clientTimeoutMs = 1000

export class SimCluster {
  readonly seed: number
  readonly profile: FaultProfile
  readonly queue = new EventQueue()
  readonly checker = new SafetyChecker()
  readonly history = new HistoryRecorder()
  readonly nodes = new Map<NodeId, SimNode>()
  readonly bugs: ReadonlySet<PlantedBug>
  readonly stats: Record<string, number> = {}
  readonly #net: Prng
  readonly #disk: Prng
  readonly #faults: Prng
  readonly #work: Prng
  readonly #raft: Prng
  /** Directed links currently cut: "from->to". */
  readonly #cut = new Set<string>()
  #healed = false
  #trace = 0x811c9dc5
  #events = 0
  #nextOpId = 1
  /** Acknowledged write opIds and the index they were committed at. */
  readonly acknowledgedOps = new Map<number, number>()

  constructor(options: SimOptions) {
    this.seed = options.seed
    const root = new Prng(options.seed, 'root')
    this.profile = drawProfile(root.fork('profile'), options.profile)
    this.bugs = new Set(options.bugs ?? [])
    this.#net = root.fork('network')
    this.#disk = root.fork('disk')
    this.#faults = root.fork('faults')
    this.#work = root.fork('workload')
    this.#raft = root.fork('raft')
    const voters = Array.from({ length: this.profile.nodeCount }, (_, i) => i + 1)
    const { entries, hardState } = bootstrapLog(voters)
    const total = this.profile.nodeCount + this.profile.spareCount
    for (let id = 1; id <= total; id++) {
      const node = new SimNode(id, this.#host(id))
      if (id <= this.profile.nodeCount) {
        node.disk.write({ kind: 'entries', entries })
        node.disk.write({ kind: 'hardState', hardState })
        node.disk.sync()
      }
      this.nodes.set(id, node)
    }
  }

  #count(name: string, by = 1): void {
    this.stats[name] = (this.stats[name] ?? 0) + by
  }

  #traceEvent(text: string): void {
    this.#trace = fnv1a(`${this.queue.now.toFixed(3)} ${text}`, this.#trace)
  }

  readonly #drift = new Map<NodeId, number>()
  #fatal: SafetyViolation | undefined

  #host(id: NodeId): NodeHost {
    const cluster = this
    const observer: NodeObserver = {
      onReady: (node, ready) => {
        cluster.checker.onReady(node, ready, node.status().term)
        if (ready.softState?.role === 'leader') cluster.#onNewLeader()
      },
      onPersisted: (node, ready) => cluster.checker.onPersisted(node, ready.entries),
      onSend: (node, m) => cluster.checker.onSend(node, m),
      onApply: (node, entry) => cluster.checker.onApply(node, entry),
      onSnapshotApplied: (node, index) => cluster.checker.onSnapshotApplied(node, index),
      onRestart: (node) => cluster.checker.onRestart(node, node.status().term),
    }
    const drift = 1 + (this.#faults.float() * 2 - 1) * this.profile.clockDrift
    this.#drift.set(id, drift)
    return {
      get now() {
        return cluster.queue.now
      },
      after: (delayMs, run) => cluster.queue.after(delayMs * drift, () => cluster.#runFor(id, run)),
      every: (intervalMs, run) => {
        let active = true
        const period = intervalMs * drift
        const fire = () => {
          if (!active) return
          run()
          cluster.queue.after(period, () => cluster.#runFor(id, fire))
        }
        cluster.queue.after(cluster.#faults.float() * period, () => cluster.#runFor(id, fire))
        return () => {
          active = false
        }
      },
      send: (m) => cluster.#send(m),
      diskLatencyMs: () => {
        const base = this.profile.diskLatencyMs * (0.5 + this.#disk.float())
        return this.#disk.chance(this.profile.diskSpikeRate) ? base * 10 : base
      },
      restoreLatencyMs: () => 1 + this.#disk.float() * 20,
      applyLatencyMs: () =>
        this.profile.applyLatencyMs > 0 ? this.profile.applyLatencyMs * (0.5 + this.#disk.float()) : 0,
      snapshotEvery: this.profile.snapshotEvery,
      appendBytesMax: this.profile.appendBytesMax,
      inflightMessagesMax: this.profile.inflightMessagesMax,
      coalesceAppends: this.profile.coalesceAppends,
      coalesceReadRounds: this.profile.coalesceReadRounds,
      lazyCommitBroadcast: this.profile.lazyCommitBroadcast,
      followerApplyDelayMs: this.profile.followerApplyDelayMs,
      sendAppendsAhead: this.profile.sendAppendsAhead,
      pipelineApplies: this.profile.pipelineApplies,
      snapshotSpacingTicks: this.profile.snapshotSpacingTicks,
      snapshotIntervalTicks: this.profile.snapshotIntervalTicks,
      bugs: this.bugs,
      random: this.#raft.fork(`node-${id}`),
      fatal: (node, error) => {
        cluster.#fatal ??=
          error instanceof SafetyViolation
            ? error
            : new SafetyViolation('assertion', `node ${node.id}: ${String(error)}`)
      },
      observer,
    }
  }

  /** Runs a node's event, deferring it while the node is paused. */
  #runFor(id: NodeId, run: () => void): void {
    const node = this.nodes.get(id)!
    if (node.pausedUntil > this.queue.now) {
      this.queue.at(node.pausedUntil, () => this.#runFor(id, run))
      return
    }
    run()
  }

  #send(m: Message): void {
    const from = this.nodes.get(m.from)!
    const to = this.nodes.get(m.to)
    this.#count('messagesSent')
    // A node hands its snapshot to the core only after reading it back (sim-node.ts, #snapshotForCore).
    if (m.type === 'installSnapshot') this.#count('snapshotsSent')
    if (!to || this.#cut.has(`${m.from}->${m.to}`)) {
      this.#count('messagesCut')
      return
    }
    // Healing includes the network: the liveness phase has no loss or duplication (TigerBeetle's VOPR does the same).
    if (!this.#healed && this.#net.chance(this.profile.dropRate)) {
      this.#count('messagesDropped')
      return
    }
    const copies = !this.#healed && this.#net.chance(this.profile.duplicateRate) ? 2 : 1
    if (copies === 2) this.#count('messagesDuplicated')
    const incarnation = to.incarnation
    const senderIncarnation = from.incarnation
    for (let i = 0; i < copies; i++) {
      const delay = this.profile.delayMinMs + this.#net.float() * this.profile.delayJitterMs
      this.queue.after(delay, () =>
        this.#runFor(m.to, () => {
          // A restart of either end resets the connection: what was in flight is lost.
          if (to.incarnation !== incarnation || from.incarnation !== senderIncarnation) return
          if (!to.up) return
          this.#traceEvent(`${m.type} ${m.from}->${m.to} t${m.term}`)
          this.#count('messagesDelivered')
          to.receive(m)
        }),
      )
    }
  }

  // --- the run ---------------------------------------------------------------------------------

  async run(options: SimOptions): Promise<SimResult> {
    const durationMs = options.durationMs ?? 4000
    const livenessMs = options.livenessMs ?? 10000
    const eventLimit = options.eventLimit ?? 400_000
    try {
      for (const node of this.nodes.values()) node.start()
      this.#scheduleFaults(durationMs)
      // Clients keep going for a second after healing, so the healed cluster must also serve them.
      const clientsUntil = durationMs + 1000
      for (let c = 1; c <= this.profile.clientCount; c++) this.#startClient(c, clientsUntil)
      this.queue.at(durationMs, () => this.#heal())
      const end = durationMs + livenessMs
      let converged = false
      const poll = () => {
        if (this.#notConverged() === undefined) converged = true
        else this.queue.after(50, poll)
      }
      this.queue.at(clientsUntil + clientTimeoutMs, poll)
      while (this.queue.size > 0 && this.queue.now <= end && !converged) {
        const event = this.queue.pop()!
        if (event.time > end) break
        event.run()
        await this.#settle()
        if (this.#fatal) throw this.#fatal
        if (++this.#events > eventLimit)
          throw new SafetyViolation('runaway', `more than ${eventLimit} events`)
      }
      if (!converged)
        throw new SafetyViolation('liveness', this.#notConverged() ?? 'did not converge in time')
      this.#checkConverged()
      this.#checkHistory()
      return this.#result(true)
    } catch (error) {
      if (error instanceof SafetyViolation) return this.#result(false, error.property, error.message)
      if (error instanceof Error) {
        if (process.env.SIM_STACK) console.error(error.stack)
        return this.#result(false, 'assertion', `${error.name}: ${error.message}`)
      }
      throw error
    }
  }

  /**
   * Lets every driver run its microtask continuations (the real driver is async) before the next event,
   * so an event's consequences happen at its virtual time. Drivers waiting on simulated I/O are not runnable.
   */
  async #settle(): Promise<void> {
    for (let hops = 0; ; hops++) {
      let runnable = false
      for (const node of this.nodes.values()) if (node.runnable) runnable = true
      if (!runnable) return
      if (hops > 10_000)
        throw new SafetyViolation('driver stuck', 'a driver stayed runnable for 10000 microtask hops')
      await null
    }
  }

  #result(ok: boolean, property?: string, violation?: string): SimResult {
    return {
      seed: this.seed,
      ok,
      ...(property !== undefined ? { property } : {}),
      ...(violation !== undefined ? { violation } : {}),
      traceHash: this.#trace,
      events: this.#events,
      virtualMs: Math.round(this.queue.now),
      stats: this.stats,
      profile: this.profile,
    }
  }

  // --- faults ----------------------------------------------------------------------------------

  #every(meanMs: number, until: number, action: () => void): void {
    if (!Number.isFinite(meanMs)) return
    const next = () => this.#faults.float() * 2 * meanMs
    const fire = () => {
      if (this.queue.now >= until) return
      action()
      this.queue.after(next(), fire)
    }
    this.queue.after(next(), fire)
  }

  #scheduleFaults(until: number): void {
    const p = this.profile
    this.#every(p.crashEveryMs, until, () => this.#crashOne())
    this.#every(p.leaderCrashEveryMs, until, () => this.#crashLeader())
    this.#every(p.partitionEveryMs, until, () => this.#partition())
    this.#every(p.pauseEveryMs, until, () => this.#pauseOne())
    this.#every(p.membershipEveryMs, until, () => this.#changeMembership())
    this.#every(p.transferEveryMs, until, () => this.#transferLeadership())
  }

  #leader(): SimNode | undefined {
    let best: SimNode | undefined
    for (const node of this.nodes.values()) {
      if (!node.up) continue
      const s = node.status()
      if (s.role === 'leader' && (!best || s.term > best.status().term)) best = node
    }
    return best
  }

  #crashOne(): void {
    const up = [...this.nodes.values()].filter((n) => n.up)
    if (up.length === 0) return
    const leader = this.#leader()
    const victim = leader && this.#faults.chance(0.5) ? leader : this.#faults.pick(up)
    this.#count('crashes')
    this.#traceEvent(`crash ${victim.id}`)
    victim.crash()
    const downMs = 50 + this.#faults.float() * 1500
    this.queue.after(downMs, () => this.#restart(victim))
  }

  #crashLeader(): void {
    const leader = this.#leader()
    if (leader) {
      this.#count('leaderCrashes')
      this.#traceEvent(`crash leader ${leader.id}`)
      const voters = leader.status().config.voters
      leader.crash()
      // Keep a majority of the voters up (restarting a random one when needed), as 6.824's Figure 8 test does,
      // and bring the crashed leader back after a while.
      const down = voters.map((id) => this.nodes.get(id)!).filter((n) => !n.up)
      if (voters.length - down.length < Math.floor(voters.length / 2) + 1)
        this.#restart(this.#faults.pick(down))
      this.queue.after(100 + this.#faults.float() * 900, () => this.#restart(leader))
    }
  }

  #restart(node: SimNode): void {
    if (node.up) return
    this.#count('restarts')
    this.#traceEvent(`restart ${node.id}`)
    node.start()
  }

  #partition(): void {
    const ids = [...this.nodes.keys()]
    if (ids.length < 2) return
    this.#cut.clear()
    const kind = this.#faults.pick(['isolate', 'halves', 'oneway', 'isolateLeader', 'bridge'] as const)
    this.#count(`partition.${kind}`)
    this.#traceEvent(`partition ${kind}`)
    const cutBoth = (a: NodeId, b: NodeId) => {
      this.#cut.add(`${a}->${b}`)
      this.#cut.add(`${b}->${a}`)
    }
    const leader = this.#leader()
    switch (kind) {
      case 'isolate':
      case 'isolateLeader': {
        const victim = kind === 'isolateLeader' && leader ? leader.id : this.#faults.pick(ids)
        for (const other of ids) if (other !== victim) cutBoth(victim, other)
        break
      }
      case 'halves': {
        const shuffled = [...ids].sort(() => this.#faults.float() - 0.5)
        const half = Math.floor(shuffled.length / 2)
        for (const a of shuffled.slice(0, half)) for (const b of shuffled.slice(half)) cutBoth(a, b)
        break
      }
      case 'oneway': {
        const a = this.#faults.pick(ids)
        for (const b of ids) if (b !== a) this.#cut.add(`${a}->${b}`)
        break
      }
      case 'bridge': {
        // Two sides that can each reach only one bridge node.
        const shuffled = [...ids].sort(() => this.#faults.float() - 0.5)
        const bridge = shuffled[0]!
        const rest = shuffled.slice(1)
        const half = Math.floor(rest.length / 2)
        for (const a of rest.slice(0, half))
          for (const b of rest.slice(half)) if (a !== bridge && b !== bridge) cutBoth(a, b)
        break
      }
    }
    const healAfter = 100 + this.#faults.float() * 1500
    this.queue.after(healAfter, () => {
      if (!this.#healed) this.#cut.clear()
    })
  }

  #pauseOne(): void {
    const up = [...this.nodes.values()].filter((n) => n.up)
    if (up.length === 0) return
    const leader = this.#leader()
    const victim = leader && this.#faults.chance(0.5) ? leader : this.#faults.pick(up)
    this.#count('pauses')
    this.#traceEvent(`pause ${victim.id}`)
    victim.pausedUntil = this.queue.now + 100 + this.#faults.float() * 600
  }

  #changeMembership(): void {
    const leader = this.#leader()
    if (!leader) return
    const config = leader.status().config
    const ids = [...this.nodes.keys()]
    const outsiders = ids.filter((id) => !isMember(config, id))
    const minVoters = Math.max(1, this.profile.nodeCount - 1)
    const maxVoters = this.profile.nodeCount + 1
    const options: ConfChange[] = []
    for (const id of outsiders) options.push({ type: 'addNonVoter', nodeId: id })
    for (const id of outsiders)
      if (config.voters.length < maxVoters) options.push({ type: 'addVoter', nodeId: id })
    for (const id of config.nonVoters) {
      if (config.voters.length < maxVoters) options.push({ type: 'promote', nodeId: id })
      options.push({ type: 'remove', nodeId: id })
    }
    if (config.voters.length > minVoters) {
      for (const id of config.voters) if (id !== leader.id) options.push({ type: 'remove', nodeId: id })
    }
    if (options.length === 0) return
    const change = this.#faults.pick(options)
    const accepted = leader.proposeConfChange(change)
    this.#count(accepted ? `membership.${change.type}` : 'membership.refused')
    this.#traceEvent(`confChange ${change.type} ${change.nodeId} ${accepted}`)
  }

  #onNewLeader(): void {
    if (this.#healed || !this.#faults.chance(this.profile.changeOnElection)) return
    this.queue.after(0.1, () => this.#changeMembership())
  }

  #transferLeadership(): void {
    const leader = this.#leader()
    if (!leader) return
    const voters = leader.status().config.voters.filter((id) => id !== leader.id)
    if (voters.length === 0) return
    const accepted = leader.transferLeadership(this.#faults.pick(voters))
    this.#count(accepted ? 'transfers' : 'transfers.refused')
  }

  #heal(): void {
    this.#healed = true
    this.#cut.clear()
    this.#traceEvent('heal')
    for (const node of this.nodes.values()) {
      node.pausedUntil = 0
      if (!node.up) this.#restart(node)
    }
  }

  // --- clients ---------------------------------------------------------------------------------

  #startClient(clientId: number, until: number): void {
    const random = this.#work.fork(`client-${clientId}`)
    let seq = 0
    let leaderHint: NodeId = 0
    const lastRead = new Map<string, string | null>()
    const next = () => {
      if (this.queue.now >= until) return
      this.queue.after(random.float() * 20, issue)
    }
    const pickNode = (): SimNode => {
      const hinted = leaderHint !== 0 ? this.nodes.get(leaderHint) : undefined
      if (hinted?.up && random.chance(0.9)) return hinted
      return random.pick([...this.nodes.values()])
    }
    const issue = () => {
      // Keys rotate every second (Jepsen's "independent" keys): the checker's search is exponential in
      // concurrency per key, so short per-key histories keep every check decisive.
      const key = `k${Math.floor(this.queue.now / 1000)}.${random.int(1, this.profile.keyCount)}`
      const node = pickNode()
      const roll = random.float()
      if (roll < 0.35)
        this.#clientRead(clientId, key, node, (value, hint) => {
          if (value !== undefined) lastRead.set(key, value)
          leaderHint = hint
          next()
        })
      else {
        const opId = this.#nextOpId++
        const value = `${clientId}.${opId}`
        const op: KvOp =
          roll < 0.75
            ? { type: 'write', key, value }
            : { type: 'cas', key, expected: lastRead.get(key) ?? null, next: value }
        seq++
        this.#clientWrite({ clientId, seq, opId, op }, node, (hint) => {
          leaderHint = hint
          seq++
          next()
        })
      }
    }
    next()
  }

  #clientRead(
    clientId: number,
    key: string,
    node: SimNode,
    done: (value: string | null | undefined, leaderHint: NodeId) => void,
  ): void {
    const id = this.history.invoke(clientId, key, 'read', null, this.queue.now)
    let finished = false
    const finish = (value: string | null | undefined, hint: NodeId) => {
      if (finished) return
      finished = true
      if (value === undefined) this.history.fail(id)
      else this.history.complete(id, value, this.queue.now)
      done(value, hint)
    }
    this.queue.after(clientTimeoutMs, () => finish(undefined, 0))
    this.#count('reads')
    this.queue.after(0.5, () =>
      this.#runFor(node.id, () => {
        if (!node.up) return finish(undefined, 0)
        node.readLinearizable(key, (outcome) => {
          const respond = () =>
            outcome.kind === 'ok' ? finish(outcome.value, node.id) : finish(undefined, outcome.leaderId)
          this.queue.after(0.5, respond)
        })
      }),
    )
  }

  #clientWrite(command: KvCommand, node: SimNode, done: (leaderHint: NodeId) => void): void {
    const { op } = command
    const key = op.key
    const id =
      op.type === 'cas'
        ? this.history.invoke(
            command.clientId,
            key,
            'cas',
            { expected: op.expected, next: op.next },
            this.queue.now,
          )
        : this.history.invoke(
            command.clientId,
            key,
            'write',
            op.type === 'write' ? op.value : '',
            this.queue.now,
          )
    let finished = false
    let attempts = 0
    this.#count('writes')
    const finish = (kind: 'ok' | 'failed' | 'unknown', casOk: boolean, hint: NodeId) => {
      if (finished) return
      finished = true
      if (kind === 'ok') this.history.complete(id, op.type === 'cas' ? { ok: casOk } : null, this.queue.now)
      else if (kind === 'failed') this.history.fail(id)
      else {
        this.#count('indeterminate')
        this.history.indeterminate(id)
      }
      done(hint)
    }
    const attempt = (target: SimNode, cmd: KvCommand) => {
      attempts++
      this.queue.after(0.5, () =>
        this.#runFor(target.id, () => {
          if (!target.up) return
          target.propose(cmd, (outcome) => {
            this.queue.after(0.5, () => {
              if (outcome.kind === 'ok') {
                this.checker.onAcknowledged(outcome.index, outcome.term)
                const ok = 'ok' in outcome.result ? outcome.result.ok : true
                // A refused compare-and-set took no effect, so only successful writes must persist.
                if (ok) this.acknowledgedOps.set(cmd.opId, outcome.index)
                finish('ok', ok, target.id)
              } else if (outcome.reason !== 'leadershipLost') {
                // Refused before proposing, or its slot went to another entry: it never takes effect.
                finish('failed', false, outcome.leaderId)
              } else finish('unknown', false, 0)
            })
          })
        }),
      )
    }
    this.queue.after(clientTimeoutMs, () => {
      if (finished) return
      if (this.bugs.has('retryAmbiguousWrite') && attempts < 3) {
        // The planted bug: an ambiguous failure is retried as a brand-new command (new seq).
        const leader = this.#leader() ?? node
        attempt(leader, { ...command, seq: command.seq + 1000 * attempts })
        this.queue.after(clientTimeoutMs, () => finish('unknown', false, 0))
        return
      }
      finish('unknown', false, 0)
    })
    attempt(node, command)
  }

  // --- end-of-run checks ----------------------------------------------------------------------

  /** After healing, a leader must exist and every live member must hold the same applied state. */
  /**
   * Why the healed cluster has not converged yet, or undefined once it has: a leader exists, has committed
   * its whole log, and every member is up and has applied all of it.
   */
  #notConverged(): string | undefined {
    const leader = this.#leader()
    if (!leader) return 'no leader after healing'
    const status = leader.status()
    // Everything in the leader's log, its no-op included, committed: only then is its commit index final.
    if (status.commit < status.lastIndex)
      return `leader ${leader.id} committed ${status.commit} of ${status.lastIndex}`
    if (leader.appliedIndex < status.commit)
      return `leader ${leader.id} applied ${leader.appliedIndex} of ${status.commit}`
    for (const node of this.nodes.values()) {
      if (!isMember(status.config, node.id)) continue
      const kind = isVoter(status.config, node.id) ? 'voter' : 'non-voter'
      if (!node.up) return `member ${node.id} is down after healing`
      if (node.appliedIndex < status.commit) {
        return `member ${node.id} (${kind}) applied ${node.appliedIndex} of leader commit ${status.commit}`
      }
    }
    return undefined
  }

  /** Once converged: replicas agree, every acknowledged write is present once, nothing applied twice. */
  #checkConverged(): void {
    const leader = this.#leader()!
    const config = leader.status().config
    const digest = leader.sm.digest()
    for (const node of this.nodes.values()) {
      if (!isMember(config, node.id)) continue
      if (node.appliedIndex === leader.appliedIndex && node.sm.digest() !== digest) {
        throw new SafetyViolation(
          'replica divergence',
          `node ${node.id} differs from leader ${leader.id} at ${node.appliedIndex}`,
        )
      }
      for (const [opId, count] of node.sm.applications) {
        if (count > 1)
          throw new SafetyViolation(
            'exactly once',
            `node ${node.id} applied operation ${opId} ${count} times`,
          )
      }
      for (const [opId, index] of this.acknowledgedOps) {
        if (!node.sm.applications.has(opId)) {
          throw new SafetyViolation(
            'lost write',
            `node ${node.id} lacks acknowledged operation ${opId} (index ${index})`,
          )
        }
      }
    }
  }

  #checkHistory(): void {
    const ops = this.history.history()
    this.#count('historyOps', ops.length)
    const result = checkLinearizable(ops, { timeBudgetMs: 20000 })
    if (result.result === 'illegal')
      throw new SafetyViolation('linearizability', `key ${result.key}: ${result.detail}`)
    // An undecided check is a failure to investigate, never a pass (as etcd treats porcupine's timeouts).
    if (result.result === 'unknown') {
      throw new SafetyViolation('linearizability undecided', `key ${result.key}: ${result.reason}`)
    }
  }
}

/** Runs one seed. */
export function runSeed(options: SimOptions): Promise<SimResult> {
  return new SimCluster(options).run(options)
}
