// Goal: a SQL dump reloads into an identical database (every storage class, bit-exact REALs, tricky TEXT and
// identifiers, schema objects, AUTOINCREMENT state), the comparison is strict enough to catch a lossy encoder,
// the tables filter keeps only what it names, and serialize's vacuum/journalMode variants behave.
// Method: real workers; load = one `execute` of the whole dump text, as /db/load runs SQL text; compare every
// table with typeof(), hex() and the value itself (REALs by their 64 bits).
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { inspect } from 'node:util'
import BetterSqlite3 from 'better-sqlite3'
import { dumpDatabase, realLiteral, sqlLiteral, textLiteral } from '../../../src/db/dump.js'
import { type Batch, Database, DbError, type SqlValue, type StatementResult } from '../../../src/db/index.js'

const apply = { seed: 7, nowMs: Date.UTC(2025, 0, 1) }

/** A text that blocks every two-character marker, so the encoder must fall back to CAST(X'…' AS TEXT). */
const ALL_MARKERS = `${Array.from({ length: 94 }, (_, i) => `\\${String.fromCharCode(0x21 + i)}`).join('')}\n`

const TEXTS: readonly string[] = [
  '',
  "it's",
  'a "double" quote',
  'line1\nline2\r\nline3\rend',
  'tab\there',
  'nul\u0000inside',
  '\u0000',
  'controls \u0001\u0002\u001b\u001f\u007f',
  'literal backslash-n \\n next to a real newline\n and \\0 \\r',
  '日本語 🎉 é ñ \u2028 \uFEFF',
  '; DROP TABLE plain; --',
  "?1 :name @x $y /* not a comment */ 'x'",
  'END; BEGIN; COMMIT;',
  `${'many newlines\n'.repeat(3000)}`,
  ALL_MARKERS,
]

const INTEGERS: readonly (number | bigint)[] = [
  0,
  1,
  -1,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
  9007199254740993n,
  9223372036854775807n,
  -9223372036854775808n,
]

const REALS: readonly number[] = [
  0.1,
  0.30000000000000004,
  1e308,
  -1e308,
  Number.MAX_VALUE,
  Number.MIN_VALUE, // 5e-324
  2.2250738585072014e-308,
  2.225073858507201e-308, // largest subnormal
  1 / 3,
  Math.PI,
  -Math.E,
  123456789.12345679,
  1e21,
  1.5e-7,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  2 ** 60 + 2 ** 9, // integral but not a safe integer
]

const SCHEMA: Batch = [
  `CREATE TABLE "my table" ("the id" INTEGER PRIMARY KEY, "select" TEXT, "quote""d col" REAL, "order" BLOB, untyped)`,
  'CREATE TABLE "values" (id INTEGER PRIMARY KEY AUTOINCREMENT, v)',
  'CREATE TABLE keyed (k TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID',
  `CREATE TABLE gen (a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 2) VIRTUAL, c TEXT GENERATED ALWAYS AS ('x' || a) STORED, d)`,
  'CREATE TABLE plain (x, y)',
  'CREATE VIRTUAL TABLE docs USING fts5(title, body)',
  'CREATE INDEX "index on my table" ON "my table" ("select", "quote""d col")',
  `CREATE VIEW "v""iew" AS SELECT id, typeof(v) AS t FROM "values"`,
  `CREATE TRIGGER "plain insert" AFTER INSERT ON plain BEGIN INSERT INTO "values" (v) VALUES ('trigger fired'); END`,
]

