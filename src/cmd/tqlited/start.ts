import { readFileSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import type { HttpFront } from '../../http/http1-front.js'
import { join } from 'node:path'
import { Database } from '../../db/database.js'
import { type Forwarder, createHandler, listen, version } from '../../http/server.js'
import { bootstrapLog } from '../../raft/index.js'
import { systemClock } from '../../replica/ports.js'
import { Replica } from '../../replica/replica.js'
import { NodeFs } from '../../storage/fs.js'
import { LogStore } from '../../storage/log-store.js'
import { decodeCommand, pack, unpack } from '../../store/command-codec.js'
import {
  LeaderNotFoundError,
  LeaderUnreachableError,
  MembershipError,
  NotLeaderError,
  StoreError,
  UnknownOutcomeError,
} from '../../store/errors.js'
import { Fsm, type NodeMeta } from '../../store/fsm.js'
import {
  type BackupRequest,
  type ExecuteRequest,
  type MixedRequest,
  type Outcome,
  type QueryRequest,
  Store,
} from '../../store/store.js'
import { WriteQueue } from '../../store/write-queue.js'
import { RpcConnectError, RpcRemoteError, RpcTimeoutError, TcpTransport } from '../../transport/index.js'
import type { Logger } from '../../util/logger.js'
import type { NodeConfig } from './flags.js'

export interface RunningNode {
  readonly store: Store
  readonly httpServer: HttpFront
  stop(): Promise<void>
}

const forwardTimeoutMs = 30_000

/**
 * The composition root of tqlited: durable log, SQLite, transport, driver, store and HTTP, wired together.
 * A node with an empty data directory and no `-join` bootstraps a one-node cluster and leads it.
 */
export async function startNode(config: NodeConfig, logger: Logger): Promise<RunningNode> {
  logger.info('node starting', { nodeId: config.nodeId, uptimeMs: Math.round(performance.now()) })
  await mkdir(config.dataDir, { recursive: true })
  // The database is rebuilt from the latest snapshot and the log at every start, in memory or in a file
  // (-on-disk): the Raft log is the durability, so the file never disagrees with the applied index. The
  // SQLite worker starts (0.1–0.3 s) while the log store reads and checks its snapshot.
  const dbPath = join(config.dataDir, 'db.sqlite')
  if (config.onDisk) await rm(dbPath, { force: true })
  const dbOpening = Database.open(config.onDisk ? { path: dbPath } : {})
  // Awaited below; until then a failure must not count as an unhandled rejection.
  dbOpening.catch(() => undefined)
  let storage: LogStore
  try {
    storage = await LogStore.open(new NodeFs(), join(config.dataDir, 'raft'), {
      logger: logger.child({ component: 'storage' }),
    })
  } catch (error) {
    await dbOpening.then((db) => db.close()).catch(() => undefined)
    throw error
  }
  const fresh = storage.lastIndex() === 0 && storage.snapshotMeta().index === 0
  const transport = new TcpTransport({
    nodeId: config.nodeId,
    clusterId: 'tqlite',
    logger: logger.child({ component: 'transport' }),
  })
  const raftAddress = await transport.listen(config.raftAddr)
  const self: NodeMeta = {
    nodeId: config.nodeId,
    raftAddress: config.raftAdvAddr,
    httpAddress: config.httpAdvAddr,
  }
  transport.handleRpc('nodeInfo', async () => pack({ ...self, version }))
  let bootstrapPeers: NodeMeta[] = []
  if (fresh && config.bootstrapExpect > 0) {
    bootstrapPeers = await discoverPeers(config, transport, self, logger)
    const voters = bootstrapPeers.map((meta) => meta.nodeId).sort((a, b) => a - b)
    const { entries, hardState } = bootstrapLog(voters)
    await storage.save({ entries, hardState })
    for (const meta of bootstrapPeers)
      if (meta.nodeId !== config.nodeId) transport.setPeer(meta.nodeId, meta.raftAddress)
    logger.info('bootstrapped a new cluster', { voters })
  } else if (fresh && config.join.length === 0) {
    const { entries, hardState } = bootstrapLog([config.nodeId])
    await storage.save({ entries, hardState })
    logger.info('bootstrapped a new cluster', { voters: [config.nodeId] })
  }

  const db = await dbOpening
  const fsm = new Fsm(db)
  if (storage.snapshotMeta().index > 0) await restoreSnapshot(storage, fsm, logger)

  fsm.onNodeMeta = (meta) => {
    if (meta.nodeId !== config.nodeId) transport.setPeer(meta.nodeId, meta.raftAddress)
  }
  for (const meta of fsm.nodes.values()) fsm.onNodeMeta(meta)
  // Also the addresses written in the log past the recorded commit: Raft keeps the commit index in memory, so a
  // node may restart knowing an older one than its log holds, and without those addresses it could not
  // answer the leader that would tell it the newer one (its acknowledgements had nowhere to go: found by the
  // cluster test once commit-only hard states stopped being fsynced). An address only says where to dial a
  // member; the committed entry, applied later, has the last word.
  for (const meta of nodeMetaInLog(storage, logger)) fsm.onNodeMeta(meta)

  const tickMs = Math.max(
    10,
    Math.min(
      100,
      Math.floor(config.raftHeartbeatTimeoutMs / 10),
      Math.floor(config.raftElectionTimeoutMs / 10),
    ),
  )
  const replica = new Replica({
    id: config.nodeId,
    storage,
    transport,
    stateMachine: fsm,
    clock: systemClock,
    random: Math.random,
    tickMs,
    electionTicks: Math.max(2, Math.round(config.raftElectionTimeoutMs / tickMs)),
    heartbeatTicks: 1,
    snapshotEntries: config.raftSnap,
    // Up to a quarter more, drawn per snapshot. Without it every node of a 3-node cluster under INSERTs at c=64
    // snapshotted at the same index, each stalling its appends for 14–59 ms while it switched log files (timed
    // in a dev build). Back to back, 3 pairs of 8 s: p99 41.8, 37.8, 32.6 ms against 45.4, 41.9, 45.9 ms.
    snapshotJitter: 0.25,
    snapshotSpacingTicks: Math.ceil(config.raftSnapSpacingMs / tickMs),
    snapshotIntervalTicks: Math.max(1, Math.round(config.raftSnapIntervalMs / tickMs)),
    // A follower's SQLite worker woke for every append (about 500 times a second at INSERT c=16) and spent more
    // on each wake than on the entries in it. Back to back, 3 pairs of 8 s at c=16: 2,835/2,955/3,049 ->
    // 3,143/3,394/3,839 INSERTs/s, cluster CPU per INSERT 533/501/481 -> 442/411/359 µs; at c=64, where
    // appends are bigger, 2 pairs: +1–2%. 30 ms did no better than 10.
    followerApplyDelayMs: 10,
    logger: logger.child({ component: 'replica' }),
  })
  const store = new Store({
    nodeId: config.nodeId,
    replica,
    fsm,
    raftAddress: config.raftAdvAddr,
    httpAddress: config.httpAdvAddr,
    local: db,
    logger: logger.child({ component: 'store' }),
  })
  transport.onMessage((message) => store.receive(message))
  registerClusterService(transport, store)

  const forwarder = createForwarder(transport)
  const queue = new WriteQueue({
    capacity: config.writeQueueCapacity,
    batchSize: config.writeQueueBatchSize,
    timeoutMs: config.writeQueueTimeoutMs,
    transaction: config.writeQueueTx,
    logger: logger.child({ component: 'write-queue' }),
    // Written like any execute: here on the leader, else forwarded to it. The session makes a retry of a
    // batch whose first attempt did commit apply nothing twice.
    send: async (statements, transaction, session) => {
      const request: ExecuteRequest = { statements, transaction, session }
      try {
        await store.execute(request)
      } catch (error) {
        if (!(error instanceof NotLeaderError) || !error.leaderRaftAddress) throw error
        await forwarder.execute(error.leaderRaftAddress, request)
      }
    },
  })
  const sqliteVersion = await db.query(['SELECT sqlite_version()'])
  const httpServer = await listen(
    createHandler({
      store,
      forwarder,
      advertisedAddress: config.httpAdvAddr,
      bodyBytesMax: config.httpMaxBodyBytes,
      allowOrigin: config.httpAllowOrigin,
      queue,
      node: {
        dataDir: config.dataDir,
        dbPath: config.onDisk ? dbPath : ':memory:',
        sqliteVersion: String((sqliteVersion[0] as { values?: unknown[][] }).values?.[0]?.[0] ?? ''),
        snapshotThreshold: config.raftSnap,
        snapshotIntervalMs: config.raftSnapIntervalMs,
        electionTimeoutMs: config.raftElectionTimeoutMs,
        heartbeatTimeoutMs: config.raftHeartbeatTimeoutMs,
        queue: {
          capacity: config.writeQueueCapacity,
          batchSize: config.writeQueueBatchSize,
          timeoutMs: config.writeQueueTimeoutMs,
        },
      },
    }),
    config.httpAddr,
  )
  let stopping = false
  replica.events = {
    ...replica.events,
    onSoftState: (state) => {
      logger.info('leadership changed', {
        nodeId: config.nodeId,
        role: state.role,
        leader: state.leaderId,
        uptimeMs: Math.round(performance.now()),
      })
      if (state.role === 'leader') {
        store
          .announce(bootstrapPeers.filter((meta) => meta.nodeId !== config.nodeId))
          .catch((error: unknown) => logger.warn('could not record own address', { error: String(error) }))
      }
    },
    onFatal: (error) => {
      logger.error('node stopping: storage failed', { error: String(error) })
      if (!stopping) process.exitCode = 1
      void node.stop()
    },
  }
  // A voter restarting among others campaigns after 0.1-1 s instead of 1-2 s (a whole cluster restarted at
  // once: 20 MB restart in the bench 2.43 → 1.42 s).
  const voters = replica.status().config.voters
  replica.start({ electionSoon: voters.length > 1 && voters.includes(config.nodeId) })
  const reapTimeouts = [config.raftReapNodeTimeoutMs, config.raftReapReadOnlyNodeTimeoutMs].filter(
    (ms) => ms > 0,
  )
  const reapTimer = setInterval(
    () => {
      store
        .reapUnreachable(config.raftReapNodeTimeoutMs, config.raftReapReadOnlyNodeTimeoutMs)
        .then((reaped) => {
          if (reaped.length > 0) logger.info('reaped unreachable nodes', { nodes: reaped })
        })
        .catch((error: unknown) => logger.warn('reaping failed', { error: String(error) }))
    },
    Math.max(100, Math.min(1000, ...reapTimeouts.map((ms) => ms / 4))),
  )
  reapTimer.unref()
  if (reapTimeouts.length === 0) clearInterval(reapTimer)
  // A node that is the only voter need not wait out an election timeout to lead.
  const { config: membership } = replica.status()
  if (membership.voters.length === 1 && membership.voters[0] === config.nodeId) replica.campaign()
  logger.info('node started', {
    nodeId: config.nodeId,
    http: config.httpAddr,
    raft: raftAddress,
    inMemory: !config.onDisk,
    dataDir: config.dataDir,
    // Since the process started: log store, snapshot restore, log replay handed to the worker, listeners.
    uptimeMs: Math.round(performance.now()),
  })

  const node: RunningNode = {
    store,
    httpServer,
    async stop() {
      if (stopping) return
      stopping = true
      clearInterval(reapTimer)
      await queue.close()
      await handOverLeadership(store, logger)
      replica.stop()
      httpServer.closeAllConnections()
      await new Promise<void>((resolve) => httpServer.close(() => resolve()))
      await transport.close()
      fsm.failAll(new UnknownOutcomeError('node stopped'))
      await db.close()
      await storage.close()
      logger.info('node stopped', { nodeId: config.nodeId })
    },
  }

  if (fresh && config.join.length > 0 && config.bootstrapExpect === 0)
    await joinCluster(config, transport, logger)
  return node
}

/**
 * On a graceful shutdown a leader hands leadership to the most up-to-date other voter first, so the cluster
 * does not wait out an election timeout (rqlite does the same on SIGTERM).
 */
async function handOverLeadership(store: Store, logger: Logger): Promise<void> {
  if (!store.isLeader() || store.status().config.voters.length < 2) return
  logger.info('transferring leadership before shutdown')
  try {
    await store.stepDown({ wait: true, timeoutMs: 5_000 })
    logger.info('leadership handed over', { leader: store.status().leaderId })
  } catch (error) {
    logger.warn('could not hand leadership over', { error: String(error) })
  }
}

/**
 * `-bootstrap-expect N`: asks every Raft address in `-join` for its node id until N nodes (this one included)
 * are known. Every node started with the same list finds the same N, so all bootstrap the same voters.
 */
async function discoverPeers(
  config: NodeConfig,
  transport: TcpTransport,
  self: NodeMeta,
  logger: Logger,
): Promise<NodeMeta[]> {
  const targets = config.join.filter((target) => target !== config.raftAdvAddr && target !== config.raftAddr)
  if (targets.some((target) => target.includes('://'))) {
    throw new Error(
      '-bootstrap-expect discovers peers by their Raft addresses: list host:port addresses in -join',
    )
  }
  const found = new Map<number, NodeMeta>([[self.nodeId, self]])
  const deadline = Date.now() + config.joinAttempts * config.joinIntervalMs * Math.max(1, targets.length)
  while (found.size < config.bootstrapExpect) {
    for (const target of targets) {
      try {
        const meta = unpack<NodeMeta>(await transport.rpc(target, 'nodeInfo', pack({}), { timeoutMs: 2_000 }))
        found.set(meta.nodeId, meta)
      } catch (error) {
        logger.debug('peer not reachable yet', { target, error: String(error) })
      }
    }
    if (found.size >= config.bootstrapExpect) break
    if (Date.now() > deadline) {
      throw new Error(
        `found ${found.size} of ${config.bootstrapExpect} expected nodes through ${targets.join(', ')}`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, config.joinIntervalMs)))
  }
  logger.info('discovered peers for bootstrap', { nodes: [...found.keys()] })
  return [...found.values()]
}

