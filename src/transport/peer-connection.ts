import type { Message, NodeId } from '../raft/message.js'
import type { RaftAddress } from './address.js'
import { type BackoffOptions, backoffDelayMs } from './backoff.js'
import { dial } from './dial.js'
import { ProtocolError, describeError } from './errors.js'
import type { FramedSocket } from './framed-socket.js'
import { encodeFrame, encodeFrameHeader } from './frame-codec.js'
import type { Logger } from './logger.js'
import { encodeMessageSegments } from './message-codec.js'
import { PartSource } from './message-parts.js'
import { FrameType } from './protocol.js'
import { SendQueue } from './send-queue.js'
import type { TransportStats } from './stats.js'

/**
 * `connecting`: a dial is in progress; messages queue. `connected`: messages queue and are written as fast
 * as the socket drains. `backoff`: the last attempt failed (or the connection was lost) and a retry is
 * scheduled; messages are dropped at once, since Raft will retransmit and a backlog would only go stale.
 * `closed`: removed from the transport.
 */
export type PeerState = 'connecting' | 'connected' | 'backoff' | 'closed'

export interface PeerConnectionOptions {
  readonly peerId: NodeId
  readonly address: RaftAddress
  readonly localNodeId: NodeId
  readonly clusterId: string
  readonly frameBytesMax: number
  /** Messages whose encoding is longer than this are sent in parts of this size (message-parts.ts). */
  readonly chunkBytes: number
  readonly queueMessagesMax: number
  readonly queueBytesMax: number
  readonly backoff: BackoffOptions
  readonly connectTimeoutMs: number
  readonly writeStallMs: number
  readonly random: () => number
  readonly stats: TransportStats
  readonly logger: Logger
  /** The transport's listen host once known (see `dialLocalAddress`). */
  readonly bindHost?: () => string | undefined
}

/**
 * The one outgoing connection to one peer. It connects at construction and keeps reconnecting, with
 * exponential back-off and jitter, until closed. Messages wait in a bounded drop-oldest queue
 * (`SendQueue`) and are written by a pump that awaits the socket's drain, so a slow peer costs bounded
 * memory. A message larger than `chunkBytes` is written in parts, and small messages queued behind the
 * parts' source may overtake it: heartbeats keep flowing while a big snapshot is in transit (the parts get
 * at least half the bandwidth when both compete).
 */
export class PeerConnection {
  readonly peerId: NodeId
  readonly address: RaftAddress
  readonly #options: PeerConnectionOptions
  readonly #queue: SendQueue<Message>
  readonly #logger: Logger
  #state: PeerState = 'connecting'
  #socket: FramedSocket | undefined
  /** Bumped for every dial, so callbacks of an abandoned socket are recognized and ignored. */
  #generation = 0
  #failures = 0
  #connectedAt = 0
  #retryTimer: NodeJS.Timeout | undefined
  /** A large message taken from the queue whose parts are being written. */
  #stream: PartSource | undefined
  #smallBytesSincePart = 0
  #pumping = false
  #dropping = false

  constructor(options: PeerConnectionOptions) {
    this.peerId = options.peerId
    this.address = options.address
    this.#options = options
    this.#logger = options.logger
    this.#queue = new SendQueue({ messagesMax: options.queueMessagesMax, bytesMax: options.queueBytesMax })
    this.#connect()
  }

  get state(): PeerState {
    return this.#state
  }

  get queuedMessages(): number {
    return this.#queue.length
  }

  get queuedBytes(): number {
    return this.#queue.bytes
  }

