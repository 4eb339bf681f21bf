// Goal: Database gives rqlite's results and transaction semantics; method: real batches against an in-memory
// database on its worker, comparing results with the shapes in rqlite-reference.md §1.2, §1.6 and /db/execute.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { inspect } from 'node:util'
import {
  BadStatementError,
  type Batch,
  Database,
  DbError,
  type ExecuteOptions,
  QUERY_WRITE_ERROR,
  StaleIndexError,
  type StatementResult,
} from '../../../src/db/index.js'

const apply: ExecuteOptions = { seed: 7, nowMs: Date.UTC(2024, 4, 1, 12, 0, 0) }

let db: Database

before(async () => {
  db = await Database.open()
})

after(async () => {
  await db.close()
})

/** A fresh table per test, so tests do not depend on each other's rows. */
let tableCounter = 0
async function freshTable(columns = 'id INTEGER PRIMARY KEY, name TEXT'): Promise<string> {
  const name = `t${++tableCounter}`
  const [result] = await db.execute([`CREATE TABLE ${name} (${columns})`], apply)
  assert.ok(result !== undefined && !('error' in result), inspect(result))
  return name
}

async function rows(sql: string): Promise<unknown[][]> {
  const [result] = await db.query([sql])
  assert.ok(result !== undefined && 'columns' in result, inspect(result))
  return (result.values ?? []) as unknown[][]
}

describe('result shapes', () => {
  test('CREATE TABLE on a fresh connection gives {} and an insert gives both ids', async () => {
    const fresh = await Database.open()
    try {
      const results = await fresh.execute(
        [
          'CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT)',
          ["INSERT INTO foo(name) VALUES('fiona')"],
        ],
        apply,
      )
      assert.deepEqual(results, [{}, { last_insert_id: 1, rows_affected: 1 }])
      // last_insert_id carries over (sqlite3_last_insert_rowid), as rqlite reports it after DROP TABLE.
      assert.deepEqual(await fresh.execute(['DROP TABLE foo'], apply), [{ last_insert_id: 1 }])
    } finally {
      await fresh.close()
    }
  })

  test('query: columns, lower-cased declared types, values; values omitted when there are no rows', async () => {
    const table = await freshTable('id INTEGER PRIMARY KEY, name VARCHAR(20), at DATETIME, score Real')
    await db.execute(
      [[`INSERT INTO ${table}(name, at, score) VALUES(?, ?, ?)`, 'fiona', '2021-10-22 19:39:32', 1.5]],
      apply,
    )
    const [all, none] = await db.query([`SELECT * FROM ${table}`, `SELECT id, name FROM ${table} WHERE 0`])
    assert.deepEqual(all, {
      columns: ['id', 'name', 'at', 'score'],
      types: ['integer', 'varchar(20)', 'datetime', 'real'],
      values: [[1, 'fiona', '2021-10-22 19:39:32', 1.5]],
    })
    assert.deepEqual(none, { columns: ['id', 'name'], types: ['integer', 'varchar(20)'] })
  })

  test('expressions: the type comes from the first row (count(*) is "integer"), "" when NULL or no rows', async () => {
    const [result] = await db.query(["SELECT count(*), 1.5, 'x', x'00', NULL, 2 AS two"])
    assert.deepEqual(result, {
      columns: ['count(*)', '1.5', "'x'", "x'00'", 'NULL', 'two'],
      types: ['integer', 'real', 'text', 'blob', '', 'integer'],
      values: [[1, 1.5, 'x', Buffer.from([0]), null, 2]],
    })
    const [empty] = await db.query(['SELECT 1 AS one WHERE 0'])
    assert.deepEqual(empty, { columns: ['one'], types: [''] })
  })

  test('a SQL error is a result slot, not an exception', async () => {
    assert.deepEqual(await db.execute(['INSERT INTO nope VALUES(1)'], apply), [
      { error: 'no such table: nope' },
    ])
    assert.deepEqual(await db.query(['SELECT * FROM nope']), [{ error: 'no such table: nope' }])
    const [syntax] = await db.query(['SELEKT 1'])
    assert.ok(syntax !== undefined && 'error' in syntax && syntax.error.includes('syntax error'))
  })

  test('empty statements get no result slot', async () => {
    assert.deepEqual(await db.query(['', 'SELECT 1 AS one', '  -- only a comment ']), [
      { columns: ['one'], types: ['integer'], values: [[1]] },
    ])
  })
})

