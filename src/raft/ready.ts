import type { Entry, HardState, Message, NodeId, Snapshot } from './message.js'
import type { Role } from './raft.js'
import type { ReadState } from './read-only.js'

/** Volatile state worth reporting: who leads, and our role. */
export interface SoftState {
  readonly role: Role
  readonly leaderId: NodeId
}

/**
 * One batch of work for the driver, handled in this order (style.md §2.5):
 * 1. persist `snapshot` (if any), `entries` and `hardState`, with one fsync when `mustSync`;
 * 2. send `messages` (they may reflect the state of step 1, so never before it is durable);
 * 3. restore the state machine from `snapshot`, then apply `committedEntries` in order (those below the
 *    first of `entries` that are already durable may be applied while step 1 runs: they are committed,
 *    and nothing in this Ready replaces them);
 * 4. serve `readStates` once the state machine has applied their index; fail `droppedReads`;
 * 5. call `advance()`.
 */
export interface Ready {
  readonly softState: SoftState | undefined
  readonly hardState: HardState | undefined
  readonly entries: readonly Entry[]
  readonly snapshot: Snapshot | undefined
  readonly committedEntries: readonly Entry[]
  readonly messages: readonly Message[]
  readonly readStates: readonly ReadState[]
  /** Contexts of ReadIndex requests that can no longer be confirmed (leadership was lost). */
  readonly droppedReads: readonly number[]
  /** Entries were appended or term/vote changed: the write must be fsynced before messages leave. */
  readonly mustSync: boolean
}

export function isHardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit
}
