import { arch, cpus, hostname, platform } from 'node:os'
import type { Store } from '../store/store.js'
import type { WriteQueue } from '../store/write-queue.js'

export const version = 'v0.1.0'

/** Facts about the node fixed at start, shown by /status. */
export interface NodeDescription {
  readonly dataDir: string
  /** The SQLite file, or ':memory:'. */
  readonly dbPath: string
  readonly sqliteVersion: string
  readonly snapshotThreshold: number
  readonly snapshotIntervalMs: number
  readonly electionTimeoutMs: number
  readonly heartbeatTimeoutMs: number
  readonly queue?: { readonly capacity: number; readonly batchSize: number; readonly timeoutMs: number }
}

export interface StatusSources {
  readonly store: Store
  readonly advertisedAddress: string
  readonly startedAt: number
  readonly node?: NodeDescription | undefined
  readonly queue?: WriteQueue | undefined
  readonly allowOrigin?: string | undefined
  /** Reads the database's own view (applied index, foreign keys), which lives on the SQLite worker. */
  readonly database: () => Promise<{ appliedIndex: number; foreignKeys: boolean }>
}

/** Go's `time.Duration.String()` for a number of milliseconds (rqlite prints uptimes and timeouts so). */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s'
  const negative = ms < 0
  let rest = Math.abs(ms)
  let text: string
  if (rest < 1) text = `${trim((rest * 1000).toFixed(3))}µs`
  else if (rest < 1000) text = `${trim(rest.toFixed(6))}ms`
  else {
    const hours = Math.floor(rest / 3_600_000)
    rest -= hours * 3_600_000
    const minutes = Math.floor(rest / 60_000)
    rest -= minutes * 60_000
    const seconds = `${trim((rest / 1000).toFixed(9))}s`
    text = `${hours > 0 ? `${hours}h` : ''}${hours > 0 || minutes > 0 ? `${minutes}m` : ''}${seconds}`
  }
  return negative ? `-${text}` : text
}

function trim(decimal: string): string {
  return decimal.includes('.') ? decimal.replace(/0+$/, '').replace(/\.$/, '') : decimal
}

const roleNames = {
  leader: 'Leader',
  follower: 'Follower',
  candidate: 'Candidate',
  preCandidate: 'Candidate',
}

/** rqlite's /status document: the fields tools poll, keys in Go's sorted-map order. */
export async function statusDocument(sources: StatusSources): Promise<Record<string, unknown>> {
  const { store, node } = sources
  const status = store.status()
  const leader = store.leader()
  const database = await sources.database()
  const now = Date.now()
  const self = store.nodes().find((meta) => meta.nodeId === store.nodeId)
  const lastContact = store.lastLeaderContactMs
  const queue = sources.queue
  return {
    build: { build_time: '', commit: '', compiler: `node ${process.version}`, version },
    http: {
      addr: sources.advertisedAddress,
      allow_origin: sources.allowOrigin ?? '',
      auth: 'disabled',
      bind_addr: sources.advertisedAddress,
      ...(queue && node?.queue
        ? {
            queue: {
              _default: {
                batch_size: node.queue.batchSize,
                max_size: node.queue.capacity,
                sequence_number: queue.lastWritten,
                timeout: goDuration(node.queue.timeoutMs),
              },
            },
          }
        : {}),
      tls: { enabled: false },
    },
    node: {
      current_time: new Date(now).toISOString(),
      start_time: new Date(sources.startedAt).toISOString(),
      uptime: goDuration(now - sources.startedAt),
    },
    os: { executable: process.execPath, hostname: hostname(), page_size: 4096, pid: process.pid },
    runtime: {
      GOARCH: arch(),
      GOOS: platform(),
      GOMAXPROCS: cpus().length,
      num_cpu: cpus().length,
      node_version: process.version,
      rss_bytes: process.memoryUsage().rss,
    },
    store: {
      addr: self?.raftAddress ?? '',
      db_applied_index: database.appliedIndex,
      dir: node ? `${node.dataDir}/raft` : '',
      election_timeout: node ? goDuration(node.electionTimeoutMs) : '',
      fsm_index: store.appliedIndex,
      heartbeat_timeout: node ? goDuration(node.heartbeatTimeoutMs) : '',
      leader: { addr: leader?.meta?.raftAddress ?? '', node_id: leader ? String(leader.id) : '' },
      node_id: String(store.nodeId),
      nodes: store
        .nodes()
        .sort((a, b) => a.nodeId - b.nodeId)
        .map((meta) => ({
          addr: meta.raftAddress,
          id: String(meta.nodeId),
          suffrage: status.config.voters.includes(meta.nodeId) ? 'Voter' : 'Nonvoter',
        })),
      raft: {
        applied_index: status.applied,
        commit_index: status.commit,
        fsm_pending: Math.max(0, status.commit - store.appliedIndex),
        last_contact:
          status.role === 'leader'
            ? '0'
            : lastContact === undefined
              ? 'never'
              : goDuration(now - lastContact),
        last_log_index: status.lastIndex,
        last_snapshot_index: status.firstIndex - 1,
        num_peers: Math.max(0, status.config.voters.length - 1),
        state: roleNames[status.role],
        term: status.term,
        voter: status.config.voters.includes(store.nodeId),
      },
      ready: leader !== undefined,
      snapshot_interval: node ? goDuration(node.snapshotIntervalMs) : '',
      snapshot_threshold: node?.snapshotThreshold ?? 0,
      sqlite3: {
        fk_constraints: database.foreignKeys ? 'enabled' : 'disabled',
        path: node?.dbPath ?? '',
        version: node?.sqliteVersion ?? '',
      },
      trailing_logs: 0,
    },
  }
}

/** `?key=a.b.c`: the sub-tree at that path, `{}` when it does not exist (rqlite's behaviour). */
export function subtree(document: unknown, key: string | null | undefined): unknown {
  if (!key) return document
  let node: unknown = document
  for (const part of key.split('.')) {
    node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[part] : undefined
  }
  return node ?? {}
}
