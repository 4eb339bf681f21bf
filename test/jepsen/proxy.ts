// A fault-injecting TCP proxy for the real-process tests: one listener in front of each node's Raft address,
// and a rule per directed link (source node → destination node) that decides what happens to the bytes
// flowing that way. No root, no iptables: nodes run on loopback aliases (127.0.0.11, .12, ...), advertise
// their proxy's address, and dial from their own alias (src/transport/dial.ts binds the listen IP), so the
// proxy tells from a connection's source IP which node is calling.
//
// A TCP connection carries bytes both ways, so a one-way fault from i to j applies to the i→j half of every
// connection between i and j, whichever side dialled: on a connection i dialled to j that is the
// client→upstream half; on one j dialled to i (through i's proxy), the upstream→client half.
import { type Server, type Socket, connect, createServer } from 'node:net'

/**
 * What a directed link does to the bytes sent over it.
 * - `pass`: forwarded as they come.
 * - `blackhole`: dropped silently; connections stay open and new ones are accepted (then starve). A stream
 *   that lost bytes can never be resumed (the framing would be off), so the connection is reset when the
 *   link heals or as soon as any later byte would be forwarded; TCP would retransmit, we cannot.
 * - `reset`: every connection between the two nodes is reset (RST) at once, and new ones are reset on
 *   accept, both ways round: a reset kills the whole TCP connection, not one direction of it.
 * - `delay`: every chunk is held `ms` (order kept).
 * - `bandwidth`: at most `bytesPerSecond` (order kept; the reader is paused when too much is queued).
 * - `cut`: each connection forwards `afterBytes` more bytes this way, then is reset: torn frames.
 */
export type LinkRule =
  | { readonly kind: 'pass' }
  | { readonly kind: 'blackhole' }
  | { readonly kind: 'reset' }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'bandwidth'; readonly bytesPerSecond: number }
  | { readonly kind: 'cut'; readonly afterBytes: number }

export const pass: LinkRule = { kind: 'pass' }

export interface ProxyStats {
  connectionsAccepted: number
  /** Reset at accept time because the link was in `reset`, or the node behind the proxy was down. */
  connectionsRefused: number
  /** Open connections reset by a rule (`reset`, `cut`, a healed blackhole). */
  connectionsReset: number
  bytesForwarded: number
  bytesDropped: number
}

export interface ProxyOptions {
  /** Receives one line per notable event (rule changes, resets). */
  readonly log?: (line: string) => void
}

/** Node 0 stands for any source address that is not a registered node (a test client, say). */
export const externalNode = 0

const queueHighBytes = 4 * 1024 * 1024
const queueLowBytes = 1024 * 1024

interface Link {
  rule: LinkRule
  /** Bumped at every rule change: a pipe's `cut` budget counts from the rule it was set under. */
  version: number
}

interface Listener {
  readonly node: number
  readonly server: Server
  readonly address: string
}

export class NetworkProxy {
  readonly #nodesByHost = new Map<string, number>()
  readonly #links = new Map<string, Link>()
  readonly #listeners = new Map<number, Listener>()
  readonly #connections = new Set<ProxiedConnection>()
  readonly #log: (line: string) => void
  readonly stats: ProxyStats = {
    connectionsAccepted: 0,
    connectionsRefused: 0,
    connectionsReset: 0,
    bytesForwarded: 0,
    bytesDropped: 0,
  }
  #closed = false

  constructor(options: ProxyOptions = {}) {
    this.#log = options.log ?? (() => {})
  }

  /** Connections from `host` are attributed to `node`. */
  registerNode(node: number, host: string): void {
    this.#nodesByHost.set(host, node)
  }

