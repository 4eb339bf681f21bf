// Goal: injected faults never produce an acknowledgement for data that is not durable: ENOSPC rejects with
// DiskFullError and leaves memory and disk at the last acknowledged state (usable again once space is freed),
// EIO on fsync or write fails the store for good (StorageFailedError on every later call, never a retried
// fsync); method: CrashFs fault injection at every byte budget of a save and of snapshot writes, then reopen,
// with and without a power loss.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { LogReader } from '../../src/raft/log-reader.js'
import { CrashFs } from '../../src/storage/crash-fs.js'
import { DiskFullError, StorageFailedError } from '../../src/storage/errors.js'
import { hardStateFileName, hardStateSlotBytes } from '../../src/storage/hard-state-file.js'
import { LogStore, type LogStoreOptions, logFileName } from '../../src/storage/log-store.js'
import { SeededRandom } from '../../src/storage/seeded-random.js'
import { AssertionError } from '../../src/util/assert.js'
import {
  type Op,
  allowedViews,
  applyToStore,
  commitsOf,
  entriesFrom,
  modelAfter,
  powerLossViolations,
  sameExceptCommit,
  modelView,
  view,
} from './helpers.js'

const dir = '/data'
const random = new SeededRandom(5)
const snapshotAt = (index: number, term: number) => ({
  meta: { index, term, config: { voters: [1, 2, 3], nonVoters: [] } },
  data: random.bytes(30),
})

/**
 * Acknowledged history: six entries, a hard state, a compaction at 2, two more entries in a new term, and a
 * one-sync append of two more (its entries and commit index are not in the hard-state file).
 */
const history: Op[] = [
  {
    kind: 'save',
    request: { entries: entriesFrom(random, 1, 6, 1), hardState: { term: 1, vote: 1, commit: 3 } },
  },
  { kind: 'createSnapshot', snapshot: snapshotAt(2, 1) },
  {
    kind: 'save',
    request: { entries: entriesFrom(random, 7, 2, 2), hardState: { term: 2, vote: 2, commit: 6 } },
  },
  {
    kind: 'save',
    request: { entries: entriesFrom(random, 9, 2, 2), hardState: { term: 2, vote: 2, commit: 8 } },
  },
]

const faultyOps: Record<string, Op> = {
  /** A one-sync append: same term and vote. */
  append: {
    kind: 'save',
    request: { entries: entriesFrom(random, 11, 3, 2), hardState: { term: 2, vote: 2, commit: 10 } },
  },
  /** An append in a new term: the log's sync, then a hard-state record. */
  appendNewTerm: {
    kind: 'save',
    request: { entries: entriesFrom(random, 11, 3, 3), hardState: { term: 3, vote: 0, commit: 10 } },
  },
  truncatingAppend: { kind: 'save', request: { entries: entriesFrom(random, 5, 2, 3) } },
  createSnapshot: { kind: 'createSnapshot', snapshot: snapshotAt(6, 1) },
  installSnapshot: {
    kind: 'save',
    request: {
      snapshot: snapshotAt(20, 4),
      entries: entriesFrom(random, 21, 1, 4),
      hardState: { term: 4, vote: 0, commit: 20 },
    },
  },
}

async function storeWithHistory(options: LogStoreOptions = {}): Promise<{ fs: CrashFs; store: LogStore }> {
  const fs = new CrashFs()
  const store = await LogStore.open(fs, dir, options)
  for (const op of history) await applyToStore(store, op)
  return { fs, store }
}

/** Bytes an operation writes when nothing fails (its ENOSPC budgets are 0 up to this), and the files after. */
async function cleanRun(op: Op, options: LogStoreOptions): Promise<{ bytes: number; fs: CrashFs }> {
  const { fs, store } = await storeWithHistory(options)
  const before = fs.bytesWritten()
  await applyToStore(store, op)
  return { bytes: fs.bytesWritten() - before, fs }
}