describe('batches and transactions', () => {
  test('without transaction, statements after a failed one still run', async () => {
    const table = await freshTable()
    const results = await db.execute(
      [
        `INSERT INTO ${table}(id, name) VALUES(1, 'a')`,
        'INSERT INTO nope VALUES(1)',
        `INSERT INTO ${table}(id, name) VALUES(2, 'b')`,
      ],
      apply,
    )
    assert.deepEqual(results, [
      { last_insert_id: 1, rows_affected: 1 },
      { error: 'no such table: nope' },
      { last_insert_id: 2, rows_affected: 1 },
    ])
    assert.deepEqual(await rows(`SELECT id FROM ${table}`), [[1], [2]])
  })

  test('with transaction, the first error stops the batch and rolls everything back', async () => {
    const table = await freshTable()
    const results = await db.execute(
      [
        `INSERT INTO ${table}(id, name) VALUES(1, 'a')`,
        `INSERT INTO ${table}(id, name) VALUES(1, 'duplicate')`,
        `INSERT INTO ${table}(id, name) VALUES(3, 'never')`,
      ],
      { ...apply, transaction: true },
    )
    assert.deepEqual(results, [
      { last_insert_id: 1, rows_affected: 1 },
      { error: `UNIQUE constraint failed: ${table}.id` },
    ])
    assert.deepEqual(await rows(`SELECT count(*) FROM ${table}`), [[0]])
  })

  test('with transaction and no error, everything commits', async () => {
    const table = await freshTable()
    const results = await db.execute(
      [`INSERT INTO ${table}(name) VALUES('a')`, `INSERT INTO ${table}(name) VALUES('b')`],
      { ...apply, transaction: true },
    )
    assert.equal(results.length, 2)
    assert.deepEqual(await rows(`SELECT name FROM ${table} ORDER BY id`), [['a'], ['b']])
  })

  test('an error that rolls back a whole transaction still leaves autocommit results (replayed batch)', async () => {
    const table = await freshTable('id INTEGER PRIMARY KEY ON CONFLICT ROLLBACK, name TEXT')
    const results = await db.execute(
      [
        `INSERT INTO ${table}(id, name) VALUES(1, 'a')`,
        `INSERT INTO ${table}(id, name) VALUES(1, 'conflict rolls back the transaction')`,
        `INSERT INTO ${table}(id, name) VALUES(2, 'b')`,
      ],
      apply,
    )
    assert.ok(results[1] !== undefined && 'error' in results[1])
    assert.deepEqual(await rows(`SELECT id, name FROM ${table} ORDER BY id`), [
      [1, 'a'],
      [2, 'b'],
    ])
  })

  test('explicit BEGIN … COMMIT inside a non-transactional batch works as in rqlite', async () => {
    const table = await freshTable()
    const results = await db.execute(
      ['BEGIN', `INSERT INTO ${table}(name) VALUES('x')`, `INSERT INTO ${table}(name) VALUES('y')`, 'COMMIT'],
      apply,
    )
    assert.deepEqual(
      results.map((r) => 'error' in r),
      [false, false, false, false],
    )
    assert.deepEqual(await rows(`SELECT count(*) FROM ${table}`), [[2]])
    const rolledBack = await db.execute(
      ['BEGIN', `INSERT INTO ${table}(name) VALUES('z')`, 'ROLLBACK'],
      apply,
    )
    assert.deepEqual(
      rolledBack.map((r) => 'error' in r),
      [false, false, false],
    )
    assert.deepEqual(await rows(`SELECT count(*) FROM ${table}`), [[2]])
  })

  test('COMMIT inside a transactional batch is refused and the batch rolls back', async () => {
    const table = await freshTable()
    const results = await db.execute([`INSERT INTO ${table}(name) VALUES('x')`, 'COMMIT'], {
      ...apply,
      transaction: true,
    })
    assert.ok(results[1] !== undefined && 'error' in results[1])
    assert.deepEqual(await rows(`SELECT count(*) FROM ${table}`), [[0]])
  })

  test('multi-statement strings run every statement; the result is the last one', async () => {
    const results = await db.execute(
      ['CREATE TABLE multi(x); INSERT INTO multi VALUES(1); INSERT INTO multi VALUES(2)'],
      apply,
    )
    assert.deepEqual(results, [{ last_insert_id: 2, rows_affected: 1 }])
    assert.deepEqual(await rows('SELECT x FROM multi'), [[1], [2]])
    // Positional values are shared out over the statements in order.
    const [shared] = await db.execute(
      [['INSERT INTO multi VALUES(?); INSERT INTO multi VALUES(?)', 3, 4]],
      apply,
    )
    assert.deepEqual(shared, { last_insert_id: 4, rows_affected: 1 })
    assert.deepEqual(await rows('SELECT x FROM multi WHERE x > 2'), [[3], [4]])
    // A failing statement stops the rest of its string; earlier ones stay applied.
    const [stopped] = await db.execute(
      ['INSERT INTO multi VALUES(6); INSERT INTO nope VALUES(1); INSERT INTO multi VALUES(7)'],
      apply,
    )
    assert.deepEqual(stopped, { error: 'no such table: nope' })
    assert.deepEqual(await rows('SELECT x FROM multi WHERE x > 4'), [[6]])
  })

  test('a trigger with a multi-statement body in a multi-statement string', async () => {
    const results = await db.execute(
      [
        `CREATE TABLE src(x); CREATE TABLE dst(y);
         CREATE TRIGGER copy AFTER INSERT ON src BEGIN
           INSERT INTO dst VALUES(new.x);
           INSERT INTO dst VALUES(CASE WHEN new.x > 1 THEN 'big' ELSE 'small' END);
         END;
         INSERT INTO src VALUES(2)`,
      ],
      apply,
    )
    assert.ok(results[0] !== undefined && !('error' in results[0]), inspect(results))
    assert.deepEqual(await rows('SELECT y FROM dst'), [[2], ['big']])
  })
  test('END used as a bare column name inside a trigger body (the splitter cuts early; SQLite decides)', async () => {
    const results = await db.execute(
      [
        `CREATE TABLE ends(x, "end");
         CREATE TRIGGER ends_copy AFTER INSERT ON ends BEGIN UPDATE ends SET x = end; END;
         INSERT INTO ends VALUES(1, 2)`,
      ],
      apply,
    )
    assert.ok(results[0] !== undefined && !('error' in results[0]), inspect(results))
    assert.deepEqual(await rows('SELECT x, "end" FROM ends'), [[2, 2]])
  })
})

