import type { NodeId } from '../raft/message.js'
import { assert } from '../util/assert.js'
import { ByteReader, ByteWriter, textEncoder } from '../util/byte-io.js'
import { type HandshakeRejectReason, ProtocolError } from './errors.js'
import { encodeFrame } from './frame-codec.js'

/**
 * The frame types of the connection protocol and the codecs of their small payloads (big-endian). A
 * connection is opened by a dialer (a peer connection or the RPC client) and accepted by a listener:
 *
 *     dialer -> listener: handshake          [u8 version][u64 nodeId][u16 n][clusterId: n bytes UTF-8]
 *     listener -> dialer: handshakeAccept    [u64 nodeId]
 *                      or handshakeReject    [u8 reason][detail: UTF-8 to the end]  (then the listener closes)
 *     dialer -> listener: message            an encoded Raft message (message-codec.ts)
 *                         messagePart        [u64 totalBytes][u64 offset][bytes]    (message-parts.ts)
 *                         rpcRequest         [u32 requestId][u16 n][method: n bytes UTF-8][body]
 *     listener -> dialer: rpcResponse        [u32 requestId][u8 0][body]
 *                                         or [u32 requestId][u8 1][u16 n][code: n bytes][message: UTF-8]
 *
 * Decoders throw `ProtocolError`.
 */

export const FrameType = {
  handshake: 1,
  handshakeAccept: 2,
  handshakeReject: 3,
  message: 4,
  messagePart: 5,
  rpcRequest: 6,
  rpcResponse: 7,
} as const

export const protocolVersion = 1

function reader(bytes: Uint8Array, what: string): ByteReader {
  return new ByteReader(bytes, 'big', (reason) => {
    throw new ProtocolError(`${what}: ${reason}`)
  })
}

export interface Handshake {
  readonly version: number
  readonly nodeId: NodeId
  readonly clusterId: string
}

export function encodeHandshake(handshake: {
  readonly nodeId: NodeId
  readonly clusterId: string
}): Uint8Array {
  const clusterId = textEncoder.encode(handshake.clusterId)
  assert(clusterId.byteLength <= 0xffff, 'cluster id longer than 65535 bytes')
  const writer = new ByteWriter(1 + 8 + 2 + clusterId.byteLength, 'big')
  writer.u8(protocolVersion)
  writer.u64(handshake.nodeId, 'node id')
  writer.u16(clusterId.byteLength)
  writer.raw(clusterId)
  return encodeFrame(FrameType.handshake, writer.done())
}

/** Decodes a handshake of any version: the version check (and its rejection) belongs to the listener. */
export function decodeHandshake(payload: Uint8Array): Handshake {
  const read = reader(payload, 'handshake')
  const version = read.u8('version')
  const nodeId = read.u64('node id', 1)
  const clusterId = read.utf8(read.u16('cluster id length'), 'cluster id')
  read.end('the handshake')
  return { version, nodeId, clusterId }
}

export function encodeHandshakeAccept(nodeId: NodeId): Uint8Array {
  const writer = new ByteWriter(8, 'big')
  writer.u64(nodeId, 'node id')
  return encodeFrame(FrameType.handshakeAccept, writer.done())
}

export function decodeHandshakeAccept(payload: Uint8Array): NodeId {
  const read = reader(payload, 'handshake accept')
  const nodeId = read.u64('node id', 1)
  read.end('the handshake accept')
  return nodeId
}

const rejectReasons: readonly HandshakeRejectReason[] = ['clusterMismatch', 'versionMismatch', 'malformed']

export function encodeHandshakeReject(reason: HandshakeRejectReason, detail: string): Uint8Array {
  const text = textEncoder.encode(detail)
  const writer = new ByteWriter(1 + text.byteLength, 'big')
  writer.u8(rejectReasons.indexOf(reason))
  writer.raw(text)
  return encodeFrame(FrameType.handshakeReject, writer.done())
}

export function decodeHandshakeReject(payload: Uint8Array): {
  readonly reason: HandshakeRejectReason
  readonly detail: string
} {
  const read: ByteReader = reader(payload, 'handshake reject')
  const tag = read.u8('reason')
  const reason = rejectReasons[tag]
  if (reason === undefined) read.fail(`unknown reject reason ${tag}`)
  return { reason, detail: read.utf8(read.remaining, 'detail') }
}

export interface RpcRequest {
  readonly requestId: number
  readonly method: string
  readonly body: Uint8Array
}

export function encodeRpcRequest(request: RpcRequest): Uint8Array {
  const method = textEncoder.encode(request.method)
  assert(method.byteLength <= 0xffff, 'rpc method name longer than 65535 bytes')
  const writer = new ByteWriter(4 + 2 + method.byteLength + request.body.byteLength, 'big')
  writer.u32(request.requestId)
  writer.u16(method.byteLength)
  writer.raw(method)
  writer.raw(request.body)
  return encodeFrame(FrameType.rpcRequest, writer.done())
}

/** The body is copied: a handler may keep it as long as it likes. */
export function decodeRpcRequest(payload: Uint8Array): RpcRequest {
  const read = reader(payload, 'rpc request')
  const requestId = read.u32('request id')
  const method = read.utf8(read.u16('method length'), 'method')
  return { requestId, method, body: read.copy(read.remaining, 'body') }
}

export type RpcResponse =
  | { readonly requestId: number; readonly ok: true; readonly body: Uint8Array }
  | { readonly requestId: number; readonly ok: false; readonly code: string; readonly message: string }

export function encodeRpcResponse(response: RpcResponse): Uint8Array {
  if (response.ok) {
    const writer = new ByteWriter(5 + response.body.byteLength, 'big')
    writer.u32(response.requestId)
    writer.u8(0)
    writer.raw(response.body)
    return encodeFrame(FrameType.rpcResponse, writer.done())
  }
  const code = textEncoder.encode(response.code.slice(0, 200))
  const message = textEncoder.encode(response.message)
  const writer = new ByteWriter(5 + 2 + code.byteLength + message.byteLength, 'big')
  writer.u32(response.requestId)
  writer.u8(1)
  writer.u16(code.byteLength)
  writer.raw(code)
  writer.raw(message)
  return encodeFrame(FrameType.rpcResponse, writer.done())
}

/** The body is copied, so the caller's result does not pin a socket chunk. */
export function decodeRpcResponse(payload: Uint8Array): RpcResponse {
  const read = reader(payload, 'rpc response')
  const requestId = read.u32('request id')
  const status = read.u8('status')
  if (status === 0) return { requestId, ok: true, body: read.copy(read.remaining, 'body') }
  if (status !== 1) read.fail(`unknown status ${status}`)
  const code = read.utf8(read.u16('code length'), 'code')
  return { requestId, ok: false, code, message: read.utf8(read.remaining, 'message') }
}
