// Goal: the store works on the real file system (NodeFs): state survives close and reopen, a torn tail is
// truncated, damage in the synced region stops with CorruptLogError; method: a temporary directory, real files.
import assert from 'node:assert/strict'
import { constants } from 'node:fs'
import { appendFile, mkdtemp, readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { MemoryLog } from '../../src/raft/memory-log.js'
import { CorruptLogError } from '../../src/storage/errors.js'
import { NodeFs, readShared } from '../../src/storage/fs.js'
import { LogStore, logFileName, snapshotFileName } from '../../src/storage/log-store.js'
import { SeededRandom } from '../../src/storage/seeded-random.js'
import { type Op, applyToModel, applyToStore, assertSameAnswers, entriesFrom } from './helpers.js'

let root = ''
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tqlite-storage-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

const random = new SeededRandom(8)
const ops: Op[] = [
  {
    kind: 'save',
    request: { entries: entriesFrom(random, 1, 5, 1), hardState: { term: 1, vote: 1, commit: 2 } },
  },
  {
    kind: 'save',
    request: { entries: entriesFrom(random, 4, 3, 2), hardState: { term: 2, vote: 3, commit: 4 } },
  },
  {
    kind: 'createSnapshot',
    snapshot: {
      meta: { index: 4, term: 2, config: { voters: [1, 2, 3], nonVoters: [] } },
      data: random.bytes(100),
    },
  },
  { kind: 'save', request: { entries: entriesFrom(random, 7, 4, 2) } },
]

async function populated(name: string): Promise<{ dir: string; model: MemoryLog }> {
  const dir = join(root, name)
  const model = new MemoryLog()
  const store = await LogStore.open(new NodeFs(), dir)
  for (const op of ops) {
    applyToModel(model, op)
    await applyToStore(store, op)
  }
  await assertSameAnswers(store, model, 'before close')
  await store.close()
  return { dir, model }
}

test('save, close, reopen: same answers, expected files', async () => {
  const { dir, model } = await populated('smoke')
  const reopened = await LogStore.open(new NodeFs(), dir)
  await assertSameAnswers(reopened, model, 'after reopen')
  assert.deepStrictEqual((await readdir(dir)).sort(), ['hardstate', logFileName(2), snapshotFileName(2)])
  const installed = {
    meta: { index: 30, term: 3, config: { voters: [1], nonVoters: [2] } },
    data: random.bytes(10),
  }
  const request = {
    snapshot: installed,
    entries: entriesFrom(random, 31, 2, 3),
    hardState: { term: 3, vote: 0, commit: 30 },
  }
  applyToModel(model, { kind: 'save', request })
  await reopened.save(request)
  await reopened.close()
  const again = await LogStore.open(new NodeFs(), dir)
  await assertSameAnswers(again, model, 'after installing a snapshot')
  assert.deepStrictEqual((await readdir(dir)).sort(), ['hardstate', logFileName(3), snapshotFileName(3)])
  await again.close()
})

test('a torn tail on disk is truncated; damage in the synced region names file and offset', async () => {
  const { dir, model } = await populated('torn')
  const logPath = join(dir, logFileName(2))
  const size = (await stat(logPath)).size
  await appendFile(logPath, Uint8Array.of(40, 0, 0, 0, 1, 2, 3))
  const store = await LogStore.open(new NodeFs(), dir)
  await assertSameAnswers(store, model, 'after a torn tail')
  await store.close()
  assert.equal((await stat(logPath)).size, size)

  const bytes = await readFile(logPath)
  bytes[12]! ^= 0x10
  await writeFile(logPath, bytes)
  await assert.rejects(LogStore.open(new NodeFs(), dir), (error: unknown) => {
    assert.ok(error instanceof CorruptLogError)
    assert.equal(error.file, logPath)
    assert.equal(error.offset, 0)
    assert.equal(error.code, 'TQ_ERR_STORAGE_CORRUPT')
    return true
  })
})

test('the snapshot file is read into shared memory (the db worker restores it without a copy), whole', async () => {
  const dir = join(root, 'shared')
  const fs = new NodeFs()
  const store = await LogStore.open(fs, dir)
  const data = new Uint8Array(300_000).map((_, i) => (i * 7) % 251)
  await store.save({
    entries: [{ kind: 'normal', index: 1, term: 1, data: new Uint8Array([1]) }],
    hardState: { term: 1, vote: 1, commit: 1 },
  })
  await store.createSnapshot({ meta: { index: 1, term: 1, config: { voters: [1], nonVoters: [] } }, data })
  await store.close()
  const reopened = await LogStore.open(fs, dir)
  const snapshot = await reopened.readSnapshot()
  assert.ok(snapshot.data.buffer instanceof SharedArrayBuffer)
  assert.deepEqual(Buffer.from(snapshot.data), Buffer.from(data))
  await reopened.close()

  const path = join(dir, 'plain')
  for (const bytes of [new Uint8Array(0), data]) {
    await writeFile(path, bytes)
    const read = await fs.readFile(path, { shared: true })
    assert.ok(read.buffer instanceof SharedArrayBuffer)
    assert.deepEqual(Buffer.from(read), Buffer.from(bytes))
    // In many pieces (the default piece is 4 MiB), the last one short.
    assert.deepEqual(Buffer.from(await readShared(path, 7_001)), Buffer.from(bytes))
  }
})

test("the log is opened with O_DSYNC: the kernel's flags for its descriptor say so", async () => {
  const dir = await mkdtemp(join(root, 'dsync-'))
  const store = await LogStore.open(new NodeFs(), dir)
  try {
    await store.save({ entries: entriesFrom(random, 1, 2, 1), hardState: { term: 1, vote: 1, commit: 0 } })
    // /proc/self/fd links each descriptor to its path; fdinfo gives its open flags in octal.
    const logPath = join(dir, logFileName(1))
    const flagsOf = async (path: string): Promise<number[]> => {
      const found: number[] = []
      for (const fd of await readdir('/proc/self/fd')) {
        const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '')
        if (target !== path) continue
        const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8').catch(() => '')
        const flags = /^flags:\s+([0-7]+)$/m.exec(info)?.[1]
        if (flags !== undefined) found.push(Number.parseInt(flags, 8))
      }
      return found
    }
    const logFlags = await flagsOf(logPath)
    assert.equal(logFlags.length, 1, 'one descriptor open on the log')
    assert.ok((logFlags[0]! & constants.O_DSYNC) !== 0, `O_DSYNC in ${logFlags[0]!.toString(8)}`)
    const hardStateFlags = await flagsOf(join(dir, 'hardstate'))
    assert.ok(hardStateFlags.length === 1 && (hardStateFlags[0]! & constants.O_DSYNC) === 0)
  } finally {
    await store.close()
  }
})
