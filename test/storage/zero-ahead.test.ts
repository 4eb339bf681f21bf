// Goal: with `logZeroAheadBytes`, the log store keeps synced zeros past the end of the log so that appends
// overwrite them instead of growing the file, and this changes nothing a reader or a recovery sees: records
// are never overwritten by zeros still being written, and a reopened store shows the same log (the zeros are
// cut at open, and are not reported as a torn tail). Power loss with zeros ahead: power-loss.test.ts.
// Method: CrashFs, with a wrapper that can hold writes of zeros until the test lets them go.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Entry } from '../../src/raft/index.js'
import { CrashFs } from '../../src/storage/crash-fs.js'
import type { FileHandle, OpenOptions } from '../../src/storage/fs.js'
import { LogStore, type StorageLogger, logFileName } from '../../src/storage/log-store.js'

const dir = 'z'
const logPath = `${dir}/${logFileName(1)}`

function entries(from: number, to: number, bytes = 40): Entry[] {
  return Array.from({ length: to - from + 1 }, (_, i) => ({
    kind: 'normal' as const,
    index: from + i,
    term: 1,
    data: new Uint8Array(bytes).fill(from + i),
  }))
}

/** Holds every write made only of zeros until `release()`, when `hold` is set. */
class HeldZerosFs extends CrashFs {
  hold = false
  readonly #held: Array<() => void> = []

  override async open(path: string, options: OpenOptions): Promise<FileHandle> {
    const handle = await super.open(path, options)
    const write = handle.write.bind(handle)
    handle.write = async (data: Uint8Array, position: number) => {
      if (this.hold && data.byteLength > 0 && data.every((byte) => byte === 0))
        await new Promise<void>((resolve) => this.#held.push(resolve))
      return write(data, position)
    }
    return handle
  }

  get heldWrites(): number {
    return this.#held.length
  }

  release(): void {
    this.hold = false
    for (const resolve of this.#held.splice(0)) resolve()
  }
}

function recordingLogger() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = []
  const at =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) =>
      lines.push({ level, message, fields })
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
  return { logger: logger as unknown as StorageLogger, lines }
}

async function fileBytes(fs: CrashFs): Promise<number> {
  return (await fs.readFile(logPath)).byteLength
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1000 && !(await condition()); i++) await new Promise((resolve) => setImmediate(resolve))
  assert.ok(await condition(), 'condition not reached')
}

test('appends overwrite the zeros written ahead, and a reopened store shows the same log', async () => {
  const fs = new CrashFs()
  const store = await LogStore.open(fs, dir, { logZeroAheadBytes: 4096 })
  await store.save({ entries: entries(1, 2), hardState: { term: 1, vote: 1, commit: 2 } })
  await until(async () => (await fileBytes(fs)) > 4096)
  const file = await fs.readFile(logPath)
  assert.ok(
    file.subarray(file.byteLength - 4096).every((byte) => byte === 0),
    'zeros written after the log',
  )
  await store.save({ entries: entries(3, 5) })
  assert.equal(await fileBytes(fs), file.byteLength, 'the append landed over zeros: the file did not grow')
  await store.close()

  const { logger, lines } = recordingLogger()
  const reopened = await LogStore.open(fs, dir, { logger })
  assert.equal(reopened.lastIndex(), 5)
  assert.deepEqual(reopened.entries({ from: 1, to: 6 }), entries(1, 5))
  assert.equal(
    lines.some((line) => line.message === 'truncating torn log tail'),
    false,
    'zeros are not a torn tail',
  )
  const opened = lines.find((line) => line.message === 'log store opened')
  assert.ok(opened !== undefined && (opened.fields.zeroedBytes as number) > 0)
  assert.equal(opened.fields.tornBytes, 0)
  await reopened.close()
})

test('an append waits for zeros still being written where its records go', async () => {
  const fs = new HeldZerosFs()
  const store = await LogStore.open(fs, dir, { logZeroAheadBytes: 64 })
  fs.hold = true
  await store.save({ entries: entries(1, 1), hardState: { term: 1, vote: 1, commit: 1 } })
  await until(async () => fs.heldWrites === 1)
  // These records reach past the start of the held zeros: written first, the zeros would land over them.
  let saved = false
  const saving = store.save({ entries: entries(2, 4) }).then(() => {
    saved = true
  })
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
  assert.equal(saved, false, 'the append did not wait for the zeros in its way')
  fs.release()
  await saving
  await store.close()

  const reopened = await LogStore.open(fs, dir)
  assert.equal(reopened.lastIndex(), 4)
  assert.deepEqual(reopened.entries({ from: 1, to: 5 }), entries(1, 4))
  await reopened.close()
})

test('after a switch to a new generation, zeros go to the new log, never to the closed one', async () => {
  const fs = new HeldZerosFs()
  const store = await LogStore.open(fs, dir, { logZeroAheadBytes: 64 })
  fs.hold = true
  await store.save({ entries: entries(1, 3), hardState: { term: 1, vote: 1, commit: 3 } })
  await until(async () => fs.heldWrites === 1)
  let switched = false
  const switching = store
    .createSnapshot({
      meta: { index: 2, term: 1, config: { voters: [1], nonVoters: [] } },
      data: new Uint8Array(8).fill(7),
    })
    .then(() => {
      switched = true
    })
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
  assert.equal(switched, false, 'the old log was closed under a write of zeros')
  fs.release()
  await switching
  await store.save({ entries: entries(4, 6) })
  await store.close()

  const reopened = await LogStore.open(fs, dir)
  assert.equal(reopened.lastIndex(), 6)
  assert.deepEqual(reopened.entries({ from: 3, to: 7 }), entries(3, 6))
  await reopened.close()
})
