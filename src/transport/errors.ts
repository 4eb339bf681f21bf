import { TqliteError } from '../util/errors.js'

/**
 * Typed errors of `src/transport` (style.md §2.4): operating errors with a stable `code`. Match on `code` or
 * `instanceof`, never on the message. Network trouble on the Raft path is not an error for the caller at all:
 * `TcpTransport.send` drops the message and counts it (Raft retransmits); these errors surface from the pure
 * codecs (where a connection handler turns them into a closed connection) and from `rpc`.
 */

export type TransportErrorCode =
  | 'TQ_ERR_TRANSPORT_FRAME_TOO_LARGE'
  | 'TQ_ERR_TRANSPORT_MESSAGE_DECODE'
  | 'TQ_ERR_TRANSPORT_PROTOCOL'
  | 'TQ_ERR_TRANSPORT_CONNECT'
  | 'TQ_ERR_TRANSPORT_HANDSHAKE_REJECTED'
  | 'TQ_ERR_TRANSPORT_ADDRESS'
  | 'TQ_ERR_TRANSPORT_CLOSED'
  | 'TQ_ERR_TRANSPORT_RPC_TIMEOUT'
  | 'TQ_ERR_TRANSPORT_RPC_CONNECT'
  | 'TQ_ERR_TRANSPORT_RPC_REMOTE'

/** Code a server puts in an RPC error response when no handler is registered for the method. */
export const rpcUnknownMethodCode = 'TQ_ERR_TRANSPORT_RPC_UNKNOWN_METHOD'

/** Base class of every transport error. */
export class TransportError extends TqliteError<TransportErrorCode> {}

/** A frame header announced a payload larger than the receiver accepts; the stream cannot be resynchronized. */
export class FrameTooLargeError extends TransportError {
  readonly frameBytes: number
  readonly frameBytesMax: number

  constructor(frameBytes: number, frameBytesMax: number) {
    super(
      'TQ_ERR_TRANSPORT_FRAME_TOO_LARGE',
      `frame of ${frameBytes} bytes exceeds the limit of ${frameBytesMax}`,
    )
    this.frameBytes = frameBytes
    this.frameBytesMax = frameBytesMax
  }
}

/**
 * Bytes from a peer do not decode as a valid Raft message. The gateway's verdict: the core never sees the
 * message, and the connection it came on is closed.
 */
export class MessageDecodeError extends TransportError {
  readonly reason: string

  constructor(reason: string) {
    super('TQ_ERR_TRANSPORT_MESSAGE_DECODE', `cannot decode message: ${reason}`)
    this.reason = reason
  }
}

/** A peer broke the connection protocol (unexpected frame, bad handshake, message parts out of order). */
export class ProtocolError extends TransportError {
  readonly reason: string

  constructor(reason: string) {
    super('TQ_ERR_TRANSPORT_PROTOCOL', `protocol violation: ${reason}`)
    this.reason = reason
  }
}

/** A TCP connection could not be opened, or closed or timed out before its handshake completed. */
export class ConnectError extends TransportError {
  readonly address: string

  constructor(address: string, reason: string, cause?: unknown) {
    super('TQ_ERR_TRANSPORT_CONNECT', `cannot connect to ${address}: ${reason}`, { cause })
    this.address = address
  }
}

/** Why a server refused a handshake; sent on the wire as a small integer. */
export type HandshakeRejectReason = 'clusterMismatch' | 'versionMismatch' | 'malformed'

/** The remote end refused our handshake; nothing sent on that connection was processed. */
export class HandshakeRejectedError extends TransportError {
  readonly address: string
  readonly reason: HandshakeRejectReason
  readonly detail: string

  constructor(address: string, reason: HandshakeRejectReason, detail: string) {
    super('TQ_ERR_TRANSPORT_HANDSHAKE_REJECTED', `${address} rejected the handshake (${reason}): ${detail}`)
    this.address = address
    this.reason = reason
    this.detail = detail
  }
}

/** An address is not `host:port` (IPv6 hosts in brackets) with a port in 0..65535. */
export class InvalidAddressError extends TransportError {
  readonly address: string

  constructor(address: string, reason: string) {
    super('TQ_ERR_TRANSPORT_ADDRESS', `invalid address ${JSON.stringify(address)}: ${reason}`)
    this.address = address
  }
}

/** The transport was closed. For an RPC in flight at that moment the outcome is unknown. */
export class TransportClosedError extends TransportError {
  constructor() {
    super('TQ_ERR_TRANSPORT_CLOSED', 'the transport is closed')
  }
}

/**
 * No response arrived within the timeout. The outcome is unknown: the request may have been executed by the
 * remote node. Never retry a non-idempotent request blindly after this error (design.md, safety rules).
 */
export class RpcTimeoutError extends TransportError {
  readonly address: string
  readonly method: string
  readonly timeoutMs: number

  constructor(address: string, method: string, timeoutMs: number) {
    super('TQ_ERR_TRANSPORT_RPC_TIMEOUT', `rpc ${method} to ${address}: no response within ${timeoutMs} ms`)
    this.address = address
    this.method = method
    this.timeoutMs = timeoutMs
  }
}

/**
 * The connection failed. When `mayHaveBeenDelivered` is false the connection never completed its handshake,
 * so the request was never written and definitely did not run; when true the connection broke after the
 * request was written and the outcome is unknown, as for `RpcTimeoutError`.
 */
export class RpcConnectError extends TransportError {
  readonly address: string
  readonly method: string
  readonly mayHaveBeenDelivered: boolean

  constructor(
    fields: { readonly address: string; readonly method: string; readonly mayHaveBeenDelivered: boolean },
    cause: unknown,
  ) {
    const what = fields.mayHaveBeenDelivered ? 'connection lost after the request was sent' : 'not delivered'
    super('TQ_ERR_TRANSPORT_RPC_CONNECT', `rpc ${fields.method} to ${fields.address}: ${what}`, { cause })
    this.address = fields.address
    this.method = fields.method
    this.mayHaveBeenDelivered = fields.mayHaveBeenDelivered
  }
}

/** The remote handler failed (or no handler exists); its error's code (if any) and message come back here. */
export class RpcRemoteError extends TransportError {
  readonly address: string
  readonly method: string
  /** The `code` of the remote error, when it had a string code; `undefined` otherwise. */
  readonly remoteCode: string | undefined
  readonly remoteMessage: string

  constructor(fields: {
    readonly address: string
    readonly method: string
    readonly remoteCode: string | undefined
    readonly remoteMessage: string
  }) {
    super(
      'TQ_ERR_TRANSPORT_RPC_REMOTE',
      `rpc ${fields.method} to ${fields.address} failed: ${fields.remoteMessage}`,
    )
    this.address = fields.address
    this.method = fields.method
    this.remoteCode = fields.remoteCode
    this.remoteMessage = fields.remoteMessage
  }
}

/** A short text for logs from anything thrown. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}
