import type { Entry, HardState, NodeId } from './message.js'

/**
 * The initial log of a new cluster: one `addVoter` entry per founding voter, all committed at term 1.
 * Every founding node starts from the same entries (etcd's bootstrap), so a node that joins later
 * learns the whole membership history from the log itself.
 */
export function bootstrapLog(voters: readonly NodeId[]): { entries: Entry[]; hardState: HardState } {
  const entries: Entry[] = voters.map((nodeId, i) => ({
    kind: 'confChange',
    index: i + 1,
    term: 1,
    change: { type: 'addVoter', nodeId },
  }))
  return { entries, hardState: { term: 1, vote: 0, commit: entries.length } }
}