function contentBatch(): Batch {
  const batch: Array<Batch[number]> = []
  const values: Array<string | number | bigint | Buffer | null> = [
    null,
    ...INTEGERS,
    ...REALS,
    ...TEXTS,
    Buffer.alloc(0),
    Buffer.from([0, 1, 2, 0xff, 0x27, 0x22, 0]),
    Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
  ]
  for (const value of values) batch.push(['INSERT INTO "values" (v) VALUES (?)', value])
  // Values a JS number cannot bind as REAL (integral ones bind as INTEGER): written as SQL literals.
  batch.push('INSERT INTO "values" (v) VALUES (-0.0), (3.0), (0.0), (-1e999)')
  batch.push(
    [
      'INSERT INTO "my table" ("select", "quote""d col", "order", untyped) VALUES (?, ?, ?, ?)',
      "O'Brien",
      0.1,
      Buffer.from('blob'),
      null,
    ],
    ['INSERT INTO "my table" VALUES (?, ?, ?, ?, ?)', -9223372036854775808n, null, 2.5, null, 'x'],
    ['INSERT INTO "my table" VALUES (?, ?, ?, ?, ?)', 9223372036854775807n, 'max', -0.5, Buffer.alloc(0), 7],
    "INSERT INTO keyed VALUES ('b', 2), ('a', 1), ('', NULL)",
    'INSERT INTO gen (a, d) VALUES (1, 0.1), (NULL, NULL), (21, 1e308)',
    "INSERT INTO plain VALUES ('p', 1)", // fires the trigger: one more row in "values"
    ['INSERT INTO plain VALUES (?, ?)', 'nul\u0000', Buffer.from([0])],
    "INSERT INTO docs (rowid, title, body) VALUES (42, 'hello world', 'first'), (7, 'second', 'hello again\nwith ''quotes''')",
  )
  // AUTOINCREMENT state that the rows alone do not show: the counter is above the largest remaining id.
  batch.push(
    'INSERT INTO "values" (id, v) VALUES (1000, \'to be deleted\')',
    'DELETE FROM "values" WHERE id = 1000',
  )
  return batch
}

/** Every storage class, value and schema object in a comparable form (REALs by their bits). */
async function snapshot(db: Database): Promise<unknown> {
  const [schema, tables] = await queryOk(db, [
    "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE name <> '_tqlite_meta' ORDER BY type, name",
    "SELECT name, type FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'virtual') AND name NOT IN ('sqlite_schema', '_tqlite_meta') ORDER BY name",
  ])
  const content: Record<string, unknown> = {}
  for (const [name] of rowsOf(tables)) {
    assert.equal(typeof name, 'string')
    const table = String(name)
    const [columns] = await queryOk(db, [[`SELECT name FROM pragma_table_xinfo(?) WHERE hidden <> 1`, table]])
    const names = rowsOf(columns).map(([column]) => `"${String(column).replaceAll('"', '""')}"`)
    const [probe] = await db.query([`SELECT rowid FROM "${table.replaceAll('"', '""')}" LIMIT 0`])
    const hasRowid = probe !== undefined && !('error' in probe)
    const cells = [...(hasRowid ? ['rowid'] : []), ...names].flatMap((c) => [`typeof(${c})`, `hex(${c})`, c])
    const [rows] = await queryOk(db, [
      `SELECT ${cells.join(', ')} FROM "${table.replaceAll('"', '""')}"${hasRowid ? ' ORDER BY rowid' : ''}`,
    ])
    content[table] = rowsOf(rows).map((row) => row.map(comparable))
  }
  const [search] = await queryOk(db, ["SELECT rowid FROM docs WHERE docs MATCH 'hello' ORDER BY rowid"])
  return { schema: rowsOf(schema), content, search: rowsOf(search) }
}

function comparable(value: SqlValue): string {
  if (typeof value === 'number') {
    const bits = Buffer.alloc(8)
    bits.writeDoubleBE(value)
    return `n:${bits.toString('hex')}`
  }
  if (typeof value === 'bigint') return `i:${value}`
  if (Buffer.isBuffer(value)) return `b:${value.toString('hex')}`
  if (typeof value === 'string') return `s:${JSON.stringify(value)}`
  return 'null'
}

async function queryOk(db: Database, batch: Batch): Promise<StatementResult[]> {
  const results = await db.query(batch)
  for (const result of results) assert.ok(!('error' in result), inspect(result))
  return results
}

function rowsOf(result: StatementResult | undefined): ReadonlyArray<readonly SqlValue[]> {
  assert.ok(result !== undefined && 'columns' in result, inspect(result))
  return result.values ?? []
}

/** Loads `text` into a fresh database the way /db/load runs SQL text: one statement string, one entry. */
async function load(text: string, into?: Database): Promise<Database> {
  const db = into ?? (await Database.open())
  const results = await db.execute([text], { ...apply, index: 100 })
  assert.equal(results.length, 1)
  assert.ok(!('error' in (results[0] ?? {})), inspect(results[0]))
  return db
}