interface JoinRequest {
  nodeId: number
  raftAddress: string
  httpAddress: string
  voter: boolean
}

/** Cluster service RPCs: forwarded requests run on the leader, answered with msgpack bodies. */
function registerClusterService(transport: TcpTransport, store: Store): void {
  transport.handleRpc('execute', async (body) => pack(await store.execute(unpack<ExecuteRequest>(body))))
  transport.handleRpc('query', async (body) => pack(await store.query(unpack<QueryRequest>(body))))
  transport.handleRpc('request', async (body) => pack(await store.request(unpack<MixedRequest>(body))))
  transport.handleRpc('join', async (body) => {
    const request = unpack<JoinRequest>(body)
    const leader = store.leader()
    if (!store.isLeader()) {
      throw new NotLeaderError(leader?.id ?? 0, leader?.meta?.httpAddress, leader?.meta?.raftAddress)
    }
    await store.join(
      { nodeId: request.nodeId, raftAddress: request.raftAddress, httpAddress: request.httpAddress },
      request.voter,
    )
    return pack({ nodes: store.nodes() })
  })
  transport.handleRpc('nodes', async () => pack({ nodes: store.nodes() }))
  transport.handleRpc('backup', async (body) => store.backup(unpack<BackupRequest>(body)))
  transport.handleRpc('load', async (body) => pack(await store.load(body)))
  transport.handleRpc('stepDown', async (body) => {
    await store.stepDown(unpack<{ to?: number; wait: boolean }>(body))
    return pack({})
  })
  transport.handleRpc('remove', async (body) => {
    await store.remove(unpack<{ nodeId: number }>(body).nodeId)
    return pack({})
  })
}

