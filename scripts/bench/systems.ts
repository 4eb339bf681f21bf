// The two systems under test, behind one interface: a 3-node TQLite cluster (tqlited from dist/) and a
// 3-node etcd cluster (Debian's etcd-server, driven through its HTTP/JSON gateway). Loopback only.
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Managed, freePort, isRunning, rssBytes, startProcess, stopProcess, waitFor } from './procs.js'
import type { WrkRequest } from './wrk.js'

export interface ClusterNode {
  readonly id: number
  /** http://127.0.0.1:PORT */
  readonly url: string
  process: Managed | undefined
}

export type WorkloadKey =
  | 'insert'
  | 'read-none'
  | 'read-weak'
  | 'read-linearizable'
  | 'read-serializable'
  | 'bulk'
  | 'queue'

export interface WorkloadSpec {
  readonly key: WorkloadKey
  readonly requests: readonly WrkRequest[]
  /** Rows written per request (bulk: 1000); the table reports rows/s for it. */
  readonly rowsPerRequest: number
}

export interface BigLoad {
  readonly rows: number
  readonly bytes: number
}

export interface SystemUnderTest {
  readonly system: 'tqlite' | 'etcd'
  readonly nodes: readonly ClusterNode[]
  /** Server misbehaviour seen outside wrk runs (errors on writes the bench needed), for the report. */
  readonly problems: string[]
  start(): Promise<void>
  /** Every node up, one leader all agree on, every member a voter. */
  waitHealthy(timeoutMs: number): Promise<void>
  leader(): Promise<ClusterNode>
  kill(node: ClusterNode): Promise<void>
  /** Starts a node again on its data directory. */
  restart(node: ClusterNode): Promise<void>
  stopAll(): Promise<void>
  prefill(rows: number): Promise<void>
  workloads(prefilledRows: number): WorkloadSpec[]
  /** One small write sent to `node`; true when it was accepted. */
  tryWrite(node: ClusterNode, signal: AbortSignal): Promise<boolean>
  /** Loads about `bytes` of data for the restart test, stopping early at `deadline` (Date.now() ms). */
  loadBig(bytes: number, deadline: number): Promise<BigLoad>
  /** Waits until what loadBig wrote is in a snapshot (TQLite) or nothing (etcd). */
  settleBig(load: BigLoad, timeoutMs: number): Promise<void>
  /** True once `node` answers a count of the big data set with the expected count. */
  countBig(node: ClusterNode, load: BigLoad): Promise<boolean>
  rss(): number[]
}

const valueText = 'x'.repeat(100)

async function http(
  url: string,
  init: { method?: string; body?: string; signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<{ status: number; text: string }> {
  const signal = init.signal ?? AbortSignal.timeout(init.timeoutMs ?? 10_000)
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    ...(init.body !== undefined ? { body: init.body, headers: { 'Content-Type': 'application/json' } } : {}),
    signal,
  })
  return { status: response.status, text: await response.text() }
}

async function httpJson(url: string, body?: unknown, timeoutMs = 10_000): Promise<unknown> {
  const r = await http(url, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    timeoutMs,
  })
  if (r.status < 200 || r.status > 299) throw new Error(`${url}: ${r.status} ${r.text.slice(0, 300)}`)
  return JSON.parse(r.text)
}

function randomInt(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1))
}

// ---------------------------------------------------------------------------------------------------------
// TQLite

interface TqNode extends ClusterNode {
  readonly httpAddr: string
  readonly raftAddr: string
  readonly dataDir: string
}

export class TqliteCluster implements SystemUnderTest {
  readonly system = 'tqlite'
  readonly nodes: TqNode[] = []
  readonly problems: string[] = []
  readonly #root: string
  readonly #dir: string
  readonly #extraFlags: readonly string[]
  /** The environment of nodes started from now on (undefined: the bench's own). */
  env: NodeJS.ProcessEnv | undefined

  constructor(root: string, dir: string, extraFlags: readonly string[] = []) {
    this.#root = root
    this.#dir = dir
    this.#extraFlags = extraFlags
  }

