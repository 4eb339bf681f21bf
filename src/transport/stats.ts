/**
 * The transport's counters (style.md §2.7), kept beside the code they measure. All monotonic until
 * `reset()`; `TcpTransport.stats()` returns a copy.
 */
export interface TransportStats {
  /** Raft messages fully written to a socket (a multi-part message counts once, at its last part). */
  messagesSent: number
  /** Raft messages delivered to the `onMessage` handler. */
  messagesReceived: number
  /** Evicted from a full per-peer queue (drop-oldest). */
  messagesDroppedQueueFull: number
  /** Dropped because the peer was unreachable: sent during back-off, queued when a connect failed, or a
   * multi-part message cut off by a lost connection. */
  messagesDroppedUnreachable: number
  /** Addressed to a node that is not a configured peer (or to this node itself). */
  messagesDroppedUnknownPeer: number
  /** Larger than `messageBytesMax`, which the receiver would refuse. */
  messagesDroppedTooLarge: number
  /** Received but addressed to another node id, or received with no handler installed. */
  messagesDroppedOnReceive: number
  /** Outgoing connection attempts (peer and RPC), successful handshakes, and failures of either step. */
  connectAttempts: number
  connectsSucceeded: number
  connectFailures: number
  /** Inbound connections whose handshake was accepted, and those refused at the handshake. */
  inboundConnections: number
  inboundHandshakesRejected: number
  /** Inbound connections closed for a malformed frame, message or protocol violation. */
  inboundProtocolErrors: number
  bytesSent: number
  bytesReceived: number
  rpcCalls: number
  rpcTimeouts: number
  rpcConnectErrors: number
  rpcRemoteErrors: number
  /** Requests this node's RPC handlers answered (successfully or with an error response). */
  rpcRequestsServed: number
}

export function emptyStats(): TransportStats {
  return {
    messagesSent: 0,
    messagesReceived: 0,
    messagesDroppedQueueFull: 0,
    messagesDroppedUnreachable: 0,
    messagesDroppedUnknownPeer: 0,
    messagesDroppedTooLarge: 0,
    messagesDroppedOnReceive: 0,
    connectAttempts: 0,
    connectsSucceeded: 0,
    connectFailures: 0,
    inboundConnections: 0,
    inboundHandshakesRejected: 0,
    inboundProtocolErrors: 0,
    bytesSent: 0,
    bytesReceived: 0,
    rpcCalls: 0,
    rpcTimeouts: 0,
    rpcConnectErrors: 0,
    rpcRemoteErrors: 0,
    rpcRequestsServed: 0,
  }
}