function createForwarder(transport: TcpTransport): Forwarder {
  /**
   * One RPC to the leader. A forwarded request is never retried: after a timeout the outcome of a write is
   * unknown (rqlite #1628). A leader that lost leadership meanwhile answers with its not-leader code.
   */
  const forward = async (
    address: string,
    method: string,
    body: Uint8Array,
    write: boolean,
  ): Promise<Uint8Array> => {
    try {
      return await transport.rpc(address, method, body, { timeoutMs: forwardTimeoutMs })
    } catch (error) {
      if (write && error instanceof RpcTimeoutError) {
        throw new UnknownOutcomeError(`forwarded ${method} timed out`, { cause: error })
      }
      if (error instanceof RpcConnectError) {
        // Never written to the leader: definitely not applied, so the client may safely retry.
        if (!error.mayHaveBeenDelivered) throw new LeaderUnreachableError(address, { cause: error })
        if (write)
          throw new UnknownOutcomeError(`connection to the leader lost during ${method}`, { cause: error })
        throw new StoreError('TQ_ERR_FORWARD_FAILED', error.message, { cause: error })
      }
      if (error instanceof RpcRemoteError) {
        if (error.remoteCode === 'TQ_ERR_NOT_LEADER' || error.remoteCode === 'TQ_ERR_LEADER_NOT_FOUND') {
          throw new LeaderNotFoundError()
        }
        // The leader's own typed failure (a refused PRAGMA, an unknown outcome, a stale read) keeps its code,
        // and its type where the HTTP layer answers by type.
        if (error.remoteCode === 'TQ_ERR_MEMBERSHIP') throw new MembershipError(error.remoteMessage)
        if (error.remoteCode?.startsWith('TQ_ERR_')) {
          throw new StoreError(error.remoteCode, error.remoteMessage ?? error.message, { cause: error })
        }
        throw new Error(error.message, { cause: error })
      }
      throw error
    }
  }
  const call = async (address: string, method: string, body: unknown, write = true): Promise<unknown> =>
    unpack(await forward(address, method, pack(body), write))
  return {
    async execute(address, request) {
      return (await call(address, 'execute', request)) as Outcome
    },
    async query(address, request) {
      return (await call(address, 'query', request, request.level === 'strong')) as Outcome
    },
    async request(address, request) {
      return (await call(address, 'request', request)) as Outcome
    },
    async join(address, request) {
      return ((await call(address, 'join', request)) as { nodes: NodeMeta[] }).nodes
    },
    async remove(address, nodeId) {
      await call(address, 'remove', { nodeId })
    },
    async backup(address, request) {
      return forward(address, 'backup', pack(request), false)
    },
    async load(address, body) {
      return unpack<Outcome>(await forward(address, 'load', body, true))
    },
    async stepDown(address, request) {
      await call(address, 'stepDown', request)
    },
    async probe(address, timeoutMs) {
      const info = unpack<{ version?: string }>(
        await transport.rpc(address, 'nodeInfo', pack({}), { timeoutMs }),
      )
      return { version: info.version ?? '' }
    },
  }
}

