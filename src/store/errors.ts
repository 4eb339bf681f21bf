import { TqliteError } from '../util/errors.js'

/** Errors the store reports to its callers (the HTTP layer maps them to status codes). */
export class StoreError extends TqliteError {}

/** This node is not the leader; the caller may forward to, or redirect the client to, the leader. */
export class NotLeaderError extends StoreError {
  constructor(
    readonly leaderId: number,
    readonly leaderHttpAddress: string | undefined,
    readonly leaderRaftAddress: string | undefined,
  ) {
    super('TQ_ERR_NOT_LEADER', 'not leader')
  }
}

/** No leader is known (an election is in progress, or no quorum). rqlite's text: "leader not found". */
export class LeaderNotFoundError extends StoreError {
  constructor() {
    super('TQ_ERR_LEADER_NOT_FOUND', 'leader not found')
  }
}

/**
 * The request may or may not have taken effect (a timeout or a lost connection after it was proposed or
 * forwarded). It is never retried automatically: a retry could apply it twice (rqlite #1628).
 */
export class UnknownOutcomeError extends StoreError {
  constructor(message: string, options?: ErrorOptions) {
    super('TQ_ERR_UNKNOWN_OUTCOME', message, options)
  }
}

/** The proposal was definitely not applied (its log slot went to another entry). Safe to retry. */
export class ProposalDroppedError extends StoreError {
  constructor(message: string) {
    super('TQ_ERR_PROPOSAL_DROPPED', message)
  }
}

/** A `none` read with `freshness` on a node that has not heard from the leader recently enough. */
export class StaleReadError extends StoreError {
  constructor(
    readonly freshnessMs: number,
    readonly lastContactMs: number | undefined,
  ) {
    super('TQ_ERR_STALE_READ', 'stale read')
  }
}

/** A membership request that cannot be carried out as asked. */
export class MembershipError extends StoreError {
  constructor(message: string) {
    super('TQ_ERR_MEMBERSHIP', message)
  }
}

/** `/boot` replaces the database outside the log, which only a cluster of one node can do safely. */
export class NotSingleNodeError extends StoreError {
  constructor() {
    super('TQ_ERR_NOT_SINGLE_NODE', 'not single-node: /boot loads only into a one-node cluster; use /db/load')
  }
}

/**
 * A request for the leader could not be delivered to it (it is down, or cut off): it definitely did not run,
 * so retrying it is safe.
 */
export class LeaderUnreachableError extends StoreError {
  constructor(address: string, options?: ErrorOptions) {
    super(
      'TQ_ERR_LEADER_UNREACHABLE',
      `leader at ${address} not reachable; the request was not applied`,
      options,
    )
  }
}
