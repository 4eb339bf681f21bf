// Goal: a power loss at any moment never loses an acknowledged entry, never moves term or vote back, never
// shows a commit index that was not saved or lies beyond the log, and leaves the old or the new snapshot,
// whole; method: run workloads on CrashFs, clone the file system at every fsync, datasync (the one sync of a
// one-sync append), fsyncDir and rename (and at the end), enumerate crash states of each clone (prefixes of
// pending writes and directory operations, torn last writes), recover, and check the result against the model.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemoryLog } from '../../src/raft/memory-log.js'
import { type BarrierEvent, CrashFs, enumerateCrashChoices } from '../../src/storage/crash-fs.js'
import { LogStore, type LogStoreOptions } from '../../src/storage/log-store.js'
import { SeededRandom } from '../../src/storage/seeded-random.js'
import {
  type Op,
  type ReaderView,
  applyToModel,
  applyToStore,
  commitsOf,
  entriesFrom,
  modelAfter,
  powerLossViolations,
  randomOp,
  sameExceptCommit,
  modelView,
  view,
} from './helpers.js'

const dir = '/data'

interface Capture {
  readonly image: CrashFs
  /** Index of the operation in flight; -1 while the store is being created, `ops.length` after the last. */
  readonly inFlight: number
  readonly event: BarrierEvent | 'end'
}

interface Report {
  readonly barriers: number
  readonly crashStates: number
  readonly problems: readonly string[]
}

async function powerLoss(
  ops: readonly Op[],
  options: LogStoreOptions & { readonly choicesMax: number; readonly stopAfter?: number },
): Promise<Report> {
  const fs = new CrashFs()
  const captures: Capture[] = []
  let inFlight = -1
  fs.onBarrier = (event) => captures.push({ image: fs.clone(), inFlight, event })
  const store = await LogStore.open(fs, dir, options)
  for (const [i, op] of ops.entries()) {
    inFlight = i
    await applyToStore(store, op)
  }
  fs.onBarrier = undefined
  captures.push({ image: fs.clone(), inFlight: ops.length, event: 'end' })

  const problems: string[] = []
  let crashStates = 0
  for (const [c, capture] of captures.entries()) {
    const acked = modelAfter(ops.slice(0, Math.max(0, capture.inFlight)))
    const op = ops[capture.inFlight]
    const commits = commitsOf(ops.slice(0, capture.inFlight + 1))
    const where = `op ${capture.inFlight} (${describeOp(op)}), before ${capture.event === 'end' ? 'the end' : `${capture.event.kind} ${capture.event.path}`}`
    // The process dies (kill -9) but the machine does not: the restarted store sees the page cache.
    const killed = await recoverAndCheck(capture.image.clone(), acked, op, commits, options, c)
    problems.push(...killed.map((problem) => `${where}, process crash: ${problem}`))
    if (options.stopAfter !== undefined && problems.length >= options.stopAfter) {
      return { barriers: captures.length, crashStates, problems }
    }
    const choices = enumerateCrashChoices(capture.image.pendingState(), {
      limit: options.choicesMax,
      seed: c,
    })
    for (const [n, choice] of choices.entries()) {
      crashStates++
      const crashed = capture.image.crash(choice)
      const pristine = crashed.clone()
      const found = await recoverAndCheck(crashed, acked, op, commits, options, n)
      problems.push(...found.map((problem) => `${where}, crash ${JSON.stringify(choice)}: ${problem}`))
      if (found.length === 0 && n % 4 === 0) {
        // A second power loss during recovery's own repair writes must not break anything either.
        problems.push(
          ...(await crashDuringRecovery(pristine, acked, op, commits, options)).map((p) => `${where}: ${p}`),
        )
      }
      if (options.stopAfter !== undefined && problems.length >= options.stopAfter) {
        return { barriers: captures.length, crashStates, problems }
      }
    }
  }
  return { barriers: captures.length, crashStates, problems }
}

/**
 * Recovers `fs` and checks the result; then checks that the recovered state is durable and usable: a power
 * loss right after recovery (before `close`, which records the hard state) shows the same state, and a
 * further one-sync append survives a power loss (its commit index may be lost, its entry may not).
 */
