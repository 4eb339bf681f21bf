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
  entriesFrom,
  modelAfter,
  powerLossViolations,
  view,
} from './helpers.js'

const dir = '/data'
const random = new SeededRandom(5)
const snapshotAt = (index: number, term: number) => ({
  meta: { index, term, config: { voters: [1, 2, 3], nonVoters: [] } },
  data: random.bytes(30),
})

/** Acknowledged history: six entries, a hard state, a compaction at 2, two more entries. */
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
]

const faultyOps: Record<string, Op> = {
  append: {
    kind: 'save',
    request: { entries: entriesFrom(random, 9, 3, 2), hardState: { term: 2, vote: 2, commit: 8 } },
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
      if (!same(view(store), view(after))) problems.push(`${at}: resolved but shows the wrong state`)
      continue
    }
    failures++
    if (!(outcome instanceof DiskFullError) || outcome.code !== 'TQ_ERR_STORAGE_DISK_FULL') {
      problems.push(`${at}: rejected with ${String(outcome)}`)
      continue
    }
    if (!same(view(store), view(acked))) problems.push(`${at}: memory shows unsaved data`)
    const filesAfter = (await fs.readdir(dir)).map((name) => [name, fs.fileBytes(join(dir, name))] as const)
    if (!same(filesAfter, files)) problems.push(`${at}: files differ from the last acknowledged state`)
    // A restart, with or without a power loss, sees the last acknowledged state.
    for (const [label, image] of [
      ['restart', fs.clone()],
      ['power loss', fs.crash({ seed: budget })],
    ] as const) {
      try {
        const reopened = await LogStore.open(image, dir, options)
        if (!same(view(reopened), view(acked))) problems.push(`${at}: ${label} shows another state`)
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
      if (!same(view(reopened), view(after))) problems.push(`${at}: the retried call was not durable`)
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
    const clean = await cleanRun(faultyOps.append!, options)
    assert.equal(clean.fs.fileBytes(join(dir, hardStateFileName)).byteLength, hardStateSlotBytes, 'rewritten')
    const { problems, failures } = await diskFullProblems(faultyOps.append!, options)
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
      faultyOps.append!,
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
      faultyOps.append!,
      (fs) => fs.injectWriteError({ pathIncludes: 'hardstate' }),
    ],
  ]
  for (const [name, op, inject] of cases) {
    test(`${name}: StorageFailedError now and on every later call; a restart recovers`, async () => {
      const { fs, store } = await storeWithHistory()
      const acked = modelAfter(history)
      const fsyncsBefore = fs.fsyncCount(join(dir, logFileName(2)))
      inject(fs)
      await assert.rejects(applyToStore(store, op), StorageFailedError)
      await assertFailedForGood(store)
      assert.ok(fs.fsyncCount(join(dir, logFileName(2))) <= fsyncsBefore + 1, 'a failed fsync is not retried')
      // Power loss: the data of the failed fsync is gone for good; recovery shows an allowed state.
      for (let seed = 0; seed < 5; seed++) {
        const recovered = await LogStore.open(fs.crash({ seed }), dir)
        assert.deepStrictEqual(powerLossViolations(recovered, acked, op), [])
        await recovered.close()
      }
      // A restart without power loss sees the page cache; it still shows one of the allowed states.
      const restarted = await LogStore.open(fs.clone(), dir)
      assert.ok(allowedViews(acked, op).some((allowed) => same(view(restarted), allowed)))
    })
  }
})

describe('ordinary operation', () => {
  test('a save costs one fsync of the log (group commit) and one of the hard-state file', async () => {
    const { fs, store } = await storeWithHistory()
    const logPath = join(dir, logFileName(2))
    const hardStatePath = join(dir, hardStateFileName)
    const counts = () => [fs.fsyncCount(logPath), fs.fsyncCount(hardStatePath), fs.fsyncCount(dir)]
    const [log0, hs0, dir0] = counts()
    await store.save({ entries: entriesFrom(random, 9, 20, 2), hardState: { term: 2, vote: 2, commit: 9 } })
    assert.deepStrictEqual(counts(), [log0! + 1, hs0! + 1, dir0])
    await store.save({ hardState: { term: 3, vote: 0, commit: 9 } })
    assert.deepStrictEqual(counts(), [log0! + 1, hs0! + 2, dir0])
  })

  test('reads show the acknowledged state while a save is in flight; saves apply in call order', async () => {
    const { store } = await storeWithHistory()
    const first = store.save({ entries: entriesFrom(random, 9, 2, 2) })
    const second = store.save({ entries: entriesFrom(random, 11, 1, 2) })
    assert.equal(store.lastIndex(), 8)
    await first
    assert.equal(store.lastIndex(), 10)
    await second
    assert.equal(store.lastIndex(), 11)
  })

  test('a programmer error is an AssertionError before any write, and the store stays usable', async () => {
    const { store } = await storeWithHistory()
    await assert.rejects(store.save({ entries: entriesFrom(random, 12, 1, 2) }), AssertionError)
    await assert.rejects(store.save({ entries: entriesFrom(random, 2, 1, 2) }), AssertionError)
    await assert.rejects(store.createSnapshot(snapshotAt(9, 1)), AssertionError)
    await assert.rejects(store.createSnapshot(snapshotAt(5, 7)), AssertionError)
    await store.save({ entries: entriesFrom(random, 9, 1, 2) })
    assert.equal(store.lastIndex(), 9)
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
