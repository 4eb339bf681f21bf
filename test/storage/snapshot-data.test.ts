// Goal: a node does not keep its latest snapshot's data (the whole database) in memory for as long as it runs.
// The store lets go of the data once it is written or installed, reads it back from its file when the Raft
// core (a lagging follower) or a restore asks, and holds a read made for the core until the core takes it.
// Method: CrashFs; the store's log tells when it read the file.
import assert from 'node:assert/strict'
import { mock, test } from 'node:test'
import { CrashFs } from '../../src/storage/crash-fs.js'
import { CorruptLogError } from '../../src/storage/errors.js'
import { LogStore, type StorageLogger, snapshotFileName } from '../../src/storage/log-store.js'
import { SeededRandom } from '../../src/storage/seeded-random.js'

const random = new SeededRandom(11)
const config = { voters: [1, 2, 3], nonVoters: [] }

function recordingLogger(): StorageLogger & { readonly lines: string[]; reads(): number } {
  const lines: string[] = []
  const log = (level: string) => (message: string) => lines.push(`${level} ${message}`)
  const reads = () => lines.filter((line) => line === 'info snapshot file read').length
  return { lines, reads, info: log('info'), warn: log('warn'), error: log('error') }
}

async function storeWithEntries(
  dir: string,
  logger?: StorageLogger,
): Promise<{ fs: CrashFs; store: LogStore }> {
  const fs = new CrashFs()
  const store = await LogStore.open(fs, dir, { snapshotChunkBytes: 64, ...(logger ? { logger } : {}) })
  const entries = [1, 2, 3, 4].map((index) => ({ kind: 'noop' as const, index, term: 1 }))
  await store.save({ entries, hardState: { term: 1, vote: 1, commit: 4 } })
  return { fs, store }
}

async function snapshotAt3(store: LogStore, data: Uint8Array): Promise<void> {
  await store.createSnapshot({ meta: { index: 3, term: 1, config }, data })
}

test('a snapshot taken here is not kept in memory: the core gets it once it has been read back', async () => {
  const logger = recordingLogger()
  const { store } = await storeWithEntries('a', logger)
  const data = random.bytes(500)
  await snapshotAt3(store, data)
  assert.equal(store.snapshot(), undefined, 'the store kept the snapshot data in memory')
  assert.equal(store.snapshot(), undefined, 'asked again while reading')
  // readSnapshot shares the read the core's question started; the read is then held for the core.
  assert.deepEqual((await store.readSnapshot()).data, data)
  assert.equal(logger.reads(), 1, 'one read for both')
  const taken = store.snapshot()
  assert.deepEqual(taken?.data, data, 'a read made for the core is held until it takes it')
  assert.equal(taken?.meta.index, 3)
  // Taken: the store lets go of it, and another follower's snapshot is read again.
  assert.equal(store.snapshot(), undefined, 'the store held on to data it had handed out')
  assert.deepEqual((await store.readSnapshot()).data, data)
  assert.equal(logger.reads(), 2)
  await store.close()
})

test('a snapshot installed from the leader is not kept in memory either', async () => {
  const { store } = await storeWithEntries('b')
  const data = random.bytes(300)
  await store.save({
    snapshot: { meta: { index: 9, term: 2, config }, data },
    hardState: { term: 2, vote: 0, commit: 9 },
  })
  assert.equal(store.snapshot(), undefined, 'the store kept the installed data in memory')
  const read = await store.readSnapshot()
  assert.deepEqual(read.data, data)
  assert.deepEqual(read.meta, { index: 9, term: 2, config })
  await store.close()
})

test('the data read at open is held until it is taken once (the restore at start-up)', async () => {
  const logger = recordingLogger()
  const { fs, store } = await storeWithEntries('c')
  const data = random.bytes(200)
  await snapshotAt3(store, data)
  await store.close()
  const reopened = await LogStore.open(fs, 'c', { snapshotChunkBytes: 64, logger })
  assert.deepEqual((await reopened.readSnapshot()).data, data)
  assert.equal(logger.reads(), 0, 'the data read at open was read again')
  assert.equal(reopened.snapshot(), undefined, 'the store held on to the data the restore took')
  await reopened.close()
})

test('a damaged snapshot file: the read for a restore rejects, the core is answered undefined and the error logged', async () => {
  const logger = recordingLogger()
  const { fs, store } = await storeWithEntries('e', logger)
  await snapshotAt3(store, random.bytes(300))
  const path = `e/${snapshotFileName(2)}`
  const damaged = new Uint8Array(fs.fileBytes(path))
  damaged[damaged.byteLength - 5]! ^= 0x10
  fs.replaceFile(path, damaged)
  await assert.rejects(store.readSnapshot(), CorruptLogError)
  assert.equal(store.snapshot(), undefined)
  await assert.rejects(store.readSnapshot(), CorruptLogError)
  assert.ok(
    logger.lines.some((line) => line.startsWith('error reading the snapshot to send failed')),
    logger.lines.join('\n'),
  )
  await store.close()
})

test('data read for the core and never taken is let go after a while', async () => {
  const logger = recordingLogger()
  const { store } = await storeWithEntries('f', logger)
  const data = random.bytes(100)
  await snapshotAt3(store, data)
  mock.timers.enable({ apis: ['setTimeout'] })
  try {
    assert.equal(store.snapshot(), undefined)
    await store.readSnapshot()
    // The follower never answers again: after ten seconds the read is dropped.
    mock.timers.tick(10_000)
    assert.equal(store.snapshot(), undefined, 'data read for the core stayed in memory')
    assert.deepEqual((await store.readSnapshot()).data, data)
    assert.equal(logger.reads(), 2)
    // Taken in time, it is handed out.
    mock.timers.tick(9_000)
    assert.deepEqual(store.snapshot()?.data, data)
  } finally {
    mock.timers.reset()
  }
  await store.close()
})