  /**
   * Listens on `listen` (`host:port`, port 0 for any) in front of `node`, whose real address is `upstream`.
   * Resolves with the bound `host:port`: the address the node advertises.
   */
  async listen(node: number, listen: string, upstream: string): Promise<string> {
    if (this.#listeners.has(node)) throw new Error(`proxy for node ${node} already listening`)
    const { host, port } = splitAddress(listen)
    const target = splitAddress(upstream)
    const server = createServer({ noDelay: true }, (socket) => this.#accept(node, socket, target))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    const bound = server.address()
    if (bound === null || typeof bound !== 'object') throw new Error('proxy listener has no address')
    const address = `${host}:${bound.port}`
    this.#listeners.set(node, { node, server, address })
    return address
  }

  /** The proxy address in front of `node`. */
  address(node: number): string {
    const listener = this.#listeners.get(node)
    if (!listener) throw new Error(`no proxy for node ${node}`)
    return listener.address
  }

  rule(from: number, to: number): LinkRule {
    return this.#links.get(linkKey(from, to))?.rule ?? pass
  }

  /** Sets the rule of the directed link `from → to`, effective for bytes read from now on. */
  set(from: number, to: number, rule: LinkRule): void {
    const key = linkKey(from, to)
    const link = this.#links.get(key) ?? { rule: pass, version: 0 }
    const previous = link.rule
    link.rule = rule
    link.version += 1
    this.#links.set(key, link)
    if (previous.kind !== 'pass' || rule.kind !== 'pass')
      this.#log(`link ${from}->${to}: ${describeRule(rule)}`)
    for (const connection of [...this.#connections]) {
      if (!connection.joins(from, to)) continue
      if (rule.kind === 'reset') connection.reset(`link ${from}->${to} reset`)
      else if (rule.kind !== 'blackhole' && connection.pipe(from, to)?.gapped)
        connection.reset(`link ${from}->${to} healed after dropping bytes`)
    }
  }

  /** Sets both directions between `a` and `b`. */
  setBoth(a: number, b: number, rule: LinkRule): void {
    this.set(a, b, rule)
    this.set(b, a, rule)
  }

  /** Every link back to `pass` (connections that lost bytes are reset). */
  heal(): void {
    for (const key of [...this.#links.keys()]) {
      const [from, to] = key.split('>').map(Number) as [number, number]
      if (this.#links.get(key)?.rule.kind !== 'pass') this.set(from, to, pass)
    }
  }

  /** Resets every open connection to or from `node` (as a crash of its host would). */
  resetNode(node: number): void {
    for (const connection of [...this.#connections]) {
      if (connection.source === node || connection.destination === node)
        connection.reset(`node ${node} reset`)
    }
  }

  /** Links whose rule is not `pass`, as `from->to: rule`. */
  describe(): string[] {
    const lines: string[] = []
    for (const [key, link] of this.#links) {
      if (link.rule.kind !== 'pass') lines.push(`${key.replace('>', '->')}: ${describeRule(link.rule)}`)
    }
    return lines.sort()
  }

  get openConnections(): number {
    return this.#connections.size
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const connection of [...this.#connections]) connection.destroy()
    await Promise.all(
      [...this.#listeners.values()].map(
        (listener) => new Promise<void>((resolve) => listener.server.close(() => resolve())),
      ),
    )
    this.#listeners.clear()
  }

  /** @internal */
  link(from: number, to: number): Link {
    const key = linkKey(from, to)
    let link = this.#links.get(key)
    if (!link) {
      link = { rule: pass, version: 0 }
      this.#links.set(key, link)
    }
    return link
  }

  /** @internal */
  forget(connection: ProxiedConnection): void {
    this.#connections.delete(connection)
  }

  /** @internal */
  note(line: string): void {
    this.#log(line)
  }

  #accept(destination: number, client: Socket, upstream: { host: string; port: number }): void {
    client.on('error', () => {})
    if (this.#closed) {
      client.destroy()
      return
    }
    const remote = (client.remoteAddress ?? '').replace(/^::ffff:/, '')
    const source = this.#nodesByHost.get(remote) ?? externalNode
    if (this.rule(source, destination).kind === 'reset' || this.rule(destination, source).kind === 'reset') {
      this.stats.connectionsRefused += 1
      client.resetAndDestroy()
      return
    }
    this.stats.connectionsAccepted += 1
    const server = connect({ host: upstream.host, port: upstream.port, noDelay: true })
    const connection = new ProxiedConnection(this, source, destination, client, server)
    this.#connections.add(connection)
    server.once('error', () => {
      if (!connection.upstreamConnected) {
        // Nothing listens behind the proxy (the node is down): the caller sees a reset, as if refused.
        this.stats.connectionsRefused += 1
        connection.reset(undefined)
      }
    })
  }
}

/** One direction of a proxied connection: reads `reader`, writes `writer`, applying the link's rule. */
class Pipe {
  readonly #queue: { due: number; chunk: Buffer }[] = []
  #queuedBytes = 0
  #timer: NodeJS.Timeout | undefined
  /** When the bandwidth-limited link is next free to send. */
  #nextFree = 0
  #cutVersion = -1
  #cutSent = 0
  #writerBlocked = false
  /** Actions (a `cut`'s reset) waiting for the queue to drain. */
  readonly #afterDrain: (() => void)[] = []
  /** Bytes were dropped: nothing may be forwarded on this stream any more. */
  gapped = false

  constructor(
    readonly proxy: NetworkProxy,
    readonly connection: ProxiedConnection,
    readonly from: number,
    readonly to: number,
    readonly reader: Socket,
    readonly writer: Socket,
  ) {
    reader.on('data', (chunk: Buffer) => this.#onData(chunk))
    writer.on('drain', () => {
      this.#writerBlocked = false
      this.#maybeResume()
    })
  }

  #onData(chunk: Buffer): void {
    if (this.connection.closed) return
    const link = this.proxy.link(this.from, this.to)
    const rule = link.rule
    if (rule.kind === 'reset') {
      this.connection.reset(`link ${this.from}->${this.to} reset`)
      return
    }
    if (rule.kind === 'blackhole') {
      this.gapped = true
      this.proxy.stats.bytesDropped += chunk.length
      return
    }
    if (this.gapped) {
      this.connection.reset(`link ${this.from}->${this.to} healed after dropping bytes`)
      return
    }
    const now = Date.now()
    if (rule.kind === 'cut') {
      if (this.#cutVersion !== link.version) {
        this.#cutVersion = link.version
        this.#cutSent = 0
      }
      const remaining = rule.afterBytes - this.#cutSent
      if (chunk.length < remaining) {
        this.#cutSent += chunk.length
        this.#enqueue(now, chunk)
        return
      }
      this.#cutSent = rule.afterBytes
      if (remaining > 0) this.#enqueue(now, chunk.subarray(0, remaining))
      this.#afterFlush(() => this.connection.reset(`link ${this.from}->${this.to} cut`))
      return
    }
    if (rule.kind === 'delay') {
      const last = this.#queue.at(-1)?.due ?? 0
      this.#enqueue(Math.max(now + rule.ms, last), chunk)
      return
    }
    if (rule.kind === 'bandwidth') {
      // Slices of about 1/20 s, so the rate is smooth rather than one burst per chunk.
      const slice = Math.max(1, Math.floor(rule.bytesPerSecond / 20))
      for (let offset = 0; offset < chunk.length; offset += slice) {
        const part = chunk.subarray(offset, offset + slice)
        this.#nextFree = Math.max(now, this.#nextFree) + (part.length * 1000) / rule.bytesPerSecond
        this.#enqueue(this.#nextFree, part)
      }
      return
    }
    this.#enqueue(now, chunk)
  }

  /** Queues `chunk` to be written at `due` (never before anything queued earlier). */
  #enqueue(due: number, chunk: Buffer): void {
    if (this.#queue.length === 0 && due <= Date.now() && !this.#writerBlocked) {
      this.#write(chunk)
      return
    }
    this.#queue.push({ due, chunk })
    this.#queuedBytes += chunk.length
    if (this.#queuedBytes > queueHighBytes) this.reader.pause()
    this.#schedule()
  }

  #write(chunk: Buffer): void {
    this.proxy.stats.bytesForwarded += chunk.length
    if (!this.writer.write(chunk)) {
      this.#writerBlocked = true
      this.reader.pause()
    }
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#writerBlocked) return
    const head = this.#queue[0]
    if (!head) return
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined
        this.#flushDue()
      },
      Math.max(0, head.due - Date.now()),
    )
  }

  #flushDue(): void {
    if (this.connection.closed) return
    const now = Date.now()
    while (this.#queue.length > 0 && this.#queue[0]!.due <= now && !this.#writerBlocked) {
      const { chunk } = this.#queue.shift()!
      this.#queuedBytes -= chunk.length
      this.#write(chunk)
    }
    this.#maybeResume()
    this.#schedule()
    if (this.#queue.length === 0) this.#drained()
  }

  #maybeResume(): void {
    if (this.#writerBlocked || this.#queuedBytes > queueLowBytes || this.connection.closed) return
    this.reader.resume()
    this.#schedule()
  }

  #afterFlush(action: () => void): void {
    if (this.#queue.length === 0) {
      // The write went to the socket (perhaps only its buffer): end it so those bytes leave first.
      this.writer.write(Buffer.alloc(0), () => action())
      return
    }
    this.#afterDrain.push(action)
  }

  #drained(): void {
    const actions = this.#afterDrain.splice(0)
    for (const action of actions) this.writer.write(Buffer.alloc(0), () => action())
  }

  stop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#queue.length = 0
    this.#afterDrain.length = 0
  }
}

