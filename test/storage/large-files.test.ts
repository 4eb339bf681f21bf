// Goal: the log store writes and removes large files in steps (`largeFileStepBytes`), so that appends made
// meanwhile do not wait for one big journal commit, and it removes an old generation's files beside the
// appends that follow rather than before them, never touching a file the store still names.
// Method: a CrashFs that records truncations and syncs, and can hold unlinks until the test lets them go.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CrashFs } from '../../src/storage/crash-fs.js'
import type { FileHandle, OpenOptions } from '../../src/storage/fs.js'
import {
  LogStore,
  type LogStoreOptions,
  largeFileStepBytesDefault,
  logFileName,
  snapshotFileName,
} from '../../src/storage/log-store.js'
import { SeededRandom } from '../../src/storage/seeded-random.js'

const random = new SeededRandom(11)
const config = { voters: [1, 2, 3], nonVoters: [] }

/** Records the sizes each file is truncated to; with `holdUnlinks`, unlinks of generation files wait. */
class ObservedFs extends CrashFs {
  readonly truncations = new Map<string, number[]>()
  readonly unlinksAsked: string[] = []
  holdUnlinks = false
  #held: Array<() => void> = []

  override async open(path: string, options: OpenOptions): Promise<FileHandle> {
    const handle = await super.open(path, options)
    const name = baseName(path)
    const truncate = handle.truncate.bind(handle)
    handle.truncate = async (size: number) => {
      this.truncations.set(name, [...(this.truncations.get(name) ?? []), size])
      return truncate(size)
    }
    return handle
  }

  override async unlink(path: string): Promise<void> {
    const name = baseName(path)
    if (/^(log|snapshot)-\d{16}\./.test(name)) {
      this.unlinksAsked.push(name)
      if (this.holdUnlinks) await new Promise<void>((resolve) => this.#held.push(resolve))
    }
    return super.unlink(path)
  }

  releaseUnlinks(): void {
    this.holdUnlinks = false
    for (const resolve of this.#held.splice(0)) resolve()
  }
}

function baseName(path: string): string {
  return path.split('/').at(-1) ?? path
}

function noops(from: number, to: number) {
  return Array.from({ length: to - from + 1 }, (_, i) => ({
    kind: 'noop' as const,
    index: from + i,
    term: 1,
  }))
}

async function openStore(fs: CrashFs, options: LogStoreOptions = {}): Promise<LogStore> {
  const store = await LogStore.open(fs, 'g', { snapshotChunkBytes: 10, ...options })
  await store.save({ entries: noops(1, 3), hardState: { term: 1, vote: 1, commit: 3 } })
  return store
}

test('a snapshot file is synced while it is written, each time largeFileStepBytes more are in it', async () => {
  const syncsWhileWriting = async (options: LogStoreOptions): Promise<number> => {
    const fs = new CrashFs()
    const store = await openStore(fs, options)
    let syncs = 0
    fs.onBarrier = (event) => {
      if (event.kind === 'datasync' && event.path.includes('snapshot-prepared')) syncs++
    }
    const data = random.bytes(95)
    await store.createSnapshot({ meta: { index: 2, term: 1, config }, data })
    await store.close()
    const reopened = await LogStore.open(fs, 'g')
    assert.deepEqual((await reopened.readSnapshot()).data, data)
    await reopened.close()
    return syncs
  }
  // 95 data bytes in 10-byte pieces, after the meta record and the data header: at least 3 steps of 30.
  assert.ok((await syncsWhileWriting({ largeFileStepBytes: 30 })) >= 3)
  assert.equal(await syncsWhileWriting({}), 0, 'a small snapshot is synced once, at its end (fsync)')
  assert.equal(largeFileStepBytesDefault, 16 * 1024 * 1024)
})

test('an old generation file is cut down from its end in steps before it is unlinked', async () => {
  const fs = new ObservedFs()
  const store = await openStore(fs, { largeFileStepBytes: 40 })
  await store.createSnapshot({ meta: { index: 2, term: 1, config }, data: random.bytes(150) })
  const oldSnapshot = fs.fileBytes(`g/${snapshotFileName(2)}`).byteLength
  await store.createSnapshot({ meta: { index: 3, term: 1, config }, data: random.bytes(10) })
  await store.close()
  const steps = fs.truncations.get(snapshotFileName(2)) ?? []
  const expected: number[] = []
  for (let size = oldSnapshot - 40; size > 0; size -= 40) expected.push(size)
  assert.ok(expected.length >= 3)
  assert.deepEqual(steps, expected)
  assert.ok(!fs.exists(`g/${snapshotFileName(2)}`))
})

test('appends go on while older generations are removed; files the store names are kept', {
  timeout: 10_000,
}, async () => {
  const fs = new ObservedFs()
  const store = await openStore(fs)
  fs.holdUnlinks = true
  // Each of these would wait for ever if a switch waited for the removal of the generation before it.
  await store.createSnapshot({ meta: { index: 2, term: 1, config }, data: Uint8Array.of(1, 2) })
  await store.save({ entries: noops(4, 5), hardState: { term: 1, vote: 1, commit: 5 } })
  await store.createSnapshot({ meta: { index: 4, term: 1, config }, data: Uint8Array.of(3, 4) })
  await store.save({ entries: noops(6, 6), hardState: { term: 1, vote: 1, commit: 6 } })
  assert.equal(store.snapshotMeta().index, 4)
  assert.equal(store.lastIndex(), 6)
  assert.ok(fs.unlinksAsked.includes(logFileName(1)), 'the first generation log was asked to go')
  assert.ok(!fs.unlinksAsked.includes(logFileName(3)) && !fs.unlinksAsked.includes(snapshotFileName(3)))

  fs.releaseUnlinks()
  await store.close() // waits for the removals
  const files = (await fs.readdir('g')).filter((name) => /^(log|snapshot)-/.test(name)).sort()
  assert.deepEqual(files, [logFileName(3), snapshotFileName(3)])
  const reopened = await LogStore.open(fs, 'g')
  assert.equal(reopened.snapshotMeta().index, 4)
  assert.deepEqual([...(await reopened.readSnapshot()).data], [3, 4])
  assert.equal(reopened.lastIndex(), 6)
  await reopened.close()
})
