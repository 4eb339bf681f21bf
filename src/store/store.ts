import { randomBytes, randomUUID } from 'node:crypto'
import type { Batch, StatementResult } from '../db/types.js'
import type { Message, NodeId, RaftStatus } from '../raft/index.js'
import type { Replica } from '../replica/replica.js'
import { encodeCommand } from './command-codec.js'
import {
  LeaderNotFoundError,
  MembershipError,
  NotLeaderError,
  ProposalDroppedError,
  StaleReadError,
  StoreError,
  UnknownOutcomeError,
} from './errors.js'
import type { Fsm, NodeMeta } from './fsm.js'

export type ReadLevel = 'none' | 'weak' | 'linearizable' | 'strong' | 'auto'

export interface QueryRequest {
  readonly statements: Batch
  readonly level: ReadLevel
  readonly transaction?: boolean
  /** For `none`: refuse if the leader was last heard from longer ago than this. */
  readonly freshnessMs?: number
  readonly timeoutMs?: number
}

export interface ExecuteRequest {
  readonly statements: Batch
  readonly transaction?: boolean
  readonly timeoutMs?: number
}

export interface StoreOptions {
  readonly nodeId: NodeId
  readonly replica: Replica
  readonly fsm: Fsm
  readonly raftAddress: string
  readonly httpAddress: string
  readonly local: {
    query(statements: Batch, options: { transaction: boolean }): Promise<StatementResult[]>
    serialize(): Promise<Uint8Array>
  }
  readonly applyTimeoutMs?: number
  readonly now?: () => number
}

/**
 * The database service (design.md, src/store): turns requests into log commands and back, implements the
 * read consistency levels, and owns membership. Leader-only operations throw `NotLeaderError` so the HTTP
 * layer can forward the request to the leader or redirect the client.
 */
export class Store {
  readonly nodeId: NodeId
  readonly #options: StoreOptions
  readonly #replica: Replica
  readonly #fsm: Fsm
  readonly #clientId = randomUUID()
  #seq = 0
  #nextReadContext = 1
  readonly #reads = new Map<number, { resolve: (index: number) => void; reject: (error: Error) => void }>()
  readonly #applyWaiters: { index: number; resolve: () => void }[] = []
  /** When this node last heard from a leader (ms, store clock), for `none` reads with freshness. */
  #lastLeaderContactMs: number | undefined
  /** When each peer was last heard from, for reaping. */
  readonly #lastHeardMs = new Map<NodeId, number>()
  #leaderSinceMs: number | undefined
  readonly #now: () => number