  /** Queues `message` (of `bytes` encoded) or drops it; never throws, never blocks. */
  send(message: Message, bytes: number): void {
    const stats = this.#options.stats
    if (this.#state === 'backoff' || this.#state === 'closed') {
      stats.messagesDroppedUnreachable += 1
      return
    }
    const evicted = this.#queue.push(message, bytes)
    if (evicted.length > 0) {
      stats.messagesDroppedQueueFull += evicted.length
      // One warning per episode of overflow, not one per message.
      if (!this.#dropping) {
        this.#dropping = true
        this.#logger.warn('peer send queue full, dropping oldest messages', {
          peerId: this.peerId,
          queuedMessages: this.#queue.length,
          queuedBytes: this.#queue.bytes,
        })
      }
    }
    if (this.#state === 'connected') void this.#pump()
  }

  close(): void {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    this.#generation += 1
    clearTimeout(this.#retryTimer)
    this.#socket?.close()
    this.#socket = undefined
    this.#queue.clear()
    this.#stream = undefined
  }

  #connect(): void {
    this.#state = 'connecting'
    const generation = ++this.#generation
    const options = this.#options
    dial(
      {
        address: this.address,
        localNodeId: options.localNodeId,
        clusterId: options.clusterId,
        expectedNodeId: this.peerId,
        connectTimeoutMs: options.connectTimeoutMs,
        frameBytesMax: options.frameBytesMax,
        stats: options.stats,
        bindHost: options.bindHost?.(),
      },
      {
        onFrame(frame) {
          throw new ProtocolError(`unexpected frame type ${frame.type} on a peer connection`)
        },
        onClose: (error) => this.#onLost(generation, error),
      },
    ).then(
      (socket) => this.#onConnected(generation, socket),
      (error: unknown) => this.#onConnectFailed(generation, error),
    )
  }

  #onConnected(generation: number, socket: FramedSocket): void {
    if (generation !== this.#generation || socket.closed) {
      socket.close()
      return
    }
    this.#socket = socket
    this.#state = 'connected'
    this.#connectedAt = Date.now()
    this.#logger.info('connected to peer', {
      peerId: this.peerId,
      address: this.address,
      failures: this.#failures,
    })
    void this.#pump()
  }

  #onConnectFailed(generation: number, error: unknown): void {
    if (generation !== this.#generation) return
    this.#failures += 1
    // Log the first failure of a series; the rest (a peer that stays down) only at debug.
    const log = this.#failures === 1 ? this.#logger.warn : this.#logger.debug
    log.call(this.#logger, 'cannot connect to peer', {
      peerId: this.peerId,
      address: this.address,
      failures: this.#failures,
      error: describeError(error),
    })
    this.#enterBackoff()
  }

  /** The established connection closed: drop what was pending and reconnect after a short back-off. */
  #onLost(generation: number, error: Error | undefined): void {
    if (generation !== this.#generation) return
    this.#socket = undefined
    if (this.#stream !== undefined) this.#options.stats.messagesDroppedUnreachable += 1
    this.#stream = undefined
    // A connection that did not last as long as the longest back-off counts as one more failure, so a peer
    // that accepts and then drops connections is not redialled in a tight loop.
    const lived = Date.now() - this.#connectedAt
    this.#failures = lived < this.#options.backoff.maxMs ? this.#failures + 1 : 1
    this.#logger.info('lost connection to peer', {
      peerId: this.peerId,
      address: this.address,
      error: error === undefined ? undefined : describeError(error),
    })
    this.#enterBackoff()
  }

  #enterBackoff(): void {
    this.#options.stats.messagesDroppedUnreachable += this.#queue.clear().length
    this.#dropping = false
    this.#state = 'backoff'
    const delayMs = backoffDelayMs(this.#failures, this.#options.backoff, this.#options.random)
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      if (this.#state === 'backoff') this.#connect()
    }, delayMs)
  }

  /** Writes frames until the queue is empty or the socket needs to drain; one pump at a time. */
  async #pump(): Promise<void> {
    if (this.#pumping) return
    this.#pumping = true
    try {
      for (;;) {
        const socket = this.#socket
        if (socket === undefined || socket.closed) return
        const frame = this.#nextFrame()
        if (frame === undefined) {
          this.#dropping = false
          return
        }
        if (!socket.write(...frame) && !(await socket.drained(this.#options.writeStallMs))) {
          this.#logger.warn('peer connection stalled, reconnecting', {
            peerId: this.peerId,
            stallMs: this.#options.writeStallMs,
          })
          socket.close()
          return
        }
      }
    } finally {
      this.#pumping = false
    }
  }

  /**
   * The next frame to write (in pieces): small messages first, in queue order; a part of the current large
   * message when no small message is waiting, when a large one is at the head, or when small messages have
   * had a chunk's worth of bytes since the last part (so neither side starves).
   */
  #nextFrame(): Uint8Array[] | undefined {
    const { chunkBytes } = this.#options
    const head = this.#queue.peek()
    if (
      this.#stream !== undefined &&
      (head === undefined || head.bytes > chunkBytes || this.#smallBytesSincePart >= chunkBytes)
    ) {
      return this.#nextPart(this.#stream)
    }
    if (head === undefined) return undefined
    this.#queue.shift()
    if (head.bytes <= chunkBytes) {
      // `head.bytes` is the message's encoded length (TcpTransport.send).
      const segments = encodeMessageSegments(head.item)
      this.#smallBytesSincePart += head.bytes
      this.#options.stats.messagesSent += 1
      if (segments.length === 1) return [encodeFrame(FrameType.message, segments[0]!)]
      // Large entries' data is referenced, not copied: a gather write of the frame header and the segments.
      return [encodeFrameHeader(FrameType.message, head.bytes), ...segments]
    }
    this.#stream = new PartSource(encodeMessageSegments(head.item))
    return this.#nextPart(this.#stream)
  }

  #nextPart(stream: PartSource): Uint8Array[] {
    const pieces = stream.nextPart(this.#options.chunkBytes)
    this.#smallBytesSincePart = 0
    if (stream.done) {
      this.#stream = undefined
      this.#options.stats.messagesSent += 1
    }
    return pieces
  }
}
