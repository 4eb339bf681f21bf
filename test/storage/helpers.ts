// Shared helpers for the storage tests: seeded workloads over the MemoryLog model, a full description of a
// LogReader's answers for comparison, and the power-loss oracle.
import assert from 'node:assert/strict'
import { isDeepStrictEqual } from 'node:util'
import type { LogReader } from '../../src/raft/log-reader.js'
import { MemoryLog } from '../../src/raft/memory-log.js'
import type {
  ClusterConfig,
  ConfChange,
  Entry,
  HardState,
  Snapshot,
  SnapshotMeta,
} from '../../src/raft/message.js'
import type { LogStore, SaveRequest } from '../../src/storage/log-store.js'
import type { SeededRandom } from '../../src/storage/seeded-random.js'

export type Op =
  | { readonly kind: 'save'; readonly request: SaveRequest }
  | { readonly kind: 'createSnapshot'; readonly snapshot: Snapshot }

/** Every answer a LogReader gives, in one comparable value. */
export interface ReaderView {
  readonly hardState: HardState
  readonly snapshotMeta: SnapshotMeta
  readonly snapshotData: Uint8Array
  readonly firstIndex: number
  readonly lastIndex: number
  /** `terms[i]` is `term(snapshotMeta.index + i)`. */
  readonly terms: readonly number[]
  readonly entries: readonly Entry[]
  /** `entries` from `firstIndex` with `bytesMax` 0, 40 and 200. */
  readonly limited: readonly (readonly Entry[])[]
}

/** A reader whose snapshot data can be read: the model, or a durable store (which keeps it on disk). */
export type SnapshotReader = LogReader & { readSnapshot(): Promise<Snapshot> }

/** Every answer of `reader`, its snapshot's data read as `readSnapshot` gives it. */
export async function view(reader: SnapshotReader): Promise<ReaderView> {
  return { ...answers(reader), snapshotData: (await reader.readSnapshot()).data }
}

/** Every answer of the model, whose snapshot data is always in memory. */
export function modelView(model: MemoryLog): ReaderView {
  return { ...answers(model), snapshotData: model.snapshot().data }
}

function answers(reader: LogReader): Omit<ReaderView, 'snapshotData'> {
  const snapshotMeta = reader.snapshotMeta()
  const firstIndex = reader.firstIndex()
  const lastIndex = reader.lastIndex()
  const terms: number[] = []
  for (let index = snapshotMeta.index; index <= lastIndex; index++) terms.push(reader.term(index))
  const range = { from: firstIndex, to: lastIndex + 1 }
  return {
    hardState: { ...reader.hardState() },
    snapshotMeta,
    firstIndex,
    lastIndex,
    terms,
    entries: reader.entries(range),
    limited: [0, 40, 200].map((bytesMax) => reader.entries({ ...range, bytesMax })),
  }
}

export async function assertSameAnswers(
  actual: SnapshotReader,
  expected: SnapshotReader,
  context: string,
): Promise<void> {
  assert.deepStrictEqual(await view(actual), await view(expected), context)
}

export function applyToModel(model: MemoryLog, op: Op): void {
  if (op.kind === 'createSnapshot') {
    model.createSnapshot(op.snapshot)
    return
  }
  const { snapshot, entries, hardState } = op.request
  if (snapshot !== undefined) model.applySnapshot(snapshot)
  if (entries !== undefined) model.append(entries)
  if (hardState !== undefined) model.setHardState(hardState)
}

export function applyToStore(store: LogStore, op: Op): Promise<void> {
  return op.kind === 'createSnapshot' ? store.createSnapshot(op.snapshot) : store.save(op.request)
}

export function modelAfter(ops: readonly Op[]): MemoryLog {
  const model = new MemoryLog()
  for (const op of ops) applyToModel(model, op)
  return model
}

export function randomEntry(random: SeededRandom, index: number, term: number): Entry {
  const roll = random.next()
  if (roll < 0.7) {
    const size = random.chance(0.1) ? random.int(100, 300) : random.int(0, 24)
    return { kind: 'normal', index, term, data: random.bytes(size) }
  }
  if (roll < 0.85) {
    const type = random.pick(['addVoter', 'addNonVoter', 'promote', 'remove'] as const)
    const change: ConfChange = { type, nodeId: random.int(1, 9) }
    return { kind: 'confChange', index, term, change }
  }
  return { kind: 'noop', index, term }
}

