// Real tqlited processes for the fault-injection tests. Node N runs on the loopback alias 127.0.0.(10+N)
// (all of 127/8 is loopback on Linux, no root needed): its HTTP API and its Raft listener bind that alias,
// and it advertises the address of its proxy (proxy.ts), so every Raft message and cluster RPC to N passes
// N's proxy, which knows the caller by its source IP (src/transport/dial.ts binds the listen IP). Processes
// can be killed (-9), terminated, paused (SIGSTOP) and resumed; each node's stderr, and a line for every
// signal the harness sends, go to node<N>.log in the run folder.
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { type WriteStream, createWriteStream, existsSync, readdirSync, statSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, readdir, rm, stat, statfs, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NetworkProxy } from './proxy.js'
import { waitFor } from '../system/harness.js'

const root = new URL('../../', import.meta.url).pathname

export interface ClusterOptions {
  /** 3 or 5 (any count from 1 to 9 works). */
  readonly nodes: number
  /** The run folder (logs, data directories); a fresh one under the temp folder by default. */
  readonly dir?: string
  /** Extra tqlited flags for every node, e.g. `['-raft-snap', '50']`. */
  readonly flags?: readonly string[]
  readonly electionTimeout?: string
  readonly heartbeatTimeout?: string
  /** Start every node under libfaketime with a per-node offset file (see `faketimeLibrary`). */
  readonly faketime?: boolean
  /** Mount a tmpfs of this many bytes on every node's data directory (for disk-full faults). */
  readonly tmpfsBytes?: number
  /** Receives harness events (starts, signals) as lines. */
  readonly log?: (line: string) => void
}

export interface ClusterNode {
  readonly id: number
  readonly host: string
  readonly httpAddr: string
  readonly raftAddr: string
  /** The advertised Raft address: this node's proxy. */
  readonly proxyAddr: string
  readonly dataDir: string
  readonly logPath: string
  readonly endpoint: string
  process: ChildProcess | undefined
  paused: boolean
  /** How many times the process was started. */
  starts: number
}

export interface NodeStatus {
  readonly id: number
  readonly state: string
  readonly term: number
  readonly commit: number
  readonly applied: number
  readonly leaderId: number
  readonly voter: boolean
}

export interface Convergence {
  readonly converged: boolean
  /** Applied index per node id (as last seen). */
  readonly applied: Record<string, number>
  /** Database digest per node id (as last seen). */
  readonly digests: Record<string, string>
  readonly detail: string
}

export function hostOf(id: number): string {
  return `127.0.0.${10 + id}`
}

/** libfaketime's preload library, if installed (Debian: `apt-get install faketime`). */
export function faketimeLibrary(): string | undefined {
  const candidates = [
    '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
    '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
    '/usr/lib/faketime/libfaketime.so.1',
    '/usr/local/lib/faketime/libfaketime.so.1',
  ]
  return candidates.find((path) => existsSync(path))
}

/** Whether a tmpfs can be mounted here (root with CAP_SYS_ADMIN); the reason when not. */
export async function probeTmpfs(): Promise<string | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'tqlite-tmpfs-probe-'))
  try {
    const mounted = await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir])
    if (mounted.code !== 0) return `mount -t tmpfs failed: ${mounted.output.trim() || `exit ${mounted.code}`}`
    await run('umount', [dir])
    return undefined
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function run(command: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.on('error', (error) => resolve({ code: -1, output: String(error) }))
    child.on('close', (code) => resolve({ code: code ?? -1, output }))
  })
}

/**
 * The daemon's command line: the compiled `dist/` when it is at least as new as every file in `src/`
 * (faster to start), else `src/` through tsx, as test/system/harness.ts does. `TQLITE_JEPSEN_DIST=0|1`
 * forces the choice.
 */
export function daemonCommand(): string[] {
  const dist = join(root, 'dist/cmd/tqlited/main.js')
  const forced = process.env.TQLITE_JEPSEN_DIST
  const useDist =
    forced === '1' || (forced !== '0' && existsSync(dist) && newest(join(root, 'src')) <= mtime(dist))
  return useDist ? [dist] : ['--import', 'tsx', join(root, 'src/cmd/tqlited/main.ts')]
}

function mtime(path: string): number {
  return statSync(path).mtimeMs
}

