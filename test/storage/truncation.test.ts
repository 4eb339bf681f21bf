// Goal: a log cut at any byte past its recorded synced length recovers exactly the whole records before the
// cut (never an error, never an invented record), and a cut inside the synced length stops with CorruptLogError;
// method: 10 entries recorded in the hard-state file plus 40 appended with one sync (acknowledged, but only the
// log knows them: the unsynced-region of a torn one-sync append looks the same), then every length k.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Entry } from '../../src/raft/message.js'
import { CrashFs } from '../../src/storage/crash-fs.js'
import { decodeEntry, encodeEntry } from '../../src/storage/entry-codec.js'
import { CorruptLogError } from '../../src/storage/errors.js'
import { LogStore, logFileName, recoverLog } from '../../src/storage/log-store.js'
import { decodeRecords, encodeRecords, recordHeaderBytes } from '../../src/storage/record-codec.js'
import { SeededRandom } from '../../src/storage/seeded-random.js'
import { entriesFrom } from './helpers.js'

const dir = '/data'
const logPath = join(dir, logFileName(1))
const hardState = { term: 3, vote: 1, commit: 4 }

/** A durable disk image: 10 entries recorded in the hard-state file and 40 more past the synced length. */
async function buildImage(): Promise<{ image: CrashFs; entries: Entry[]; syncedBytes: number }> {
  const random = new SeededRandom(50)
  const entries = entriesFrom(random, 1, 50, 3)
  const fs = new CrashFs()
  const store = await LogStore.open(fs, dir)
  await store.save({ entries: entries.slice(0, 10), hardState })
  const hardStateSyncs = fs.fsyncCount(join(dir, 'hardstate'))
  await store.save({ entries: entries.slice(10) })
  assert.equal(fs.fsyncCount(join(dir, 'hardstate')), hardStateSyncs, 'a one-sync append')
  // Power loss while the store is open: the log was synced, no hard-state record names its new length.
  const image = fs.crash()
  const records = decodeRecords(image.fileBytes(logPath)).records
  assert.equal(records.length, 50)
  return { image, entries, syncedBytes: records[10]!.offset }
}

type Recovery = (fs: CrashFs) => Promise<readonly Entry[]>

const realRecovery: Recovery = async (fs) => {
  const store = await LogStore.open(fs, dir)
  const entries = store.entries({ from: store.firstIndex(), to: store.lastIndex() + 1 })
  assert.deepStrictEqual(store.hardState(), hardState)
  await store.close()
  return entries
}

/** Problems found when recovering the image with the log cut to every length; empty when all is well. */
async function truncationProblems(recover: Recovery): Promise<string[]> {
  const { image, entries, syncedBytes } = await buildImage()
  const full = image.fileBytes(logPath)
  const ends = decodeRecords(full).records.map((record) => record.end)
  const problems: string[] = []
  for (let k = 0; k <= full.byteLength; k++) {
    const fs = image.clone()
    fs.replaceFile(logPath, full.subarray(0, k))
    let got: readonly Entry[]
    try {
      got = await recover(fs)
    } catch (error) {
      const expected =
        k < syncedBytes && error instanceof CorruptLogError && error.file === logPath && error.offset === k
      if (!expected) problems.push(`k=${k}: recovery failed: ${String(error)}`)
      continue
    }
    if (k < syncedBytes) {
      problems.push(`k=${k}: a log shorter than its synced length ${syncedBytes} was accepted`)
      continue
    }
    const whole = ends.filter((end) => end <= k).length
    try {
      assert.deepStrictEqual(got, entries.slice(0, whole))
    } catch {
      problems.push(`k=${k}: recovered ${got.length} entries, expected exactly the ${whole} whole records`)
    }
  }
  return problems
}

test('every cut past the synced length recovers exactly the whole records before it', async () => {
  const problems = await truncationProblems(realRecovery)
  assert.deepStrictEqual(problems, [])
})

test('recovery truncates the torn tail, makes the kept records durable, and is idempotent', async () => {
  const { image, entries, syncedBytes } = await buildImage()
  const full = image.fileBytes(logPath)
  const records = decodeRecords(full).records
  const cut = records[30]!.offset + recordHeaderBytes + 2
  const fs = image.clone()
  fs.replaceFile(logPath, full.subarray(0, cut))
  const store = await LogStore.open(fs, dir)
  assert.equal(store.lastIndex(), 30)
  assert.equal(fs.fileBytes(logPath).byteLength, records[29]!.end)
  // After the repair, a power loss cannot take the 20 kept unacknowledged entries back: they may be acked now.
  const after = fs.crash()
  const reopened = await LogStore.open(after, dir)
  assert.deepStrictEqual(reopened.entries({ from: 1, to: 31 }), entries.slice(0, 30))
  assert.ok(records[29]!.end > syncedBytes)
})

