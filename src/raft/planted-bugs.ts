/**
 * Classic Raft bugs that can be switched on in tests, to prove that the simulator and its checkers
 * catch them (testing.md §4a, "test of the tests"). Production code never sets any of these.
 */
export type PlantedBug =
  /**
   * Figure 8 in the paper's form: commit an entry of an earlier term by counting replicas, with no no-op at
   * the start of a term (the no-op shrinks the window in which the wrong commit can be observed to a few
   * milliseconds, so the simulator would need far more seeds to see it).
   */
  | 'commitPreviousTermByCount'
  /** §5.4.1: grant a vote without checking that the candidate's log is at least as up to date. */
  | 'skipUpToDateCheck'
  /** §5.3: on append, drop the follower's entries after `prevIndex` even when they do not conflict. */
  | 'truncateWithoutConflict'
  /** Pipelining: treat an append response as acknowledging everything sent so far, not what it names. */
  | 'trustStaleAppendResponse'
  /** §6.4: answer a ReadIndex request without a round of heartbeats confirming leadership. */
  | 'readIndexWithoutQuorum'
  /** Ongaro's single-server bug: allow a membership change before the leader committed an entry of its term. */
  | 'confChangeBeforeTermCommit'
  /** Driver: send messages before the hard state and entries they reflect are durable (votes, acks). */
  | 'sendBeforePersist'
  /** Driver: report a received snapshot as applied before the state machine was restored from it (rqlite #2747). */
  | 'snapshotVisibleBeforeRestore'
  /** Client: retry a write after an ambiguous failure as a new command (rqlite #1628). */
  | 'retryAmbiguousWrite'

export const plantedBugs: readonly PlantedBug[] = [
  'commitPreviousTermByCount',
  'skipUpToDateCheck',
  'truncateWithoutConflict',
  'trustStaleAppendResponse',
  'readIndexWithoutQuorum',
  'confChangeBeforeTermCommit',
  'sendBeforePersist',
  'snapshotVisibleBeforeRestore',
  'retryAmbiguousWrite',
]