/** Runs `op` with ENOSPC after each possible byte budget; returns the problems found. */
async function diskFullProblems(
  op: Op,
  options: LogStoreOptions = {},
): Promise<{ problems: string[]; failures: number }> {
  const acked = modelAfter(history)
  const after = modelAfter([...history, op])
  const commits = commitsOf([...history, op])
  const problems: string[] = []
  let failures = 0
  const budgetMax = (await cleanRun(op, options)).bytes
  for (let budget = 0; budget <= budgetMax; budget++) {
    const { fs, store } = await storeWithHistory(options)
    const files = (await fs.readdir(dir)).map((name) => [name, fs.fileBytes(join(dir, name))] as const)
    fs.injectDiskFull(budget)
    let outcome: unknown
    try {
      await applyToStore(store, op)
    } catch (error) {
      outcome = error
    }
    fs.freeSpace()
    const at = `budget ${budget}`
    if (outcome === undefined) {
      if (!same(await view(store), modelView(after)))
        problems.push(`${at}: resolved but shows the wrong state`)
      continue
    }
    failures++
    if (!(outcome instanceof DiskFullError) || outcome.code !== 'TQ_ERR_STORAGE_DISK_FULL') {
      problems.push(`${at}: rejected with ${String(outcome)}`)
      continue
    }
    if (!same(await view(store), modelView(acked))) problems.push(`${at}: memory shows unsaved data`)
    const filesAfter = (await fs.readdir(dir)).map((name) => [name, fs.fileBytes(join(dir, name))] as const)
    if (!same(filesAfter, files)) problems.push(`${at}: files differ from the last acknowledged state`)
    // A restart, with or without a power loss, sees the last acknowledged state.
    for (const [label, image] of [
      ['restart', fs.clone()],
      ['power loss', fs.crash({ seed: budget })],
    ] as const) {
      try {
        const reopened = await LogStore.open(image, dir, options)
        if (!sameExceptCommit(await view(reopened), modelView(acked), commits)) {
          problems.push(`${at}: ${label} shows another state`)
        }
        await reopened.close()
      } catch (error) {
        problems.push(`${at}: ${label} failed: ${String(error)}`)
      }
    }
    // A later call builds on the acknowledged state and succeeds once there is space again.
    try {
      await applyToStore(store, op)
      await store.close()
      const reopened = await LogStore.open(fs.crash({ seed: budget + 1 }), dir, options)
      // Closed first, so the hard state was recorded; the commit index may only be capped at the last index.
      if (!sameExceptCommit(await view(reopened), modelView(after), commits)) {
        problems.push(`${at}: the retried call was not durable`)
      }
    } catch (error) {
      problems.push(`${at}: retry failed: ${String(error)}`)
    }
  }
  return { problems, failures }
}

function same(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b)
    return true
  } catch {
    return false
  }
}

describe('ENOSPC at every byte of a write', () => {
  for (const [name, op] of Object.entries(faultyOps)) {
    test(`${name}: DiskFullError, nothing acknowledged, state and files rolled back, retry works`, async () => {
      const { problems, failures } = await diskFullProblems(op)
      assert.deepStrictEqual(problems, [])
      assert.ok(failures > 20, `${failures} budgets failed`)
    })
  }

  test('also while the hard-state file is being rewritten (temp file + rename)', async () => {
    // The history leaves 4 hard-state records; with 4 slots, the next commit rewrites the file.
    const options = { hardStateSlotsMax: 4 }
    const clean = await cleanRun(faultyOps.appendNewTerm!, options)
    assert.equal(clean.fs.fileBytes(join(dir, hardStateFileName)).byteLength, hardStateSlotBytes, 'rewritten')
    const { problems, failures } = await diskFullProblems(faultyOps.appendNewTerm!, options)
    assert.deepStrictEqual(problems, [])
    assert.ok(failures > 20)
  })

  test('the disk-full check catches a store that does not roll back (self-check)', async () => {
    const { problems } = await diskFullProblems(faultyOps.append!, {
      unsafeTesting: { skipDiskFullRollback: true },
    })
    assert.ok(problems.some((problem) => problem.includes('files differ')))
    assert.ok(
      problems.some((problem) => problem.includes('shows another state') || problem.includes('failed')),
    )
  })
})

/** Every call of the store, each of which must throw StorageFailedError once the store failed. */
function everyCall(store: LogStore): (() => unknown)[] {
  const reader: LogReader = store
  return [
    () => reader.hardState(),
    () => reader.snapshotMeta(),
    () => reader.snapshot(),
    () => reader.firstIndex(),
    () => reader.lastIndex(),
    () => reader.term(2),
    () => reader.entries({ from: 3, to: 4 }),
  ]
}

