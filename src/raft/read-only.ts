import { majority } from './quorum.js'
import type { NodeId } from './message.js'

/** A linearizable read may be served once the state machine has applied `index` (thesis §6.4). */
export interface ReadState {
  readonly context: number
  readonly index: number
}

interface PendingRead {
  readonly context: number
  readonly index: number
  readonly round: number
}

/**
 * ReadIndex bookkeeping on the leader. Every request joins the next heartbeat round; one round of
 * acknowledgements from a majority confirms all requests registered before it was sent, so many
 * concurrent reads share one quorum round.
 */
export class ReadOnly {
  #pending: PendingRead[] = []
  /** Round number of the last heartbeat broadcast. */
  sentRound = 0
  /** Requests have joined a round that has not been broadcast yet. */
  needsBroadcast = false

  add(context: number, index: number): void {
    this.#pending.push({ context, index, round: this.sentRound + 1 })
    this.needsBroadcast = true
  }

  /** Starts the next round; returns its number for the heartbeats. */
  nextRound(): number {
    this.needsBroadcast = false
    this.sentRound++
    return this.sentRound
  }

  /** Some request of a broadcast round waits for a majority to acknowledge it. */
  get roundInFlight(): boolean {
    const head = this.#pending[0]
    return head !== undefined && head.round <= this.sentRound
  }

  get pendingCount(): number {
    return this.#pending.length
  }

  /** Releases every request whose round a majority of voters (the leader included) has acknowledged. */
  release(voters: readonly NodeId[], leaderId: NodeId, ackedRound: (id: NodeId) => number): ReadState[] {
    const released: ReadState[] = []
    while (this.#pending.length > 0) {
      const head = this.#pending[0]!
      if (head.round > this.sentRound) break
      let acks = 0
      for (const id of voters) if (id === leaderId || ackedRound(id) >= head.round) acks++
      if (acks < majority(voters.length)) break
      this.#pending.shift()
      released.push({ context: head.context, index: head.index })
    }
    return released
  }

  /** Drops everything: leadership was lost, so pending reads can no longer be confirmed. */
  reset(): number[] {
    const contexts = this.#pending.map((read) => read.context)
    this.#pending = []
    this.needsBroadcast = false
    return contexts
  }
}