let source: Database
let sourceSnapshot: unknown
let directory: string

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'tqlite-dump-'))
  source = await Database.open()
  for (const result of await source.execute([...SCHEMA, ...contentBatch()], { ...apply, index: 1 })) {
    assert.ok(!('error' in result), inspect(result))
  }
  sourceSnapshot = await snapshot(source)
})

after(async () => {
  await source.close()
  rmSync(directory, { recursive: true, force: true })
})

describe('dump', () => {
  test('the shell layout: header, tables with rows, sqlite_sequence last, views/triggers/indexes, COMMIT', async () => {
    const text = await source.dump()
    assert.ok(text.startsWith('PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n'))
    assert.ok(text.endsWith('COMMIT;\n'))
    const at = (needle: string): number => {
      const index = text.indexOf(needle)
      assert.ok(index >= 0, `missing ${needle}`)
      return index
    }
    assert.ok(at(SCHEMA[0] as string) < at('INSERT INTO "my table" VALUES('))
    assert.ok(at('INSERT INTO "gen"("a","d") VALUES(1,0.1);') > at(SCHEMA[3] as string))
    assert.ok(at('INSERT INTO "docs"(rowid,"title","body") VALUES(7,') > 0)
    assert.ok(
      at('DELETE FROM sqlite_sequence;\nINSERT INTO "sqlite_sequence" VALUES(\'values\',1000);') >
        at('CREATE TABLE plain'),
    )
    assert.ok(at('CREATE VIEW') < at('CREATE TRIGGER') && at('CREATE TRIGGER') < at('CREATE INDEX'))
    assert.ok(at('CREATE INDEX') > at('DELETE FROM sqlite_sequence'))
    assert.ok(!text.includes('_tqlite_meta'), 'the applied-index table is not dumped')
    assert.ok(!text.includes('docs_data') && !text.includes('docs_idx'), 'FTS5 shadow tables are not dumped')
    assert.ok(!text.includes('\u0000') && !text.includes('\r'), 'NUL and CR are written as char()')
  })

  test('dump → load (one statement string) reproduces every value, object and the AUTOINCREMENT counter', async () => {
    const text = await source.dump()
    const target = await load(text)
    try {
      assert.deepEqual(await snapshot(target), sourceSnapshot)
      assert.equal(await target.appliedIndex(), 100)
      // A dump of the copy is the same text (nothing drifted on the way).
      assert.equal(await target.dump(), text)
      // The counter came back too (the next id is above the deleted 1000, not above the largest row).
      const next = await target.execute(['INSERT INTO "values" (v) VALUES (1)'], apply)
      assert.deepEqual(next, [{ last_insert_id: 1001, rows_affected: 1 }])
    } finally {
      await target.close()
    }
  })

  test('the comparison catches a lossy encoder (REALs printed with 15 significant digits)', async () => {
    const image = await source.serialize()
    const local = new BetterSqlite3(image)
    let exact: string
    let lossy: string
    try {
      local.defaultSafeIntegers(true)
      exact = dumpDatabase(local)
      lossy = dumpDatabase(local, {
        literal: (value) =>
          typeof value === 'number' && Number.isFinite(value)
            ? realLiteral(Number(value.toPrecision(15)))
            : sqlLiteral(value),
      })
    } finally {
      local.close()
    }
    assert.equal(exact, await source.dump(), 'the worker and an in-process run produce the same text')
    const good = await load(exact)
    const bad = await load(lossy)
    try {
      assert.deepEqual(await snapshot(good), sourceSnapshot)
      assert.notDeepEqual(await snapshot(bad), sourceSnapshot)
      const [row] = await queryOk(bad, ['SELECT count(*) FROM "values" WHERE v = 0.3'])
      assert.deepEqual(rowsOf(row), [[1]], '0.30000000000000004 came back as 0.3')
    } finally {
      await good.close()
      await bad.close()
    }
  })

  test('tables: only the named tables with their indexes and triggers; unknown names are absent', async () => {
    const text = await source.dump({ tables: ['PLAIN', '"values"', 'values', 'no such table'] })
    assert.ok(text.includes('CREATE TABLE "values"') && text.includes('CREATE TABLE plain'))
    assert.ok(text.includes('CREATE TRIGGER "plain insert"'))
    for (const absent of ['"my table"', 'keyed', 'gen', 'docs', 'CREATE VIEW', 'CREATE INDEX']) {
      assert.ok(!text.includes(absent), `${absent} should not be in the dump`)
    }
    assert.ok(text.includes("DELETE FROM sqlite_sequence WHERE lower(name) IN ('values','plain');"))

    // Loaded into a database that has its own AUTOINCREMENT table: that table's counter survives.
    const target = await Database.open()
    try {
      await target.execute(
        ['CREATE TABLE other (id INTEGER PRIMARY KEY AUTOINCREMENT)', 'INSERT INTO other VALUES (55)'],
        apply,
      )
      await load(text, target)
      const [sequence, values, plain] = await queryOk(target, [
        'SELECT name, seq FROM sqlite_sequence ORDER BY name',
        'SELECT count(*) FROM "values"',
        'SELECT x FROM plain ORDER BY rowid',
      ])
      assert.deepEqual(rowsOf(sequence), [
        ['other', 55],
        ['values', 1000],
      ])
      const [sourceValues] = await queryOk(source, ['SELECT count(*) FROM "values"'])
      assert.deepEqual(rowsOf(values), rowsOf(sourceValues))
      assert.deepEqual(rowsOf(plain), [['p'], ['nul\u0000']])
    } finally {
      await target.close()
    }

    const empty = await source.dump({ tables: [] })
    assert.equal(empty, 'PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCOMMIT;\n')
    const view = await source.dump({ tables: ['v"iew'] })
    assert.ok(view.includes('CREATE VIEW "v""iew"') && !view.includes('CREATE TABLE'))
  })

  test('progress is reported from the worker every 100 000 rows and after each table', async () => {
    const db = await Database.open()
    try {
      await db.execute(
        [
          'CREATE TABLE big (n INTEGER)',
          'WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 250000) INSERT INTO big SELECT n FROM c',
          'CREATE TABLE small (s TEXT)',
          "INSERT INTO small VALUES ('a'), ('b')",
        ],
        apply,
      )
      const reports: Array<[number, number, number]> = []
      const text = await db.dump({ onProgress: (...report) => reports.push(report) })
      assert.deepEqual(reports, [
        [100_000, 0, 2],
        [200_000, 0, 2],
        [250_000, 1, 2],
        [250_002, 2, 2],
      ])
      assert.equal(text.split('\n').length, 250_000 + 2 + 2 + 2 + 2) // rows, CREATEs, header, COMMIT + ''
      const throwing = await db.dump({
        tables: ['small'],
        onProgress: () => {
          throw new Error('a broken callback')
        },
      })
      assert.ok(throwing.includes('INSERT INTO "small" VALUES(\'b\');'))
    } finally {
      await db.close()
    }
  })

  test('an on-disk database dumps the same way', async () => {
    const path = join(directory, 'on-disk.db')
    const db = await Database.open({ path })
    try {
      await db.execute([...SCHEMA, ...contentBatch()], { ...apply, index: 1 })
      assert.equal(await db.dump(), await source.dump())
    } finally {
      await db.close()
    }
  })

  test('bad options reject before reaching the worker', async () => {
    const bad = [{ tables: 'plain' }, { tables: [1] }, { onProgress: 3 }] as unknown as Parameters<
      Database['dump']
    >[0][]
    for (const options of bad) {
      await assert.rejects(source.dump(options), (error: unknown) => {
        return error instanceof DbError && error.code === 'TQ_ERR_DB_BAD_OPTIONS'
      })
    }
  })
})

