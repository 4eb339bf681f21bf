import { connect, isIP } from 'node:net'
import type { NodeId } from '../raft/message.js'
import { type RaftAddress, parseAddress } from './address.js'
import { ConnectError, HandshakeRejectedError, ProtocolError, describeError } from './errors.js'
import { FramedSocket, type FramedSocketHandlers } from './framed-socket.js'
import { FrameType, decodeHandshakeAccept, decodeHandshakeReject, encodeHandshake } from './protocol.js'
import type { TransportStats } from './stats.js'

export interface DialOptions {
  readonly address: RaftAddress
  readonly localNodeId: NodeId
  readonly clusterId: string
  /** When set, the listener must answer with this node id (the address may have been reassigned). */
  readonly expectedNodeId?: NodeId
  readonly connectTimeoutMs: number
  readonly frameBytesMax: number
  readonly stats: TransportStats
  /** The host this node listens on; outgoing connections start from it when it is a specific IP. */
  readonly bindHost?: string | undefined
}

/**
 * The local address an outgoing connection binds to: the node's own listen host when that is a specific IP
 * (not a wildcard, not a name) of the target's family, so a peer, or a proxy in front of it, can tell which
 * node is calling from the source address. Otherwise the kernel's choice.
 */
export function dialLocalAddress(bindHost: string | undefined, targetHost: string): string | undefined {
  if (bindHost === undefined) return undefined
  const family = isIP(bindHost)
  if (family === 0 || bindHost === '0.0.0.0' || bindHost === '::') return undefined
  const targetFamily = isIP(targetHost)
  return targetFamily === 0 || targetFamily === family ? bindHost : undefined
}

/**
 * Opens a connection and completes the handshake: sends ours, waits for the listener's accept. Resolves
 * with a framed socket whose handlers are already `handlers` (installed synchronously on the accept, so no
 * frame can slip between the handshake and its owner). Rejects with `HandshakeRejectedError`, or with
 * `ConnectError` for everything else (refused, unreachable, timed out, closed early, a malformed answer, or
 * the wrong node answered); in every rejected case the listener processed nothing but the handshake.
 */
export function dial(options: DialOptions, handlers: FramedSocketHandlers): Promise<FramedSocket> {
  const { address, stats } = options
  stats.connectAttempts += 1
  let hostPort: ReturnType<typeof parseAddress>
  try {
    hostPort = parseAddress(address)
  } catch (error) {
    stats.connectFailures += 1
    return Promise.reject(error)
  }
  return new Promise((resolve, reject) => {
    let settled = false
    const fail = (error: Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      stats.connectFailures += 1
      framed.close()
      reject(error)
    }
    const timer = setTimeout(
      () => fail(new ConnectError(address, `no handshake within ${options.connectTimeoutMs} ms`)),
      options.connectTimeoutMs,
    )
    const accept = (payload: Uint8Array): void => {
      const nodeId = decodeHandshakeAccept(payload)
      if (options.expectedNodeId !== undefined && nodeId !== options.expectedNodeId) {
        fail(
          new ConnectError(
            address,
            `node ${nodeId} answered where node ${options.expectedNodeId} was expected`,
          ),
        )
        return
      }
      settled = true
      clearTimeout(timer)
      stats.connectsSucceeded += 1
      framed.setHandlers(handlers)
      resolve(framed)
    }
    const localAddress = dialLocalAddress(options.bindHost, hostPort.host)
    const socket = connect({
      host: hostPort.host,
      port: hostPort.port,
      ...(localAddress === undefined ? {} : { localAddress, family: isIP(localAddress) }),
    })
    const framed = new FramedSocket(socket, {
      frameBytesMax: options.frameBytesMax,
      stats,
      handlers: {
        onFrame(frame) {
          if (frame.type === FrameType.handshakeAccept) {
            accept(frame.payload)
          } else if (frame.type === FrameType.handshakeReject) {
            const { reason, detail } = decodeHandshakeReject(frame.payload)
            fail(new HandshakeRejectedError(address, reason, detail))
          } else {
            throw new ProtocolError(`frame type ${frame.type} before the handshake completed`)
          }
        },
        onClose(error) {
          const reason = error === undefined ? 'closed during the handshake' : describeError(error)
          fail(error instanceof HandshakeRejectedError ? error : new ConnectError(address, reason, error))
        },
      },
    })
    // Written before the TCP connection is up: the socket holds it until then.
    framed.write(encodeHandshake({ nodeId: options.localNodeId, clusterId: options.clusterId }))
  })
}