async function assertFailedForGood(store: LogStore): Promise<void> {
  const isFailed = (error: unknown) =>
    error instanceof StorageFailedError && error.code === 'TQ_ERR_STORAGE_FAILED'
  for (const call of everyCall(store)) assert.throws(call, isFailed)
  await assert.rejects(store.save({ hardState: { term: 9, vote: 0, commit: 0 } }), isFailed)
  await assert.rejects(store.save({ entries: entriesFrom(random, 9, 1, 2) }), isFailed)
  await assert.rejects(store.createSnapshot(snapshotAt(3, 1)), isFailed)
  await store.close()
}

describe('EIO fails the store for good', () => {
  const cases: [string, Op, (fs: CrashFs) => void][] = [
    ['fsync of the log', faultyOps.append!, (fs) => fs.injectFsyncError({ pathIncludes: '.log' })],
    [
      'fsync of the hard-state file',
      faultyOps.appendNewTerm!,
      (fs) => fs.injectFsyncError({ pathIncludes: hardStateFileName }),
    ],
    [
      'fsync of a snapshot',
      faultyOps.createSnapshot!,
      (fs) => fs.injectFsyncError({ pathIncludes: '.snap' }),
    ],
    [
      'fsync of the directory',
      faultyOps.installSnapshot!,
      (fs) => fs.injectFsyncError({ pathIncludes: 'data' }),
    ],
    ['a write to the log', faultyOps.append!, (fs) => fs.injectWriteError({ pathIncludes: '.log' })],
    [
      'a write to the hard-state file',
      faultyOps.appendNewTerm!,
      (fs) => fs.injectWriteError({ pathIncludes: 'hardstate' }),
    ],
  ]
  for (const [name, op, inject] of cases) {
    test(`${name}: StorageFailedError now and on every later call; a restart recovers`, async () => {
      const { fs, store } = await storeWithHistory()
      const acked = modelAfter(history)
      const commits = commitsOf([...history, op])
      const syncsBefore = fs.syncCount(join(dir, logFileName(2)))
      inject(fs)
      await assert.rejects(applyToStore(store, op), StorageFailedError)
      await assertFailedForGood(store)
      assert.ok(fs.syncCount(join(dir, logFileName(2))) <= syncsBefore + 1, 'a failed sync is not retried')
      // Power loss: the data of the failed fsync is gone for good; recovery shows an allowed state.
      for (let seed = 0; seed < 5; seed++) {
        const recovered = await LogStore.open(fs.crash({ seed }), dir)
        assert.deepStrictEqual(await powerLossViolations(recovered, acked, op, commits), [])
        await recovered.close()
      }
      // A restart without power loss sees the page cache; it still shows one of the allowed states.
      const restarted = await LogStore.open(fs.clone(), dir)
      const got = await view(restarted)
      assert.ok(allowedViews(acked, op).some((allowed) => sameExceptCommit(got, allowed, commits)))
    })
  }
})