describe('value literals', () => {
  test('REALs keep their storage class and bits, also through SQLite directly', () => {
    const db = new BetterSqlite3(':memory:')
    try {
      db.defaultSafeIntegers(true)
      for (const value of [...REALS, -0, 0, 3, -2, 1e-320]) {
        const [type, back] = db
          .prepare(`SELECT typeof(v), v FROM (SELECT ${realLiteral(value)} AS v)`)
          .raw()
          .get() as [string, number]
        assert.equal(type, 'real', realLiteral(value))
        assert.ok(Object.is(back, value), `${realLiteral(value)} came back as ${back}`)
      }
      for (const text of TEXTS) {
        const back = db
          .prepare(`SELECT ${textLiteral(text)}`)
          .pluck()
          .get()
        assert.equal(back, text)
      }
      assert.match(textLiteral(ALL_MARKERS), /^CAST\(X'/)
      assert.equal(textLiteral('a\nb'), "replace('a\\nb','\\n',char(10))")
      assert.equal(sqlLiteral(Buffer.alloc(0)), "X''")
      assert.equal(sqlLiteral(-9223372036854775808n), '-9223372036854775808')
    } finally {
      db.close()
    }
  })
})

describe('serialize variants', () => {
  test('journalMode sets header bytes 18 and 19; the default stays the rollback journal (1)', async () => {
    const plain = await source.serialize()
    const wal = await source.serialize({ journalMode: 'wal' })
    const legacy = await source.serialize({ journalMode: 'delete' })
    assert.deepEqual([plain[18], plain[19]], [1, 1])
    assert.deepEqual([wal[18], wal[19]], [2, 2])
    assert.deepEqual([legacy[18], legacy[19]], [1, 1])
    assert.deepEqual(wal.subarray(20), plain.subarray(20))
    assert.deepEqual(wal.subarray(0, 18), plain.subarray(0, 18))
    const target = await Database.open()
    try {
      assert.equal(await target.restore(wal), 1)
      assert.deepEqual(await snapshot(target), sourceSnapshot)
    } finally {
      await target.close()
    }
    const path = join(directory, 'wal.db')
    const onDisk = await Database.open({ path })
    try {
      await onDisk.execute(['CREATE TABLE t (x)'], apply)
      const image = await onDisk.serialize()
      assert.deepEqual([image[18], image[19]], [1, 1], 'an on-disk WAL database still gives 1 by default')
      const walImage = await onDisk.serialize({ journalMode: 'wal' })
      assert.deepEqual([walImage[18], walImage[19]], [2, 2])
    } finally {
      await onDisk.close()
    }
  })

  test('vacuum returns a compacted copy and leaves the live database unchanged', async () => {
    for (const path of [undefined, join(directory, 'vacuum.db')]) {
      const db = await Database.open(path === undefined ? {} : { path })
      try {
        await db.execute(
          [
            'CREATE TABLE filler (b BLOB)',
            'WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 2000) INSERT INTO filler SELECT randomblob(500) FROM c',
            'DELETE FROM filler WHERE rowid > 10',
          ],
          { ...apply, index: 3 },
        )
        const before = await db.serialize()
        const vacuumed = await db.serialize({ vacuum: true })
        const after = await db.serialize()
        assert.deepEqual(after, before, 'the live database is unchanged')
        assert.ok(vacuumed.length < before.length / 4, `${vacuumed.length} vs ${before.length}`)
        assert.ok(before.readUInt32BE(36) > 0, 'the live database has free pages')
        assert.equal(vacuumed.readUInt32BE(36), 0, 'the copy has none')
        assert.deepEqual([vacuumed[18], vacuumed[19]], [1, 1])
        const wal = await db.serialize({ vacuum: true, journalMode: 'wal' })
        assert.deepEqual([wal[18], wal[19]], [2, 2])
        const copy = await Database.open()
        try {
          assert.equal(await copy.restore(vacuumed), 3)
          assert.deepEqual(
            await copy.query(['SELECT rowid, hex(b) FROM filler']),
            await db.query(['SELECT rowid, hex(b) FROM filler']),
          )
        } finally {
          await copy.close()
        }
      } finally {
        await db.close()
      }
    }
  })

  test('bad options reject', async () => {
    for (const options of [{ vacuum: 'yes' }, { journalMode: 'WAL' }, null]) {
      await assert.rejects(
        source.serialize(options as unknown as Parameters<Database['serialize']>[0]),
        (error: unknown) => error instanceof DbError && error.code === 'TQ_ERR_DB_BAD_OPTIONS',
      )
    }
  })
})
