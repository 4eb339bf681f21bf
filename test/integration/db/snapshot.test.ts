// Goal: a serialized database restores to the same data and applied index, in memory and on disk, and on-disk
// databases survive close and reopen; method: real workers, a temporary directory, query results compared.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { after, before, describe, test } from 'node:test'
import { type Batch, Database, DbError, type StatementResult } from '../../../src/db/index.js'

const apply = { seed: 5, nowMs: Date.UTC(2025, 0, 1) }
let directory: string

before(() => {
  directory = mkdtempSync(join(tmpdir(), 'tqlite-snapshot-'))
})

after(() => {
  rmSync(directory, { recursive: true, force: true })
})

const CONTENT: Batch = [
  'CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, big INTEGER, photo BLOB, score REAL)',
  [
    'INSERT INTO people (name, big, photo, score) VALUES (?, ?, ?, ?)',
    'fiona',
    9007199254740993n,
    Buffer.from('png!'),
    2.5,
  ],
  ["INSERT INTO people (name, big) VALUES ('declan', random())"],
  'CREATE INDEX people_name ON people (name)',
  'CREATE VIEW names AS SELECT name FROM people',
]
const READS: Batch = [
  'SELECT * FROM people ORDER BY id',
  'SELECT * FROM names',
  'SELECT count(*) FROM sqlite_schema',
]

async function readAll(db: Database): Promise<StatementResult[]> {
  const results = await db.query(READS)
  for (const result of results) assert.ok(!('error' in result), inspect(result))
  return results
}

describe('serialize and restore', () => {
  test('an image restores into a fresh database with the same data and applied index', async () => {
    const source = await Database.open()
    const target = await Database.open()
    try {
      await source.execute(CONTENT, { ...apply, index: 41 })
      const image = await source.serialize()
      assert.equal(image.subarray(0, 16).toString('latin1'), 'SQLite format 3\u0000')
      assert.equal(await target.restore(image), 41)
      assert.equal(await target.appliedIndex(), 41)
      assert.deepEqual(await readAll(target), await readAll(source))
      // The restored database keeps working, with its own applied index.
      await target.execute(["INSERT INTO people (name) VALUES ('aoife')"], { ...apply, index: 42 })
      assert.equal(await target.appliedIndex(), 42)
      // The caller's buffer is untouched (copied, not transferred, by default).
      assert.equal(image.subarray(0, 6).toString(), 'SQLite')
    } finally {
      await Promise.all([source.close(), target.close()])
    }
  })

  test('restore with an index records it (a plain SQLite file loaded through the log)', async () => {
    const source = await Database.open()
    const target = await Database.open()
    try {
      await source.execute(CONTENT, apply) // no index recorded: the image says 0
      assert.equal(await target.restore(await source.serialize(), { index: 9 }), 9)
      assert.deepEqual(await readAll(target), await readAll(source))
    } finally {
      await Promise.all([source.close(), target.close()])
    }
  })

  test('a bad image is refused with TQ_ERR_DB_BAD_IMAGE and changes nothing', async () => {
    const db = await Database.open()
    try {
      await db.execute(CONTENT, { ...apply, index: 3 })
      const before = await readAll(db)
      for (const bad of [Buffer.from('not a database at all'), Buffer.alloc(4096)]) {
        await assert.rejects(db.restore(bad), (error: unknown) => {
          assert.ok(error instanceof DbError)
          assert.equal(error.code, 'TQ_ERR_DB_BAD_IMAGE')
          return true
        })
      }
      assert.deepEqual(await readAll(db), before)
      assert.equal(await db.appliedIndex(), 3)
    } finally {
      await db.close()
    }
  })

  test('restore with transfer moves the buffer instead of copying it', async () => {
    const source = await Database.open()
    const target = await Database.open()
    try {
      await source.execute(CONTENT, apply)
      const image = await source.serialize()
      await target.restore(image, { transfer: true })
      assert.equal(image.byteLength, 0) // detached: now owned by the worker
      assert.deepEqual(await readAll(target), await readAll(source))
    } finally {
      await Promise.all([source.close(), target.close()])
    }
  })
  test('a big image is copied out between later requests, and holds the state it was captured in', async () => {
    const source = await Database.open()
    const target = await Database.open()
    try {
      // 24 MiB: the worker copies it out in chunks of 4 MiB.
      await source.execute(
        [
          'CREATE TABLE big (v BLOB)',
          'WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 24) INSERT INTO big SELECT zeroblob(1048576) FROM n',
          'CREATE TABLE later (id INTEGER PRIMARY KEY)',
        ],
        { ...apply, index: 1 },
      )
      const order: string[] = []
      const image = source.serialize({ onCaptured: () => order.push('captured') }).then((bytes) => {
        order.push('image')
        return bytes
      })
      // Sent right behind the serialization: it is waiting in the worker's queue when the image is taken.
      const write = source
        .execute(['INSERT INTO later (id) VALUES (1)'], { ...apply, index: 2 })
        .then(() => order.push('write'))
      const bytes = await image
      await write
      assert.deepEqual(order, ['captured', 'write', 'image'])
      assert.equal(await target.restore(bytes), 1)
      const [count] = await target.query(['SELECT count(*) AS n FROM later'])
      assert.deepEqual(count, { columns: ['n'], types: ['integer'], values: [[0]] })
    } finally {
      await Promise.all([source.close(), target.close()])
    }
  })
})