export function entriesFrom(random: SeededRandom, first: number, count: number, term: number): Entry[] {
  return Array.from({ length: count }, (_, i) => randomEntry(random, first + i, term))
}

function randomConfig(random: SeededRandom): ClusterConfig {
  const voters = Array.from({ length: random.int(1, 3) }, () => random.int(1, 9))
  const nonVoters = Array.from({ length: random.int(0, 2) }, () => random.int(1, 9))
  return { voters, nonVoters }
}

/** The workload's clock: terms only grow and a vote, once cast, holds for its term, as in Raft. */
export interface TermClock {
  term: number
  vote: number
}

function bumpTerm(random: SeededRandom, clock: TermClock): void {
  clock.term++
  clock.vote = random.int(0, 5)
}

/** A random operation that is valid for `model` (the model is not changed). */
export function randomOp(random: SeededRandom, model: MemoryLog, clock: TermClock): Op {
  const first = model.firstIndex()
  const last = model.lastIndex()
  const snapshotIndex = model.snapshotMeta().index
  const hardState = (lastAfter: number): HardState => {
    if (clock.vote === 0 && random.chance(0.3)) clock.vote = random.int(1, 5)
    return { term: clock.term, vote: clock.vote, commit: random.int(0, Math.max(0, lastAfter)) }
  }
  const roll = random.next()
  if (roll < 0.55) {
    let start = last + 1
    if (last >= first && random.chance(0.25)) {
      start = random.int(first, last)
      bumpTerm(random, clock)
    }
    const entries = entriesFrom(random, start, random.int(1, 5), clock.term)
    const lastAfter = start + entries.length - 1
    return {
      kind: 'save',
      request: random.chance(0.5) ? { entries, hardState: hardState(lastAfter) } : { entries },
    }
  }
  if (roll < 0.7) {
    if (random.chance(0.3)) bumpTerm(random, clock)
    return { kind: 'save', request: { hardState: hardState(last) } }
  }
  if (roll < 0.85 && last > snapshotIndex) {
    const index = random.int(snapshotIndex + 1, last)
    const meta = { index, term: model.term(index), config: randomConfig(random) }
    return { kind: 'createSnapshot', snapshot: { meta, data: random.bytes(random.int(0, 40)) } }
  }
  if (roll < 0.93) {
    bumpTerm(random, clock)
    const index = Math.max(snapshotIndex + 1, last + random.int(-3, 8))
    const meta = { index, term: random.int(1, clock.term), config: randomConfig(random) }
    const snapshot = { meta, data: random.bytes(random.int(0, 40)) }
    const entries = random.chance(0.5) ? entriesFrom(random, index + 1, random.int(1, 3), clock.term) : []
    return { kind: 'save', request: { snapshot, entries, hardState: hardState(index + entries.length) } }
  }
  return { kind: 'save', request: { entries: entriesFrom(random, last + 1, 1, clock.term) } }
}

/**
 * The states a recovery may show when a crash hit while `op` was in flight, `acked` being the model after
 * the last acknowledged operation: the acknowledged state; the state after `op`; and, when `op` only appends
 * to the same log without replacing anything, the acknowledged state plus a prefix of `op`'s entries with
 * the old hard state (the log reached the disk, the hard-state record did not).
 */
export function allowedViews(acked: MemoryLog, op: Op | undefined): ReaderView[] {
  const before = modelView(acked)
  if (op === undefined) return [before]
  const allowed = [before]
  if (op.kind === 'save' && op.request.snapshot === undefined) {
    const entries = op.request.entries ?? []
    const first = entries[0]?.index
    if (first === acked.lastIndex() + 1) {
      for (let count = 1; count <= entries.length; count++) {
        const partial = modelFrom(before)
        partial.append(entries.slice(0, count))
        allowed.push(modelView(partial))
      }
    }
  }
  const after = modelFrom(before)
  applyToModel(after, op)
  allowed.push(modelView(after))
  return allowed
}

/** Every commit index the operations saved (and 0, the initial one). */
export function commitsOf(ops: readonly Op[]): Set<number> {
  const commits = new Set([0])
  for (const op of ops) {
    if (op.kind === 'save' && op.request.hardState !== undefined) commits.add(op.request.hardState.commit)
  }
  return commits
}

