import type { ClusterConfig, ConfChange, NodeId } from './message.js'

export type ConfChangeResult =
  | { readonly ok: true; readonly config: ClusterConfig }
  | { readonly ok: false; readonly reason: string }

export function isVoter(config: ClusterConfig, id: NodeId): boolean {
  return config.voters.includes(id)
}

export function isMember(config: ClusterConfig, id: NodeId): boolean {
  return config.voters.includes(id) || config.nonVoters.includes(id)
}

/** Every member, voters first, each list in ascending order. */
export function members(config: ClusterConfig): NodeId[] {
  return [...config.voters, ...config.nonVoters]
}

const sorted = (ids: Iterable<NodeId>): NodeId[] => [...ids].sort((a, b) => a - b)

/**
 * Returns the configuration after one single-server change, or why it is refused. Pure: the old
 * configuration is never mutated (etcd's `confchange.Changer.Simple`).
 */
export function applyConfChange(config: ClusterConfig, change: ConfChange): ConfChangeResult {
  const id = change.nodeId
  if (!Number.isSafeInteger(id) || id <= 0) return { ok: false, reason: `invalid node id ${id}` }
  const voters = new Set(config.voters)
  const nonVoters = new Set(config.nonVoters)
  switch (change.type) {
    case 'addVoter':
      if (voters.has(id)) return { ok: false, reason: `node ${id} is already a voter` }
      nonVoters.delete(id)
      voters.add(id)
      break
    case 'addNonVoter':
      if (voters.has(id)) return { ok: false, reason: `node ${id} is a voter; remove it first` }
      if (nonVoters.has(id)) return { ok: false, reason: `node ${id} is already a non-voter` }
      nonVoters.add(id)
      break
    case 'promote':
      if (!nonVoters.has(id)) return { ok: false, reason: `node ${id} is not a non-voter` }
      nonVoters.delete(id)
      voters.add(id)
      break
    case 'remove':
      if (!voters.has(id) && !nonVoters.has(id)) return { ok: false, reason: `node ${id} is not a member` }
      if (voters.has(id) && voters.size === 1) return { ok: false, reason: `node ${id} is the last voter` }
      voters.delete(id)
      nonVoters.delete(id)
      break
  }
  return { ok: true, config: { voters: sorted(voters), nonVoters: sorted(nonVoters) } }
}
