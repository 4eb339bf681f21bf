// Goal: a query's column names and types follow the schema as it is when the query runs, although the worker
// keeps each statement's column details between queries (executor.ts `#columnsOf`); method: the same query
// text (so the same cached prepared statement) before and after schema changes made by execute and request
// batches, and columns typed by their first row.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { inspect } from 'node:util'
import { Database, type ExecuteOptions, type StatementResult } from '../../../src/db/index.js'

const apply: ExecuteOptions = { seed: 7, nowMs: Date.UTC(2024, 4, 1, 12, 0, 0) }

let db: Database

before(async () => {
  db = await Database.open()
})

after(async () => {
  await db.close()
})

async function execute(statements: string[]): Promise<void> {
  const results = await db.execute(statements, apply)
  assert.ok(
    results.every((result) => !('error' in result)),
    inspect(results),
  )
}

function shape(results: StatementResult[]): { columns: readonly string[]; types: readonly string[] } {
  const result = results[0]
  assert.ok(result !== undefined && 'columns' in result, inspect(results))
  return { columns: result.columns, types: result.types }
}

describe('column details of a repeated query', () => {
  test('follow ADD COLUMN, RENAME COLUMN and DROP/CREATE made by execute', async () => {
    await execute(['CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT)', "INSERT INTO t VALUES(1, 'x')"])
    const query = 'SELECT * FROM t'
    assert.deepEqual(shape(await db.query([query])), { columns: ['id', 'a'], types: ['integer', 'text'] })
    assert.deepEqual(shape(await db.query([query])), { columns: ['id', 'a'], types: ['integer', 'text'] })

    await execute(['ALTER TABLE t ADD COLUMN b REAL'])
    assert.deepEqual(shape(await db.query([query])), {
      columns: ['id', 'a', 'b'],
      types: ['integer', 'text', 'real'],
    })

    await execute(['ALTER TABLE t RENAME COLUMN a TO renamed'])
    assert.deepEqual(shape(await db.query([query])), {
      columns: ['id', 'renamed', 'b'],
      types: ['integer', 'text', 'real'],
    })

    await execute(['DROP TABLE t', 'CREATE TABLE t (k BLOB, v DATETIME)'])
    assert.deepEqual(shape(await db.query([query])), { columns: ['k', 'v'], types: ['blob', 'datetime'] })
  })

  test('follow a change made by a request batch, and the qualified names with it', async () => {
    await execute(['CREATE TABLE r (id INTEGER PRIMARY KEY)'])
    const query = 'SELECT * FROM r'
    assert.deepEqual(shape(await db.query([query], { qualifyColumns: true })).columns, ['r.id'])
    // The same statement before and after the change, in one batch.
    const changed = await db.request([query, 'ALTER TABLE r ADD COLUMN extra TEXT', query], {
      ...apply,
      qualifyColumns: true,
    })
    assert.deepEqual(shape(changed).columns, ['r.id'])
    assert.deepEqual(shape(changed.slice(2)).columns, ['r.id', 'r.extra'])
    assert.deepEqual(shape(await db.query([query])).columns, ['id', 'extra'])
    assert.deepEqual(shape(await db.query([query], { qualifyColumns: true })).columns, ['r.id', 'r.extra'])
  })

  test('an expression column is typed by the first row of each run, not of the first run', async () => {
    await execute(['CREATE TABLE e (v)'])
    const query = 'SELECT max(v) AS m FROM e'
    assert.deepEqual(shape(await db.query([query])), { columns: ['m'], types: [''] })
    await execute(["INSERT INTO e VALUES('text')"])
    assert.deepEqual(shape(await db.query([query])), { columns: ['m'], types: ['text'] })
    await execute(['DELETE FROM e', 'INSERT INTO e VALUES(2.5)'])
    assert.deepEqual(shape(await db.query([query])), { columns: ['m'], types: ['real'] })
  })
})