describe('parameters and values', () => {
  test('positional and named parameters (:name, @name, $name), numbered ?N', async () => {
    const table = await freshTable('id INTEGER PRIMARY KEY, name TEXT, age INTEGER')
    await db.execute(
      [
        [`INSERT INTO ${table}(name, age) VALUES(?, ?)`, 'fiona', 20],
        [`INSERT INTO ${table}(name, age) VALUES(:name, @age)`, { name: 'declan', age: 30 }],
        [`INSERT INTO ${table}(name, age) VALUES($name, ?)`, 40, { name: 'aoife' }],
        [`INSERT INTO ${table}(age, name) VALUES(?2, ?1)`, 'ciara', 50],
      ],
      apply,
    )
    assert.deepEqual(await rows(`SELECT name, age FROM ${table} ORDER BY id`), [
      ['fiona', 20],
      ['declan', 30],
      ['aoife', 40],
      ['ciara', 50],
    ])
    const [missing] = await db.execute([[`INSERT INTO ${table}(name) VALUES(:nobody)`, { name: 'x' }]], apply)
    assert.ok(missing !== undefined && 'error' in missing && missing.error.includes('nobody'))
    const [tooMany] = await db.execute([[`INSERT INTO ${table}(name) VALUES(?)`, 'a', 'b']], apply)
    assert.ok(tooMany !== undefined && 'error' in tooMany, inspect(tooMany))
  })

  test('integral numbers bind as INTEGER, fractional as REAL, booleans as 1/0, null as NULL', async () => {
    const [result] = await db.query([
      ['SELECT typeof(?), typeof(?), ?, ?, typeof(?)', 5, 2.5, true, false, null],
    ])
    assert.ok(result !== undefined && 'values' in result)
    assert.deepEqual(result.values, [['integer', 'real', 1, 0, 'null']])
  })

  test('RETURNING in execute gives a query-shaped result', async () => {
    const table = await freshTable()
    const results = await db.execute(
      [[`INSERT INTO ${table}(name) VALUES(?) RETURNING id, name`, 'declan']],
      apply,
    )
    assert.deepEqual(results, [
      { columns: ['id', 'name'], types: ['integer', 'text'], values: [[1, 'declan']] },
    ])
  })

  test('64-bit integers are exact: beyond 2^53 they are bigints', async () => {
    const table = await freshTable('id INTEGER PRIMARY KEY, v INTEGER')
    await db.execute(
      [
        [`INSERT INTO ${table}(v) VALUES(?)`, 9007199254740993n],
        `INSERT INTO ${table}(v) VALUES(9223372036854775807)`,
        `INSERT INTO ${table}(v) VALUES(-9223372036854775808)`,
        [`INSERT INTO ${table}(v) VALUES(?)`, 9007199254740991],
      ],
      apply,
    )
    assert.deepEqual(await rows(`SELECT v, v - 1 FROM ${table} ORDER BY id`), [
      [9007199254740993n, 9007199254740992n],
      [9223372036854775807n, 9223372036854775806n],
      [-9223372036854775808n, -(2 ** 63)], // the subtraction overflows into a REAL, as in SQLite
      [9007199254740991, 9007199254740990],
    ])
    // A rowid beyond 2^53 comes back exact in last_insert_id too.
    const [inserted] = await db.execute([[`INSERT INTO ${table}(id, v) VALUES(?, 0)`, 2n ** 60n]], apply)
    assert.deepEqual(inserted, { last_insert_id: 2n ** 60n, rows_affected: 1 })
  })

  test('BLOBs round-trip as Buffers; NULLs as null', async () => {
    const table = await freshTable('id INTEGER PRIMARY KEY, b BLOB, n TEXT')
    const bytes = Buffer.from([0, 1, 2, 250, 255])
    await db.execute(
      [
        [`INSERT INTO ${table}(b, n) VALUES(?, ?)`, bytes, null],
        [`INSERT INTO ${table}(b) VALUES(?)`, new Uint8Array([9])],
      ],
      apply,
    )
    const values = await rows(`SELECT b, n FROM ${table} ORDER BY id`)
    assert.ok(Buffer.isBuffer(values[0]?.[0]))
    assert.deepEqual(values, [
      [bytes, null],
      [Buffer.from([9]), null],
    ])
  })
})