async function recoverAndCheck(
  fs: CrashFs,
  acked: MemoryLog,
  op: Op | undefined,
  commits: ReadonlySet<number>,
  options: LogStoreOptions,
  seed: number,
): Promise<string[]> {
  let store: LogStore
  try {
    store = await LogStore.open(fs, dir, options)
  } catch (error) {
    return [`recovery failed: ${String(error)}`]
  }
  const problems = await powerLossViolations(store, acked, op, commits)
  const recovered = await view(store)
  const reopened = await reopenAfterPowerLoss(fs, seed, options)
  await store.close()
  if (!isSame(reopened, recovered)) problems.push('a power loss right after recovery changed the state')
  const next = modelFromView(recovered)
  const entry = { kind: 'noop', index: recovered.lastIndex + 1, term: recovered.hardState.term } as const
  const hardState = { ...recovered.hardState, commit: recovered.lastIndex }
  next.append([entry])
  next.setHardState(hardState)
  const continued = await LogStore.open(fs, dir, options)
  await continued.save({ entries: [entry], hardState })
  const afterSave = await reopenAfterPowerLoss(fs, seed + 1, options)
  await continued.close()
  const saved = new Set([recovered.hardState.commit, hardState.commit])
  if (afterSave instanceof Error || !sameExceptCommit(afterSave as ReaderView, modelView(next), saved)) {
    problems.push('a save after recovery did not survive a power loss')
  }
  return problems
}

async function reopenAfterPowerLoss(fs: CrashFs, seed: number, options: LogStoreOptions): Promise<unknown> {
  try {
    const store = await LogStore.open(fs.crash({ seed }), dir, options)
    const state = await view(store)
    await store.close()
    return state
  } catch (error) {
    return error
  }
}

function modelFromView(source: ReaderView): MemoryLog {
  const model = new MemoryLog()
  model.applySnapshot({ meta: source.snapshotMeta, data: source.snapshotData })
  model.append(source.entries)
  model.setHardState(source.hardState)
  return model
}

async function crashDuringRecovery(
  fs: CrashFs,
  acked: MemoryLog,
  op: Op | undefined,
  commits: ReadonlySet<number>,
  options: LogStoreOptions,
): Promise<string[]> {
  const images: CrashFs[] = []
  const copy = fs.clone()
  copy.onBarrier = () => images.push(copy.clone())
  const store = await LogStore.open(copy, dir, options)
  copy.onBarrier = undefined
  await store.close()
  const problems: string[] = []
  for (const [i, image] of images.entries()) {
    const found = await recoverAndCheck(image.crash({ seed: i }), acked, op, commits, options, i)
    problems.push(...found.map((problem) => `crash during recovery: ${problem}`))
  }
  return problems
}

function isSame(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b)
    return true
  } catch {
    return false
  }
}

function describeOp(op: Op | undefined): string {
  if (op === undefined) return 'none'
  if (op.kind === 'createSnapshot') return `createSnapshot at ${op.snapshot.meta.index}`
  const { snapshot, entries = [], hardState } = op.request
  const parts = []
  if (snapshot !== undefined) parts.push(`install snapshot at ${snapshot.meta.index}`)
  if (entries.length > 0) parts.push(`append [${entries[0]!.index}, ${entries[entries.length - 1]!.index}]`)
  if (hardState !== undefined)
    parts.push(`hard state ${hardState.term}/${hardState.vote}/${hardState.commit}`)
  return parts.join(' + ')
}

/** Appends, a truncating append, compactions, installed snapshots (past and before the log end), hard states. */
function scriptedWorkload(): Op[] {
  const random = new SeededRandom(99)
  const entries = (first: number, count: number, term: number) => entriesFrom(random, first, count, term)
  const snapshot = (index: number, term: number) => ({
    meta: { index, term, config: { voters: [1, 2, 3], nonVoters: [4] } },
    data: random.bytes(20),
  })
  const ops: Op[] = [
    { kind: 'save', request: { hardState: { term: 1, vote: 1, commit: 0 } } },
    { kind: 'save', request: { entries: entries(1, 3, 1) } },
    { kind: 'save', request: { entries: entries(4, 2, 1), hardState: { term: 1, vote: 1, commit: 3 } } },
    { kind: 'save', request: { entries: entries(4, 3, 2), hardState: { term: 2, vote: 2, commit: 3 } } },
  ]
  ops.push({ kind: 'createSnapshot', snapshot: snapshot(3, 1) })
  ops.push({ kind: 'save', request: { entries: entries(7, 2, 2) } })
  ops.push({ kind: 'save', request: { hardState: { term: 3, vote: 0, commit: 6 } } })
  ops.push({
    kind: 'save',
    request: {
      snapshot: snapshot(12, 3),
      entries: entries(13, 2, 3),
      hardState: { term: 3, vote: 2, commit: 12 },
    },
  })
  ops.push({ kind: 'save', request: { entries: entries(15, 1, 3) } })
  ops.push({ kind: 'createSnapshot', snapshot: snapshot(14, 3) })
  ops.push({
    kind: 'save',
    request: { entries: entries(16, 3, 4), hardState: { term: 4, vote: 4, commit: 14 } },
  })
  ops.push({
    kind: 'save',
    request: { entries: entries(17, 1, 5), hardState: { term: 5, vote: 1, commit: 15 } },
  })
  ops.push({
    kind: 'save',
    request: { snapshot: snapshot(16, 5), hardState: { term: 5, vote: 1, commit: 16 } },
  })
  ops.push({ kind: 'save', request: { entries: entries(17, 3, 5) } })
  // One-sync appends in a row (term and vote unchanged, commit moving), then a hard state alone.
  ops.push({
    kind: 'save',
    request: { entries: entries(20, 2, 5), hardState: { term: 5, vote: 1, commit: 18 } },
  })
  ops.push({
    kind: 'save',
    request: { entries: entries(22, 1, 5), hardState: { term: 5, vote: 1, commit: 21 } },
  })
  ops.push({ kind: 'save', request: { entries: entries(23, 2, 5) } })
  ops.push({ kind: 'save', request: { hardState: { term: 5, vote: 1, commit: 23 } } })
  return ops
}