/**
 * Joins through any of `-join`'s addresses: an HTTP URL (POST /join, which reaches the leader wherever it
 * lands) or a Raft address (the cluster service). The answer lists the members, so this node can reach
 * the leader before it has applied any of the log.
 */
async function joinCluster(config: NodeConfig, transport: TcpTransport, logger: Logger): Promise<void> {
  const request: JoinRequest = {
    nodeId: config.nodeId,
    raftAddress: config.raftAdvAddr,
    httpAddress: config.httpAdvAddr,
    voter: !config.raftNonVoter,
  }
  for (let attempt = 1; attempt <= config.joinAttempts; attempt++) {
    for (const target of config.join) {
      try {
        const overHttp = target.startsWith('http://') || target.startsWith('https://')
        // Learn the members' addresses first: the leader replicates to this node during the join, and
        // this node must be able to answer it.
        const members = overHttp
          ? await membersOverHttp(target)
          : unpack<{ nodes: NodeMeta[] }>(
              await transport.rpc(target, 'nodes', pack({}), { timeoutMs: forwardTimeoutMs }),
            ).nodes
        for (const meta of members)
          if (meta.nodeId !== config.nodeId) transport.setPeer(meta.nodeId, meta.raftAddress)
        const nodes = overHttp
          ? await joinOverHttp(target, request)
          : unpack<{ nodes: NodeMeta[] }>(
              await transport.rpc(target, 'join', pack(request), { timeoutMs: forwardTimeoutMs }),
            ).nodes
        for (const meta of nodes)
          if (meta.nodeId !== config.nodeId) transport.setPeer(meta.nodeId, meta.raftAddress)
        logger.info('joined cluster', { via: target, members: nodes.map((n) => n.nodeId) })
        return
      } catch (error) {
        logger.warn('join attempt failed', { via: target, attempt, error: String(error) })
      }
    }
    if (attempt < config.joinAttempts)
      await new Promise((resolve) => setTimeout(resolve, config.joinIntervalMs))
  }
  throw new Error(
    `could not join the cluster through ${config.join.join(', ')} after ${config.joinAttempts} attempts`,
  )
}

