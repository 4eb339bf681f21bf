import { type Server, type Socket, createServer } from 'node:net'
import type { Message, NodeId } from '../raft/message.js'
import { AssertionError, assert } from '../util/assert.js'
import { type HostPort, type RaftAddress, formatAddress, parseAddress } from './address.js'
import { type BackoffOptions, defaultBackoff } from './backoff.js'
import { TransportClosedError, describeError, rpcUnknownMethodCode } from './errors.js'
import { frameLengthLimit } from './frame-codec.js'
import { keepAliveInitialDelayMs } from './framed-socket.js'
import { InboundConnection, type RpcCaller } from './inbound-connection.js'
import { type Logger, silentLogger } from './logger.js'
import { encodedMessageBytes, validateMessage } from './message-codec.js'
import { partHeaderBytes } from './message-parts.js'
import { PeerConnection, type PeerState } from './peer-connection.js'
import type { RpcRequest, RpcResponse } from './protocol.js'
import { RpcClient } from './rpc-client.js'
import { type TransportStats, emptyStats } from './stats.js'

const mebibyte = 1024 * 1024

export interface TcpTransportOptions {
  /** This node's id: sent in every handshake, and the `from` of every message it sends. */
  readonly nodeId: NodeId
  /** Connections between different clusters are refused at the handshake. */
  readonly clusterId: string
  readonly logger?: Logger
  /** Largest frame payload accepted or sent (RPC bodies, message parts, small messages). Default 16 MiB. */
  readonly frameBytesMax?: number
  /** Messages whose encoding is longer are sent in parts of this size. Default 1 MiB. */
  readonly chunkBytes?: number
  /** Largest encoded message (a snapshot, in practice) sent or reassembled. Default 1 GiB. */
  readonly messageBytesMax?: number
  /** Per-peer send queue bounds, drop-oldest beyond them. Defaults 4096 messages, 64 MiB. */
  readonly queueMessagesMax?: number
  readonly queueBytesMax?: number
  /** Reconnect back-off. Default 50 ms doubling to 2 s, with jitter. */
  readonly backoff?: BackoffOptions
  /** Time allowed for TCP connect plus handshake. Default 3 s. */
  readonly connectTimeoutMs?: number
  /** An inbound connection that sends no handshake within this is closed. Default 5 s. */
  readonly handshakeTimeoutMs?: number
  /** A peer connection whose writes make no progress for this long is dropped and redialled. Default 15 s. */
  readonly writeStallMs?: number
  /** Idle RPC connections close after this. Default 30 s. */
  readonly rpcIdleMs?: number
  /** Uniform numbers in [0, 1) for back-off jitter. Default `Math.random`. */
  readonly random?: () => number
}

/** Handles one RPC method. The resolved bytes are the response body; a rejection becomes `RpcRemoteError`. */
export type RpcHandler = (body: Uint8Array, from: RpcCaller) => Promise<Uint8Array>

export interface PeerStatus {
  readonly id: NodeId
  readonly address: RaftAddress
  readonly state: PeerState
  readonly queuedMessages: number
  readonly queuedBytes: number
}

type ResolvedOptions = Required<Omit<TcpTransportOptions, 'logger'>>

/**
 * Node-to-node communication over TCP: one listener per node (on its Raft address) that carries Raft
 * messages and the cluster RPCs, and one outgoing connection per peer. See `DESIGN.md` for the protocol.
 *
 * Contract for the driver: `send` never blocks and never throws for network trouble. A message to an
 * unknown or unreachable peer, or one evicted from a full queue, is dropped and counted (`stats()`); Raft
 * retransmits. Messages to one peer arrive in the order sent, except that a message larger than
 * `chunkBytes` travels in parts and smaller messages sent after it may arrive first. Received messages are
 * validated (message-codec.ts) before `onMessage` sees them.
 */
export class TcpTransport {
  readonly nodeId: NodeId
  readonly #options: ResolvedOptions
  readonly #logger: Logger
  readonly #stats: TransportStats = emptyStats()
  readonly #peers = new Map<NodeId, PeerConnection>()
  readonly #inbound = new Set<InboundConnection>()
  readonly #rpcHandlers = new Map<string, RpcHandler>()
  readonly #rpcClient: RpcClient
  #messageHandler: ((message: Message) => void) | undefined
  #server: Server | undefined
  #listenAddress: RaftAddress | undefined
  /** The host given to `listen`: outgoing connections bind to it when it is a specific IP (dial.ts). */
  #bindHost: string | undefined
  #closed = false

