// Goal: `qualifyColumns` names result columns as rqlite's `qualify_columns` does (db/db.go qualifyRowColumns:
// `sqlite3_column_table_name(i) + "." + column name` when the table name is not empty; read-only statements
// only); method: real batches on an in-memory database, with and without the option.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { inspect } from 'node:util'
import { Database, DbError, type ExecuteOptions, type StatementResult } from '../../../src/db/index.js'

const apply: ExecuteOptions = { seed: 7, nowMs: Date.UTC(2024, 4, 1, 12, 0, 0) }

let db: Database

before(async () => {
  db = await Database.open()
  const setup = await db.execute(
    [
      'CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT)',
      'CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER, x TEXT)',
      "INSERT INTO a(id, x) VALUES(1, 'alice')",
      "INSERT INTO b(id, a_id, x) VALUES(10, 1, 'engineer')",
      'CREATE VIEW v AS SELECT id AS vid, x FROM a',
    ],
    apply,
  )
  assert.ok(
    setup.every((result) => !('error' in result)),
    inspect(setup),
  )
})

after(async () => {
  await db.close()
})

function columnsOf(results: StatementResult[], slot = 0): readonly string[] {
  const result = results[slot]
  assert.ok(result !== undefined && 'columns' in result, inspect(results))
  return result.columns
}

const JOIN = 'SELECT * FROM a JOIN b ON a.id = b.a_id'

describe('qualifyColumns in query', () => {
  test('a join of two tables with the same column names gives table.column', async () => {
    const results = await db.query([JOIN], { qualifyColumns: true })
    assert.deepEqual(results, [
      {
        columns: ['a.id', 'a.x', 'b.id', 'b.a_id', 'b.x'],
        types: ['integer', 'text', 'integer', 'integer', 'text'],
        values: [[1, 'alice', 10, 1, 'engineer']],
      },
    ])
  })

  test('without the option (or with false) the names are unchanged', async () => {
    for (const options of [undefined, {}, { qualifyColumns: false }]) {
      assert.deepEqual(columnsOf(await db.query([JOIN], options)), ['id', 'x', 'id', 'a_id', 'x'])
    }
  })

  test('an alias is kept after the origin table, as rqlite does (x AS y → a.y)', async () => {
    assert.deepEqual(
      columnsOf(await db.query(['SELECT x AS y, a.id AS "my id" FROM a'], { qualifyColumns: true })),
      ['a.y', 'a.my id'],
    )
  })

  test('an expression keeps its plain name; the origin table is traced through views and subqueries', async () => {
    const results = await db.query(
      [
        'SELECT id + 1, count(*), upper(x) AS u, 42 AS answer FROM a',
        'SELECT * FROM v',
        'SELECT q FROM (SELECT id AS q FROM b) AS s',
        'SELECT 1',
      ],
      { qualifyColumns: true },
    )
    assert.deepEqual(columnsOf(results, 0), ['id + 1', 'count(*)', 'u', 'answer'])
    assert.deepEqual(columnsOf(results, 1), ['a.vid', 'a.x'])
    assert.deepEqual(columnsOf(results, 2), ['b.q'])
    assert.deepEqual(columnsOf(results, 3), ['1'])
  })

  test('a result with no rows is qualified too; errors are unchanged', async () => {
    const results = await db.query(['SELECT * FROM a WHERE id < 0', 'SELECT * FROM missing'], {
      qualifyColumns: true,
    })
    assert.deepEqual(results, [
      { columns: ['a.id', 'a.x'], types: ['integer', 'text'] },
      { error: 'no such table: missing' },
    ])
  })

  test('a multi-statement element is qualified by its last statement, the one whose rows are returned', async () => {
    assert.deepEqual(columnsOf(await db.query(['SELECT 1; SELECT id FROM b'], { qualifyColumns: true })), [
      'b.id',
    ])
  })

  test('a non-boolean option is refused', async () => {
    await assert.rejects(
      db.query([JOIN], { qualifyColumns: 'yes' as unknown as boolean }),
      (error: unknown) => error instanceof DbError && error.code === 'TQ_ERR_DB_BAD_OPTIONS',
    )
  })
})

describe('qualifyColumns in request', () => {
  test('reads are qualified, local and applied; RETURNING rows of a write are not (as in rqlite)', async () => {
    const local = await db.request([JOIN], { qualifyColumns: true })
    assert.deepEqual(columnsOf(local), ['a.id', 'a.x', 'b.id', 'b.a_id', 'b.x'])

    const applied = await db.request(
      [JOIN, "INSERT INTO a(id, x) VALUES(2, 'bob') RETURNING id, x AS name", 'DELETE FROM a WHERE id = 2'],
      { ...apply, qualifyColumns: true },
    )
    assert.deepEqual(columnsOf(applied, 0), ['a.id', 'a.x', 'b.id', 'b.a_id', 'b.x'])
    assert.deepEqual(applied[1], {
      columns: ['id', 'name'],
      types: ['integer', 'text'],
      values: [[2, 'bob']],
    })
    assert.deepEqual(applied[2], { last_insert_id: 2, rows_affected: 1 })
  })

  test('without the option the names are unchanged', async () => {
    assert.deepEqual(columnsOf(await db.request([JOIN])), ['id', 'x', 'id', 'a_id', 'x'])
  })
})
