import { parseDuration } from '../../util/duration.js'

/** tqlited's configuration, validated from the command line (flag names follow rqlited's). */
export interface NodeConfig {
  readonly nodeId: number
  readonly httpAddr: string
  readonly httpAdvAddr: string
  readonly raftAddr: string
  readonly raftAdvAddr: string
  readonly join: readonly string[]
  readonly joinAttempts: number
  readonly joinIntervalMs: number
  readonly onDisk: boolean
  readonly raftSnap: number
  readonly raftSnapIntervalMs: number
  readonly raftSnapSpacingMs: number
  readonly raftElectionTimeoutMs: number
  readonly raftHeartbeatTimeoutMs: number
  readonly raftNonVoter: boolean
  readonly bootstrapExpect: number
  readonly raftReapNodeTimeoutMs: number
  readonly raftReapReadOnlyNodeTimeoutMs: number
  readonly writeQueueCapacity: number
  readonly writeQueueBatchSize: number
  readonly writeQueueTimeoutMs: number
  readonly writeQueueTx: boolean
  readonly httpMaxBodyBytes: number
  readonly httpAllowOrigin: string
  readonly dataDir: string
}

type FlagKind = 'string' | 'int' | 'bool' | 'duration'

interface FlagSpec {
  readonly name: string
  readonly kind: FlagKind
  readonly defaultValue: string
  readonly help: string
}

export const flagSpecs: readonly FlagSpec[] = [
  {
    name: 'node-id',
    kind: 'int',
    defaultValue: '1',
    help: 'Unique positive integer identifying this node in the cluster',
  },
  { name: 'http-addr', kind: 'string', defaultValue: 'localhost:4001', help: 'HTTP API bind address' },
  {
    name: 'http-adv-addr',
    kind: 'string',
    defaultValue: '',
    help: 'HTTP API address advertised to other nodes (default: -http-addr)',
  },
  {
    name: 'raft-addr',
    kind: 'string',
    defaultValue: 'localhost:4002',
    help: 'Raft and cluster-service bind address',
  },
  {
    name: 'raft-adv-addr',
    kind: 'string',
    defaultValue: '',
    help: 'Raft address advertised to other nodes (default: -raft-addr)',
  },
  {
    name: 'join',
    kind: 'string',
    defaultValue: '',
    help: 'Comma-separated nodes to join: HTTP URLs (http://host:4001) or Raft addresses (host:4002)',
  },
  { name: 'join-attempts', kind: 'int', defaultValue: '5', help: 'Number of join attempts per address' },
  { name: 'join-interval', kind: 'duration', defaultValue: '3s', help: 'Period between join attempts' },
  {
    name: 'on-disk',
    kind: 'bool',
    defaultValue: 'false',
    help: 'Keep the SQLite database in a file in the data directory (default: in memory, at most 1 GiB)',
  },
  {
    name: 'raft-snap',
    kind: 'int',
    defaultValue: '8192',
    help: "Number of applied log entries between snapshots (each node adds up to a quarter, drawn per snapshot, and waits longer while the last snapshot's cost spaces them: nine times its duration)",
  },
  {
    name: 'raft-snap-int',
    kind: 'duration',
    defaultValue: '30s',
    help: 'Also snapshot at this interval (plus up to a quarter, drawn per node) when anything was applied since the last snapshot',
  },
  {
    name: 'raft-snap-spacing',
    kind: 'duration',
    defaultValue: '10s',
    help: 'Least time from the start of one snapshot taken for -raft-snap to the next (each copies the whole database; rqlite checks its threshold every 10s); 0s: none',
  },
  {
    name: 'raft-election-timeout',
    kind: 'duration',
    defaultValue: '1s',
    help: 'Election timeout (randomized up to twice this)',
  },
  {
    name: 'raft-heartbeat-timeout',
    kind: 'duration',
    defaultValue: '1s',
    help: 'Heartbeat timeout: the leader sends heartbeats ten times within it',
  },
  {
    name: 'raft-non-voter',
    kind: 'bool',
    defaultValue: 'false',
    help: 'Join as a non-voting node (a read replica)',
  },
  {
    name: 'bootstrap-expect',
    kind: 'int',
    defaultValue: '0',
    help: 'Bootstrap a new cluster once this many nodes, listed by Raft address in -join, can reach each other',
  },
  {
    name: 'raft-reap-node-timeout',
    kind: 'duration',
    defaultValue: '0',
    help: 'Remove a voter the leader has not heard from for this long (0: never)',
  },
  {
    name: 'raft-reap-read-only-node-timeout',
    kind: 'duration',
    defaultValue: '0',
    help: 'Remove a non-voter the leader has not heard from for this long (0: never)',
  },
  {
    name: 'write-queue-capacity',
    kind: 'int',
    defaultValue: '1024',
    help: 'Queued-write requests held before /db/execute?queue waits for room',
  },
  {
    name: 'write-queue-batch-size',
    kind: 'int',
    defaultValue: '128',
    help: 'Queued-write requests merged into one log entry',
  },
  {
    name: 'write-queue-timeout',
    kind: 'duration',
    defaultValue: '50ms',
    help: 'How long a queued write waits for its batch to fill',
  },
  {
    name: 'write-queue-tx',
    kind: 'bool',
    defaultValue: 'false',
    help: 'Run each batch of queued writes in one transaction',
  },
  {
    name: 'http-max-body',
    kind: 'int',
    defaultValue: '67108864',
    help: 'Largest request body accepted, in bytes (larger: 413)',
  },
  {
    name: 'http-allow-origin',
    kind: 'string',
    defaultValue: '',
    help: 'Value for the Access-Control-Allow-Origin header (none when empty)',
  },
  { name: 'version', kind: 'bool', defaultValue: 'false', help: 'Print the version and exit' },
  { name: 'h', kind: 'bool', defaultValue: 'false', help: 'Print this help and exit' },
]