async function membersOverHttp(url: string): Promise<NodeMeta[]> {
  const response = await fetch(new URL('/nodes?nonvoters&timeout=2s', url))
  if (response.status !== 200) throw new Error(`GET /nodes: ${response.status}`)
  const nodes = (await response.json()) as Record<string, { id: string; addr: string; api_addr?: string }>
  return Object.values(nodes).map((n) => ({
    nodeId: Number(n.id),
    raftAddress: n.addr,
    httpAddress: (n.api_addr ?? '').replace(/^https?:\/\//, ''),
  }))
}

async function joinOverHttp(url: string, request: JoinRequest): Promise<NodeMeta[]> {
  const response = await fetch(new URL('/join', url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      id: String(request.nodeId),
      addr: request.raftAddress,
      http_addr: request.httpAddress,
      voter: request.voter,
    }),
  })
  const text = await response.text()
  if (response.status !== 200) throw new Error(`join refused: ${response.status} ${text.trim()}`)
  const parsed =
    text === ''
      ? { nodes: [] }
      : (JSON.parse(text) as { nodes?: { id: string; addr: string; http_addr: string }[] })
  return (parsed.nodes ?? []).map((n) => ({
    nodeId: Number(n.id),
    raftAddress: n.addr,
    httpAddress: n.http_addr,
  }))
}

