// fast-check arbitraries for valid Raft messages of every type and entries of every kind, shared by the codec
// tests: each generated message satisfies `validateMessage`, including the append and snapshot structure.
import fc from 'fast-check'
import type { ConfChange, Entry, Message, NodeId } from '../../../src/raft/message.js'

const maxSafe = Number.MAX_SAFE_INTEGER

/** Small values most of the time, the edges of the safe range sometimes. */
export const u64 = fc.oneof(
  { weight: 4, arbitrary: fc.nat({ max: 1000 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 2 ** 32 - 1, 2 ** 32, maxSafe) },
  { weight: 1, arbitrary: fc.maxSafeNat() },
)

export const nodeId: fc.Arbitrary<NodeId> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 9 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: maxSafe }) },
)

const route = fc
  .tuple(nodeId, nodeId)
  .filter(([from, to]) => from !== to)
  .map(([from, to]) => ({ from, to }))

// fc.record builds null-prototype objects; the codec yields plain ones, so map to a literal.
const confChange: fc.Arbitrary<ConfChange> = fc
  .record({ type: fc.constantFrom('addVoter', 'addNonVoter', 'promote', 'remove'), nodeId })
  .map(({ type, nodeId }) => ({ type, nodeId }))

type EntryBody =
  | { readonly kind: 'normal'; readonly data: Uint8Array }
  | { readonly kind: 'confChange'; readonly change: ConfChange }
  | { readonly kind: 'noop' }

const entryBody: fc.Arbitrary<EntryBody> = fc.oneof(
  fc.record({ kind: fc.constant('normal' as const), data: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ kind: fc.constant('confChange' as const), change: confChange }),
  fc.constant({ kind: 'noop' as const }),
)

/** An append: consecutive entries after prevIndex, terms non-decreasing from prevTerm up to the message term. */
const append: fc.Arbitrary<Message> = fc
  .record({
    route,
    term: u64,
    prevIndex: fc.oneof(fc.nat({ max: 1000 }), fc.integer({ min: 0, max: maxSafe - 100 })),
    commit: u64,
    bodies: fc.array(entryBody, { maxLength: 8 }),
    termFractions: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 9, maxLength: 9 }),
  })
  .map(({ route, term, prevIndex, commit, bodies, termFractions }) => {
    const terms = termFractions.map((fraction) => Math.floor(fraction * term)).sort((a, b) => a - b)
    const prevTerm = terms[0]!
    const entries: Entry[] = bodies.map((body, i) => ({
      ...body,
      index: prevIndex + 1 + i,
      term: terms[i + 1]!,
    }))
    return { type: 'append' as const, ...route, term, prevIndex, prevTerm, commit, entries }
  })

const installSnapshot = (dataMax: number): fc.Arbitrary<Message> =>
  fc
    .record({
      route,
      term: u64,
      termFraction: fc.double({ min: 0, max: 1, noNaN: true }),
      index: fc.integer({ min: 1, max: maxSafe }),
      members: fc.uniqueArray(nodeId, { maxLength: 7 }),
      voterCount: fc.nat({ max: 7 }),
      data: fc.uint8Array({ maxLength: dataMax }),
    })
    .map(({ route, term, termFraction, index, members, voterCount, data }) => ({
      type: 'installSnapshot' as const,
      ...route,
      term,
      snapshot: {
        meta: {
          index,
          term: Math.floor(termFraction * term),
          config: { voters: members.slice(0, voterCount), nonVoters: members.slice(voterCount) },
        },
        data,
      },
    }))

export const messageOfType = {
  append,
  appendResponse: fc
    .record({ route, term: u64, index: u64, reject: fc.boolean(), rejectHint: u64, hintTerm: u64 })
    .map(({ route, ...rest }): Message => ({ type: 'appendResponse', ...route, ...rest })),
  vote: fc
    .record({
      route,
      term: u64,
      lastIndex: u64,
      lastTerm: u64,
      transfer: fc.boolean(),
      type: fc.constantFrom('vote' as const, 'preVote' as const),
    })
    .map(({ route, ...rest }): Message => ({ ...route, ...rest })),
  voteResponse: fc
    .record({
      route,
      term: u64,
      reject: fc.boolean(),
      type: fc.constantFrom('voteResponse' as const, 'preVoteResponse' as const),
    })
    .map(({ route, ...rest }): Message => ({ ...route, ...rest })),
  heartbeat: fc
    .record({ route, term: u64, commit: u64, readRound: u64 })
    .map(({ route, ...rest }): Message => ({ type: 'heartbeat', ...route, ...rest })),
  heartbeatResponse: fc
    .record({ route, term: u64, readRound: u64 })
    .map(({ route, ...rest }): Message => ({ type: 'heartbeatResponse', ...route, ...rest })),
  installSnapshot: installSnapshot(4096),
  timeoutNow: fc
    .record({ route, term: u64 })
    .map(({ route, term }): Message => ({ type: 'timeoutNow', ...route, term })),
}

export const anyMessage: fc.Arbitrary<Message> = fc.oneof(...Object.values(messageOfType))
