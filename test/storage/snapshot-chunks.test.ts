// Goal: a big snapshot is checksummed, written and read back in chunks (never one long synchronous step, never
// a copy of the whole image) and the bytes on disk are exactly the two-record format; damage in any chunk is
// still caught at the data record. Method: tiny chunk sizes on small data, CrashFs and the record codec.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CrashFs } from '../../src/storage/crash-fs.js'
import { encodeSnapshotMeta } from '../../src/storage/entry-codec.js'
import { CorruptLogError } from '../../src/storage/errors.js'
import { LogStore, snapshotFileName } from '../../src/storage/log-store.js'
import { encodeRecords, recordChecksum } from '../../src/storage/record-codec.js'
import { SeededRandom } from '../../src/storage/seeded-random.js'
import {
  checksumInChunks,
  decodeSnapshotFile,
  encodeSnapshotFile,
  snapshotChunkBytesDefault,
} from '../../src/storage/snapshot-file.js'

const random = new SeededRandom(5)
const meta = { index: 7, term: 3, config: { voters: [1, 2, 3], nonVoters: [] } }

/** A CrashFs store in `dir` with entries 1–3 (term 1, committed) and 10-byte snapshot chunks. */
async function storeWithThreeEntries(dir: string): Promise<{ fs: CrashFs; store: LogStore }> {
  const fs = new CrashFs()
  const store = await LogStore.open(fs, dir, { snapshotChunkBytes: 10 })
  const entries = [1, 2, 3].map((index) => ({ kind: 'noop' as const, index, term: 1 }))
  await store.save({ entries, hardState: { term: 1, vote: 1, commit: 3 } })
  return { fs, store }
}

function concat(pieces: readonly Uint8Array[]): Uint8Array {
  const whole = Buffer.concat(pieces)
  return new Uint8Array(whole.buffer, whole.byteOffset, whole.byteLength)
}

test('the chunked CRC equals the one-shot record checksum, for every chunk size', async () => {
  const payload = random.bytes(100)
  const length = Uint8Array.of(100, 0, 0, 0)
  for (const chunkBytes of [1, 3, 7, 64, 100, 1000]) {
    assert.equal(await checksumInChunks(length, payload, chunkBytes), recordChecksum(length, payload))
  }
})

test('encodeSnapshotFile gives the data as views in chunks; the bytes are the two-record format', async () => {
  const data = random.bytes(100)
  const pieces = await encodeSnapshotFile({ meta, data }, { chunkBytes: 16 })
  // The meta record, the data record's header, then ceil(100 / 16) = 7 views of the data.
  assert.equal(pieces.length, 2 + 7)
  for (const piece of pieces.slice(2)) {
    assert.equal(piece.buffer, data.buffer, 'a view of the data, not a copy')
    assert.ok(piece.byteLength <= 16)
  }
  assert.deepEqual(concat(pieces), encodeRecords([encodeSnapshotMeta(meta), data]))
  // The default chunk size is what a big database goes through: a few milliseconds of CRC per turn.
  assert.equal(snapshotChunkBytesDefault, 8 * 1024 * 1024)
})

test('decodeSnapshotFile round-trips, yields to the event loop between chunks, and returns a view', async () => {
  const data = random.bytes(64)
  const file = concat(await encodeSnapshotFile({ meta, data }))
  let turns = 0
  let counting = true
  const count = (): void => {
    if (!counting) return
    turns++
    setImmediate(count)
  }
  setImmediate(count)
  const decoded = await decodeSnapshotFile(file, 'snap', { verifyChecksums: true, chunkBytes: 4 })
  counting = false
  assert.deepEqual(decoded.meta, meta)
  assert.deepEqual(decoded.data, data)
  assert.equal(decoded.data.buffer, file.buffer, 'the data is a view of the file buffer')
  assert.ok(turns >= 10, `the event loop turned ${turns} times during 16 chunks`)
})

