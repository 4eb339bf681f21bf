import { randomBytes } from 'node:crypto'
import type { Batch, StatementResult } from '../db/types.js'
import type { Message, NodeId, RaftStatus } from '../raft/index.js'
import type { Replica } from '../replica/replica.js'
import { QUERY_WRITE_ERROR } from '../db/executor.js'
import { splitStatements } from '../db/statement-splitter.js'
import { statementKind } from '../db/statement-kind.js'
import { encodeCommand } from './command-codec.js'
import { checkPragmas } from './disallowed-pragmas.js'
import {
  LeaderNotFoundError,
  MembershipError,
  NotLeaderError,
  NotSingleNodeError,
  ProposalDroppedError,
  StaleReadError,
  StoreError,
  UnknownOutcomeError,
} from './errors.js'
import type { Logger } from '../util/logger.js'
import type { Fsm, NodeMeta } from './fsm.js'

export type ReadLevel = 'none' | 'weak' | 'linearizable' | 'strong' | 'auto'

export interface QueryRequest {
  readonly statements: Batch
  readonly level: ReadLevel
  readonly transaction?: boolean
  /** For `none`: refuse if the leader was last heard from longer ago than this. */
  readonly freshnessMs?: number
  /**
   * With `freshnessMs`: also refuse when this node is behind the commit index and the last entry it applied
   * was written by the leader longer ago than the bound (rqlite's `freshness_strict`; compares the leader's
   * clock with this node's).
   */
  readonly freshnessStrict?: boolean
  /** rqlite's `qualify_columns`: columns of read-only statements named `table.column`. */
  readonly qualifyColumns?: boolean
  readonly timeoutMs?: number
}

export interface ExecuteRequest {
  readonly statements: Batch
  readonly transaction?: boolean
  readonly timeoutMs?: number
  /**
   * Identifies the request for deduplication when its sender may send it again (the write queue retries a
   * batch until it is acknowledged): the state machine applies one (clientId, seq) once. Without it the
   * store numbers the request in its own session.
   */
  readonly session?: { readonly clientId: string; readonly seq: number }
}

export interface BackupRequest {
  readonly format?: 'binary' | 'sql' | 'delete'
  readonly vacuum?: boolean
  /** With `format: 'sql'`: only these tables (all when empty). */
  readonly tables?: readonly string[]
  /** Back up this node's copy instead of the leader's. */
  readonly noLeader?: boolean
}

/** `/db/request`: statements that may read or write; reads honour `level` when nothing writes. */
export interface MixedRequest extends QueryRequest {
  readonly session?: ExecuteRequest['session']
}

/** What a request produced, and the log index it went through (0 when it was served without the log). */
export interface Outcome {
  readonly results: StatementResult[]
  readonly raftIndex: number
}

export interface StoreOptions {
  readonly nodeId: NodeId
  readonly replica: Replica
  readonly fsm: Fsm
  readonly raftAddress: string
  readonly httpAddress: string
  readonly local: {
    query(
      statements: Batch,
      options: { transaction: boolean; timings?: boolean; qualifyColumns?: boolean },
    ): Promise<StatementResult[]>
    serialize(options?: { vacuum?: boolean; journalMode?: 'wal' | 'delete' }): Promise<Uint8Array>
    dump(options?: {
      tables?: readonly string[]
      onProgress?: (rowsDumped: number, tablesDone: number, tablesTotal: number) => void
    }): Promise<string>
    appliedIndex(): Promise<number>
  }
  readonly applyTimeoutMs?: number
  readonly now?: () => number
  /** Where long operations (backups, loads, boots) report their progress. */
  readonly logger?: Logger
}

/** What /status reports of the database itself. */
export interface DatabaseFacts {
  readonly appliedIndex: number
  readonly foreignKeys: boolean
}