function newest(dir: string): number {
  let latest = 0
  const walk = (path: string): void => {
    const info = statSync(path)
    if (info.isDirectory()) {
      for (const name of readdirSync(path)) walk(join(path, name))
    } else latest = Math.max(latest, info.mtimeMs)
  }
  walk(dir)
  return latest
}

/** A port that is free on `host` now, taken below the ephemeral range (see test/integration/transport). */
export async function freePort(host: string): Promise<number> {
  const ephemeralStart = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
    .then((text) => Number(text.trim().split(/\s+/)[0]))
    .catch(() => 32768)
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * (ephemeralStart - 10_000))
    const server = createServer()
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false))
      server.listen(port, host, () => resolve(true))
    })
    if (!bound) continue
    await new Promise<void>((resolve) => server.close(() => resolve()))
    return port
  }
}

export class JepsenCluster {
  readonly dir: string
  readonly proxy: NetworkProxy
  readonly nodes = new Map<number, ClusterNode>()
  readonly #options: ClusterOptions
  readonly #logs = new Map<number, WriteStream>()
  readonly #log: (line: string) => void
  readonly #command = daemonCommand()
  readonly #tmpfs = new Set<string>()
  readonly #faketime: string | undefined
  /** Members removed on purpose (membership nemesis) and not yet re-added: left out of checks. */
  readonly removed = new Set<number>()

  private constructor(dir: string, options: ClusterOptions) {
    this.dir = dir
    this.#options = options
    this.#log = options.log ?? (() => {})
    this.proxy = new NetworkProxy({ log: (line) => this.#log(`proxy: ${line}`) })
    this.#faketime = options.faketime ? faketimeLibrary() : undefined
    if (options.faketime && !this.#faketime)
      throw new Error('libfaketime is not installed (apt-get install faketime)')
  }

  /** Starts every node (bootstrapped together with -bootstrap-expect) and waits for a leader. */
  static async start(options: ClusterOptions): Promise<JepsenCluster> {
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'tqlite-jepsen-')))
    await mkdir(dir, { recursive: true })
    const cluster = new JepsenCluster(dir, options)
    try {
      await cluster.#boot()
    } catch (error) {
      await cluster.destroy({ keepDir: true })
      throw error
    }
    return cluster
  }