describe('query and request', () => {
  test('query refuses writes and connection changes, allows reads and inspecting pragmas', async () => {
    const table = await freshTable()
    const results = await db.query([
      `INSERT INTO ${table}(name) VALUES('x')`,
      'PRAGMA foreign_keys = ON',
      'EXPLAIN PRAGMA foreign_keys = ON',
      "ATTACH ':memory:' AS other",
      'BEGIN',
      `INSERT INTO ${table}(name) VALUES('y') RETURNING id`,
      'PRAGMA foreign_keys',
      `PRAGMA table_info(${table})`,
      `EXPLAIN QUERY PLAN SELECT * FROM ${table}`,
    ])
    assert.deepEqual(results.slice(0, 6), Array(6).fill({ error: QUERY_WRITE_ERROR }))
    // The refused PRAGMA settings did not take effect (SQLite applies them when compiling).
    assert.deepEqual(results[6], { columns: ['foreign_keys'], types: ['integer'], values: [[0]] })
    assert.ok(results.slice(7).every((r) => 'columns' in r))
    assert.deepEqual(await rows(`SELECT count(*) FROM ${table}`), [[0]])
  })

  test('query with transaction reads in one transaction', async () => {
    const results = await db.query(['SELECT 1 AS a', 'SELECT 2 AS b'], { transaction: true })
    assert.deepEqual(results, [
      { columns: ['a'], types: ['integer'], values: [[1]] },
      { columns: ['b'], types: ['integer'], values: [[2]] },
    ])
  })

  test('request mixes shapes: reads as queries, writes as executes, errors in place', async () => {
    const table = await freshTable()
    const results: StatementResult[] = await db.request(
      [[`INSERT INTO ${table}(name) VALUES(?)`, 'declan'], `SELECT * FROM ${table}`, 'SELECT * FROM bar'],
      { seed: 1, nowMs: apply.nowMs },
    )
    assert.deepEqual(results, [
      { last_insert_id: 1, rows_affected: 1 },
      { columns: ['id', 'name'], types: ['integer', 'text'], values: [[1, 'declan']] },
      { error: 'no such table: bar' },
    ])
  })

  test('a SELECT sent to execute answers in execute shape', async () => {
    const [result] = await db.execute(['SELECT 1'], apply)
    assert.ok(result !== undefined && !('columns' in result) && !('error' in result))
  })
})