test('damage in any chunk of the data is corruption at the data record', async () => {
  const data = random.bytes(40)
  const file = concat(await encodeSnapshotFile({ meta, data }, { chunkBytes: 8 }))
  const dataRecordAt = file.byteLength - 8 - data.byteLength
  for (let byte = 0; byte < file.byteLength; byte++) {
    const damaged = new Uint8Array(file)
    damaged[byte]! ^= 0x10
    const error = await decodeSnapshotFile(damaged, 'snap', { verifyChecksums: true, chunkBytes: 8 }).then(
      () => undefined,
      (caught: unknown) => caught,
    )
    assert.ok(error instanceof CorruptLogError, `byte ${byte}: ${String(error)}`)
    assert.equal(error.offset, byte < dataRecordAt ? 0 : dataRecordAt, `byte ${byte}`)
  }
  const extra = new Uint8Array([...file, 0])
  await assert.rejects(decodeSnapshotFile(extra, 'snap', { verifyChecksums: true }), CorruptLogError)
  await assert.rejects(
    decodeSnapshotFile(file.subarray(0, file.byteLength - 1), 'snap', { verifyChecksums: true }),
    CorruptLogError,
  )
  await assert.rejects(decodeSnapshotFile(new Uint8Array(0), 'snap', { verifyChecksums: true }), /ends early/)
})

test('a LogStore with a small chunk size writes the snapshot in pieces and reopens it intact', async () => {
  const { fs, store } = await storeWithThreeEntries('d')
  const data = random.bytes(95)
  const before = fs.bytesWritten()
  await store.createSnapshot({ meta: { index: 2, term: 1, config: meta.config }, data })
  assert.ok(fs.bytesWritten() - before >= data.byteLength)
  await store.close()
  const file = fs.fileBytes(`d/${snapshotFileName(2)}`)
  assert.deepEqual(
    file,
    encodeRecords([encodeSnapshotMeta({ index: 2, term: 1, config: meta.config }), data]),
  )
  const reopened = await LogStore.open(fs, 'd', { snapshotChunkBytes: 10 })
  assert.deepEqual((await reopened.readSnapshot()).data, data)
  assert.equal(reopened.snapshotMeta().index, 2)
  assert.equal(reopened.lastIndex(), 3)
  await reopened.close()
})

test('appends go on while a local snapshot file is written: they are not queued behind it', async () => {
  // Tiny chunks: the snapshot's checksum and writes take many event-loop turns.
  const { fs, store } = await storeWithThreeEntries('c')
  const order: string[] = []
  const snapshotDone = store
    .createSnapshot({ meta: { index: 3, term: 1, config: meta.config }, data: random.bytes(400) })
    .then(() => order.push('snapshot'))
  const appendDone = store
    .save({ entries: [{ kind: 'noop' as const, index: 4, term: 1 }] })
    .then(() => order.push('append'))
  await Promise.all([snapshotDone, appendDone])
  assert.deepEqual(order, ['append', 'snapshot'], 'the append waited for the snapshot file')
  // The new generation holds the append made meanwhile.
  assert.equal(store.snapshotMeta().index, 3)
  assert.equal(store.lastIndex(), 4)
  await store.close()
  const reopened = await LogStore.open(fs, 'c')
  assert.equal(reopened.snapshotMeta().index, 3)
  assert.equal(reopened.lastIndex(), 4)
  await reopened.close()
})

test('a local snapshot overtaken by one installed meanwhile is dropped, and its file removed', async () => {
  const { fs, store } = await storeWithThreeEntries('o')
  const local = store.createSnapshot({
    meta: { index: 2, term: 1, config: meta.config },
    data: random.bytes(300),
  })
  const installed = { meta: { index: 9, term: 2, config: meta.config }, data: random.bytes(20) }
  await store.save({ snapshot: installed, hardState: { term: 2, vote: 0, commit: 9 } })
  await local
  assert.equal(store.snapshotMeta().index, 9)
  assert.deepEqual((await store.readSnapshot()).data, installed.data)
  assert.deepEqual(
    (await fs.readdir('o')).filter((name) => name.includes('prepared')),
    [],
    'no prepared snapshot file is left',
  )
  await store.close()
})
