/** The public surface of `src/transport`. */
export { type HostPort, type RaftAddress, formatAddress, parseAddress } from './address.js'
export { type BackoffOptions, backoffDelayMs, defaultBackoff } from './backoff.js'
export * from './errors.js'
export { type Frame, FrameDecoder, encodeFrame, encodeFrameHeader, frameHeaderBytes } from './frame-codec.js'
export type { RpcCaller } from './inbound-connection.js'
export { type Logger, silentLogger } from './logger.js'
export {
  type DecodeMessageOptions,
  decodeMessage,
  encodeMessage,
  encodeMessageSegments,
  encodedMessageBytes,
  validateMessage,
} from './message-codec.js'
export { MessageAssembler, PartSource } from './message-parts.js'
export type { PeerState } from './peer-connection.js'
export { SendQueue } from './send-queue.js'
export type { TransportStats } from './stats.js'
export { type PeerStatus, type RpcHandler, TcpTransport, type TcpTransportOptions } from './tcp-transport.js'