function randomWorkload(seed: number, count: number): Op[] {
  const random = new SeededRandom(seed)
  const model = new MemoryLog()
  const clock = { term: 1, vote: 0 }
  const ops: Op[] = []
  for (let i = 0; i < count; i++) {
    const op = randomOp(random, model, clock)
    applyToModel(model, op)
    ops.push(op)
  }
  return ops
}

// Three slots per hard-state file, so that its rewrite (temp file + rename) happens often.
const options = { hardStateSlotsMax: 3, choicesMax: 60 }

test('power loss at every barrier of a scripted workload', async (t) => {
  const report = await powerLoss(scriptedWorkload(), options)
  t.diagnostic(`${report.barriers} barriers, ${report.crashStates} crash states recovered`)
  assert.deepStrictEqual(report.problems.slice(0, 5), [])
  assert.ok(report.crashStates > 500)
})

test('power loss at every barrier, snapshot files written in 6-byte pieces (the chunked path)', async (t) => {
  // Each 20-byte snapshot becomes a meta record, a data header and four data pieces: separate writes, so
  // crash states keep any prefix of them, torn or zeroed.
  const report = await powerLoss(scriptedWorkload(), { ...options, choicesMax: 30, snapshotChunkBytes: 6 })
  t.diagnostic(`${report.barriers} barriers, ${report.crashStates} crash states recovered`)
  assert.deepStrictEqual(report.problems.slice(0, 5), [])
})

for (const seed of [11, 12]) {
  test(`power loss at every barrier of random workload ${seed}`, async (t) => {
    // A small bound on the unrecorded log, so that one-sync appends alternate with recorded ones.
    const report = await powerLoss(randomWorkload(seed, 25), {
      ...options,
      choicesMax: 30,
      unrecordedLogBytesMax: 150,
    })
    t.diagnostic(`${report.barriers} barriers, ${report.crashStates} crash states recovered`)
    assert.deepStrictEqual(report.problems.slice(0, 5), [])
  })
}

test('the power-loss check catches a store that skips the log fsync (self-check)', async () => {
  const report = await powerLoss(scriptedWorkload(), {
    ...options,
    unsafeTesting: { skipLogFsync: true },
    stopAfter: 1,
  })
  assert.ok(report.problems.length >= 1)
})

test('the power-loss check catches a recovery that drops one-sync appends (self-check)', async () => {
  const report = await powerLoss(scriptedWorkload(), {
    ...options,
    unsafeTesting: { dropUnrecordedLog: true },
    stopAfter: 1,
  })
  assert.ok(
    report.problems.some(
      (problem) => problem.includes('acknowledged entry') || problem.includes('did not survive a power loss'),
    ),
    report.problems.join('\n'),
  )
})

test('the power-loss check catches a recovery that skips checksums (self-check)', async () => {
  const report = await powerLoss(scriptedWorkload(), {
    ...options,
    unsafeTesting: { skipChecksums: true },
    stopAfter: 1,
  })
  assert.ok(report.problems.length >= 1)
})

test('the power-loss check catches a store that skips fsyncDir (self-check)', async () => {
  const report = await powerLoss(scriptedWorkload(), {
    ...options,
    unsafeTesting: { skipDirFsync: true },
    stopAfter: 1,
  })
  assert.ok(report.problems.length >= 1)
})