test('the truncation check catches a recovery that drops one-sync appends (self-check)', async () => {
  const dropping: Recovery = async (fs) => {
    const store = await LogStore.open(fs, dir, { unsafeTesting: { dropUnrecordedLog: true } })
    const entries = store.entries({ from: store.firstIndex(), to: store.lastIndex() + 1 })
    await store.close()
    return entries
  }
  const problems = await truncationProblems(dropping)
  assert.ok(problems.some((problem) => problem.includes('expected exactly')))
})

test('the truncation check catches a recovery that keeps partial records (self-check)', async () => {
  // A classic bug: trust the length field, and decode whatever part of the payload is there.
  const naive: Recovery = async (fs) => {
    const bytes = fs.fileBytes(logPath)
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const entries: Entry[] = []
    for (let offset = 0; offset + recordHeaderBytes <= bytes.byteLength; ) {
      const length = view.getUint32(offset, true)
      const payload = bytes.subarray(offset + recordHeaderBytes, offset + recordHeaderBytes + length)
      try {
        entries.push(decodeEntry(payload))
      } catch {
        break
      }
      offset += recordHeaderBytes + length
    }
    return entries
  }
  const problems = await truncationProblems(naive)
  assert.ok(
    problems.some((problem) => problem.includes('expected exactly')),
    'invented records are reported',
  )
  assert.ok(
    problems.some((problem) => problem.includes('was accepted')),
    'lost synced records are reported',
  )
})

test('past the synced length: a truncating record ends the log, a record leaving a gap is corruption', () => {
  const entry = (index: number): Entry => ({ kind: 'noop', index, term: 1 })
  const bytes = (indexes: readonly number[]) =>
    encodeRecords(indexes.map((index) => encodeEntry(entry(index))))
  const synced = bytes([1, 2]).byteLength
  // 1, 2 recorded; 3, 4 one-sync appends; then a valid record at 2: only an unacknowledged save truncates.
  const truncating = recoverLog(bytes([1, 2, 3, 4, 2, 3]), logPath, synced, 0)
  assert.deepStrictEqual(
    truncating.entries.map((e) => e.index),
    [1, 2, 3, 4],
  )
  assert.equal(truncating.validBytes, bytes([1, 2, 3, 4]).byteLength)
  assert.equal(truncating.unrecordedEntries, 2)
  // Before the synced length the same record replays an acknowledged truncating append.
  const replayed = recoverLog(bytes([1, 2, 3, 2]), logPath, bytes([1, 2, 3, 2]).byteLength, 0)
  assert.deepStrictEqual(
    replayed.entries.map((e) => e.index),
    [1, 2],
  )
  // A whole, valid record that skips an index cannot be a torn write.
  assert.throws(
    () => recoverLog(bytes([1, 2, 3, 5]), logPath, synced, 0),
    (error: unknown) => error instanceof CorruptLogError && error.offset === bytes([1, 2, 3]).byteLength,
  )
})

test('a recorded commit index beyond the recovered log is capped at the last index', async () => {
  const fs = new CrashFs()
  const store = await LogStore.open(fs, dir)
  const entries = entriesFrom(new SeededRandom(4), 1, 5, 3)
  await store.save({ entries, hardState: { term: 3, vote: 1, commit: 5 } })
  // Outside Raft a caller may truncate below the commit index; the store shows what it was given...
  await store.save({ entries: entriesFrom(new SeededRandom(5), 3, 1, 3) })
  assert.equal(store.hardState().commit, 5)
  await store.close()
  // ...but recovery never shows a commit beyond the log (RaftLog asserts commit <= lastIndex).
  const reopened = await LogStore.open(fs.crash(), dir)
  assert.equal(reopened.lastIndex(), 3)
  assert.deepStrictEqual(reopened.hardState(), { term: 3, vote: 1, commit: 3 })
  await reopened.close()
  const again = await LogStore.open(fs.crash(), dir)
  assert.deepStrictEqual(again.hardState(), { term: 3, vote: 1, commit: 3 })
})