  constructor(options: TcpTransportOptions) {
    assert(Number.isSafeInteger(options.nodeId) && options.nodeId >= 1, `invalid node id ${options.nodeId}`)
    this.nodeId = options.nodeId
    this.#logger = options.logger ?? silentLogger
    this.#options = {
      nodeId: options.nodeId,
      clusterId: options.clusterId,
      frameBytesMax: options.frameBytesMax ?? 16 * mebibyte,
      chunkBytes: options.chunkBytes ?? mebibyte,
      messageBytesMax: options.messageBytesMax ?? 1024 * mebibyte,
      queueMessagesMax: options.queueMessagesMax ?? 4096,
      queueBytesMax: options.queueBytesMax ?? 64 * mebibyte,
      backoff: options.backoff ?? defaultBackoff,
      connectTimeoutMs: options.connectTimeoutMs ?? 3000,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
      writeStallMs: options.writeStallMs ?? 15_000,
      rpcIdleMs: options.rpcIdleMs ?? 30_000,
      random: options.random ?? Math.random,
    }
    const { frameBytesMax, chunkBytes } = this.#options
    assert(frameBytesMax <= frameLengthLimit, `frameBytesMax ${frameBytesMax} exceeds the u32 frame length`)
    assert(chunkBytes >= 1, `chunkBytes ${chunkBytes} must be positive`)
    assert(
      chunkBytes + partHeaderBytes <= frameBytesMax,
      `chunkBytes ${chunkBytes} plus the part header must fit in frameBytesMax ${frameBytesMax}`,
    )
    this.#rpcClient = new RpcClient({
      localNodeId: this.nodeId,
      clusterId: options.clusterId,
      frameBytesMax,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      idleMs: this.#options.rpcIdleMs,
      stats: this.#stats,
      logger: this.#logger,
      bindHost: () => this.#bindHost,
    })
  }

  /** The bound address (with the real port when listening on port 0), once `listen` resolved. */
  get listenAddress(): RaftAddress | undefined {
    return this.#listenAddress
  }

  /**
   * Starts the listener. Resolves with the bound address; rejects with the socket error (EADDRINUSE, ...) or
   * `InvalidAddressError`. Call once.
   */
  listen(address: RaftAddress): Promise<RaftAddress> {
    assert(this.#server === undefined, 'listen called twice')
    if (this.#closed) return Promise.reject(new TransportClosedError())
    let hostPort: HostPort
    try {
      hostPort = parseAddress(address)
    } catch (error) {
      return Promise.reject(error)
    }
    const server = createServer({
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: keepAliveInitialDelayMs,
    })
    this.#server = server
    server.on('connection', (socket) => this.#accept(socket))
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host: hostPort.host, port: hostPort.port }, () => {
        server.off('error', reject)
        if (this.#closed) {
          // close() ran while the listener was starting.
          server.close()
          reject(new TransportClosedError())
          return
        }
        server.on('error', (error) => this.#logger.error('listener error', { error: describeError(error) }))
        const bound = server.address()
        assert(bound !== null && typeof bound === 'object', 'a TCP server has an address object')
        this.#listenAddress = formatAddress({ host: bound.address, port: bound.port })
        this.#bindHost = hostPort.host
        this.#logger.info('listening', { address: this.#listenAddress, nodeId: this.nodeId })
        resolve(this.#listenAddress)
      })
    })
  }

  /** Stops listening, closes every connection and fails RPCs in flight. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const peer of this.#peers.values()) peer.close()
    this.#peers.clear()
    this.#rpcClient.close()
    for (const connection of this.#inbound) connection.close()
    this.#inbound.clear()
    const server = this.#server
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()))
    this.#logger.info('transport closed', { nodeId: this.nodeId })
  }

  /**
   * Adds a peer, or moves it to a new address (dropping what was queued for the old one). Connects at once.
   * Throws `InvalidAddressError` for a malformed address (a configuration error, not network trouble).
   */
  setPeer(id: NodeId, address: RaftAddress): void {
    assert(Number.isSafeInteger(id) && id >= 1, `invalid peer id ${id}`)
    assert(id !== this.nodeId, `node ${id} cannot be its own peer`)
    parseAddress(address)
    if (this.#closed) return
    const existing = this.#peers.get(id)
    if (existing?.address === address) return
    existing?.close()
    const o = this.#options
    this.#peers.set(
      id,
      new PeerConnection({
        peerId: id,
        address,
        localNodeId: this.nodeId,
        clusterId: o.clusterId,
        frameBytesMax: o.frameBytesMax,
        chunkBytes: o.chunkBytes,
        queueMessagesMax: o.queueMessagesMax,
        queueBytesMax: o.queueBytesMax,
        backoff: o.backoff,
        connectTimeoutMs: o.connectTimeoutMs,
        writeStallMs: o.writeStallMs,
        random: o.random,
        stats: this.#stats,
        logger: this.#logger,
        bindHost: () => this.#bindHost,
      }),
    )
  }

  /** Forgets a peer: closes its connection and drops its queue. */
  removePeer(id: NodeId): void {
    this.#peers.get(id)?.close()
    this.#peers.delete(id)
  }

  /**
   * Sends a Raft message to `message.to`. Non-blocking; drops (and counts) instead of failing. Throws only
   * `AssertionError` for a message that is invalid or not from this node: a bug in the caller.
   */
  send(message: Message): void {
    const invalid = validateMessage(message)
    assert(invalid === undefined, `sending an invalid ${message.type} message: ${invalid}`)
    assert(message.from === this.nodeId, `sending a message from ${message.from} on node ${this.nodeId}`)
    const peer = this.#peers.get(message.to)
    if (peer === undefined) {
      this.#stats.messagesDroppedUnknownPeer += 1
      this.#logger.debug('dropped message to unknown peer', { to: message.to, type: message.type })
      return
    }
    const bytes = encodedMessageBytes(message)
    if (bytes > this.#options.messageBytesMax) {
      this.#stats.messagesDroppedTooLarge += 1
      this.#logger.error('dropped message larger than messageBytesMax', {
        to: message.to,
        type: message.type,
        bytes,
        messageBytesMax: this.#options.messageBytesMax,
      })
      return
    }
    peer.send(message, bytes)
  }

  /** Installs the receiver of inbound Raft messages (replacing any previous one). Its exceptions propagate. */
  onMessage(handler: (message: Message) => void): void {
    this.#messageHandler = handler
  }

  /** Registers the handler of an RPC method; one handler per method. */
  handleRpc(method: string, handler: RpcHandler): void {
    assert(!this.#rpcHandlers.has(method), `rpc method ${method} already has a handler`)
    this.#rpcHandlers.set(method, handler)
  }

  /**
   * Calls `method` on the node listening at `address`. Rejects with `RpcTimeoutError` (outcome unknown),
   * `RpcConnectError` (see `mayHaveBeenDelivered`), `RpcRemoteError` (the handler failed),
   * `FrameTooLargeError` (body too large, not sent), `InvalidAddressError` or `TransportClosedError`.
   */
  rpc(
    address: RaftAddress,
    method: string,
    body: Uint8Array,
    options: { readonly timeoutMs: number },
  ): Promise<Uint8Array> {
    return this.#rpcClient.call(address, method, body, options.timeoutMs)
  }

  /** A copy of the counters. */
  stats(): TransportStats {
    return { ...this.#stats }
  }

  resetStats(): void {
    Object.assign(this.#stats, emptyStats())
  }

  peers(): PeerStatus[] {
    return [...this.#peers.values()].map((peer) => ({
      id: peer.peerId,
      address: peer.address,
      state: peer.state,
      queuedMessages: peer.queuedMessages,
      queuedBytes: peer.queuedBytes,
    }))
  }

  #accept(socket: Socket): void {
    if (this.#closed) {
      socket.destroy()
      return
    }
    const o = this.#options
    const connection = new InboundConnection(socket, {
      localNodeId: this.nodeId,
      clusterId: o.clusterId,
      frameBytesMax: o.frameBytesMax,
      messageBytesMax: o.messageBytesMax,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      stats: this.#stats,
      logger: this.#logger,
      deliver: (message) => this.#deliver(message),
      serveRpc: (request, caller) => this.#serveRpc(request, caller),
      onClosed: (closed) => this.#inbound.delete(closed),
    })
    this.#inbound.add(connection)
  }

  #deliver(message: Message): void {
    const handler = this.#messageHandler
    if (message.to !== this.nodeId || handler === undefined) {
      this.#stats.messagesDroppedOnReceive += 1
      this.#logger.warn('dropped inbound message', {
        reason: handler === undefined ? 'no handler' : `addressed to node ${message.to}`,
        from: message.from,
        type: message.type,
      })
      return
    }
    this.#stats.messagesReceived += 1
    handler(message)
  }

  async #serveRpc(request: RpcRequest, caller: RpcCaller): Promise<RpcResponse> {
    this.#stats.rpcRequestsServed += 1
    const { requestId, method } = request
    const handler = this.#rpcHandlers.get(method)
    if (handler === undefined) {
      return {
        requestId,
        ok: false,
        code: rpcUnknownMethodCode,
        message: `no handler for rpc method ${method}`,
      }
    }
    let body: Uint8Array
    try {
      body = await handler(request.body, caller)
    } catch (error) {
      // A broken invariant in a handler is a bug: let it crash the process rather than answer it.
      if (error instanceof AssertionError) throw error
      this.#logger.debug('rpc handler failed', { method, from: caller.nodeId, error: describeError(error) })
      return { requestId, ok: false, code: errorCode(error), message: errorMessage(error) }
    }
    // 5 bytes of response header: request id and status.
    if (body.byteLength + 5 > this.#options.frameBytesMax) {
      this.#logger.error('rpc response too large', { method, bytes: body.byteLength })
      return {
        requestId,
        ok: false,
        code: 'TQ_ERR_TRANSPORT_FRAME_TOO_LARGE',
        message: `response of ${body.byteLength} bytes exceeds the frame limit of ${this.#options.frameBytesMax}`,
      }
    }
    return { requestId, ok: true, body }
  }
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code
  }
  return ''
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