  async #boot(): Promise<void> {
    const ids = Array.from({ length: this.#options.nodes }, (_, i) => i + 1)
    for (const id of ids) {
      const host = hostOf(id)
      this.proxy.registerNode(id, host)
      const httpPort = await freePort(host)
      const raftPort = await freePort(host)
      const raftAddr = `${host}:${raftPort}`
      const proxyAddr = await this.proxy.listen(id, `${host}:0`, raftAddr)
      const dataDir = join(this.dir, `node${id}`)
      await mkdir(dataDir, { recursive: true })
      if (this.#options.tmpfsBytes !== undefined) {
        const mounted = await run('mount', [
          '-t',
          'tmpfs',
          '-o',
          `size=${this.#options.tmpfsBytes}`,
          'tmpfs',
          dataDir,
        ])
        if (mounted.code !== 0)
          throw new Error(`cannot mount a tmpfs on ${dataDir}: ${mounted.output.trim()}`)
        this.#tmpfs.add(dataDir)
      }
      if (this.#faketime) await this.setClockOffset(id, '+0')
      this.nodes.set(id, {
        id,
        host,
        httpAddr: `${host}:${httpPort}`,
        raftAddr,
        proxyAddr,
        dataDir,
        logPath: join(this.dir, `node${id}.log`),
        endpoint: `http://${host}:${httpPort}`,
        process: undefined,
        paused: false,
        starts: 0,
      })
    }
    const everyone = ids.map((id) => this.get(id).proxyAddr).join(',')
    for (const id of ids) this.#spawn(id, ['-bootstrap-expect', String(ids.length), '-join', everyone])
    await this.leader({ timeoutMs: 60_000 })
  }

  get ids(): number[] {
    return [...this.nodes.keys()]
  }

  /** `http://host:port` of every node, dead or alive (clients meet dead nodes as refused connections). */
  get endpoints(): string[] {
    return [...this.nodes.values()].map((node) => node.endpoint)
  }

  get(id: number): ClusterNode {
    const node = this.nodes.get(id)
    if (!node) throw new Error(`no node ${id}`)
    return node
  }

  alive(id: number): boolean {
    const child = this.get(id).process
    return child !== undefined && child.exitCode === null && child.signalCode === null
  }

  /** Running, not paused, and not removed: a node that should answer. */
  serving(id: number): boolean {
    return this.alive(id) && !this.get(id).paused && !this.removed.has(id)
  }

  note(id: number, line: string): void {
    const message = `### harness ${new Date().toISOString()} ${line}`
    this.#stream(id).write(`${message}\n`)
    this.#log(`node ${id}: ${line}`)
  }

  #stream(id: number): WriteStream {
    let stream = this.#logs.get(id)
    if (!stream) {
      stream = createWriteStream(this.get(id).logPath, { flags: 'a' })
      this.#logs.set(id, stream)
    }
    return stream
  }

  #spawn(id: number, bootFlags: readonly string[] = []): void {
    const node = this.get(id)
    if (this.alive(id)) throw new Error(`node ${id} is already running`)
    const args = [
      ...this.#command,
      '-node-id',
      String(id),
      '-http-addr',
      node.httpAddr,
      '-raft-addr',
      node.raftAddr,
      '-raft-adv-addr',
      node.proxyAddr,
      '-raft-election-timeout',
      this.#options.electionTimeout ?? '1s',
      '-raft-heartbeat-timeout',
      this.#options.heartbeatTimeout ?? '500ms',
      '-join-interval',
      '500ms',
      '-join-attempts',
      '60',
      ...(this.#options.flags ?? []),
      ...bootFlags,
      node.dataDir,
    ]
    const env: NodeJS.ProcessEnv = { ...process.env }
    if (this.#faketime) {
      env.LD_PRELOAD = this.#faketime
      env.FAKETIME_TIMESTAMP_FILE = this.#clockFile(id)
      env.FAKETIME_NO_CACHE = '1'
      // Wall-clock skew only, as NTP trouble would cause: monotonic clocks (timers, Raft ticks) never jump.
      env.FAKETIME_DONT_FAKE_MONOTONIC = '1'
    }
    node.starts += 1
    this.note(id, `start #${node.starts}: tqlited ${args.slice(this.#command.length).join(' ')}`)
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] })
    const stream = this.#stream(id)
    child.stderr?.on('data', (chunk: Buffer) => stream.write(chunk))
    child.on('exit', (code, signal) => this.note(id, `exited (code ${code}, signal ${signal})`))
    node.process = child
    node.paused = false
  }

  /** Starts a stopped node again with its data directory as it is. */
  start(id: number): void {
    this.#spawn(id)
  }

  /**
   * Starts `id` with an empty data directory, joining through every other node's proxy (only the leader
   * accepts a join; the others refuse and the next address is tried).
   */
  async startFresh(id: number): Promise<void> {
    if (this.alive(id)) throw new Error(`node ${id} is running`)
    const node = this.get(id)
    for (const name of await readdir(node.dataDir))
      await rm(join(node.dataDir, name), { recursive: true, force: true })
    const others = this.ids.filter((other) => other !== id).map((other) => this.get(other).proxyAddr)
    this.note(id, 'data directory wiped')
    this.#spawn(id, ['-join', others.join(',')])
  }

  /** kill -9: nothing flushed beyond what the node already made durable. Resolves once it exited. */
  async kill(id: number): Promise<void> {
    await this.#signal(id, 'SIGKILL')
  }

  /** SIGTERM: graceful (a leader hands over first). Resolves with the exit code. */
  async terminate(id: number): Promise<number | null> {
    const child = this.get(id).process
    if (this.get(id).paused) this.resume(id)
    await this.#signal(id, 'SIGTERM')
    return child?.exitCode ?? null
  }

  async #signal(id: number, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const node = this.get(id)
    const child = node.process
    if (!child || !this.alive(id)) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    this.note(id, signal)
    child.kill(signal)
    await exited
    node.paused = false
  }

  /** SIGSTOP: the process freezes (sockets stay open, timers stop). */
  pause(id: number): void {
    const node = this.get(id)
    if (!this.alive(id) || node.paused) return
    this.note(id, 'SIGSTOP')
    node.process?.kill('SIGSTOP')
    node.paused = true
  }

  resume(id: number): void {
    const node = this.get(id)
    if (!node.paused) return
    this.note(id, 'SIGCONT')
    node.process?.kill('SIGCONT')
    node.paused = false
  }

  #clockFile(id: number): string {
    return join(this.dir, `node${id}.faketime`)
  }

  /** libfaketime offset for `id` (`+30s`, `-5m`, `+0`); only when started with `faketime`. */
  async setClockOffset(id: number, offset: string): Promise<void> {
    if (!this.#faketime) throw new Error('cluster not started under libfaketime')
    await writeFile(this.#clockFile(id), `${offset}\n`)
  }

  get faketime(): boolean {
    return this.#faketime !== undefined
  }

  get tmpfs(): boolean {
    return this.#tmpfs.size > 0
  }

  /** Resumes paused nodes, heals the network and starts dead nodes (not removed ones). */
  async healAll(): Promise<void> {
    this.proxy.heal()
    for (const id of this.ids) {
      if (this.get(id).paused) this.resume(id)
      if (this.#faketime) await this.setClockOffset(id, '+0')
      if (!this.alive(id) && !this.removed.has(id)) this.start(id)
    }
  }

  async status(id: number, timeoutMs = 2000): Promise<NodeStatus> {
    const doc = (await getJson(this.get(id).endpoint, '/status', timeoutMs)) as {
      store: { leader: { node_id: string }; raft: Record<string, unknown> }
    }
    const raft = doc.store.raft
    return {
      id,
      state: String(raft.state),
      term: Number(raft.term),
      commit: Number(raft.commit_index),
      applied: Number(raft.applied_index),
      leaderId: Number(doc.store.leader.node_id) || 0,
      voter: raft.voter === true,
    }
  }

  /**
   * The leader every consulted node agrees on (and which says it leads), once they agree. `among` limits
   * the nodes consulted (the majority side of a partition); paused, dead and removed nodes are skipped.
   */
  async leader(options: { among?: readonly number[]; timeoutMs?: number } = {}): Promise<number> {
    const among = options.among ?? this.ids
    return waitFor(
      async () => {
        let agreed: number | undefined
        for (const id of among) {
          if (!this.serving(id)) continue
          const status = await this.status(id).catch(() => undefined)
          if (!status || status.leaderId === 0 || !among.includes(status.leaderId)) return undefined
          if (agreed !== undefined && agreed !== status.leaderId) return undefined
          agreed = status.leaderId
        }
        if (agreed === undefined) return undefined
        const own = await this.status(agreed).catch(() => undefined)
        return own?.state === 'Leader' ? agreed : undefined
      },
      options.timeoutMs ?? 30_000,
      `a leader agreed by nodes ${among.join(',')}`,
    )
  }

  /** The current leader, or undefined when none is agreed within `timeoutMs`. */
  async leaderOrUndefined(timeoutMs = 3000): Promise<number | undefined> {
    return this.leader({ timeoutMs }).catch(() => undefined)
  }

  /**
   * A digest of one node's database, read locally (`level=none`): the schema (sqlite_master, sorted) and
   * every table's rows, sorted. Logical content, not file bytes: a `/db/backup` image is not comparable
   * across replicas (the header's change counter counts transactions, and a replica restored from a
   * snapshot has a different page layout and freelist from one that applied the same entries one by one).
   */
  async digest(id: number): Promise<string> {
    const endpoint = this.get(id).endpoint
    const schema = await queryLocal(
      endpoint,
      "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
    )
    const tables = schema.filter((row) => row[0] === 'table').map((row) => String(row[1]))
    const hash = createHash('sha256').update(JSON.stringify(schema))
    for (const table of tables) {
      const rows = await queryLocal(endpoint, `SELECT * FROM "${table.replaceAll('"', '""')}"`)
      const sorted = rows.map((row) => JSON.stringify(row)).sort()
      hash.update(`\n${table}\n${sorted.join('\n')}`)
    }
    return hash.digest('hex').slice(0, 16)
  }

  /**
   * After healing and with no clients writing: waits until every member's applied index is the same
   * before and after reading the digests, and every digest agrees.
   */
  async converge(timeoutMs = 60_000): Promise<Convergence> {
    const deadline = Date.now() + timeoutMs
    let last: Convergence = { converged: false, applied: {}, digests: {}, detail: 'not checked' }
    for (;;) {
      last = await this.#observe()
      if (last.converged || Date.now() > deadline) return last
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }

  async #observe(): Promise<Convergence> {
    const ids = this.ids.filter((id) => !this.removed.has(id))
    const applied: Record<string, number> = {}
    const digests: Record<string, string> = {}
    try {
      const before = await Promise.all(ids.map((id) => this.status(id)))
      for (const status of before) applied[status.id] = status.applied
      for (const id of ids) digests[id] = await this.digest(id)
      const after = await Promise.all(ids.map((id) => this.status(id)))
      const indexes = new Set([...before, ...after].map((s) => s.applied))
      const hashes = new Set(Object.values(digests))
      const converged = indexes.size === 1 && hashes.size === 1
      return {
        converged,
        applied,
        digests,
        detail: converged
          ? `applied index ${[...indexes][0]} and digest ${[...hashes][0]} on nodes ${ids.join(',')}`
          : `applied ${JSON.stringify(applied)} then ${JSON.stringify(Object.fromEntries(after.map((s) => [s.id, s.applied])))}, digests ${JSON.stringify(digests)}`,
      }
    } catch (error) {
      return { converged: false, applied, digests, detail: `a node did not answer: ${String(error)}` }
    }
  }

  async readLog(id: number): Promise<string> {
    return readFile(this.get(id).logPath, 'utf8').catch(() => '')
  }

  /** Kills every node, closes the proxy and log files, unmounts tmpfs; removes the folder unless kept. */
  async destroy(options: { keepDir?: boolean } = {}): Promise<void> {
    for (const id of this.ids) {
      if (this.get(id).paused) this.resume(id)
      await this.kill(id)
    }
    await this.proxy.close()
    await Promise.all(
      [...this.#logs.values()].map((stream) => new Promise<void>((resolve) => stream.end(() => resolve()))),
    )
    this.#logs.clear()
    for (const dir of this.#tmpfs) await run('umount', ['-l', dir])
    this.#tmpfs.clear()
    if (!options.keepDir) await rm(this.dir, { recursive: true, force: true })
  }

  /** Bytes free on `id`'s data directory's file system. */
  async freeBytes(id: number): Promise<number> {
    const info = await statfs(this.get(id).dataDir)
    return info.bavail * info.bsize
  }

  async dataDirBytes(id: number): Promise<number> {
    let total = 0
    const walk = async (path: string): Promise<void> => {
      const info = await stat(path)
      if (info.isDirectory()) for (const name of await readdir(path)) await walk(join(path, name))
      else total += info.size
    }
    await walk(this.get(id).dataDir)
    return total
  }
}

// Polling an API for an event that happens in another process: the system tests' helper.
export { waitFor }

export async function getJson(endpoint: string, path: string, timeoutMs = 5000): Promise<unknown> {
  const response = await fetch(`${endpoint}${path}`, { signal: AbortSignal.timeout(timeoutMs) })
  const text = await response.text()
  if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${text}`)
  return JSON.parse(text) as unknown
}

export interface HttpAnswer {
  readonly status: number
  readonly body: string
}

/** One HTTP request that never throws: a network error or timeout is status 0 with the error as body. */
export async function request(
  url: string,
  init: { method?: string; body?: unknown; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  try {
    const response = await fetch(url, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      ...(init.body === undefined
        ? {}
        : { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(init.timeoutMs ?? 10_000),
    })
    return { status: response.status, body: await response.text() }
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : ''
    return { status: 0, body: `${error instanceof Error ? error.message : String(error)}${cause}` }
  }
}

/** Rows of one query run on the node itself (`level=none`); throws on any error. */
export async function queryLocal(endpoint: string, sql: string): Promise<unknown[][]> {
  const answer = await request(`${endpoint}/db/query?level=none&q=${encodeURIComponent(sql)}`, {
    timeoutMs: 10_000,
  })
  if (answer.status !== 200) throw new Error(`query on ${endpoint}: ${answer.status} ${answer.body}`)
  const parsed = JSON.parse(answer.body) as { results: { error?: string; values?: unknown[][] }[] }
  const result = parsed.results[0]
  if (result?.error) throw new Error(`query on ${endpoint}: ${result.error}`)
  return result?.values ?? []
}