describe('applied index', () => {
  test('is recorded with each batch, also when a transactional batch fails, and must advance', async () => {
    const fresh = await Database.open()
    try {
      assert.equal(await fresh.appliedIndex(), 0)
      await fresh.execute(['CREATE TABLE a(x)'], { ...apply, index: 3 })
      assert.equal(await fresh.appliedIndex(), 3)
      await fresh.execute(['INSERT INTO a VALUES(1)', 'INSERT INTO nope VALUES(1)'], {
        ...apply,
        index: 4,
        transaction: true,
      })
      assert.equal(await fresh.appliedIndex(), 4)
      await fresh.execute(['BEGIN', 'INSERT INTO a VALUES(2)', 'COMMIT'], { ...apply, index: 5 })
      assert.equal(await fresh.appliedIndex(), 5)
      await assert.rejects(
        fresh.execute(['INSERT INTO a VALUES(3)'], { ...apply, index: 5 }),
        StaleIndexError,
      )
      // No declared type: the type is the first value's storage class, as rqlite reports it.
      assert.deepEqual(await fresh.query(['SELECT x FROM a']), [
        { columns: ['x'], types: ['integer'], values: [[2]] },
      ])
      // A user dropping the table does not break recording.
      await fresh.execute([`DROP TABLE _tqlite_meta`], { ...apply, index: 6 })
      await fresh.execute(['INSERT INTO a VALUES(4)'], { ...apply, index: 7 })
      assert.equal(await fresh.appliedIndex(), 7)
    } finally {
      await fresh.close()
    }
  })
})

describe('malformed requests and lifecycle', () => {
  const bad: ReadonlyArray<readonly [string, unknown]> = [
    ['a number', [42]],
    ['an empty array', [[]]],
    ['a non-string SQL', [[1, 2]]],
    ['a nested array parameter', [['SELECT ?', [1]]]],
    ['an undefined parameter', [['SELECT ?', undefined]]],
    ['an object value that is not a parameter value', [['SELECT :a', { a: { b: 1 } }]]],
  ]
  for (const [name, batch] of bad) {
    test(`rejects ${name} with TQ_ERR_DB_BAD_STATEMENT`, async () => {
      await assert.rejects(db.query(batch as Batch), (error: unknown) => {
        assert.ok(error instanceof BadStatementError)
        assert.equal(error.code, 'TQ_ERR_DB_BAD_STATEMENT')
        return true
      })
    })
  }

  test('rejects bad options with TQ_ERR_DB_BAD_OPTIONS', async () => {
    for (const options of [
      { seed: -1, nowMs: 0 },
      { seed: 1.5, nowMs: 0 },
      { seed: new Uint8Array(3), nowMs: 0 },
      { seed: 1, nowMs: -5 },
      { seed: 1, nowMs: 0, index: 0 },
    ]) {
      await assert.rejects(db.execute(['SELECT 1'], options), { code: 'TQ_ERR_DB_BAD_OPTIONS' })
    }
  })

  test('after close, requests reject with TQ_ERR_DB_CLOSED; close is idempotent', async () => {
    const fresh = await Database.open()
    const pending = fresh.query(['SELECT 1'])
    const closing = fresh.close()
    assert.equal((await pending).length, 1) // requests made before close() still finish
    await closing
    await fresh.close()
    await assert.rejects(fresh.query(['SELECT 1']), (error: unknown) => {
      assert.ok(error instanceof DbError)
      assert.equal(error.code, 'TQ_ERR_DB_CLOSED')
      return true
    })
  })

  test('opening an unusable path rejects with TQ_ERR_DB_OPEN_FAILED', async () => {
    await assert.rejects(Database.open({ path: '/nonexistent-dir/x/y.db' }), {
      code: 'TQ_ERR_DB_OPEN_FAILED',
    })
  })
})

