// Goal: the state machine's snapshot image (version 2: a small msgpack header, then the database bytes as
// they are) round-trips through a real database, legacy (all-msgpack) images still restore, and the big
// buffers move between threads without a main-thread copy: serialize transfers a buffer the caller owns
// whole, restore copies the caller's view in chunks and leaves the caller's buffer intact.
// Method: real workers, in memory; structural checks only (no timings).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import v8 from 'node:v8'
import vm from 'node:vm'
import { copyInChunks } from '../../../src/db/buffers.js'
import { Database } from '../../../src/db/index.js'
import { pack } from '../../../src/store/command-codec.js'
import {
  Fsm,
  decodeSnapshotImage,
  encodeSnapshotPrefix,
  snapshotImageVersion,
} from '../../../src/store/fsm.js'

const apply = { transaction: true, seed: 1, nowMs: 1, index: 5 }
const node = { nodeId: 1, raftAddress: 'localhost:4002', httpAddress: 'localhost:4001' }
const meta = { index: 5, term: 2, config: { voters: [1], nonVoters: [] } }

async function withDatabases(run: (source: Database, target: Database) => Promise<void>): Promise<void> {
  const source = await Database.open()
  const target = await Database.open()
  try {
    await source.execute(
      [
        'CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)',
        "INSERT INTO t (v) VALUES (x'00ff'), (zeroblob(3000))",
      ],
      apply,
    )
    await run(source, target)
  } finally {
    await Promise.all([source.close(), target.close()])
  }
}

test('a version-2 image: header then the database bytes; it restores into another database', async () => {
  await withDatabases(async (source, target) => {
    const fsm = new Fsm(source)
    fsm.nodes.set(node.nodeId, node)
    const data = await (await fsm.snapshot()).data
    assert.equal(data[0], snapshotImageVersion)
    const image = decodeSnapshotImage(data)
    assert.deepEqual(image.nodes, [node])
    assert.deepEqual(image.sessions, [])
    assert.equal(Buffer.from(image.db.subarray(0, 16)).toString('latin1'), 'SQLite format 3\u0000')
    assert.equal(image.db.buffer, data.buffer, 'the database is a view of the image, not a copy')
    // Transferred from the worker: the image owns its whole buffer (a clone would too, but only a
    // transferred buffer is never copied on this thread; the prefix makes the worker build it).
    assert.equal(data.byteOffset, 0)
    assert.equal(data.byteLength, data.buffer.byteLength)

    const restored = new Fsm(target)
    const seen: number[] = []
    restored.onNodeMeta = (meta) => seen.push(meta.nodeId)
    await restored.restore({ meta, data })
    assert.deepEqual(seen, [1])
    assert.equal(restored.appliedIndex, 5)
    assert.deepEqual(
      await target.query(['SELECT id, length(v) FROM t']),
      await source.query(['SELECT id, length(v) FROM t']),
    )
    // The snapshot stays usable (the log store keeps it and sends it to followers): not detached.
    assert.equal(data.byteLength > 0 && data[0], snapshotImageVersion)
    assert.deepEqual(decodeSnapshotImage(data).nodes, [node])
  })
})

test('a legacy image (one msgpack map with the database inside) still restores', async () => {
  await withDatabases(async (source, target) => {
    const db = await source.serialize()
    const legacy = pack({ db, nodes: [node], sessions: [] })
    assert.notEqual(legacy[0], snapshotImageVersion)
    const restored = new Fsm(target)
    await restored.restore({ meta, data: legacy })
    assert.deepEqual([...restored.nodes.values()], [node])
    assert.deepEqual(
      await target.query(['SELECT count(*) FROM t']),
      await source.query(['SELECT count(*) FROM t']),
    )
  })
})

test('encode and decode of the prefix round-trip, and a damaged prefix is refused', () => {
  const sessions: [string, { seq: number; results: never[] }][] = [['client', { seq: 3, results: [] }]]
  const prefix = encodeSnapshotPrefix({ nodes: [node], sessions })
  const db = Uint8Array.of(1, 2, 3)
  const image = decodeSnapshotImage(new Uint8Array([...prefix, ...db]))
  assert.deepEqual(image.nodes, [node])
  assert.deepEqual(image.sessions, sessions)
  assert.deepEqual([...image.db], [1, 2, 3])
  const overrun = new Uint8Array(prefix)
  new DataView(overrun.buffer).setUint32(1, prefix.byteLength, true)
  assert.throws(() => decodeSnapshotImage(overrun), /overruns/)
})

test('restore of a view copies it in chunks and leaves the caller buffer attached', async () => {
  const bytes = Uint8Array.from({ length: 100 }, (_, i) => i)
  const view = bytes.subarray(10, 90)
  const copy = await copyInChunks(view, { chunkBytes: 7 })
  assert.deepEqual([...copy], [...view])
  assert.notEqual(copy.buffer, bytes.buffer)
  assert.equal(copy.byteLength, copy.buffer.byteLength)

  await withDatabases(async (source, target) => {
    const image = await source.serialize()
    // The image inside a larger buffer, as in a snapshot: only the view must reach the worker.
    const whole = new Uint8Array(image.byteLength + 8)
    whole.set(image, 8)
    assert.equal(await target.restore(whole.subarray(8)), 5)
    assert.equal(whole.byteLength, image.byteLength + 8, 'not detached')
    assert.deepEqual(
      await target.query(['SELECT count(*) FROM t']),
      await source.query(['SELECT count(*) FROM t']),
    )
  })
})

test('restore of an image in shared memory (a snapshot file as the log store reads it) reads it in place and never writes it', async () => {
  await withDatabases(async (source, target) => {
    // A WAL-marked image (header bytes 18–19 = 2): the worker must rewrite them for an in-memory database,
    // which it may only do on a copy of its own, never in the caller's shared bytes.
    const image = await source.serialize({ journalMode: 'wal' })
    assert.equal(image[18], 2)
    const shared = new Uint8Array(new SharedArrayBuffer(image.byteLength + 8))
    shared.set(image, 8)
    const view = shared.subarray(8)
    assert.equal(await target.restore(view), 5)
    assert.deepEqual([...view], [...image], 'the shared bytes are unchanged')
    assert.deepEqual(
      await target.query(['SELECT count(*) FROM t']),
      await source.query(['SELECT count(*) FROM t']),
    )
    // An ordinary (rollback-journal) image in shared memory restores too.
    const plain = await source.serialize()
    const sharedPlain = new Uint8Array(new SharedArrayBuffer(plain.byteLength))
    sharedPlain.set(plain)
    assert.equal(await target.restore(sharedPlain), 5)
    assert.deepEqual([...sharedPlain], [...plain])
  })
})

test('decoding an image keeps nothing of it alive (msgpackr holds the last buffer it decoded)', async () => {
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void
  let ref: WeakRef<ArrayBufferLike> | undefined
  await withDatabases(async (source) => {
    const fsm = new Fsm(source)
    fsm.nodes.set(node.nodeId, node)
    // In a function of its own, so nothing here refers to the image once it returns.
    const decode = async () => {
      const data = await (await fsm.snapshot()).data
      ref = new WeakRef(data.buffer)
      assert.deepEqual(decodeSnapshotImage(data).nodes, [node])
    }
    await decode()
  })
  await new Promise((resolve) => setImmediate(resolve))
  gc()
  assert.equal(ref?.deref(), undefined, 'the image outlived its decoding')
})
