// Goal: CrashFs models power loss and faults as documented (test6-style pending writes and directory entries,
// torn writes, fsyncgate, ENOSPC); method: small scripted file histories, crashed in chosen and seeded ways.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CrashFs, enumerateCrashChoices } from '../../src/storage/crash-fs.js'
import { errnoCode } from '../../src/storage/errors.js'

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values)

async function fileWithDurableEntry(): Promise<CrashFs> {
  const fs = new CrashFs()
  await fs.mkdir('/d')
  const handle = await fs.open('/d/f', { create: true })
  await handle.write(bytes(1, 2, 3), 0)
  await handle.fsync()
  await fs.fsyncDir('/d')
  return fs
}

test('unsynced writes survive a crash only when chosen, in order, possibly torn', async () => {
  const fs = await fileWithDurableEntry()
  const handle = await fs.open('/d/f', { create: false })
  await handle.write(bytes(4, 5, 6, 7), 3)
  await handle.write(bytes(8), 7)
  assert.deepStrictEqual(fs.fileBytes('/d/f'), bytes(1, 2, 3, 4, 5, 6, 7, 8))
  const [file] = fs.pendingState().files
  assert.ok(file !== undefined)
  assert.deepStrictEqual(
    file.ops.map((op) => op.bytes),
    [4, 1],
  )
  const crashed = (keep: number, torn?: { bytes: number; fill: 'drop' | 'zero' }) =>
    fs
      .crash({ files: [{ inode: file.inode, keep, ...(torn === undefined ? {} : { torn }) }] })
      .fileBytes('/d/f')
  assert.deepStrictEqual(crashed(0), bytes(1, 2, 3))
  assert.deepStrictEqual(crashed(1), bytes(1, 2, 3, 4, 5, 6, 7))
  assert.deepStrictEqual(crashed(2), bytes(1, 2, 3, 4, 5, 6, 7, 8))
  assert.deepStrictEqual(crashed(1, { bytes: 2, fill: 'drop' }), bytes(1, 2, 3, 4, 5))
  assert.deepStrictEqual(crashed(1, { bytes: 2, fill: 'zero' }), bytes(1, 2, 3, 4, 5, 0, 0))
  assert.deepStrictEqual(fs.crash().fileBytes('/d/f'), bytes(1, 2, 3), 'default: nothing pending survives')
  await handle.fsync()
  assert.deepStrictEqual(fs.crash().fileBytes('/d/f'), bytes(1, 2, 3, 4, 5, 6, 7, 8))
})

test('creations and renames are pending until fsyncDir', async () => {
  const fs = await fileWithDurableEntry()
  const temp = await fs.open('/d/g.tmp', { create: true })
  await temp.write(bytes(9), 0)
  await temp.fsync()
  await fs.rename('/d/g.tmp', '/d/f')
  assert.deepStrictEqual(fs.fileBytes('/d/f'), bytes(9))
  assert.deepStrictEqual(fs.pendingState().dirs, [{ dir: '/d', ops: 2 }])
  const keep = (count: number) => fs.crash({ dirs: [{ dir: '/d', keep: count }] })
  assert.deepStrictEqual(keep(0).fileBytes('/d/f'), bytes(1, 2, 3))
  assert.equal(keep(0).exists('/d/g.tmp'), false)
  assert.equal(keep(1).exists('/d/g.tmp'), true)
  assert.deepStrictEqual(keep(1).fileBytes('/d/f'), bytes(1, 2, 3))
  assert.deepStrictEqual(keep(2).fileBytes('/d/f'), bytes(9))
  assert.equal(keep(2).exists('/d/g.tmp'), false)
  await fs.fsyncDir('/d')
  assert.deepStrictEqual(fs.crash().fileBytes('/d/f'), bytes(9))
})

