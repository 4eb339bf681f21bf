import type { NodeId } from '../raft/message.js'
import { assert } from '../util/assert.js'
import { type RaftAddress, parseAddress } from './address.js'
import { dial } from './dial.js'
import {
  FrameTooLargeError,
  ProtocolError,
  RpcConnectError,
  RpcRemoteError,
  RpcTimeoutError,
  TransportClosedError,
  describeError,
} from './errors.js'
import type { FramedSocket } from './framed-socket.js'
import { frameHeaderBytes } from './frame-codec.js'
import type { Logger } from './logger.js'
import { FrameType, decodeRpcResponse, encodeRpcRequest } from './protocol.js'
import type { TransportStats } from './stats.js'

export interface RpcClientOptions {
  readonly localNodeId: NodeId
  readonly clusterId: string
  readonly frameBytesMax: number
  readonly connectTimeoutMs: number
  /** An RPC connection with no call in flight for this long is closed. */
  readonly idleMs: number
  readonly stats: TransportStats
  readonly logger: Logger
  /** The transport's listen host once known (see `dialLocalAddress`). */
  readonly bindHost?: () => string | undefined
}

interface PendingCall {
  readonly method: string
  readonly frame: Uint8Array
  readonly resolve: (body: Uint8Array) => void
  readonly reject: (error: Error) => void
  readonly timer: NodeJS.Timeout
  /** Set once the request was handed to an open socket: from then on a failure leaves the outcome unknown. */
  written: boolean
}

/** One pooled connection to one address, multiplexing calls by request id. */
interface RpcConnection {
  readonly address: RaftAddress
  state: 'connecting' | 'open' | 'closed'
  socket: FramedSocket | undefined
  readonly pending: Map<number, PendingCall>
  idleTimer: NodeJS.Timeout | undefined
}

/**
 * The calling side of the request/response RPC: one pooled connection per address (separate from the Raft
 * peer connections, so a snapshot in transit never delays a forwarded request), requests multiplexed by a
 * u32 id, each with its own timeout. Requests are written only after the handshake was accepted, which is
 * what makes "not delivered" certain when the connection fails before that.
 */
export class RpcClient {
  readonly #options: RpcClientOptions
  readonly #connections = new Map<RaftAddress, RpcConnection>()
  #nextRequestId = 1
  #closed = false

  constructor(options: RpcClientOptions) {
    this.#options = options
  }

