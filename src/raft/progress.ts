import { assert } from '../util/assert.js'

export type ProgressState = 'probe' | 'replicate' | 'snapshot'

/**
 * The leader's view of one follower's log (etcd's `tracker.Progress`). In `probe` the leader sends one
 * append per heartbeat interval until it finds where the logs match; in `replicate` it pipelines appends
 * up to `inflightMessagesMax` unacknowledged messages; in `snapshot` it waits for a snapshot to land.
 */
export class Progress {
  /** Highest index known to be replicated on the follower. */
  match = 0
  /** Next index to send. Invariant: match < next. */
  next: number
  state: ProgressState = 'probe'
  /** In probe state: an append was sent and no response arrived since. */
  probeSent = false
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0
  /** Ticks spent in snapshot state. */
  snapshotElapsed = 0
  /** Heard from since the last CheckQuorum round. */
  recentActive = false
  /** Highest ReadIndex round this follower acknowledged in the current term. */
  readRoundAcked = 0
  /** Last index of each unacknowledged append, oldest first. */
  readonly inflights: number[] = []
  readonly inflightMessagesMax: number

  constructor(next: number, inflightMessagesMax: number) {
    this.next = next
    this.inflightMessagesMax = inflightMessagesMax
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1)
      this.pendingSnapshot = 0
    } else {
      this.next = this.match + 1
    }
    this.state = 'probe'
    this.probeSent = false
    this.inflights.length = 0
  }

  becomeReplicate(): void {
    this.state = 'replicate'
    this.next = this.match + 1
    this.probeSent = false
    this.inflights.length = 0
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.state = 'snapshot'
    this.pendingSnapshot = snapshotIndex
    this.snapshotElapsed = 0
    this.probeSent = false
    this.inflights.length = 0
  }

  /** An acknowledgement up to `index` arrived; returns whether it told us something new. */
  maybeUpdate(index: number): boolean {
    let updated = false
    if (this.match < index) {
      this.match = index
      updated = true
      this.probeSent = false
    }
    this.next = Math.max(this.next, index + 1)
    return updated
  }

  /**
   * A rejection of the append at `rejected` arrived, with `matchHint` as the largest index that may match.
   * Returns false when the rejection is stale (it answers an append older than what we now know).
   */
  maybeDecreaseTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false
      this.next = this.match + 1
      return true
    }
    if (this.next - 1 !== rejected) return false
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1)
    this.probeSent = false
    return true
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent
      case 'replicate':
        return this.inflights.length >= this.inflightMessagesMax
      case 'snapshot':
        return true
    }
  }

  /** Records an append carrying entries up to `lastIndex` (or none, when `lastIndex` is undefined). */
  sentAppend(lastIndex: number | undefined): void {
    if (this.state === 'replicate') {
      if (lastIndex === undefined) return
      this.next = lastIndex + 1
      this.inflights.push(lastIndex)
    } else if (this.state === 'probe') {
      this.probeSent = true
    } else {
      assert(false, 'append sent to a follower in snapshot state')
    }
  }

  /** Frees the in-flight slots of appends acknowledged up to `index`. */
  freeInflightsTo(index: number): void {
    let count = 0
    while (count < this.inflights.length && this.inflights[count]! <= index) count++
    if (count > 0) this.inflights.splice(0, count)
  }

  describe(): string {
    return `match=${this.match} next=${this.next} ${this.state}${this.probeSent ? ' paused' : ''}${
      this.state === 'snapshot' ? ` pendingSnapshot=${this.pendingSnapshot}` : ''
    }${this.inflights.length > 0 ? ` inflight=${this.inflights.length}` : ''}`
  }
}
