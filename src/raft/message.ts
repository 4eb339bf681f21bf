/**
 * The data the Raft core exchanges with its driver and its peers: entries, snapshots, hard state
 * and messages. Everything here is plain, readonly data so it can be encoded, logged and compared.
 */

/** A node's identity within a cluster. Positive integer, unique for the cluster's lifetime. */
export type NodeId = number

/** The cluster's membership at one point of the log. Voters count toward quorums; non-voters only replicate. */
export interface ClusterConfig {
  readonly voters: readonly NodeId[]
  readonly nonVoters: readonly NodeId[]
}

/** One single-server membership change (Raft thesis §4.1): one at a time, effective once appended. */
export type ConfChange =
  | { readonly type: 'addVoter'; readonly nodeId: NodeId }
  | { readonly type: 'addNonVoter'; readonly nodeId: NodeId }
  | { readonly type: 'promote'; readonly nodeId: NodeId }
  | { readonly type: 'remove'; readonly nodeId: NodeId }

/**
 * A log entry. `noop` is what a new leader appends at the start of its term (§8 of the paper), so that
 * it can commit entries of earlier terms and answer ReadIndex requests.
 */
export type Entry =
  | { readonly kind: 'normal'; readonly index: number; readonly term: number; readonly data: Uint8Array }
  | {
      readonly kind: 'confChange'
      readonly index: number
      readonly term: number
      readonly change: ConfChange
    }
  | { readonly kind: 'noop'; readonly index: number; readonly term: number }

/** What a snapshot covers: every entry up to `index` (of `term`), and the configuration in force there. */
export interface SnapshotMeta {
  readonly index: number
  readonly term: number
  readonly config: ClusterConfig
}

/** A snapshot: metadata plus the serialized state machine, opaque to the core. */
export interface Snapshot {
  readonly meta: SnapshotMeta
  readonly data: Uint8Array
}

/** The state that must be durable before any message that reflects it leaves the node. */
export interface HardState {
  readonly term: number
  /** The node voted for in `term`, or 0 for none. */
  readonly vote: NodeId
  readonly commit: number
}

export const emptyHardState: HardState = Object.freeze({ term: 0, vote: 0, commit: 0 })

interface MessageBase {
  readonly from: NodeId
  readonly to: NodeId
  readonly term: number
}

export interface AppendMessage extends MessageBase {
  readonly type: 'append'
  readonly prevIndex: number
  readonly prevTerm: number
  readonly entries: readonly Entry[]
  readonly commit: number
}

export interface AppendResponseMessage extends MessageBase {
  readonly type: 'appendResponse'
  /** On success: the highest index known to match the leader. On reject: the `prevIndex` that was rejected. */
  readonly index: number
  readonly reject: boolean
  /** On reject: the follower's hint for the next probe, the largest index that may match (§5.3 fast back-off). */
  readonly rejectHint: number
  /** On reject: the follower's term at `rejectHint` (0 when unknown). */
  readonly hintTerm: number
}

export interface VoteMessage extends MessageBase {
  readonly type: 'vote' | 'preVote'
  readonly lastIndex: number
  readonly lastTerm: number
  /** Set when the election was started by a leadership transfer; lets it bypass the leader stickiness of CheckQuorum. */
  readonly transfer: boolean
}

export interface VoteResponseMessage extends MessageBase {
  readonly type: 'voteResponse' | 'preVoteResponse'
  readonly reject: boolean
}

export interface HeartbeatMessage extends MessageBase {
  readonly type: 'heartbeat'
  readonly commit: number
  /** The ReadIndex round this heartbeat confirms, 0 for none. */
  readonly readRound: number
}

export interface HeartbeatResponseMessage extends MessageBase {
  readonly type: 'heartbeatResponse'
  readonly readRound: number
}

export interface InstallSnapshotMessage extends MessageBase {
  readonly type: 'installSnapshot'
  readonly snapshot: Snapshot
}

export interface TimeoutNowMessage extends MessageBase {
  readonly type: 'timeoutNow'
}

export type Message =
  | AppendMessage
  | AppendResponseMessage
  | VoteMessage
  | VoteResponseMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | InstallSnapshotMessage
  | TimeoutNowMessage

export type MessageType = Message['type']