test('discardResults: the batch applies and records its index, and the answer is an empty list', async () => {
  const table = await freshTable()
  const index = (await db.appliedIndex()) + 1
  const batch: Batch = [
    [`INSERT INTO ${table} (name) VALUES (?)`, 'fiona'],
    [`INSERT INTO ${table} (name) VALUES (?)`, 'declan'],
  ]
  assert.deepEqual(await db.execute(batch, { ...apply, index, discardResults: true }), [])
  assert.deepEqual(await db.request(batch, { ...apply, index: index + 1, discardResults: true }), [])
  assert.deepEqual(await rows(`SELECT count(*) FROM ${table}`), [[4]])
  assert.equal(await db.appliedIndex(), index + 1)
  await assert.rejects(
    db.execute(batch, { ...apply, discardResults: 'yes' as unknown as boolean }),
    (error: unknown) => error instanceof DbError && error.code === 'TQ_ERR_DB_BAD_OPTIONS',
  )
})

// The worker keeps each statement's column details between queries (executor.ts `#columnsOf`): the same query
// text (so the same cached prepared statement) must still follow schema changes made between its runs.
describe('column details of a repeated query', () => {
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

  test('follow ADD COLUMN, RENAME COLUMN and DROP/CREATE made by execute', async () => {
    const table = await freshTable('id INTEGER PRIMARY KEY, a TEXT')
    await execute([`INSERT INTO ${table} VALUES(1, 'x')`])
    const query = `SELECT * FROM ${table}`
    assert.deepEqual(shape(await db.query([query])), { columns: ['id', 'a'], types: ['integer', 'text'] })
    assert.deepEqual(shape(await db.query([query])), { columns: ['id', 'a'], types: ['integer', 'text'] })

    await execute([`ALTER TABLE ${table} ADD COLUMN b REAL`])
    assert.deepEqual(shape(await db.query([query])), {
      columns: ['id', 'a', 'b'],
      types: ['integer', 'text', 'real'],
    })

    await execute([`ALTER TABLE ${table} RENAME COLUMN a TO renamed`])
    assert.deepEqual(shape(await db.query([query])), {
      columns: ['id', 'renamed', 'b'],
      types: ['integer', 'text', 'real'],
    })

    await execute([`DROP TABLE ${table}`, `CREATE TABLE ${table} (k BLOB, v DATETIME)`])
    assert.deepEqual(shape(await db.query([query])), { columns: ['k', 'v'], types: ['blob', 'datetime'] })
  })

  test('follow a change made by a request batch, and the qualified names with it', async () => {
    const table = await freshTable('id INTEGER PRIMARY KEY')
    const query = `SELECT * FROM ${table}`
    assert.deepEqual(shape(await db.query([query], { qualifyColumns: true })).columns, [`${table}.id`])
    // The same statement before and after the change, in one batch.
    const changed = await db.request([query, `ALTER TABLE ${table} ADD COLUMN extra TEXT`, query], {
      ...apply,
      qualifyColumns: true,
    })
    assert.deepEqual(shape(changed).columns, [`${table}.id`])
    assert.deepEqual(shape(changed.slice(2)).columns, [`${table}.id`, `${table}.extra`])
    assert.deepEqual(shape(await db.query([query])).columns, ['id', 'extra'])
    assert.deepEqual(shape(await db.query([query], { qualifyColumns: true })).columns, [
      `${table}.id`,
      `${table}.extra`,
    ])
  })

  test('an expression column is typed by the first row of each run, not of the first run', async () => {
    const table = await freshTable('v')
    const query = `SELECT max(v) AS m FROM ${table}`
    assert.deepEqual(shape(await db.query([query])), { columns: ['m'], types: [''] })
    await execute([`INSERT INTO ${table} VALUES('text')`])
    assert.deepEqual(shape(await db.query([query])), { columns: ['m'], types: ['text'] })
    await execute([`DELETE FROM ${table}`, `INSERT INTO ${table} VALUES(2.5)`])
    assert.deepEqual(shape(await db.query([query])), { columns: ['m'], types: ['real'] })
  })
})