  constructor(options: StoreOptions) {
    this.nodeId = options.nodeId
    this.#options = options
    this.#replica = options.replica
    this.#fsm = options.fsm
    this.#now = options.now ?? Date.now
    this.#replica.events = {
      ...this.#replica.events,
      onReadState: (state) => {
        const read = this.#reads.get(state.context)
        if (!read) return
        this.#reads.delete(state.context)
        read.resolve(state.index)
      },
      onReadDropped: (context) => {
        const read = this.#reads.get(context)
        if (!read) return
        this.#reads.delete(context)
        read.reject(new LeaderNotFoundError())
      },
    }
    this.#fsm.onApplied = (index) => this.#releaseApplyWaiters(index)
  }

  /** Feeds a message from a peer to Raft, noting contact with the leader. */
  receive(message: Message): void {
    const now = this.#now()
    this.#lastHeardMs.set(message.from, now)
    if (message.type === 'append' || message.type === 'heartbeat' || message.type === 'installSnapshot') {
      this.#lastLeaderContactMs = now
    }
    this.#replica.receive(message)
  }

  status(): RaftStatus {
    return this.#replica.status()
  }

  isLeader(): boolean {
    return this.#replica.status().role === 'leader'
  }

  /** The leader as far as this node knows, with its addresses when they are known. */
  leader(): { id: NodeId; meta: NodeMeta | undefined } | undefined {
    const { leaderId } = this.#replica.status()
    if (leaderId === 0) return undefined
    return { id: leaderId, meta: this.#fsm.nodes.get(leaderId) }
  }

  nodes(): NodeMeta[] {
    return [...this.#fsm.nodes.values()]
  }

  #notLeader(): StoreError {
    const leader = this.leader()
    if (!leader) return new LeaderNotFoundError()
    return new NotLeaderError(leader.id, leader.meta?.httpAddress, leader.meta?.raftAddress)
  }

  async execute(request: ExecuteRequest): Promise<StatementResult[]> {
    const command = encodeCommand({
      kind: 'execute',
      statements: request.statements,
      transaction: request.transaction ?? false,
      seed: randomBytes(16),
      nowMs: Date.now(),
      clientId: this.#clientId,
      seq: ++this.#seq,
    })
    return this.#proposeAndWait(command, request.timeoutMs)
  }

  async query(request: QueryRequest): Promise<StatementResult[]> {
    const role = this.#replica.status().role
    let level = request.level
    if (level === 'auto')
      level = this.#replica.status().config.nonVoters.includes(this.nodeId) ? 'none' : 'weak'
    const transaction = request.transaction ?? false
    switch (level) {
      case 'none': {
        if (request.freshnessMs !== undefined && role !== 'leader') {
          const last = this.#lastLeaderContactMs
          if (last === undefined || this.#now() - last > request.freshnessMs) {
            throw new StaleReadError(request.freshnessMs, last === undefined ? undefined : this.#now() - last)
          }
        }
        return this.#options.local.query(request.statements, { transaction })
      }
      case 'weak':
        // The leader's own belief that it leads (rqlite's default): one local check, no quorum round.
        if (role !== 'leader') throw this.#notLeader()
        return this.#options.local.query(request.statements, { transaction })
      case 'linearizable': {
        const index = await this.#readIndex(request.timeoutMs)
        await this.#waitApplied(index, request.timeoutMs)
        return this.#options.local.query(request.statements, { transaction })
      }
      case 'strong': {
        const command = encodeCommand({
          kind: 'query',
          statements: request.statements,
          transaction,
          seed: randomBytes(16),
          nowMs: Date.now(),
        })
        return this.#proposeAndWait(command, request.timeoutMs)
      }
    }
  }

  /** Adds a node (or updates its addresses): its addresses first, then the membership change. */
  async join(meta: NodeMeta, voter: boolean, timeoutMs?: number): Promise<void> {
    if (!this.isLeader()) throw this.#notLeader()
    const known = this.#fsm.nodes.get(meta.nodeId)
    if (!known || known.raftAddress !== meta.raftAddress || known.httpAddress !== meta.httpAddress) {
      await this.#proposeAndWait(encodeCommand({ kind: 'nodeMeta', ...meta }), timeoutMs)
    }
    const deadline = this.#now() + (timeoutMs ?? this.#applyTimeout())
    let config = this.#replica.status().config
    if (config.voters.includes(meta.nodeId)) return
    // A new node first replicates as a non-voter, and becomes a voter only once it has caught up, so that
    // it never holds up commits while it copies the log (etcd's learners, rqlite's non-voters).
    if (!config.nonVoters.includes(meta.nodeId)) {
      await this.#proposeConfChange({ type: 'addNonVoter', nodeId: meta.nodeId }, deadline - this.#now())
      config = this.#replica.status().config
    }
    if (!voter) return
    await this.#waitCaughtUp(meta.nodeId, deadline)
    await this.#proposeConfChange({ type: 'promote', nodeId: meta.nodeId }, deadline - this.#now())
  }

  /** Waits until `nodeId`'s log matches the leader's commit index as it was when the wait began. */
  async #waitCaughtUp(nodeId: NodeId, deadline: number): Promise<void> {
    const target = this.#replica.status().commit
    for (;;) {
      const status = this.#replica.status()
      if (status.role !== 'leader') throw this.#notLeader()
      if ((status.progress.get(nodeId)?.match ?? 0) >= target) return
      if (this.#now() > deadline)
        throw new MembershipError(`node ${nodeId} did not catch up before the join timed out`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  /**
   * Hands leadership to `to`, or to the most up-to-date other voter (rqlite's POST /leader). With `wait`,
   * resolves once this node no longer leads.
   */
  async stepDown(request: { to?: NodeId; wait?: boolean; timeoutMs?: number }): Promise<void> {
    const status = this.#replica.status()
    if (status.role !== 'leader') throw this.#notLeader()
    const others = status.config.voters.filter((id) => id !== this.nodeId)
    if (others.length === 0) throw new MembershipError('no other voter to hand leadership to')
    const to =
      request.to ??
      others.reduce((best, id) =>
        (status.progress.get(id)?.match ?? 0) > (status.progress.get(best)?.match ?? 0) ? id : best,
      )
    const result = this.#replica.transferLeadership(to)
    if (!result.accepted)
      throw new MembershipError(result.detail ?? `cannot transfer leadership: ${result.reason}`)
    if (!request.wait) return
    const deadline = this.#now() + (request.timeoutMs ?? this.#applyTimeout())
    while (this.#replica.status().role === 'leader') {
      if (this.#now() > deadline)
        throw new StoreError('TQ_ERR_TRANSFER_TIMEOUT', `leadership not handed to ${to} in time`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  /** A consistent copy of the database (a SQLite file image), read on the leader unless `noLeader`. */
  async backup(options: { noLeader?: boolean } = {}): Promise<Uint8Array> {
    if (!options.noLeader && !this.isLeader()) throw this.#notLeader()
    return this.#options.local.serialize()
  }

  /**
   * Replaces the database through the log (every replica loads the same bytes): a SQLite file image is
   * loaded whole; anything else is run as SQL text (a dump) in one entry.
   */
  async load(body: Uint8Array, timeoutMs?: number): Promise<StatementResult[]> {
    if (!this.isLeader()) throw this.#notLeader()
    if (isSqliteImage(body)) {
      await this.#proposeAndWait(encodeCommand({ kind: 'load', image: body }), timeoutMs)
      return []
    }
    const sql = new TextDecoder('utf-8', { fatal: true }).decode(body)
    return this.execute({ statements: [sql], ...(timeoutMs !== undefined ? { timeoutMs } : {}) })
  }

  async remove(nodeId: NodeId, timeoutMs?: number): Promise<void> {
    if (!this.isLeader()) throw this.#notLeader()
    if (nodeId === this.nodeId)
      throw new MembershipError('the leader cannot remove itself; transfer leadership first')
    await this.#proposeConfChange({ type: 'remove', nodeId }, timeoutMs)
  }

  /**
   * Records addresses in the replicated directory once this node leads: its own, and those of the nodes it
   * bootstrapped a cluster with (`-bootstrap-expect`).
   */
  async announce(others: readonly NodeMeta[] = []): Promise<void> {
    const self = {
      nodeId: this.nodeId,
      raftAddress: this.#options.raftAddress,
      httpAddress: this.#options.httpAddress,
    }
    for (const meta of [self, ...others]) {
      const known = this.#fsm.nodes.get(meta.nodeId)
      if (known && known.raftAddress === meta.raftAddress && known.httpAddress === meta.httpAddress) continue
      await this.#proposeAndWait(encodeCommand({ kind: 'nodeMeta', ...meta }))
    }
  }

  /**
   * On the leader: removes members not heard from for longer than their timeout (0 disables), as rqlite's
   * `-raft-reap-node-timeout`. Returns the ids it removed.
   */
  async reapUnreachable(voterTimeoutMs: number, nonVoterTimeoutMs: number): Promise<NodeId[]> {
    const status = this.#replica.status()
    if (status.role !== 'leader') {
      this.#leaderSinceMs = undefined
      return []
    }
    const now = this.#now()
    this.#leaderSinceMs ??= now
    const reaped: NodeId[] = []
    const candidates = [
      ...status.config.voters.map((id) => ({ id, timeoutMs: voterTimeoutMs })),
      ...status.config.nonVoters.map((id) => ({ id, timeoutMs: nonVoterTimeoutMs })),
    ]
    for (const { id, timeoutMs } of candidates) {
      if (id === this.nodeId || timeoutMs <= 0) continue
      // Every node gets the full timeout from the moment this node started leading.
      const heard = Math.max(this.#lastHeardMs.get(id) ?? 0, this.#leaderSinceMs)
      if (now - heard <= timeoutMs) continue
      await this.remove(id)
      reaped.push(id)
    }
    return reaped
  }

  async #proposeConfChange(
    change: Parameters<Replica['proposeConfChange']>[0],
    timeoutMs?: number,
  ): Promise<void> {
    const deadline = this.#now() + (timeoutMs ?? this.#applyTimeout())
    // A change waits for the previous one (and for the leader's first commit of its term) to commit.
    for (;;) {
      const result = this.#replica.proposeConfChange(change)
      if (result.accepted) {
        await this.#waitEntry(result.index, result.term, deadline - this.#now())
        return
      }
      if (result.reason === 'notLeader' || result.reason === 'transferring') throw this.#notLeader()
      if (result.reason === 'invalid') throw new MembershipError(result.detail ?? 'invalid membership change')
      if (this.#now() > deadline)
        throw new MembershipError(`membership change not accepted: ${result.reason}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  async #proposeAndWait(command: Uint8Array, timeoutMs?: number): Promise<StatementResult[]> {
    const result = this.#replica.propose(command)
    if (!result.accepted) throw this.#notLeader()
    return this.#waitEntry(result.index, result.term, timeoutMs ?? this.#applyTimeout())
  }

  #waitEntry(index: number, term: number, timeoutMs: number): Promise<StatementResult[]> {
    const applied = this.#fsm.wait(index, term)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fsm.forget(index)
        reject(new UnknownOutcomeError(`timed out after ${timeoutMs}ms waiting for index ${index} to apply`))
      }, timeoutMs)
      applied.then(
        (results) => {
          clearTimeout(timer)
          resolve(results)
        },
        (error: unknown) => {
          clearTimeout(timer)
          reject(error instanceof Error ? error : new ProposalDroppedError(String(error)))
        },
      )
    })
  }

  #readIndex(timeoutMs?: number): Promise<number> {
    const context = this.#nextReadContext++
    const result = this.#replica.readIndex(context)
    if (!result.accepted) return Promise.reject(this.#notLeader())
    const limit = timeoutMs ?? this.#applyTimeout()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#reads.delete(context)
        reject(new StoreError('TQ_ERR_READ_TIMEOUT', `linearizable read not confirmed within ${limit}ms`))
      }, limit)
      this.#reads.set(context, {
        resolve: (index) => {
          clearTimeout(timer)
          resolve(index)
        },
        reject: (error) => {
          clearTimeout(timer)
          reject(error)
        },
      })
    })
  }

  #waitApplied(index: number, timeoutMs?: number): Promise<void> {
    if (this.#fsm.appliedIndex >= index) return Promise.resolve()
    const limit = timeoutMs ?? this.#applyTimeout()
    return new Promise((resolve, reject) => {
      const waiter = { index, resolve: () => {} }
      const timer = setTimeout(() => {
        const at = this.#applyWaiters.indexOf(waiter)
        if (at >= 0) this.#applyWaiters.splice(at, 1)
        reject(new StoreError('TQ_ERR_APPLY_TIMEOUT', `index ${index} not applied within ${limit}ms`))
      }, limit)
      waiter.resolve = () => {
        clearTimeout(timer)
        resolve()
      }
      this.#applyWaiters.push(waiter)
    })
  }

  #releaseApplyWaiters(applied: number): void {
    if (this.#applyWaiters.length === 0) return
    const remaining = this.#applyWaiters.filter((waiter) => {
      if (waiter.index > applied) return true
      waiter.resolve()
      return false
    })
    this.#applyWaiters.length = 0
    this.#applyWaiters.push(...remaining)
  }

  #applyTimeout(): number {
    return this.#options.applyTimeoutMs ?? 10_000
  }
}

const sqliteHeader = new TextEncoder().encode('SQLite format 3\0')

/** Whether `bytes` start with the SQLite database file header. */
export function isSqliteImage(bytes: Uint8Array): boolean {
  if (bytes.byteLength < sqliteHeader.byteLength) return false
  return sqliteHeader.every((byte, i) => bytes[i] === byte)
}