/** How long /status waits for the SQLite worker before it reports the facts the worker gave last. */
const databaseFactsWaitMs = 1000

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
  #joinRequests = 0
  readonly #seedBase = randomBytes(16)
  readonly #seedView = new DataView(this.#seedBase.buffer, this.#seedBase.byteOffset, 16)
  #seedCount = 0
  /** The facts the SQLite worker gave last (see `databaseFacts`). */
  #databaseFacts: DatabaseFacts | undefined
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

  /** Counters for /debug/vars. */
  get stats(): {
    readonly joinRequests: number
    readonly snapshotsTaken: number
    readonly snapshotsRestored: number
  } {
    return { joinRequests: this.#joinRequests, ...this.#replica.stats }
  }

  /** When this node last heard from a leader (ms since the epoch), for /status. */
  get lastLeaderContactMs(): number | undefined {
    return this.#lastLeaderContactMs
  }

  /** The index the database reflects. */
  get appliedIndex(): number {
    return this.#fsm.appliedIndex
  }

  /** Snapshots now (POST /snapshot); resolves with its index, or undefined when nothing was applied since the last one. */
  snapshot(): Promise<number | undefined> {
    return this.#replica.snapshotNow()
  }

  status(): RaftStatus {
    return this.#replica.status()
  }

  isLeader(): boolean {
    return this.#replica.softState().role === 'leader'
  }

  /** The leader as far as this node knows, with its addresses when they are known. */
  leader(): { id: NodeId; meta: NodeMeta | undefined } | undefined {
    const { leaderId } = this.#replica.softState()
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

  /**
   * A fresh seed for an entry's random(): a random base drawn once, with a counter in its last 8 bytes. Seeds
   * only need to differ between entries (every replica reads it from the entry); one crypto draw per
   * request cost ~5% of the leader's CPU in the insert profile.
   */
  #nextSeed(): Uint8Array {
    const seed = new Uint8Array(this.#seedBase)
    new DataView(seed.buffer).setBigUint64(8, this.#seedView.getBigUint64(8) + BigInt(++this.#seedCount))
    return seed
  }

  /**
   * Throws `NotLeaderError` (and a refused pragma's error) at once, not as a rejection: once this returns,
   * the statements are proposed and the caller need not keep them to forward them (see the HTTP route).
   */
  execute(
    request: ExecuteRequest,
    mixed: false | { readonly qualifyColumns?: boolean | undefined } = false,
  ): Promise<Outcome> {
    checkPragmas(request.statements)
    if (!this.isLeader()) throw this.#notLeader()
    // Only a sender that may send the same request again needs a session (the write queue). A request of its
    // own the store never proposes twice, and an entry without one lets every replica but the answering leader
    // skip the results (`discardResults`): numbering every request in a store-wide session had kept them on.
    const session = request.session ?? noSession
    const command = encodeCommand({
      kind: 'execute',
      statements: request.statements,
      transaction: request.transaction ?? false,
      seed: this.#nextSeed(),
      nowMs: Date.now(),
      clientId: session.clientId,
      seq: session.seq,
      ...(mixed ? { mixed: true } : {}),
      ...(mixed !== false && mixed.qualifyColumns === true ? { qualifyColumns: true } : {}),
    })
    return this.#proposeAndWait(command, request.timeoutMs)
  }

  /**
   * rqlite's unified `/db/request`: when every statement only reads and the level is not `strong`, it is a
   * read at that level; otherwise the whole request goes through the log once, each statement answered in
   * the shape of what it did.
   */
  async request(request: MixedRequest): Promise<Outcome> {
    if (request.level !== 'strong' && mayOnlyRead(request.statements)) {
      const outcome = await this.query(request)
      // The parse-based guess cannot see every write (WITH … INSERT); SQLite's own verdict can.
      if (!outcome.results.some((result) => 'error' in result && result.error === QUERY_WRITE_ERROR))
        return outcome
    }
    return this.execute(
      {
        statements: request.statements,
        ...(request.transaction !== undefined ? { transaction: request.transaction } : {}),
        ...(request.timeoutMs !== undefined ? { timeoutMs: request.timeoutMs } : {}),
        ...(request.session !== undefined ? { session: request.session } : {}),
      },
      { qualifyColumns: request.qualifyColumns },
    )
  }

  async query(request: QueryRequest): Promise<Outcome> {
    checkPragmas(request.statements)
    const results = await this.#query(request)
    return 'raftIndex' in results ? results : { results, raftIndex: 0 }
  }

  async #query(request: QueryRequest): Promise<StatementResult[] | Outcome> {
    const { role } = this.#replica.softState()
    let level = request.level
    if (level === 'auto')
      level = this.#replica.status().config.nonVoters.includes(this.nodeId) ? 'none' : 'weak'
    const transaction = request.transaction ?? false
    const readOptions = {
      transaction,
      timings: true,
      ...(request.qualifyColumns ? { qualifyColumns: true } : {}),
    }
    switch (level) {
      case 'none': {
        if (request.freshnessMs !== undefined && role !== 'leader') {
          const last = this.#lastLeaderContactMs
          if (last === undefined || this.#now() - last > request.freshnessMs) {
            throw new StaleReadError(request.freshnessMs, last === undefined ? undefined : this.#now() - last)
          }
          const status = this.#replica.status()
          const written = this.#fsm.lastAppliedWrittenMs
          if (
            request.freshnessStrict &&
            this.#fsm.appliedIndex < status.commit &&
            (written === undefined || Date.now() - written > request.freshnessMs)
          ) {
            throw new StaleReadError(request.freshnessMs, last === undefined ? undefined : this.#now() - last)
          }
        }
        return this.#options.local.query(request.statements, readOptions)
      }
      case 'weak':
        // The leader's own belief that it leads (rqlite's default): one local check, no quorum round.
        if (role !== 'leader') throw this.#notLeader()
        return this.#options.local.query(request.statements, readOptions)
      case 'linearizable': {
        const index = await this.#readIndex(request.timeoutMs)
        await this.#waitApplied(index, request.timeoutMs)
        return this.#options.local.query(request.statements, readOptions)
      }
      case 'strong': {
        const command = encodeCommand({
          kind: 'query',
          statements: request.statements,
          transaction,
          seed: this.#nextSeed(),
          nowMs: Date.now(),
          ...(request.qualifyColumns ? { qualifyColumns: true } : {}),
        })
        return this.#proposeAndWait(command, request.timeoutMs)
      }
    }
  }

  /** Adds a node (or updates its addresses): its addresses first, then the membership change. */
  async join(meta: NodeMeta, voter: boolean, timeoutMs?: number): Promise<void> {
    this.#joinRequests++
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

  /**
   * A consistent copy of the database, read on the leader unless `noLeader`: a SQLite file image
   * (`binary`, rollback-journal header; `delete` is the same), optionally VACUUMed, or a SQL text dump.
   */
  async backup(request: BackupRequest = {}): Promise<Uint8Array> {
    if (!request.noLeader && !this.isLeader()) throw this.#notLeader()
    const log = this.#options.logger
    const started = Date.now()
    const format = request.format ?? 'binary'
    log?.info('backup started', { format, vacuum: request.vacuum === true, tables: request.tables })
    let bytes: Uint8Array
    if (format === 'sql') {
      const tables = request.tables ?? []
      const text = await this.#options.local.dump({
        ...(tables.length > 0 ? { tables } : {}),
        onProgress: (rowsDumped, tablesDone, tablesTotal) =>
          log?.info('backup progress', { rowsDumped, tablesDone, tablesTotal }),
      })
      bytes = new TextEncoder().encode(text)
    } else {
      bytes = await this.#options.local.serialize({ vacuum: request.vacuum === true, journalMode: 'delete' })
    }
    log?.info('backup done', { format, bytes: bytes.byteLength, ms: Date.now() - started })
    return bytes
  }

  /**
   * rqlite's `/boot`: a one-node cluster takes a whole SQLite file at once. TQLite writes it as one load
   * entry and snapshots right after, so the log does not keep the image and a restart reads the snapshot.
   */
  async boot(image: Uint8Array, timeoutMs?: number): Promise<void> {
    const status = this.#replica.status()
    if (status.role !== 'leader') throw this.#notLeader()
    if (status.config.voters.length !== 1 || status.config.nonVoters.length !== 0)
      throw new NotSingleNodeError()
    await this.load(image, timeoutMs)
    const index = await this.snapshot()
    this.#options.logger?.info('boot done: snapshot taken', { index, bytes: image.byteLength })
  }

  /**
   * The database's own view, for /status. The SQLite worker answers after the work queued before the question,
   * and capturing a snapshot holds it for seconds (1 GiB on three nodes at once: 3.2–3.5 s, src/db/DESIGN.md): after `waitMs`, the facts it last gave are the
   * answer (a past applied index), so that /status answers while a node snapshots. Only the first call waits
   * for the worker however long it takes.
   */
  async databaseFacts(waitMs = databaseFactsWaitMs): Promise<DatabaseFacts> {
    // The worker answers in order, so the facts kept are always the newest it gave.
    const asked = this.#askDatabaseFacts().then((facts) => {
      this.#databaseFacts = facts
      return facts
    })
    const known = this.#databaseFacts
    if (known === undefined) return asked
    asked.catch(() => undefined) // answered from `known` if it comes late; a failure shows elsewhere
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<DatabaseFacts>((resolve) => {
      timer = setTimeout(() => resolve(known), waitMs)
    })
    try {
      return await Promise.race([asked, late])
    } finally {
      clearTimeout(timer)
    }
  }

  async #askDatabaseFacts(): Promise<DatabaseFacts> {
    const [appliedIndex, fk] = await Promise.all([
      this.#options.local.appliedIndex(),
      this.#options.local.query(['PRAGMA foreign_keys'], { transaction: false }),
    ])
    const row = (fk[0] as { values?: unknown[][] } | undefined)?.values?.[0]
    return { appliedIndex, foreignKeys: row?.[0] === 1 }
  }

  /** For `/db/sql`: prepares each statement without running it; per statement, SQLite's error or undefined. */
  async explain(statements: readonly string[]): Promise<(string | undefined)[]> {
    const results = await this.#options.local.query(
      statements.map((sql) => `EXPLAIN ${sql}`),
      { transaction: false },
    )
    return results.map((result) => ('error' in result ? result.error : undefined))
  }

  /** `/readyz?sync`: waits until this node has applied everything it knows to be committed. */
  async waitCaughtUp(timeoutMs: number): Promise<void> {
    await this.#waitApplied(this.#replica.status().commit, timeoutMs)
  }

  /**
   * Replaces the database through the log (every replica loads the same bytes): a SQLite file image is
   * loaded whole; anything else is run as SQL text (a dump) in one entry.
   */
  async load(body: Uint8Array, timeoutMs?: number): Promise<Outcome> {
    if (!this.isLeader()) throw this.#notLeader()
    const log = this.#options.logger
    const started = Date.now()
    const kind = isSqliteImage(body) ? 'sqlite image' : 'sql text'
    log?.info('load started', { kind, bytes: body.byteLength })
    let outcome: Outcome
    if (kind === 'sqlite image') {
      const command = encodeCommand({ kind: 'load', image: body })
      outcome = { results: [], raftIndex: (await this.#proposeAndWait(command, timeoutMs)).raftIndex }
    } else {
      const sql = new TextDecoder('utf-8', { fatal: true }).decode(body)
      outcome = await this.execute({ statements: [sql], ...(timeoutMs !== undefined ? { timeoutMs } : {}) })
    }
    log?.info('load done', { kind, raftIndex: outcome.raftIndex, ms: Date.now() - started })
    return outcome
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

  /** Throws `NotLeaderError` at once when the proposal is refused (see `execute`). */
  #proposeAndWait(command: Uint8Array, timeoutMs?: number): Promise<Outcome> {
    const result = this.#replica.propose(command)
    if (!result.accepted) throw this.#notLeader()
    return this.#waitEntry(result.index, result.term, timeoutMs ?? this.#applyTimeout()).then((results) => ({
      results,
      raftIndex: result.index,
    }))
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
    const limit = timeoutMs ?? this.#applyTimeout()
    // Registered before asking Raft: a single voter confirms the read at once, and the driver can hand the
    // read state back before readIndex() returns.
    const confirmed = new Promise<number>((resolve, reject) => {
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
    const result = this.#replica.readIndex(context)
    if (!result.accepted) {
      this.#reads.get(context)?.reject(this.#notLeader())
      this.#reads.delete(context)
    }
    return confirmed
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

/** Whether every piece of every statement looks like a read (SELECT, WITH, VALUES, EXPLAIN, reading PRAGMA). */
function mayOnlyRead(statements: Batch): boolean {
  return statements.every((statement) =>
    splitStatements(typeof statement === 'string' ? statement : statement[0]).every(
      (piece) => statementKind(piece.leading) === 'read',
    ),
  )
}

const sqliteHeader = new TextEncoder().encode('SQLite format 3\0')

/** Whether `bytes` start with the SQLite database file header. */
export function isSqliteImage(bytes: Uint8Array): boolean {
  if (bytes.byteLength < sqliteHeader.byteLength) return false
  return sqliteHeader.every((byte, i) => bytes[i] === byte)
}

/** The session of a request nobody will send again: the state machine neither deduplicates nor keeps it. */
const noSession = { clientId: '', seq: 0 } as const