describe('on-disk mode', () => {
  test('data and applied index survive close and reopen', async () => {
    const path = join(directory, 'reopen.db')
    const first = await Database.open({ path })
    assert.equal(first.path, path)
    await first.execute(CONTENT, { ...apply, index: 7 })
    const expected = await readAll(first)
    await first.close()
    const second = await Database.open({ path })
    try {
      assert.equal(await second.appliedIndex(), 7)
      assert.deepEqual(await readAll(second), expected)
    } finally {
      await second.close()
    }
  })

  test('an in-memory image restores onto disk atomically and survives reopen; a disk image restores in memory', async () => {
    const path = join(directory, 'restore.db')
    const memory = await Database.open()
    const disk = await Database.open({ path })
    try {
      await disk.execute(['CREATE TABLE old (x)', "INSERT INTO old VALUES ('to be replaced')"], {
        ...apply,
        index: 100,
      })
      await memory.execute(CONTENT, { ...apply, index: 12 })
      assert.equal(await disk.restore(await memory.serialize()), 12)
      assert.deepEqual(await readAll(disk), await readAll(memory))
      assert.deepEqual(await disk.query(['SELECT * FROM old']), [{ error: 'no such table: old' }])
      // The restored file is a normal SQLite database that keeps taking writes.
      await disk.execute(["INSERT INTO people (name) VALUES ('ciara')"], { ...apply, index: 13 })
      const diskImage = await disk.serialize()
      assert.equal(diskImage[18], 1, 'images are written with the rollback-journal header')
      const expected = await readAll(disk)
      await disk.close()
      assert.ok(!existsSync(`${path}.restore-tmp`))
      assert.equal(readFileSync(path).subarray(0, 16).toString('latin1'), 'SQLite format 3\u0000')
      const reopened = await Database.open({ path })
      try {
        assert.equal(await reopened.appliedIndex(), 13)
        assert.deepEqual(await readAll(reopened), expected)
      } finally {
        await reopened.close()
      }
      // The on-disk (WAL) image opens in memory too.
      assert.equal(await memory.restore(diskImage), 13)
      assert.deepEqual(await readAll(memory), expected)
    } finally {
      await Promise.all([memory.close(), disk.close()])
    }
  })

  test('restore with an index onto disk records it in the file', async () => {
    const path = join(directory, 'indexed.db')
    const memory = await Database.open()
    const disk = await Database.open({ path })
    try {
      await memory.execute(CONTENT, apply)
      assert.equal(await disk.restore(await memory.serialize(), { index: 77 }), 77)
      await disk.close()
      const reopened = await Database.open({ path })
      assert.equal(await reopened.appliedIndex(), 77)
      await reopened.close()
    } finally {
      await Promise.all([memory.close(), disk.close()])
    }
  })
})
