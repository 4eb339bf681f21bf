import type { Socket } from 'node:net'
import type { Message, NodeId } from '../raft/message.js'
import { ProtocolError, TransportError, describeError } from './errors.js'
import { FramedSocket } from './framed-socket.js'
import type { Frame } from './frame-codec.js'
import type { Logger } from './logger.js'
import { decodeMessage } from './message-codec.js'
import { MessageAssembler } from './message-parts.js'
import {
  FrameType,
  type RpcRequest,
  type RpcResponse,
  decodeHandshake,
  decodeRpcRequest,
  encodeHandshakeAccept,
  encodeHandshakeReject,
  encodeRpcResponse,
  protocolVersion,
} from './protocol.js'
import type { TransportStats } from './stats.js'

/** Who sent an RPC request: the node id from the connection's handshake, and the TCP peer for logs. */
export interface RpcCaller {
  readonly nodeId: NodeId
  readonly remoteAddress: string
}

export interface InboundConnectionOptions {
  readonly localNodeId: NodeId
  readonly clusterId: string
  readonly frameBytesMax: number
  readonly messageBytesMax: number
  readonly handshakeTimeoutMs: number
  readonly stats: TransportStats
  readonly logger: Logger
  /** Hands a decoded, validated message to the transport. Its exceptions are not caught. */
  readonly deliver: (message: Message) => void
  /** Answers an RPC request; never rejects (failures are error responses). */
  readonly serveRpc: (request: RpcRequest, caller: RpcCaller) => Promise<RpcResponse>
  readonly onClosed: (connection: InboundConnection) => void
}

/**
 * One accepted connection. It must open with a handshake from the same cluster and protocol version, or is
 * refused with a reason and closed; after that it carries Raft messages (whole or in parts) and RPC
 * requests, and carries back RPC responses. Any malformed input (an oversize frame, a message that does not
 * decode, parts out of order, a message whose `from` is not the handshake's node) closes this connection
 * with an error log; nothing else is affected.
 */
export class InboundConnection {
  readonly #options: InboundConnectionOptions
  readonly #framed: FramedSocket
  readonly #assembler: MessageAssembler
  readonly #handshakeTimer: NodeJS.Timeout
  #peerNodeId: NodeId | undefined

  constructor(socket: Socket, options: InboundConnectionOptions) {
    this.#options = options
    this.#assembler = new MessageAssembler({ messageBytesMax: options.messageBytesMax })
    this.#framed = new FramedSocket(socket, {
      frameBytesMax: options.frameBytesMax,
      stats: options.stats,
      handlers: {
        onFrame: (frame) => this.#onFrame(frame),
        onClose: (error) => this.#onClose(error),
      },
    })
    this.#handshakeTimer = setTimeout(() => {
      this.#framed.close(new ProtocolError(`no handshake within ${options.handshakeTimeoutMs} ms`))
    }, options.handshakeTimeoutMs)
  }

  /** The node at the other end, once its handshake was accepted. */
  get peerNodeId(): NodeId | undefined {
    return this.#peerNodeId
  }

  close(): void {
    this.#framed.close()
  }

  #onFrame(frame: Frame): void {
    const peerNodeId = this.#peerNodeId
    if (peerNodeId === undefined) {
      this.#onHandshake(frame)
      return
    }
    switch (frame.type) {
      case FrameType.message:
        this.#deliver(peerNodeId, decodeMessage(frame.payload))
        break
      case FrameType.messagePart: {
        const whole = this.#assembler.push(frame.payload)
        // The reassembly buffer belongs to this message alone, so its data fields may be views of it.
        if (whole !== undefined) this.#deliver(peerNodeId, decodeMessage(whole, { shareData: true }))
        break
      }
      case FrameType.rpcRequest:
        this.#serve(peerNodeId, decodeRpcRequest(frame.payload))
        break
      default:
        throw new ProtocolError(`unexpected frame type ${frame.type} on an inbound connection`)
    }
  }

  #onHandshake(frame: Frame): void {
    clearTimeout(this.#handshakeTimer)
    const { stats, logger } = this.#options
    if (frame.type !== FrameType.handshake) {
      throw new ProtocolError(`expected a handshake, got frame type ${frame.type}`)
    }
    let handshake: ReturnType<typeof decodeHandshake>
    try {
      handshake = decodeHandshake(frame.payload)
    } catch (error) {
      this.#reject('malformed', describeError(error))
      return
    }
    if (handshake.version !== protocolVersion) {
      this.#reject('versionMismatch', `protocol version ${handshake.version}, expected ${protocolVersion}`)
      return
    }
    if (handshake.clusterId !== this.#options.clusterId) {
      this.#reject(
        'clusterMismatch',
        `cluster ${JSON.stringify(handshake.clusterId)}, expected ${JSON.stringify(this.#options.clusterId)}`,
        handshake.nodeId,
      )
      return
    }
    this.#peerNodeId = handshake.nodeId
    this.#framed.write(encodeHandshakeAccept(this.#options.localNodeId))
    stats.inboundConnections += 1
    logger.debug('accepted inbound connection', { peerId: handshake.nodeId, remote: this.#framed.remote })
  }

  #reject(
    reason: 'malformed' | 'versionMismatch' | 'clusterMismatch',
    detail: string,
    peerId?: NodeId,
  ): void {
    this.#options.stats.inboundHandshakesRejected += 1
    this.#options.logger.warn('rejected inbound handshake', {
      reason,
      detail,
      peerId,
      remote: this.#framed.remote,
    })
    this.#framed.end(encodeHandshakeReject(reason, detail))
  }

  #deliver(peerNodeId: NodeId, message: Message): void {
    if (message.from !== peerNodeId) {
      throw new ProtocolError(`a message from node ${message.from} on the connection of node ${peerNodeId}`)
    }
    this.#options.deliver(message)
  }

  #serve(peerNodeId: NodeId, request: RpcRequest): void {
    const caller = { nodeId: peerNodeId, remoteAddress: this.#framed.remote }
    void this.#options.serveRpc(request, caller).then((response) => {
      this.#framed.write(encodeRpcResponse(response))
    })
  }

  #onClose(error: Error | undefined): void {
    clearTimeout(this.#handshakeTimer)
    const fields = { peerId: this.#peerNodeId, remote: this.#framed.remote }
    if (error instanceof TransportError) {
      this.#options.stats.inboundProtocolErrors += 1
      this.#options.logger.error('closed inbound connection on bad input', {
        ...fields,
        error: describeError(error),
      })
    } else {
      this.#options.logger.debug('inbound connection closed', {
        ...fields,
        error: error === undefined ? undefined : describeError(error),
      })
    }
    this.#options.onClosed(this)
  }
}
