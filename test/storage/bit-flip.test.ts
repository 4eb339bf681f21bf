// Goal: damage to durable data is never silent: a flipped bit before the log's recorded synced length, or
// anywhere in the snapshot file, stops recovery with CorruptLogError naming the file and the record's offset; a
// flip past the recorded synced length (one-sync appends) is a torn tail: the log ends before the damaged
// record, never includes it or anything after it (the documented cost of one sync per append, bounded by
// unrecordedLogBytesMax); a flip in the hard-state file is absorbed by its second copy; method: flip every bit
// of a small disk image, one at a time, and recover.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Entry } from '../../src/raft/message.js'
import { CrashFs } from '../../src/storage/crash-fs.js'
import { CorruptLogError } from '../../src/storage/errors.js'
import { hardStateFileName } from '../../src/storage/hard-state-file.js'
import { LogStore, type LogStoreOptions, logFileName, snapshotFileName } from '../../src/storage/log-store.js'
import { decodeRecords } from '../../src/storage/record-codec.js'
import { SeededRandom } from '../../src/storage/seeded-random.js'
import { type ReaderView, entriesFrom, view } from './helpers.js'

const dir = '/data'
const logPath = join(dir, logFileName(2))
const snapshotPath = join(dir, snapshotFileName(2))
const hardStatePath = join(dir, hardStateFileName)

interface Image {
  readonly image: CrashFs
  /** What recovery shows with no damage: entries 3..5 recorded and 6..7 (one-sync) past the synced length. */
  readonly intact: ReaderView
  readonly syncedBytes: number
  readonly entries: readonly Entry[]
}

async function buildImage(): Promise<Image> {
  const random = new SeededRandom(3)
  const entries = entriesFrom(random, 1, 7, 2).map((entry) =>
    entry.kind === 'normal' ? { ...entry, data: entry.data.subarray(0, 6) } : entry,
  )
  const fs = new CrashFs()
  const store = await LogStore.open(fs, dir)
  await store.save({ entries: entries.slice(0, 3), hardState: { term: 2, vote: 1, commit: 2 } })
  const meta = { index: 2, term: 2, config: { voters: [1, 2, 3], nonVoters: [] } }
  await store.createSnapshot({ meta, data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) })
  // A new term: recorded in the hard-state file with the log's length (3..5 become the recorded region).
  await store.save({ entries: entries.slice(3, 5), hardState: { term: 3, vote: 1, commit: 4 } })
  const hardStateSyncs = fs.fsyncCount(hardStatePath)
  await store.save({ entries: entries.slice(5, 7) })
  assert.equal(fs.fsyncCount(hardStatePath), hardStateSyncs, 'a one-sync append')
  // Power loss while the store is open: the log was synced, no hard-state record names its new length.
  const image = fs.crash()
  const records = decodeRecords(image.fileBytes(logPath)).records
  assert.equal(records.length, 5)
  const reference = await LogStore.open(image.clone(), dir)
  const intact = await view(reference)
  assert.equal(intact.lastIndex, 7)
  return { image, intact, syncedBytes: records[3]!.offset, entries }
}

/**
 * Flips each bit of `file` in turn and checks the outcome against `expect`; returns the problems found.
 * `expect` gives, for a flipped byte, either the CorruptLogError offset required or the state required.
 */
async function bitFlipProblems(
  built: Image,
  file: string,
  expect: (byte: number) => { readonly corruptAt: number } | { readonly state: ReaderView },
  options: LogStoreOptions = {},
): Promise<string[]> {
  const original = built.image.fileBytes(file)
  const problems: string[] = []
  for (let bit = 0; bit < original.byteLength * 8; bit++) {
    const byte = bit >> 3
    const damaged = new Uint8Array(original)
    damaged[byte]! ^= 1 << (bit & 7)
    const fs = built.image.clone()
    fs.replaceFile(file, damaged)
    const expected = expect(byte)
    try {
      const store = await LogStore.open(fs, dir, options)
      if ('corruptAt' in expected) {
        problems.push(`${file} bit ${bit}: damage went unnoticed`)
      } else {
        try {
          assert.deepStrictEqual(await view(store), expected.state)
        } catch {
          problems.push(`${file} bit ${bit}: recovered a different state`)
        }
      }
      await store.close()
    } catch (error) {
      if (!(error instanceof CorruptLogError)) {
        problems.push(`${file} bit ${bit}: unexpected ${String(error)}`)
      } else if (!('corruptAt' in expected)) {
        problems.push(`${file} bit ${bit}: ${error.message}, expected a torn tail`)
      } else if (error.file !== file || error.offset !== expected.corruptAt) {
        problems.push(`${file} bit ${bit}: ${error.message}, expected ${file} at ${expected.corruptAt}`)
      }
    }
  }
  return problems
}

/** The log's expectation: corruption at the damaged record when synced, else a tail ending before it. */
function logExpectation(built: Image): (byte: number) => { corruptAt: number } | { state: ReaderView } {
  const records = decodeRecords(built.image.fileBytes(logPath)).records
  return (byte) => {
    const record = records.find((candidate) => byte < candidate.end)!
    if (record.offset < built.syncedBytes) return { corruptAt: record.offset }
    const kept = records.filter((candidate) => candidate.end <= record.offset).length
    const lastIndex = 2 + kept
    return {
      state: {
        ...built.intact,
        lastIndex,
        terms: built.intact.terms.slice(0, kept + 1),
        entries: built.intact.entries.slice(0, kept),
        limited: built.intact.limited.map((entries) => entries.filter((entry) => entry.index <= lastIndex)),
      },
    }
  }
}

test('a flip in the log: synced region stops with file and offset, unsynced tail is torn', async () => {
  const built = await buildImage()
  assert.deepStrictEqual(await bitFlipProblems(built, logPath, logExpectation(built)), [])
})

test('a flip anywhere in the snapshot file stops with file and offset', async () => {
  const built = await buildImage()
  const records = decodeRecords(built.image.fileBytes(snapshotPath)).records
  const corruptAt = (byte: number) => ({ corruptAt: records.find((record) => byte < record.end)!.offset })
  assert.deepStrictEqual(await bitFlipProblems(built, snapshotPath, corruptAt), [])
})

test('a flip anywhere in the hard-state file changes nothing (two copies per record)', async () => {
  const built = await buildImage()
  assert.deepStrictEqual(await bitFlipProblems(built, hardStatePath, () => ({ state: built.intact })), [])
})

test('the bit-flip check catches a recovery that skips the CRC check (self-check)', async () => {
  const built = await buildImage()
  const unsafe = { unsafeTesting: { skipChecksums: true } }
  const logProblems = await bitFlipProblems(built, logPath, logExpectation(built), unsafe)
  assert.ok(
    logProblems.some((problem) => problem.includes('went unnoticed')),
    'silent damage is reported',
  )
  const corruptAt = () => ({ corruptAt: 0 })
  const snapshotProblems = await bitFlipProblems(built, snapshotPath, corruptAt, unsafe)
  assert.ok(snapshotProblems.some((problem) => problem.includes('went unnoticed')))
})