export class FlagError extends Error {
  override name = 'FlagError'
}

export function usage(): string {
  const lines = ['Usage: tqlited [flags] DATA_DIR', '', 'Flags:']
  for (const spec of flagSpecs) {
    const value = spec.kind === 'bool' ? '' : ` ${spec.kind}`
    const def = spec.kind !== 'bool' && spec.defaultValue !== '' ? ` (default ${spec.defaultValue})` : ''
    lines.push(`  -${spec.name}${value}`, `        ${spec.help}${def}`)
  }
  return lines.join('\n')
}

/** Parses Go-style flags (`-name value`, `-name=value`, `--name`; booleans by presence). */
export function parseFlags(argv: readonly string[]): {
  config: NodeConfig | undefined
  help: boolean
  version: boolean
} {
  const values = new Map<string, string>()
  const positional: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg)
      continue
    }
    const body = arg.replace(/^--?/, '')
    const eq = body.indexOf('=')
    const name = eq >= 0 ? body.slice(0, eq) : body
    const spec = flagSpecs.find((s) => s.name === name)
    if (!spec) throw new FlagError(`flag provided but not defined: -${name}`)
    if (eq >= 0) values.set(name, body.slice(eq + 1))
    else if (spec.kind === 'bool') values.set(name, 'true')
    else {
      const next = argv[++i]
      if (next === undefined) throw new FlagError(`flag needs an argument: -${name}`)
      values.set(name, next)
    }
  }
  const get = (name: string): string =>
    values.get(name) ?? flagSpecs.find((s) => s.name === name)!.defaultValue
  const bool = (name: string): boolean => {
    const v = get(name)
    if (v === 'true' || v === '1') return true
    if (v === 'false' || v === '0') return false
    throw new FlagError(`invalid boolean value "${v}" for flag -${name}`)
  }
  const int = (name: string, min: number): number => {
    const v = Number(get(name))
    if (!Number.isSafeInteger(v) || v < min)
      throw new FlagError(`invalid value "${get(name)}" for flag -${name}: want an integer >= ${min}`)
    return v
  }
  const duration = (name: string, allowZero = false): number => {
    const ms = parseDuration(get(name))
    if (ms === undefined || ms < 0 || (ms === 0 && !allowZero))
      throw new FlagError(`invalid duration "${get(name)}" for flag -${name} (examples: 500ms, 2s, 1m30s)`)
    return ms
  }
  if (bool('h')) return { config: undefined, help: true, version: false }
  if (bool('version')) return { config: undefined, help: false, version: true }
  if (positional.length !== 1)
    throw new FlagError('the data directory must be the last argument (and the only one)')
  const httpAddr = get('http-addr')
  const raftAddr = get('raft-addr')
  const config: NodeConfig = {
    nodeId: int('node-id', 1),
    httpAddr,
    httpAdvAddr: get('http-adv-addr') || httpAddr,
    raftAddr,
    raftAdvAddr: get('raft-adv-addr') || raftAddr,
    join: get('join')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    joinAttempts: int('join-attempts', 1),
    joinIntervalMs: duration('join-interval'),
    onDisk: bool('on-disk'),
    raftSnap: int('raft-snap', 1),
    raftSnapIntervalMs: duration('raft-snap-int'),
    raftSnapSpacingMs: duration('raft-snap-spacing', true),
    raftElectionTimeoutMs: duration('raft-election-timeout'),
    raftHeartbeatTimeoutMs: duration('raft-heartbeat-timeout'),
    raftNonVoter: bool('raft-non-voter'),
    bootstrapExpect: int('bootstrap-expect', 0),
    raftReapNodeTimeoutMs: duration('raft-reap-node-timeout', true),
    raftReapReadOnlyNodeTimeoutMs: duration('raft-reap-read-only-node-timeout', true),
    writeQueueCapacity: int('write-queue-capacity', 1),
    writeQueueBatchSize: int('write-queue-batch-size', 1),
    writeQueueTimeoutMs: duration('write-queue-timeout', true),
    writeQueueTx: bool('write-queue-tx'),
    httpMaxBodyBytes: int('http-max-body', 1),
    httpAllowOrigin: get('http-allow-origin'),
    dataDir: positional[0]!,
  }
  return { config, help: false, version: false }
}