/**
 * The commit index is not made durable by one-sync appends, so recovery may show an older one (Raft allows
 * it). What must hold: it is one that was saved, or the last index (recovery never shows a commit beyond the
 * log), and it is at most the last index.
 */
export function commitProblem(got: ReaderView, commits: ReadonlySet<number>): string | undefined {
  const { commit } = got.hardState
  if (commit > got.lastIndex) return `commit ${commit} beyond the last index ${got.lastIndex}`
  if (!commits.has(commit) && commit !== got.lastIndex) return `commit ${commit} was never saved`
  return undefined
}

/** The view with the commit index blanked out, to compare states whose commit may legitimately differ. */
export function withoutCommit(state: ReaderView): ReaderView {
  return { ...state, hardState: { ...state.hardState, commit: -1 } }
}

/** Same answers except possibly the commit index, which must pass `commitProblem`. */
export function sameExceptCommit(
  got: ReaderView,
  expected: ReaderView,
  commits: ReadonlySet<number>,
): boolean {
  return (
    isDeepStrictEqual(withoutCommit(got), withoutCommit(expected)) &&
    commitProblem(got, commits) === undefined
  )
}

function modelFrom(source: ReaderView): MemoryLog {
  const model = new MemoryLog()
  model.applySnapshot({ meta: source.snapshotMeta, data: source.snapshotData })
  model.append(source.entries)
  model.setHardState(source.hardState)
  return model
}

/**
 * Checks a recovered reader against the power-loss properties and returns the violations (empty when fine):
 * acknowledged entries present (unless superseded by an acknowledged truncation or snapshot), term and vote
 * not behind the last acknowledged save, the snapshot old or new and whole, and the whole state one of
 * `allowedViews`, except for the commit index, which must be one of `commits` (those saved so far, the
 * operation in flight included) or the last index, and never beyond the last index.
 */
export async function powerLossViolations(
  recovered: SnapshotReader,
  acked: MemoryLog,
  op: Op | undefined,
  commits: ReadonlySet<number>,
): Promise<string[]> {
  const exact = await view(recovered)
  const got = withoutCommit(exact)
  const violations: string[] = []
  const ackedView = withoutCommit(modelView(acked))
  const allowed = allowedViews(acked, op).map(withoutCommit)
  const commit = commitProblem(exact, commits)
  if (commit !== undefined) violations.push(commit)
  const { term, vote } = ackedView.hardState
  if (got.hardState.term < term) violations.push(`term went back from ${term} to ${got.hardState.term}`)
  if (got.hardState.term === term && vote !== 0 && got.hardState.vote !== vote) {
    violations.push(`vote in term ${term} changed from ${vote} to ${got.hardState.vote}`)
  }
  const snapshotOk = allowed.some(
    (candidate) =>
      isDeepStrictEqual(candidate.snapshotMeta, got.snapshotMeta) &&
      isDeepStrictEqual(candidate.snapshotData, got.snapshotData),
  )
  if (!snapshotOk)
    violations.push(`snapshot at ${got.snapshotMeta.index} is neither the old nor the new one, whole`)
  const committedOp = allowed[allowed.length - 1]
  const opCommitted = op !== undefined && isDeepStrictEqual(committedOp, got)
  if (!opCommitted && isDeepStrictEqual(got.snapshotMeta, ackedView.snapshotMeta)) {
    const newLast = Math.min(got.lastIndex, ackedView.lastIndex)
    for (const entry of ackedView.entries) {
      if (entry.index > newLast) {
        violations.push(
          `acknowledged entry ${entry.index} is missing (recovered log ends at ${got.lastIndex})`,
        )
        break
      }
    }
  }
  if (!allowed.some((candidate) => isDeepStrictEqual(candidate, got))) {
    violations.push(
      `recovered state is not an allowed state: ${summarize(exact)}; allowed: ${allowed.map(summarize).join(' | ')}`,
    )
  }
  return violations
}

function summarize(state: ReaderView): string {
  const hs = state.hardState
  return `snapshot ${state.snapshotMeta.index}/${state.snapshotMeta.term}, entries (${state.firstIndex - 1}, ${state.lastIndex}], terms ${state.terms.join(',')}, hard state ${hs.term}/${hs.vote}/${hs.commit}`
}
