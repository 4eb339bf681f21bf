import type { NodeId } from './message.js'

/** Smallest number of voters that forms a majority of `voterCount` ((N/2)+1). */
export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1
}

/**
 * The highest index acknowledged by a majority of `voters`, given each voter's match index (missing = 0).
 * Sort descending and take the majority-th value, as etcd's `quorum.MajorityConfig.CommittedIndex`.
 * An empty voter set commits nothing.
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0
  const matches = voters.map(matchOf).sort((a, b) => b - a)
  return matches[majority(voters.length) - 1]!
}

export type VoteResult = 'won' | 'lost' | 'pending'

/** Whether `votes` (granted or rejected per voter) already decide an election among `voters`. */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return 'lost'
  let granted = 0
  let rejected = 0
  for (const id of voters) {
    const vote = votes.get(id)
    if (vote === true) granted++
    else if (vote === false) rejected++
  }
  const needed = majority(voters.length)
  if (granted >= needed) return 'won'
  if (voters.length - rejected < needed) return 'lost'
  return 'pending'
}
