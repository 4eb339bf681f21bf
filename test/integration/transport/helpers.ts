// Shared helpers for the transport integration tests: transports on loopback port 0, an inbox whose
// deliveries can be awaited, and a logger that records lines and lets a test await one.
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { HeartbeatMessage, Message, NodeId } from '../../../src/raft/message.js'
import type { Logger } from '../../../src/transport/logger.js'
import { TcpTransport, type TcpTransportOptions } from '../../../src/transport/tcp-transport.js'

/** Collects delivered messages; `waitFor` resolves once a predicate over everything received holds. */
export class Inbox {
  readonly messages: Message[] = []
  #waiters: { readonly done: () => boolean; readonly resolve: () => void }[] = []

  push(message: Message): void {
    this.messages.push(message)
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.done()) return true
      waiter.resolve()
      return false
    })
  }

  waitFor(done: (messages: readonly Message[]) => boolean): Promise<void> {
    if (done(this.messages)) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push({ done: () => done(this.messages), resolve }))
  }

  waitForCount(count: number): Promise<void> {
    return this.waitFor((messages) => messages.length >= count)
  }
}

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error'
  readonly message: string
  readonly fields: Record<string, unknown>
}

/** A logger that keeps every line; `waitFor(message)` resolves with the first line with that message. */
export class RecordingLogger implements Logger {
  readonly lines: LogLine[] = []
  #waiters: { readonly message: string; readonly resolve: (line: LogLine) => void }[] = []

  debug(message: string, fields: Record<string, unknown> = {}): void {
    this.#record({ level: 'debug', message, fields })
  }
  info(message: string, fields: Record<string, unknown> = {}): void {
    this.#record({ level: 'info', message, fields })
  }
  warn(message: string, fields: Record<string, unknown> = {}): void {
    this.#record({ level: 'warn', message, fields })
  }
  error(message: string, fields: Record<string, unknown> = {}): void {
    this.#record({ level: 'error', message, fields })
  }

  waitFor(message: string): Promise<LogLine> {
    const found = this.lines.find((line) => line.message === message)
    if (found !== undefined) return Promise.resolve(found)
    return new Promise((resolve) => this.#waiters.push({ message, resolve }))
  }

  #record(line: LogLine): void {
    this.lines.push(line)
    this.#waiters = this.#waiters.filter((waiter) => {
      if (waiter.message !== line.message) return true
      waiter.resolve(line)
      return false
    })
  }
}

export interface TestNode {
  readonly transport: TcpTransport
  readonly inbox: Inbox
  readonly logger: RecordingLogger
  readonly address: string
}

/** Fast back-off so reconnect tests stay short. */
export const testBackoff = { initialMs: 10, maxMs: 100 }

export async function startNode(
  nodeId: NodeId,
  options: Partial<TcpTransportOptions> & { readonly address?: string } = {},
): Promise<TestNode> {
  const logger = new RecordingLogger()
  const transport = new TcpTransport({
    nodeId,
    clusterId: 'test-cluster',
    backoff: testBackoff,
    logger,
    ...options,
  })
  const inbox = new Inbox()
  transport.onMessage((message) => inbox.push(message))
  const address = await transport.listen(options.address ?? '127.0.0.1:0')
  return { transport, inbox, logger, address }
}

/** Connects every node to every other as peers. */
export function meshPeers(nodes: readonly TestNode[]): void {
  for (const node of nodes) {
    for (const other of nodes) {
      if (other !== node) node.transport.setPeer(other.transport.nodeId, other.address)
    }
  }
}

export function heartbeat(from: NodeId, to: NodeId, readRound: number): HeartbeatMessage {
  return { type: 'heartbeat', from, to, term: 1, commit: 0, readRound }
}

/**
 * A port that was free a moment ago, for a node that starts (or restarts) later. It is taken from below the
 * kernel's ephemeral range: a port from that range can meanwhile become the source port of some outgoing
 * connection, even of a redial to this very port (a TCP self-connect), and the later listen would fail.
 */
export async function freePort(): Promise<number> {
  const ephemeralStart = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
    .then((text) => Number(text.trim().split(/\s+/)[0]))
    .catch(() => 32768)
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * (ephemeralStart - 10_000))
    const server = createServer()
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false))
      server.listen(port, '127.0.0.1', () => resolve(true))
    })
    if (!bound) continue
    await new Promise<void>((resolve) => server.close(() => resolve()))
    return port
  }
}

/**
 * Sends `make()` every `everyMs` until `delivered` settles: how Raft behaves towards an unreachable peer
 * (it retransmits on its own schedule). The test awaits the delivery, not a duration.
 */
export async function retransmitUntil(
  sender: TcpTransport,
  make: () => Message,
  delivered: Promise<void>,
  everyMs = 10,
): Promise<void> {
  sender.send(make())
  const timer = setInterval(() => sender.send(make()), everyMs)
  try {
    await delivered
  } finally {
    clearInterval(timer)
  }
}