/**
 * Restores the state machine from the snapshot the log store read at open. A function of its own so that
 * the snapshot's data (the whole database) dies with its frame: a suspended async function may keep a
 * reference to it in its saved registers for as long as it runs, and `start` runs for the node's lifetime.
 */
async function restoreSnapshot(storage: LogStore, fsm: Fsm, logger: Logger): Promise<void> {
  const snapshot = await storage.readSnapshot()
  hintHugePages(snapshot.data.byteLength, logger)
  const { index, term } = snapshot.meta
  logger.info('restoring snapshot', { index, term })
  const restoreStarted = performance.now()
  await fsm.restore(snapshot)
  logger.info('snapshot restored', { index, ms: Math.round(performance.now() - restoreStarted) })
}

/** Snapshot size from which start-up time is mostly page faults (see src/storage/DESIGN.md). */
const hugePagesHintBytes = 256 * 1024 * 1024

/**
 * Restoring a big snapshot is bound by first touches of fresh memory (the snapshot read, then SQLite's own
 * copy), which glibc backs with 4 KiB pages unless told otherwise: 1 GiB restarted in 3.9 + 3.4 s alone
 * with them, 0.4 + 0.1 s with transparent huge pages. The environment variable must be set before the
 * process starts: `bin/tqlited` sets it; a node started some other way can only say so.
 */
function hintHugePages(snapshotBytes: number, logger: Logger): void {
  if (snapshotBytes < hugePagesHintBytes || process.platform !== 'linux') return
  if ((process.env.GLIBC_TUNABLES ?? '').includes('glibc.malloc.hugetlb=')) return
  let thp = ''
  try {
    thp = readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8')
  } catch {
    return
  }
  if (thp.includes('[never]')) return
  logger.info('big snapshot, memory in 4 KiB pages: start-up is slower than it could be', {
    snapshotBytes,
    hint: 'start tqlited through bin/tqlited, or with GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (transparent huge pages)',
  })
}

/**
 * The `nodeMeta` commands in the log past the recorded commit index, in log order (later ones win). The
 * committed ones are applied as soon as the replica starts; only the tail may never be, so only it is decoded
 * here (the whole log would be decoded twice at every start).
 */
function nodeMetaInLog(storage: LogStore, logger: Logger): NodeMeta[] {
  const found: NodeMeta[] = []
  const first = Math.max(storage.firstIndex(), storage.hardState().commit + 1)
  const last = storage.lastIndex()
  if (last < first) return found
  for (const entry of storage.entries({ from: first, to: last + 1 })) {
    if (entry.kind !== 'normal') continue
    try {
      const command = decodeCommand(entry.data)
      if (command.kind === 'nodeMeta')
        found.push({
          nodeId: command.nodeId,
          raftAddress: command.raftAddress,
          httpAddress: command.httpAddress,
        })
    } catch (error) {
      // Applying the entry will fail the same way, with the state machine's own report.
      logger.warn('an entry in the log does not decode', { index: entry.index, error: String(error) })
    }
  }
  return found
}
