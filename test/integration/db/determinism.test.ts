// Goal: replicas applying the same entries (same seeds and times) end byte-identical whatever their time zone;
// method: two in-process workers and a child process with TZ=Asia/Kolkata compare serialize() images, with
// controls (other seeds; plain better-sqlite3 without overrides) that must differ, proving the test can fail.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import BetterSqlite3 from 'better-sqlite3'
import { Database } from '../../../src/db/index.js'
import { ENTRIES, applyEntries } from './fixtures/determinism-entries.js'

const run = promisify(execFile)
let directory: string

before(() => {
  directory = mkdtempSync(join(tmpdir(), 'tqlite-determinism-'))
})

after(() => {
  rmSync(directory, { recursive: true, force: true })
})

async function replicaImage(seedOffset = 0): Promise<Buffer> {
  const db = await Database.open()
  try {
    return await applyEntries(db, seedOffset)
  } finally {
    await db.close()
  }
}

describe('replicated apply is deterministic', () => {
  test('two workers and a TZ=Asia/Kolkata process produce byte-identical images', async () => {
    const imagePath = join(directory, 'kolkata.db')
    const child = run(
      process.execPath,
      [
        '--import',
        import.meta.resolve('tsx'),
        fileURLToPath(new URL('./fixtures/determinism-replica.ts', import.meta.url)),
        imagePath,
      ],
      { env: { ...process.env, TZ: 'Asia/Kolkata' } },
    )
    const [a, b] = await Promise.all([replicaImage(), replicaImage()])
    const report = JSON.parse((await child).stdout) as {
      tz: string
      builtinLocal: string
      databaseLocal: string
    }
    // The child really runs in another time zone: SQLite's own localtime shifts by +05:30 there...
    assert.deepEqual(report, {
      tz: 'Asia/Kolkata',
      builtinLocal: '1970-01-01 05:30:00',
      // ...but the database lives in UTC, so 'localtime' changes nothing in it.
      databaseLocal: '1970-01-01 00:00:00',
    })
    const kolkata = readFileSync(imagePath)
    assert.ok(a.equals(b), 'two workers in one process diverged')
    assert.ok(a.equals(kolkata), 'the TZ=Asia/Kolkata replica diverged')
  })

  test('the fixed time and seed are what the SQL sees', async () => {
    const db = await Database.open()
    try {
      await applyEntries(db)
      const [row] = await db.query([
        'SELECT created, sub, local, d, tm FROM t WHERE id = 1 OR id = 1000 ORDER BY id',
      ])
      assert.ok(row !== undefined && 'values' in row)
      const first = ENTRIES[1]?.nowMs ?? 0
      const at = new Date(first).toISOString() // row 1 was inserted by entry 2, at 2024-02-29T23:59:59.623Z
      const day = at.slice(0, 10)
      const time = at.slice(11, 19)
      const subsecond = at.slice(11, 23)
      assert.deepEqual(row.values?.[0], [
        `${day} ${time}`,
        `${day} ${subsecond}`,
        `${day} ${time}`,
        day,
        time,
      ])
      // A batch's 'now' is one instant: every call in it sees the same time.
      const [same] = await db.request(
        ["SELECT datetime('now') = CURRENT_TIMESTAMP, unixepoch() = unixepoch('now')"],
        {
          seed: 1,
          nowMs: first,
        },
      )
      assert.deepEqual(same, {
        columns: ["datetime('now') = CURRENT_TIMESTAMP", "unixepoch() = unixepoch('now')"],
        types: ['integer', 'integer'],
        values: [[1, 1]],
      })
      // The same seed gives the same random stream; a local read gets real randomness.
      const draw = () => db.request(['SELECT random(), hex(randomblob(12))'], { seed: 99, nowMs: first })
      assert.deepEqual(await draw(), await draw())
      const local = () => db.query(['SELECT random()'])
      assert.notDeepEqual(await local(), await local())
      // ...and the real clock, not the time of the batch applied before it.
      const [clock] = await db.query(["SELECT unixepoch('now') * 1000"])
      const localMs = Number((clock as { values: unknown[][] }).values[0]![0])
      assert.ok(Math.abs(localMs - Date.now()) < 5_000, `local 'now' ${localMs} is the real clock`)
    } finally {
      await db.close()
    }
  })

  test('control: other seeds give a different image', async () => {
    const [a, b] = await Promise.all([replicaImage(0), replicaImage(1)])
    assert.equal(a.length > 0, true)
    assert.ok(!a.equals(b), 'different seeds should change random() values and so the image')
  })

  test('control: without the overrides, two replicas of the same entries differ', () => {
    const image = () => {
      const db = new BetterSqlite3(':memory:')
      for (const entry of ENTRIES) {
        for (const statement of entry.batch) {
          if (typeof statement === 'string') db.exec(statement)
          else db.prepare(statement[0]).run(...statement.slice(1))
        }
      }
      const bytes = db.serialize()
      db.close()
      return bytes
    }
    assert.ok(!image().equals(image()), 'built-in random() makes plain replicas diverge')
  })
})

describe('overridden date functions match the built-ins for fixed times', () => {
  const calls = [
    "datetime('2024-01-31 10:00:00', '+1 month')",
    "datetime('2024-01-01 10:00:00', '+1 day', 'start of month', 'weekday 3')",
    "strftime('%Y-%m-%d %H:%M:%f %j %w %s', '2024-03-10 01:02:03.456')",
    "strftime('%J', 2460000.25)",
    "julianday('2000-01-01 12:00:00')",
    "unixepoch('2024-01-01 00:00:00.5', 'subsec')",
    "unixepoch('2024-01-01')",
    "timediff('2024-03-01', '2023-01-15 12:00:00')",
    'date(2460000.5)',
    "time('12:34:56.789', '+90 minutes')",
    "datetime(1700000000, 'unixepoch')",
    "datetime(1700000000123, 'auto')",
    "datetime('2024-06-01 12:00:00+02:00')",
    "date('not a date')",
    "datetime('2024-06-01', 'utc')",
  ]
  test('same value and same type as SQLite (in UTC)', async () => {
    const db = await Database.open()
    const pristine = new BetterSqlite3(':memory:')
    try {
      for (const call of calls) {
        const sql = `SELECT ${call}, typeof(${call})`
        const [ours] = await db.query([sql])
        assert.ok(ours !== undefined && 'values' in ours, call)
        const builtin = pristine.prepare(sql).raw().get() as unknown[]
        assert.deepEqual(ours.values?.[0], builtin, call)
      }
      const [types] = await db.query([
        'SELECT typeof(random()), typeof(randomblob(2)), typeof(unixepoch()), typeof(julianday())',
      ])
      assert.deepEqual(types && 'values' in types ? types.values : null, [
        ['integer', 'blob', 'integer', 'real'],
      ])
      const [lengths] = await db.query([
        "SELECT length(randomblob(0)), length(randomblob(-3)), length(randomblob(NULL)), length(randomblob('5')), length(randomblob(7.9))",
      ])
      assert.deepEqual(lengths && 'values' in lengths ? lengths.values : null, [[1, 1, 1, 5, 7]])
    } finally {
      pristine.close()
      await db.close()
    }
  })
})