  #spawn(node: TqNode, joinUrl?: string): void {
    const flags = [
      '-node-id',
      String(node.id),
      '-http-addr',
      node.httpAddr,
      '-raft-addr',
      node.raftAddr,
      ...this.#extraFlags,
      ...(joinUrl ? ['-join', joinUrl, '-join-interval', '250ms', '-join-attempts', '80'] : []),
      node.dataDir,
    ]
    // Started as a user starts it: through the launcher, which sets glibc's hugetlb tunable and execs node,
    // the bench's own (a checkout from before the launcher runs main.js directly).
    const launcher = join(this.#root, 'bin/tqlited')
    const [command, args] = existsSync(launcher)
      ? [launcher, flags]
      : [process.execPath, [join(this.#root, 'dist/cmd/tqlited/main.js'), ...flags]]
    node.process = startProcess(`tqlited node ${node.id}`, command, args, {
      cwd: this.#root,
      logFile: join(this.#dir, `node${node.id}.log`),
      env: { ...(this.env ?? process.env), TQLITED_NODE: process.execPath },
    })
  }

  async start(): Promise<void> {
    for (let id = 1; id <= 3; id++) {
      const httpPort = await freePort()
      const raftPort = await freePort()
      this.nodes.push({
        id,
        httpAddr: `127.0.0.1:${httpPort}`,
        raftAddr: `127.0.0.1:${raftPort}`,
        url: `http://127.0.0.1:${httpPort}`,
        dataDir: join(this.#dir, `node${id}`),
        process: undefined,
      })
    }
    const first = this.nodes[0]!
    this.#spawn(first)
    await waitFor(() => this.#ready(first), 30_000, 'node 1 to be ready')
    for (const node of this.nodes.slice(1)) this.#spawn(node, first.url)
    await this.waitHealthy(60_000)
  }

  async #ready(node: TqNode): Promise<true | undefined> {
    if (!isRunning(node.process)) throw new Error(`node ${node.id} is not running:\n${node.process?.tail}`)
    const r = await http(`${node.url}/readyz`, { timeoutMs: 2000 })
    return r.status === 200 ? true : undefined
  }

  async #status(node: TqNode): Promise<{
    leaderId: number
    voter: boolean
    peers: number
    applied: number
    snapshot: number
  }> {
    const doc = (await httpJson(`${node.url}/status`, undefined, 3000)) as {
      store: {
        leader: { node_id: string }
        raft: { voter: boolean; num_peers: number; applied_index: number; last_snapshot_index: number }
      }
    }
    return {
      leaderId: Number(doc.store.leader.node_id),
      voter: doc.store.raft.voter,
      peers: doc.store.raft.num_peers,
      applied: doc.store.raft.applied_index,
      snapshot: doc.store.raft.last_snapshot_index,
    }
  }

  async waitHealthy(timeoutMs: number): Promise<void> {
    await waitFor(
      async () => {
        let leader: number | undefined
        for (const node of this.nodes) {
          if (!(await this.#ready(node))) return undefined
          const s = await this.#status(node)
          if (!s.leaderId || !s.voter || s.peers !== 2) return undefined
          if (leader !== undefined && leader !== s.leaderId) return undefined
          leader = s.leaderId
        }
        return true
      },
      timeoutMs,
      'a healthy 3-node TQLite cluster',
      100,
    )
  }

  async leader(): Promise<TqNode> {
    return waitFor(
      async () => {
        const ids = new Set<number>()
        for (const node of this.nodes) {
          if (!isRunning(node.process)) continue
          ids.add((await this.#status(node)).leaderId)
        }
        const [id] = [...ids]
        return ids.size === 1 && id ? this.nodes.find((n) => n.id === id) : undefined
      },
      30_000,
      'the TQLite leader',
    )
  }

  async kill(node: ClusterNode): Promise<void> {
    if (node.process) await stopProcess(node.process)
    node.process = undefined
  }

  async restart(node: ClusterNode): Promise<void> {
    this.#spawn(node as TqNode)
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((node) => this.kill(node)))
  }

  async #execute(node: ClusterNode, statements: unknown[], query = '', timeoutMs = 600_000): Promise<void> {
    const r = await http(`${node.url}/db/execute${query}`, {
      method: 'POST',
      body: JSON.stringify(statements),
      timeoutMs,
    })
    if (r.status !== 200 || r.text.includes('"error"'))
      throw new Error(`execute: ${r.status} ${r.text.slice(0, 500)}`)
  }

  async prefill(rows: number): Promise<void> {
    const leader = await this.leader()
    await this.#execute(leader, ['CREATE TABLE IF NOT EXISTS bench (id INTEGER PRIMARY KEY, v TEXT)'])
    for (let done = 0; done < rows; done += 1000) {
      const n = Math.min(1000, rows - done)
      await this.#execute(
        leader,
        Array.from({ length: n }, () => ['INSERT INTO bench(v) VALUES(?)', valueText]),
        '?transaction',
      )
    }
  }

  workloads(prefilledRows: number): WorkloadSpec[] {
    const insertBody = JSON.stringify([['INSERT INTO bench(v) VALUES(?)', valueText]])
    const reads = (level: string): WrkRequest[] =>
      Array.from({ length: 2000 }, () => ({
        method: 'GET',
        path: `/db/query?level=${level}&q=${encodeURIComponent(`SELECT * FROM bench WHERE id=${randomInt(1, prefilledRows)}`)}`,
      }))
    const bulkBody = JSON.stringify(
      Array.from({ length: 1000 }, () => ['INSERT INTO bench(v) VALUES(?)', valueText]),
    )
    return [
      {
        key: 'insert',
        rowsPerRequest: 1,
        requests: [{ method: 'POST', path: '/db/execute', body: insertBody }],
      },
      { key: 'read-none', rowsPerRequest: 0, requests: reads('none') },
      { key: 'read-weak', rowsPerRequest: 0, requests: reads('weak') },
      { key: 'read-linearizable', rowsPerRequest: 0, requests: reads('linearizable') },
      {
        key: 'bulk',
        rowsPerRequest: 1000,
        requests: [{ method: 'POST', path: '/db/execute?transaction', body: bulkBody }],
      },
      {
        key: 'queue',
        rowsPerRequest: 1,
        requests: [{ method: 'POST', path: '/db/execute?queue', body: insertBody }],
      },
    ]
  }

  /**
   * Whether `?queue` is really queued: rqlite answers a queued write at once with a `sequence_number`.
   * Returns undefined when it is, else why not.
   */
  async queueUnsupported(): Promise<string | undefined> {
    const leader = await this.leader()
    const r = await http(`${leader.url}/db/execute?queue`, {
      method: 'POST',
      body: JSON.stringify([['INSERT INTO bench(v) VALUES(?)', valueText]]),
    })
    if (r.status < 200 || r.status > 299) return `POST /db/execute?queue answered ${r.status}`
    if (!r.text.includes('sequence_number'))
      return `POST /db/execute?queue answered ${r.status} without a sequence_number (executed synchronously: ?queue is ignored)`
    return undefined
  }

  async tryWrite(node: ClusterNode, signal: AbortSignal): Promise<boolean> {
    const r = await http(`${node.url}/db/execute`, {
      method: 'POST',
      body: JSON.stringify([['INSERT INTO bench(v) VALUES(?)', 'failover']]),
      signal,
    })
    return r.status === 200 && !r.text.includes('"error"')
  }

  async loadBig(bytes: number, deadline: number): Promise<BigLoad> {
    const leader = await this.leader()
    await this.#execute(leader, ['CREATE TABLE IF NOT EXISTS big (id INTEGER PRIMARY KEY, v BLOB)'])
    // Rows of 1,000 random bytes made by SQLite itself (randomblob is deterministic across replicas in
    // TQLite): one Raft entry per 50,000 rows (~50 MB), so loading costs no HTTP or JSON per row.
    const rowBytes = 1000
    const totalRows = Math.max(1000, Math.round(bytes / rowBytes))
    const perEntry = 50_000
    for (let done = 0; done < totalRows && Date.now() < deadline; done += perEntry) {
      const n = Math.min(perEntry, totalRows - done)
      await this.#execute(leader, [
        `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${n}) INSERT INTO big(v) SELECT randomblob(${rowBytes}) FROM c`,
      ]).catch((error: unknown) => {
        // An unknown outcome (the apply took longer than the server waits) is noted; the count below
        // (a strong read, ordered after every earlier entry) tells what was loaded.
        this.problems.push(`loading the restart data set: ${String(error).slice(0, 300)}`)
      })
    }
    const r = await http(
      `${leader.url}/db/query?level=strong&q=${encodeURIComponent('SELECT COUNT(*), (SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()) FROM big')}`,
      { timeoutMs: 60_000 },
    )
    const values = (JSON.parse(r.text) as { results: { values?: number[][] }[] }).results[0]?.values?.[0]
    if (!values) throw new Error(`count after load: ${r.text.slice(0, 300)}`)
    return { rows: Number(values[0]), bytes: Number(values[1]) }
  }

  /**
   * The restart must restore a snapshot holding the data, not replay the statements that made it. The
   * restart cluster runs with `-raft-snap 64 -raft-snap-int 1h`, so no snapshot is taken while loading
   * (each would copy the whole database again); tiny writes then push every node past 64 entries, and so
   * into exactly one snapshot of the loaded database.
   */
  async settleBig(_load: BigLoad, timeoutMs: number): Promise<void> {
    const leader = await this.leader()
    const target = (await this.#status(leader)).applied
    const deadline = Date.now() + timeoutMs
    await this.#execute(leader, ['CREATE TABLE IF NOT EXISTS tick (id INTEGER PRIMARY KEY)'])
    for (let writes = 0; ; writes += 8) {
      // A node busy snapshotting may not answer /status within its timeout: that counts as not yet.
      const snapshots = await Promise.all(
        this.nodes.map(async (node) =>
          this.#status(node).then(
            (status) => status.snapshot,
            (error: unknown) => {
              this.problems.push(
                `node ${node.id}: /status did not answer while snapshotting (${String(error)})`,
              )
              return -1
            },
          ),
        ),
      )
      if (snapshots.every((index) => index >= target)) return
      if (Date.now() > deadline)
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for a snapshot of the big table on every node`,
        )
      // Each small write may wait out the server's apply timeout: the deadline is checked before each.
      if (writes < 200)
        for (let i = 0; i < 8 && Date.now() < deadline; i++)
          await this.#execute(
            leader,
            ['INSERT INTO tick DEFAULT VALUES'],
            '',
            Math.max(1000, deadline - Date.now()),
          ).catch((error: unknown) => {
            this.problems.push(
              `a small write while the node snapshots the restart data set: ${String(error).slice(0, 300)}`,
            )
          })
      else await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }

  async countBig(node: ClusterNode, load: BigLoad): Promise<boolean> {
    const ready = await http(`${node.url}/readyz`, { timeoutMs: 2000 })
    if (ready.status !== 200) return false
    const r = await http(
      `${node.url}/db/query?level=none&q=${encodeURIComponent('SELECT COUNT(*) FROM big')}`,
      {
        timeoutMs: 30_000,
      },
    )
    if (r.status !== 200) return false
    const values = (JSON.parse(r.text) as { results: { values?: number[][] }[] }).results[0]?.values?.[0]
    return Number(values?.[0]) === load.rows
  }

  rss(): number[] {
    return this.nodes.map((n) => (n.process ? rssBytes(n.process.pid) : 0))
  }
}

// ---------------------------------------------------------------------------------------------------------
// etcd

interface EtcdNode extends ClusterNode {
  readonly name: string
  readonly peerUrl: string
  readonly dataDir: string
  memberId: string
}

const b64 = (text: string) => Buffer.from(text).toString('base64')

export class EtcdCluster implements SystemUnderTest {
  readonly system = 'etcd'
  readonly nodes: EtcdNode[] = []
  readonly problems: string[] = []
  readonly #dir: string
  /** `/v3` (etcd 3.4+) or `/v3beta` (3.3), found at start. */
  gateway = '/v3'

  constructor(dir: string) {
    this.#dir = dir
  }

  #spawn(node: EtcdNode): void {
    const cluster = this.nodes.map((n) => `${n.name}=${n.peerUrl}`).join(',')
    mkdirSync(this.#dir, { recursive: true })
    node.process = startProcess(
      `etcd ${node.name}`,
      'etcd',
      [
        '--name',
        node.name,
        '--data-dir',
        node.dataDir,
        '--listen-client-urls',
        node.url,
        '--advertise-client-urls',
        node.url,
        '--listen-peer-urls',
        node.peerUrl,
        '--initial-advertise-peer-urls',
        node.peerUrl,
        '--initial-cluster',
        cluster,
        '--initial-cluster-state',
        'new',
        '--initial-cluster-token',
        'tqlite-bench',
        // A 1,000-put transaction for the bulk workload, and room for the restart data set.
        '--max-txn-ops',
        '1024',
        '--max-request-bytes',
        String(16 * 1024 * 1024),
        '--quota-backend-bytes',
        String(8 * 1024 * 1024 * 1024),
      ],
      { logFile: join(this.#dir, `${node.name}.log`) },
    )
  }

  async start(): Promise<void> {
    for (let id = 1; id <= 3; id++) {
      const clientPort = await freePort()
      const peerPort = await freePort()
      this.nodes.push({
        id,
        name: `etcd${id}`,
        url: `http://127.0.0.1:${clientPort}`,
        peerUrl: `http://127.0.0.1:${peerPort}`,
        dataDir: join(this.#dir, `etcd${id}`),
        process: undefined,
        memberId: '',
      })
    }
    for (const node of this.nodes) this.#spawn(node)
    await this.waitHealthy(60_000)
    const probe = await http(`${this.nodes[0]!.url}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: b64('probe') }),
    })
    this.gateway = probe.status === 404 ? '/v3beta' : '/v3'
  }

  async #status(node: EtcdNode): Promise<{ leader: string; member: string }> {
    const doc = (await httpJson(`${node.url}${this.gateway}/maintenance/status`, {}, 3000)) as {
      header: { member_id: string }
      leader: string
    }
    node.memberId = doc.header.member_id
    return { leader: doc.leader, member: doc.header.member_id }
  }

  async waitHealthy(timeoutMs: number): Promise<void> {
    await waitFor(
      async () => {
        for (const node of this.nodes) {
          if (!isRunning(node.process)) throw new Error(`${node.name} is not running:\n${node.process?.tail}`)
          const r = await http(`${node.url}/health`, { timeoutMs: 3000 })
          if (r.status !== 200 || !r.text.includes('"true"')) return undefined
        }
        return true
      },
      timeoutMs,
      'a healthy 3-node etcd cluster',
      100,
    )
  }

  async leader(): Promise<EtcdNode> {
    return waitFor(
      async () => {
        const leaders = new Set<string>()
        for (const node of this.nodes) {
          if (!isRunning(node.process)) continue
          leaders.add((await this.#status(node)).leader)
        }
        const [id] = [...leaders]
        return leaders.size === 1 && id && id !== '0' ? this.nodes.find((n) => n.memberId === id) : undefined
      },
      30_000,
      'the etcd leader',
    )
  }

  async kill(node: ClusterNode): Promise<void> {
    if (node.process) await stopProcess(node.process)
    node.process = undefined
  }

  async restart(node: ClusterNode): Promise<void> {
    this.#spawn(node as EtcdNode)
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((node) => this.kill(node)))
  }

  async #txnPut(node: ClusterNode, pairs: readonly [string, string][]): Promise<void> {
    const body = { success: pairs.map(([k, v]) => ({ requestPut: { key: b64(k), value: b64(v) } })) }
    const r = await http(`${node.url}${this.gateway}/kv/txn`, {
      method: 'POST',
      body: JSON.stringify(body),
      timeoutMs: 120_000,
    })
    if (r.status !== 200 || r.text.includes('"error"'))
      throw new Error(`txn: ${r.status} ${r.text.slice(0, 300)}`)
  }

  async prefill(rows: number): Promise<void> {
    const leader = await this.leader()
    for (let done = 0; done < rows; done += 1000) {
      const n = Math.min(1000, rows - done)
      await this.#txnPut(
        leader,
        Array.from({ length: n }, (_, i) => [`pre/${String(done + i + 1).padStart(8, '0')}`, valueText]),
      )
    }
  }

  workloads(prefilledRows: number): WorkloadSpec[] {
    const value = b64(valueText)
    const put = (): WrkRequest => ({
      method: 'POST',
      path: `${this.gateway}/kv/put`,
      body: JSON.stringify({ key: b64(`w/${String(randomInt(0, 99_999_999)).padStart(8, '0')}`), value }),
    })
    const range = (serializable: boolean): WrkRequest[] =>
      Array.from({ length: 2000 }, () => ({
        method: 'POST',
        path: `${this.gateway}/kv/range`,
        body: JSON.stringify({
          key: b64(`pre/${String(randomInt(1, prefilledRows)).padStart(8, '0')}`),
          ...(serializable ? { serializable: true } : {}),
        }),
      }))
    // etcd refuses a transaction that puts one key twice: the keys of a request are distinct.
    const txn = (_: unknown, variant: number): WrkRequest => ({
      method: 'POST',
      path: `${this.gateway}/kv/txn`,
      body: JSON.stringify({
        success: Array.from({ length: 1000 }, (_, i) => ({
          requestPut: { key: b64(`b/${variant}/${String(i).padStart(4, '0')}`), value },
        })),
      }),
    })
    return [
      { key: 'insert', rowsPerRequest: 1, requests: Array.from({ length: 2000 }, put) },
      { key: 'read-serializable', rowsPerRequest: 0, requests: range(true) },
      { key: 'read-linearizable', rowsPerRequest: 0, requests: range(false) },
      { key: 'bulk', rowsPerRequest: 1000, requests: Array.from({ length: 16 }, txn) },
    ]
  }

  async tryWrite(node: ClusterNode, signal: AbortSignal): Promise<boolean> {
    const r = await http(`${node.url}${this.gateway}/kv/put`, {
      method: 'POST',
      body: JSON.stringify({ key: b64('failover'), value: b64(String(Date.now())) }),
      signal,
    })
    return r.status === 200 && !r.text.includes('"error"')
  }

  async loadBig(bytes: number, deadline: number): Promise<BigLoad> {
    const leader = await this.leader()
    // 64 KiB values, 16 per transaction (1 MiB per request).
    const valueBytes = 64 * 1024
    const big = 'y'.repeat(valueBytes)
    const rows = Math.max(16, Math.round(bytes / valueBytes))
    let done = 0
    for (; done < rows && Date.now() < deadline; done += 16) {
      const n = Math.min(16, rows - done)
      await this.#txnPut(
        leader,
        Array.from({ length: n }, (_, i) => [`big/${String(done + i).padStart(8, '0')}`, big]),
      )
    }
    return { rows: Math.min(done, rows), bytes: Math.min(done, rows) * valueBytes }
  }

  async settleBig(): Promise<void> {}

  async countBig(node: ClusterNode, load: BigLoad): Promise<boolean> {
    const r = await http(`${node.url}${this.gateway}/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: b64('big/'), range_end: b64('big0'), count_only: true }),
      timeoutMs: 30_000,
    })
    if (r.status !== 200) return false
    return Number((JSON.parse(r.text) as { count?: string }).count) === load.rows
  }

  rss(): number[] {
    return this.nodes.map((n) => (n.process ? rssBytes(n.process.pid) : 0))
  }
}