class ProxiedConnection {
  readonly #pipes: [Pipe, Pipe]
  upstreamConnected = false
  closed = false

  constructor(
    readonly proxy: NetworkProxy,
    readonly source: number,
    readonly destination: number,
    readonly client: Socket,
    readonly server: Socket,
  ) {
    server.once('connect', () => {
      this.upstreamConnected = true
    })
    this.#pipes = [
      new Pipe(proxy, this, source, destination, client, server),
      new Pipe(proxy, this, destination, source, server, client),
    ]
    // A clean close on one side is passed on as a clean close on the other.
    client.on('end', () => server.end())
    server.on('end', () => client.end())
    client.on('close', () => this.destroy())
    server.on('close', () => this.destroy())
  }

  joins(a: number, b: number): boolean {
    return (this.source === a && this.destination === b) || (this.source === b && this.destination === a)
  }

  pipe(from: number, to: number): Pipe | undefined {
    return this.#pipes.find((p) => p.from === from && p.to === to)
  }

  /** Both sockets reset (RST), so both nodes see the connection fail at once. */
  reset(reason: string | undefined): void {
    if (this.closed) return
    if (reason !== undefined) {
      this.proxy.stats.connectionsReset += 1
      this.proxy.note(`reset connection ${this.source}->${this.destination}: ${reason}`)
    }
    this.#close((socket) => {
      if (
        socket.readyState === 'open' ||
        socket.readyState === 'readOnly' ||
        socket.readyState === 'writeOnly'
      )
        socket.resetAndDestroy()
      else socket.destroy()
    })
  }

  destroy(): void {
    this.#close((socket) => socket.destroy())
  }

  #close(how: (socket: Socket) => void): void {
    if (this.closed) return
    this.closed = true
    for (const pipe of this.#pipes) pipe.stop()
    for (const socket of [this.client, this.server]) {
      socket.on('error', () => {})
      how(socket)
    }
    this.proxy.forget(this)
  }
}

function linkKey(from: number, to: number): string {
  return `${from}>${to}`
}

export function describeRule(rule: LinkRule): string {
  switch (rule.kind) {
    case 'delay':
      return `delay ${rule.ms}ms`
    case 'bandwidth':
      return `bandwidth ${rule.bytesPerSecond}B/s`
    case 'cut':
      return `cut after ${rule.afterBytes}B`
    default:
      return rule.kind
  }
}

export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':')
  if (colon <= 0) throw new Error(`expected host:port, got ${address}`)
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(address.slice(colon + 1)) }
}