  call(address: RaftAddress, method: string, body: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    assert(timeoutMs > 0 && Number.isFinite(timeoutMs), `rpc timeout ${timeoutMs} ms must be positive`)
    if (this.#closed) return Promise.reject(new TransportClosedError())
    try {
      parseAddress(address)
    } catch (error) {
      return Promise.reject(error)
    }
    this.#options.stats.rpcCalls += 1
    const requestId = this.#takeRequestId()
    const frame = encodeRpcRequest({ requestId, method, body })
    const payloadBytes = frame.byteLength - frameHeaderBytes
    if (payloadBytes > this.#options.frameBytesMax) {
      return Promise.reject(new FrameTooLargeError(payloadBytes, this.#options.frameBytesMax))
    }
    const connection = this.#connection(address)
    clearTimeout(connection.idleTimer)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        connection.pending.delete(requestId)
        this.#options.stats.rpcTimeouts += 1
        reject(new RpcTimeoutError(address, method, timeoutMs))
        this.#maybeIdle(connection)
      }, timeoutMs)
      const call: PendingCall = { method, frame, resolve, reject, timer, written: false }
      connection.pending.set(requestId, call)
      if (connection.state === 'open') this.#write(connection, call)
    })
  }

  /** Closes every connection; calls in flight fail with `TransportClosedError` (outcome unknown). */
  close(): void {
    this.#closed = true
    for (const connection of this.#connections.values()) {
      this.#fail(connection, () => new TransportClosedError())
    }
    this.#connections.clear()
  }

  #takeRequestId(): number {
    const id = this.#nextRequestId
    this.#nextRequestId = id === 0xffff_ffff ? 1 : id + 1
    return id
  }

  #connection(address: RaftAddress): RpcConnection {
    const existing = this.#connections.get(address)
    if (existing !== undefined && existing.state !== 'closed') return existing
    const connection: RpcConnection = {
      address,
      state: 'connecting',
      socket: undefined,
      pending: new Map(),
      idleTimer: undefined,
    }
    this.#connections.set(address, connection)
    const options = this.#options
    dial(
      {
        address,
        localNodeId: options.localNodeId,
        clusterId: options.clusterId,
        connectTimeoutMs: options.connectTimeoutMs,
        frameBytesMax: options.frameBytesMax,
        stats: options.stats,
        bindHost: options.bindHost?.(),
      },
      {
        onFrame: (frame) => {
          if (frame.type !== FrameType.rpcResponse) {
            throw new ProtocolError(`unexpected frame type ${frame.type} on an rpc connection`)
          }
          this.#onResponse(connection, decodeRpcResponse(frame.payload))
        },
        onClose: (error) => this.#onClosed(connection, error),
      },
    ).then(
      (socket) => {
        if (connection.state === 'closed') {
          socket.close()
          return
        }
        connection.state = 'open'
        connection.socket = socket
        for (const call of connection.pending.values()) this.#write(connection, call)
        this.#maybeIdle(connection)
      },
      (error: unknown) => {
        if (connection.state === 'closed') return
        options.logger.debug('rpc connect failed', { address, error: describeError(error) })
        this.#fail(connection, (call) => {
          options.stats.rpcConnectErrors += 1
          return new RpcConnectError({ address, method: call.method, mayHaveBeenDelivered: false }, error)
        })
      },
    )
    return connection
  }

  #write(connection: RpcConnection, call: PendingCall): void {
    call.written = true
    connection.socket!.write(call.frame)
  }

  #onResponse(connection: RpcConnection, response: ReturnType<typeof decodeRpcResponse>): void {
    const call = connection.pending.get(response.requestId)
    // A response to a call that already timed out: the caller was told "unknown"; nothing to do.
    if (call === undefined) return
    connection.pending.delete(response.requestId)
    clearTimeout(call.timer)
    if (response.ok) {
      call.resolve(response.body)
    } else {
      this.#options.stats.rpcRemoteErrors += 1
      call.reject(
        new RpcRemoteError({
          address: connection.address,
          method: call.method,
          remoteCode: response.code === '' ? undefined : response.code,
          remoteMessage: response.message,
        }),
      )
    }
    this.#maybeIdle(connection)
  }

  #onClosed(connection: RpcConnection, error: Error | undefined): void {
    if (connection.state === 'closed') return
    this.#options.logger.debug('rpc connection closed', {
      address: connection.address,
      error: error === undefined ? undefined : describeError(error),
    })
    this.#fail(connection, (call) => {
      this.#options.stats.rpcConnectErrors += 1
      return new RpcConnectError(
        { address: connection.address, method: call.method, mayHaveBeenDelivered: call.written },
        error,
      )
    })
  }

  /** Marks the connection closed, closes its socket and rejects every pending call with `errorFor(call)`. */
  #fail(connection: RpcConnection, errorFor: (call: PendingCall) => Error): void {
    connection.state = 'closed'
    clearTimeout(connection.idleTimer)
    if (this.#connections.get(connection.address) === connection) this.#connections.delete(connection.address)
    const calls = [...connection.pending.values()]
    connection.pending.clear()
    connection.socket?.close()
    for (const call of calls) {
      clearTimeout(call.timer)
      call.reject(errorFor(call))
    }
  }

  #maybeIdle(connection: RpcConnection): void {
    if (connection.state !== 'open' || connection.pending.size > 0) return
    clearTimeout(connection.idleTimer)
    connection.idleTimer = setTimeout(() => {
      if (connection.pending.size === 0) this.#fail(connection, () => new TransportClosedError())
    }, this.#options.idleMs)
    connection.idleTimer.unref()
  }
}
