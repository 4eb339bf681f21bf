// Raft's safety properties (paper Figure 3) plus ours, checked incrementally as the simulation runs:
// election safety, log matching, leader completeness, state machine safety, monotonic commit and apply,
// one vote per term (durable votes), and terms that never go back across restarts.
import { type Entry, type Message, type NodeId, type Ready, describeEntry } from '../../../src/raft/index.js'
import { fnv1a } from '../prng.js'

export class SafetyViolation extends Error {
  override name = 'SafetyViolation'
  constructor(
    readonly property: string,
    detail: string,
  ) {
    super(`${property}: ${detail}`)
  }
}

/** The view of a node the checker needs; implemented by SimNode and by test doubles. */
export interface CheckedNode {
  readonly id: NodeId
  readonly appliedIndex: number
  readonly storage: {
    firstIndex(): number
    lastIndex(): number
    term(index: number): number
    entries(range: { from: number; to: number }): readonly Entry[]
    snapshotMeta(): { index: number; term: number }
  }
}

function entryHash(entry: Entry): number {
  return fnv1a(describeEntry(entry))
}

export class SafetyChecker {
  /** term -> leader elected in it. */
  readonly leaders = new Map<number, NodeId>()
  /** "term/voter" -> candidate it granted its vote to. */
  readonly votes = new Map<string, NodeId>()
  /**
   * index -> the entry applied there (the committed log), with an upper bound of the term in which it was
   * committed: the highest term any leader had reached when it was first applied.
   */
  readonly applied = new Map<number, { term: number; hash: number; committedBy: number }>()
  #highestLeaderTerm = 0
  /** "index/term" -> content hash of the entry with that index and term, wherever it was stored. */
  readonly stored = new Map<string, number>()
  /** Highest term each node has put on the wire; a restart must not go below it. */
  readonly termSent = new Map<NodeId, number>()
  readonly #lastCommit = new Map<NodeId, number>()
  readonly #lastApplied = new Map<NodeId, number>()
  /** Acknowledged commands: index -> term. They must be applied everywhere, forever. */
  readonly acknowledged = new Map<number, number>()

  onRestart(node: CheckedNode, term: number): void {
    this.#lastCommit.delete(node.id)
    this.#lastApplied.set(node.id, node.appliedIndex)
    const sent = this.termSent.get(node.id) ?? 0
    if (term < sent) {
      throw new SafetyViolation(
        'durable term',
        `node ${node.id} restarted at term ${term} after sending term ${sent}`,
      )
    }
  }

  onReady(node: CheckedNode, ready: Ready, term: number): void {
    if (ready.softState?.role === 'leader') this.#onLeader(node, term)
    const commit = ready.hardState?.commit
    if (commit !== undefined) {
      const last = this.#lastCommit.get(node.id) ?? 0
      if (commit < last)
        throw new SafetyViolation('monotonic commit', `node ${node.id} commit ${last} -> ${commit}`)
      this.#lastCommit.set(node.id, commit)
    }
  }

  #onLeader(node: CheckedNode, term: number): void {
    const existing = this.leaders.get(term)
    if (existing !== undefined && existing !== node.id) {
      throw new SafetyViolation('election safety', `nodes ${existing} and ${node.id} both lead term ${term}`)
    }
    this.leaders.set(term, node.id)
    this.#highestLeaderTerm = Math.max(this.#highestLeaderTerm, term)
    // Leader completeness (§5.4): an entry committed in a term before this leader's is in its log. A leader
    // of an older term can be elected late (a paused node), so entries committed later are not required.
    const { storage } = node
    const snapshotIndex = storage.snapshotMeta().index
    for (const [index, committed] of this.applied) {
      if (index <= snapshotIndex || committed.committedBy >= term) continue
      if (index > storage.lastIndex() || storage.term(index) !== committed.term) {
        throw new SafetyViolation(
          'leader completeness',
          `leader ${node.id} of term ${term} lacks committed entry ${committed.term}/${index}`,
        )
      }
    }
  }

  /** Log matching: two entries with the same index and term hold the same command. */
  onPersisted(node: CheckedNode, entries: readonly Entry[]): void {
    for (const entry of entries) {
      const key = `${entry.index}/${entry.term}`
      const hash = entryHash(entry)
      const known = this.stored.get(key)
      if (known === undefined) this.stored.set(key, hash)
      else if (known !== hash) {
        throw new SafetyViolation('log matching', `node ${node.id} stored a different entry at ${key}`)
      }
    }
  }

  onSend(node: CheckedNode, message: Message): void {
    if (
      message.term > (this.termSent.get(node.id) ?? 0) &&
      message.type !== 'preVote' &&
      message.type !== 'preVoteResponse'
    ) {
      this.termSent.set(node.id, message.term)
    }
    if (message.type === 'voteResponse' && !message.reject) {
      const key = `${message.term}/${message.from}`
      const previous = this.votes.get(key)
      if (previous !== undefined && previous !== message.to) {
        throw new SafetyViolation(
          'one vote per term',
          `node ${message.from} voted for ${previous} and ${message.to} in term ${message.term}`,
        )
      }
      this.votes.set(key, message.to)
    }
  }

  /** State machine safety: every node applies the same entry at each index, in order. */
  onApply(node: CheckedNode, entry: Entry): void {
    const last = this.#lastApplied.get(node.id) ?? 0
    if (entry.index !== last + 1) {
      throw new SafetyViolation('monotonic apply', `node ${node.id} applied ${entry.index} after ${last}`)
    }
    this.#lastApplied.set(node.id, entry.index)
    const hash = entryHash(entry)
    const known = this.applied.get(entry.index)
    if (known === undefined)
      this.applied.set(entry.index, { term: entry.term, hash, committedBy: this.#highestLeaderTerm })
    else if (known.term !== entry.term || known.hash !== hash) {
      throw new SafetyViolation(
        'state machine safety',
        `node ${node.id} applied ${describeEntry(entry)} where another applied term ${known.term}`,
      )
    }
  }

  /** A snapshot restore moves a node's applied index forward without applying entries one by one. */
  onSnapshotApplied(node: CheckedNode, index: number): void {
    this.#lastApplied.set(node.id, index)
  }

  onAcknowledged(index: number, term: number): void {
    this.acknowledged.set(index, term)
    const committed = this.applied.get(index)
    if (committed && committed.term !== term) {
      throw new SafetyViolation(
        'acknowledged write',
        `acknowledged ${term}/${index} but ${committed.term}/${index} is committed`,
      )
    }
  }
}