describe('ordinary operation', () => {
  test('sync counts: an append with term and vote unchanged costs exactly one sync (fdatasync)', async () => {
    const { fs, store } = await storeWithHistory()
    const logPath = join(dir, logFileName(2))
    const hardStatePath = join(dir, hardStateFileName)
    let before = fs.syncCount()
    // [log fdatasyncs, log fsyncs, hard-state fsyncs, directory fsyncs, all syncs] since `before`.
    const counts = () => {
      const all = fs.syncCount() - before
      before = fs.syncCount()
      return [
        fs.datasyncCount(logPath),
        fs.fsyncCount(logPath),
        fs.fsyncCount(hardStatePath),
        fs.fsyncCount(dir),
        all,
      ]
    }
    const [ds0, fs0, hs0, dir0] = counts() as [number, number, number, number, number]
    // One-sync appends: one entry, then a batch of 20 with a commit index (group commit), then no hard state.
    await store.save({ entries: entriesFrom(random, 11, 1, 2), hardState: { term: 2, vote: 2, commit: 10 } })
    assert.deepStrictEqual(counts(), [ds0 + 1, fs0, hs0, dir0, 1])
    await store.save({ entries: entriesFrom(random, 12, 20, 2), hardState: { term: 2, vote: 2, commit: 11 } })
    assert.deepStrictEqual(counts(), [ds0 + 2, fs0, hs0, dir0, 1])
    await store.save({ entries: entriesFrom(random, 32, 1, 2) })
    assert.deepStrictEqual(counts(), [ds0 + 3, fs0, hs0, dir0, 1])
    // A new term (or vote) must be durable before messages go out: the log's sync, then the hard-state record.
    await store.save({ entries: entriesFrom(random, 33, 2, 3), hardState: { term: 3, vote: 0, commit: 31 } })
    assert.deepStrictEqual(counts(), [ds0 + 4, fs0, hs0 + 1, dir0, 2])
    // A truncating append (a conflict) also records the hard state: two syncs.
    await store.save({ entries: entriesFrom(random, 34, 1, 3) })
    assert.deepStrictEqual(counts(), [ds0 + 5, fs0, hs0 + 2, dir0, 2])
    // A hard state alone: one fsync of the hard-state file.
    await store.save({ hardState: { term: 4, vote: 0, commit: 33 } })
    assert.deepStrictEqual(counts(), [ds0 + 5, fs0, hs0 + 3, dir0, 1])
    // Close records the commit index and log length left unrecorded by one-sync appends.
    await store.save({ entries: entriesFrom(random, 35, 1, 4), hardState: { term: 4, vote: 0, commit: 34 } })
    assert.deepStrictEqual(counts(), [ds0 + 6, fs0, hs0 + 3, dir0, 1])
    // A hard state whose commit index alone moved (the leader learning a commit): no sync at all, yet shown.
    await store.save({ hardState: { term: 4, vote: 0, commit: 35 } })
    assert.deepStrictEqual(counts(), [ds0 + 6, fs0, hs0 + 3, dir0, 0])
    assert.deepStrictEqual(store.hardState(), { term: 4, vote: 0, commit: 35 })
    await store.close()
    assert.deepStrictEqual(counts(), [ds0 + 6, fs0, hs0 + 4, dir0, 1])
    const reopened = await LogStore.open(fs.crash(), dir)
    assert.deepStrictEqual(reopened.hardState(), { term: 4, vote: 0, commit: 35 })
    assert.equal(reopened.lastIndex(), 35)
  })

  test('the one-sync bound: past unrecordedLogBytesMax an append also records the hard state', async () => {
    const { fs, store } = await storeWithHistory({ unrecordedLogBytesMax: 200 })
    const hardStatePath = join(dir, hardStateFileName)
    const recorded: number[] = []
    for (let index = 11; index < 31; index++) {
      const before = fs.fsyncCount(hardStatePath)
      await store.save({ entries: [{ kind: 'normal', index, term: 2, data: new Uint8Array(40) }] })
      if (fs.fsyncCount(hardStatePath) > before) recorded.push(index)
    }
    // 65-byte records: the history left 2 unrecorded (122 bytes), so every third or so append records.
    assert.ok(recorded.length >= 5 && recorded.length <= 8, `recorded at ${recorded.join(',')}`)
  })

  test('reads show the acknowledged state while a save is in flight; saves apply in call order', async () => {
    const { store } = await storeWithHistory()
    const first = store.save({ entries: entriesFrom(random, 11, 2, 2) })
    const second = store.save({ entries: entriesFrom(random, 13, 1, 2) })
    assert.equal(store.lastIndex(), 10)
    await first
    assert.equal(store.lastIndex(), 12)
    await second
    assert.equal(store.lastIndex(), 13)
  })

  test('a programmer error is an AssertionError before any write, and the store stays usable', async () => {
    const { store } = await storeWithHistory()
    await assert.rejects(store.save({ entries: entriesFrom(random, 12, 1, 2) }), AssertionError)
    await assert.rejects(store.save({ entries: entriesFrom(random, 2, 1, 2) }), AssertionError)
    await assert.rejects(store.createSnapshot(snapshotAt(9, 1)), AssertionError)
    await assert.rejects(store.createSnapshot(snapshotAt(5, 7)), AssertionError)
    await store.save({ entries: entriesFrom(random, 11, 1, 2) })
    assert.equal(store.lastIndex(), 11)
  })

  test('a closed store refuses calls with StorageClosedError', async () => {
    const { store } = await storeWithHistory()
    await store.close()
    assert.throws(() => store.lastIndex(), { code: 'TQ_ERR_STORAGE_CLOSED' })
    await assert.rejects(store.save({ hardState: { term: 5, vote: 0, commit: 0 } }), {
      code: 'TQ_ERR_STORAGE_CLOSED',
    })
  })
})