test('a renamed file whose data was not fsynced comes back empty (the classic bug is visible)', async () => {
  const fs = new CrashFs()
  await fs.mkdir('/d')
  const temp = await fs.open('/d/x.tmp', { create: true })
  await temp.write(bytes(1, 2), 0)
  await fs.rename('/d/x.tmp', '/d/x')
  await fs.fsyncDir('/d')
  assert.deepStrictEqual(fs.crash().fileBytes('/d/x'), bytes())
})

test('a failed fsync loses its writes for good, though reads still see them (fsyncgate)', async () => {
  const fs = await fileWithDurableEntry()
  const handle = await fs.open('/d/f', { create: false })
  await handle.write(bytes(4), 3)
  fs.injectFsyncError({ pathIncludes: '/d/f' })
  await assert.rejects(handle.fsync(), (error: unknown) => errnoCode(error) === 'EIO')
  assert.deepStrictEqual(fs.fileBytes('/d/f'), bytes(1, 2, 3, 4))
  await handle.fsync()
  assert.deepStrictEqual(
    fs.crash().fileBytes('/d/f'),
    bytes(1, 2, 3),
    'the retried fsync "succeeded" for nothing',
  )
})

test('ENOSPC after the bytes that fit; EIO on the next write', async () => {
  const fs = await fileWithDurableEntry()
  const handle = await fs.open('/d/f', { create: false })
  fs.injectDiskFull(2)
  await assert.rejects(handle.write(bytes(4, 5, 6), 3), (error: unknown) => errnoCode(error) === 'ENOSPC')
  assert.deepStrictEqual(fs.fileBytes('/d/f'), bytes(1, 2, 3, 4, 5))
  await assert.rejects(handle.write(bytes(6), 5), (error: unknown) => errnoCode(error) === 'ENOSPC')
  fs.freeSpace()
  await handle.write(bytes(6), 5)
  fs.injectWriteError()
  await assert.rejects(handle.write(bytes(7), 6), (error: unknown) => errnoCode(error) === 'EIO')
  await handle.write(bytes(7), 6)
  assert.deepStrictEqual(fs.fileBytes('/d/f'), bytes(1, 2, 3, 4, 5, 6, 7))
  await assert.rejects(
    fs.open('/d/missing', { create: false }),
    (error: unknown) => errnoCode(error) === 'ENOENT',
  )
})

test('clones are independent; seeded crashes are deterministic; enumeration covers the extremes', async () => {
  const fs = await fileWithDurableEntry()
  const handle = await fs.open('/d/f', { create: false })
  await handle.write(bytes(4, 5, 6, 7), 3)
  const other = await fs.open('/d/h', { create: true })
  await other.write(bytes(1, 1), 0)
  const copy = fs.clone()
  await handle.fsync()
  assert.deepStrictEqual(copy.crash().fileBytes('/d/f'), bytes(1, 2, 3))
  for (let seed = 0; seed < 20; seed++) {
    const a = copy.crash({ seed })
    const b = copy.crash({ seed })
    assert.deepStrictEqual(a.fileBytes('/d/f'), b.fileBytes('/d/f'))
    assert.equal(a.exists('/d/h'), b.exists('/d/h'))
  }
  const pending = copy.pendingState()
  const all = enumerateCrashChoices(pending, { limit: 10_000, seed: 1 })
  // f (4 bytes): keep 0, keep 1, 3 cut points and 1 zeroed tail; h (2 bytes): keep 0, keep 1, 1 cut point and
  // 1 zeroed tail; the directory: its one pending creation kept or not.
  assert.equal(all.length, 6 * 4 * 2)
  const sampled = enumerateCrashChoices(pending, { limit: 7, seed: 1 })
  assert.equal(sampled.length, 7)
  assert.deepStrictEqual(copy.crash(sampled[0]!).fileBytes('/d/f'), bytes(1, 2, 3))
  const everything = copy.crash(sampled[1]!)
  assert.deepStrictEqual(everything.fileBytes('/d/f'), bytes(1, 2, 3, 4, 5, 6, 7))
  assert.deepStrictEqual(everything.fileBytes('/d/h'), bytes(1, 1))
})
