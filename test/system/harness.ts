// Real tqlited processes on loopback for system tests: free ports chosen at run time, a data directory per
// node under a temp folder, kill -9 and restart, and HTTP helpers that wait on the API rather than sleeping.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = new URL('../../', import.meta.url).pathname

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

export interface NodeProcess {
  readonly id: number
  readonly httpAddr: string
  readonly raftAddr: string
  readonly dataDir: string
  process: ChildProcess | undefined
  log: string
}

export class Cluster {
  readonly nodes = new Map<number, NodeProcess>()
  readonly #dir: string
  readonly #extraFlags: string[]

  private constructor(dir: string, extraFlags: string[]) {
    this.#dir = dir
    this.#extraFlags = extraFlags
  }

  static async create(extraFlags: string[] = []): Promise<Cluster> {
    return new Cluster(await mkdtemp(join(tmpdir(), 'tqlite-system-')), extraFlags)
  }

  async add(id: number, joinAddress?: string, ports?: { http: number; raft: number }): Promise<NodeProcess> {
    const node: NodeProcess = {
      id,
      httpAddr: `127.0.0.1:${ports?.http ?? (await freePort())}`,
      raftAddr: `127.0.0.1:${ports?.raft ?? (await freePort())}`,
      dataDir: join(this.#dir, `node${id}`),
      process: undefined,
      log: '',
    }
    this.nodes.set(id, node)
    this.start(id, joinAddress)
    return node
  }

  start(id: number, joinAddress?: string): void {
    const node = this.get(id)
    const args = [
      '--import',
      'tsx',
      join(root, 'src/cmd/tqlited/main.ts'),
      '-node-id',
      String(id),
      '-http-addr',
      node.httpAddr,
      '-raft-addr',
      node.raftAddr,
      '-raft-election-timeout',
      '1s',
      '-raft-heartbeat-timeout',
      '500ms',
      ...this.#extraFlags,
      ...(joinAddress ? ['-join', joinAddress, '-join-interval', '500ms', '-join-attempts', '40'] : []),
      node.dataDir,
    ]
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] })
    child.stderr?.on('data', (chunk: Buffer) => {
      node.log += chunk.toString()
    })
    node.process = child
  }

  get(id: number): NodeProcess {
    const node = this.nodes.get(id)
    if (!node) throw new Error(`no node ${id}`)
    return node
  }

  /** kill -9: no shutdown, nothing flushed beyond what the node already made durable. */
  async kill(id: number): Promise<void> {
    const child = this.get(id).process
    if (!child || child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
    this.get(id).process = undefined
  }

  /** SIGTERM: a graceful shutdown. */
  async terminate(id: number): Promise<number | null> {
    const child = this.get(id).process
    if (!child || child.exitCode !== null) return child?.exitCode ?? null
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    child.kill('SIGTERM')
    const code = await exited
    this.get(id).process = undefined
    return code
  }

  async stopAll(): Promise<void> {
    for (const id of this.nodes.keys()) await this.kill(id)
  }

  async destroy(): Promise<void> {
    await this.stopAll()
    await rm(this.#dir, { recursive: true, force: true })
  }

  /** The id of the node every live node agrees leads, once they agree. */
  async leader(timeoutMs = 30_000, exclude: number[] = []): Promise<number> {
    return waitFor(
      async () => {
        let agreed: number | undefined
        for (const node of this.nodes.values()) {
          if (!node.process || exclude.includes(node.id)) continue
          const leader = (await getJson(node, '/status?key=store.leader').catch(() => undefined)) as
            | { node_id: string }
            | undefined
          const id = Number(leader?.node_id)
          if (!id || exclude.includes(id)) return undefined
          if (agreed !== undefined && agreed !== id) return undefined
          agreed = id
        }
        return agreed
      },
      timeoutMs,
      'a leader every live node agrees on',
    )
  }
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let delay = 25
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`)
    // Polls the API: the event (an election, a replication) happens in another process.
    await new Promise((resolve) => setTimeout(resolve, delay))
    delay = Math.min(250, delay * 2)
  }
}

export async function getJson(node: NodeProcess, path: string): Promise<unknown> {
  const response = await fetch(`http://${node.httpAddr}${path}`)
  if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`)
  return response.json()
}

export interface Results {
  results: { error?: string; values?: unknown[][]; rows_affected?: number }[]
  error?: string
}

export async function execute(node: NodeProcess, statements: unknown[]): Promise<Results> {
  const response = await fetch(`http://${node.httpAddr}/db/execute`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(statements),
  })
  const text = await response.text()
  if (response.status !== 200) throw new Error(`execute: ${response.status} ${text}`)
  return JSON.parse(text) as Results
}

export async function query(node: NodeProcess, sql: string, level = 'weak'): Promise<Results> {
  const response = await fetch(`http://${node.httpAddr}/db/query?level=${level}&q=${encodeURIComponent(sql)}`)
  const text = await response.text()
  if (response.status !== 200) throw new Error(`query: ${response.status} ${text}`)
  return JSON.parse(text) as Results
}

export async function ready(node: NodeProcess, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => {
      const response = await fetch(`http://${node.httpAddr}/readyz`).catch(() => undefined)
      return response?.status === 200 ? true : undefined
    },
    timeoutMs,
    `node ${node.id} to be ready`,
  )
}
