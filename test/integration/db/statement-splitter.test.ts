// Goal: splitStatements cuts multi-statement SQL exactly where SQLite would; method: table-driven cases for
// quotes, comments, triggers and parameters, then every case's pieces are checked against SQLite itself.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import BetterSqlite3 from 'better-sqlite3'
import fc from 'fast-check'
import { statementKind } from '../../../src/db/statement-kind.js'
import { countParameters, splitStatements } from '../../../src/db/statement-splitter.js'

const texts = (sql: string): string[] => splitStatements(sql).map((piece) => piece.sql)

const cases: ReadonlyArray<readonly [name: string, sql: string, expected: readonly string[]]> = [
  ['one statement', 'SELECT 1', ['SELECT 1']],
  ['trailing semicolon and space', '  SELECT 1 ;  ', ['SELECT 1']],
  [
    'two statements',
    'CREATE TABLE a(x); INSERT INTO a VALUES(1)',
    ['CREATE TABLE a(x)', 'INSERT INTO a VALUES(1)'],
  ],
  ['empty pieces dropped', ';; SELECT 1;;; SELECT 2;', ['SELECT 1', 'SELECT 2']],
  ['only whitespace and comments', '  -- nothing\n /* here */ ; ', []],
  [
    'semicolon in a string',
    "INSERT INTO a VALUES('x;y'); SELECT 2",
    ["INSERT INTO a VALUES('x;y')", 'SELECT 2'],
  ],
  ['doubled quote in a string', "SELECT 'it''s; ok'; SELECT 2", ["SELECT 'it''s; ok'", 'SELECT 2']],
  ['double-quoted identifier', 'SELECT "a;b" FROM t; SELECT 2', ['SELECT "a;b" FROM t', 'SELECT 2']],
  ['doubled double quote', 'SELECT "a"";b" FROM t; SELECT 2', ['SELECT "a"";b" FROM t', 'SELECT 2']],
  ['backquoted identifier', 'SELECT `a;b` FROM t; SELECT 2', ['SELECT `a;b` FROM t', 'SELECT 2']],
  ['bracketed identifier', 'SELECT [a;b] FROM t; SELECT 2', ['SELECT [a;b] FROM t', 'SELECT 2']],
  ['line comment (not part of the piece)', 'SELECT 1 -- a; b\n; SELECT 2', ['SELECT 1', 'SELECT 2']],
  ['leading line comment dropped', '-- hi; there\nSELECT 1', ['SELECT 1']],
  ['block comment', 'SELECT /* a; b */ 1; SELECT 2', ['SELECT /* a; b */ 1', 'SELECT 2']],
  ['unterminated block comment', 'SELECT 1; /* a; b', ['SELECT 1']],
  ['unterminated string runs to the end', "SELECT 'a; b", ["SELECT 'a; b"]],
  ['blob literal', "SELECT x'3B'; SELECT 2", ["SELECT x'3B'", 'SELECT 2']],
  [
    'trigger body',
    'CREATE TRIGGER tr AFTER INSERT ON a BEGIN INSERT INTO b VALUES(1); UPDATE c SET x = 1; END; SELECT 2',
    [
      'CREATE TRIGGER tr AFTER INSERT ON a BEGIN INSERT INTO b VALUES(1); UPDATE c SET x = 1; END',
      'SELECT 2',
    ],
  ],
  [
    'temp trigger, lower case, END at the end of input',
    'create temp trigger tr after insert on a begin delete from b; end',
    ['create temp trigger tr after insert on a begin delete from b; end'],
  ],
  [
    'CASE … END inside a trigger body',
    'CREATE TRIGGER tr AFTER INSERT ON a BEGIN UPDATE b SET y = CASE WHEN new.x > 0 THEN 1 ELSE 0 END; END; SELECT 2',
    [
      'CREATE TRIGGER tr AFTER INSERT ON a BEGIN UPDATE b SET y = CASE WHEN new.x > 0 THEN 1 ELSE 0 END; END',
      'SELECT 2',
    ],
  ],
  [
    'CASE in the WHEN clause before BEGIN',
    'CREATE TRIGGER tr AFTER INSERT ON a WHEN CASE new.x WHEN 1 THEN 1 END BEGIN DELETE FROM b; END; SELECT 2',
    [
      'CREATE TRIGGER tr AFTER INSERT ON a WHEN CASE new.x WHEN 1 THEN 1 END BEGIN DELETE FROM b; END',
      'SELECT 2',
    ],
  ],
  [
    'END as a column name inside a trigger body',
    'CREATE TRIGGER tr AFTER INSERT ON a BEGIN INSERT INTO b(end) VALUES(1); END; SELECT 2',
    ['CREATE TRIGGER tr AFTER INSERT ON a BEGIN INSERT INTO b(end) VALUES(1); END', 'SELECT 2'],
  ],
  [
    'comment between END and ;',
    'CREATE TRIGGER tr AFTER INSERT ON a BEGIN DELETE FROM b; END /* done; */ ; SELECT 2',
    ['CREATE TRIGGER tr AFTER INSERT ON a BEGIN DELETE FROM b; END', 'SELECT 2'],
  ],
  [
    'transaction BEGIN … END is not a trigger',
    'BEGIN; INSERT INTO a VALUES(1); END; SELECT 2',
    ['BEGIN', 'INSERT INTO a VALUES(1)', 'END', 'SELECT 2'],
  ],
  [
    'string with END; inside a trigger',
    "CREATE TRIGGER tr AFTER INSERT ON a BEGIN SELECT 'END;'; END",
    ["CREATE TRIGGER tr AFTER INSERT ON a BEGIN SELECT 'END;'; END"],
  ],
  [
    'unicode',
    "INSERT INTO a VALUES('héllo; 🌍'); SELECT 'ok'",
    ["INSERT INTO a VALUES('héllo; 🌍')", "SELECT 'ok'"],
  ],
]

describe('splitStatements', () => {
  for (const [name, sql, expected] of cases) {
    test(name, () => assert.deepEqual(texts(sql), expected))
  }

  test('property: statements joined by any separator split back into the same statements', () => {
    const pool = [...new Set(cases.flatMap(([, , expected]) => expected))].filter(
      (sql) => !sql.includes("'a; b"),
    )
    const separators = [';', ' ; ', ';\n-- c; d\n', '; /* x; y */ ', ';;', ';\t']
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...pool), { minLength: 1, maxLength: 6 }),
        fc.array(fc.constantFrom(...separators), { minLength: 6, maxLength: 6 }),
        (statements, seps) => {
          const sql = statements.map((statement, i) => statement + (seps[i] ?? ';')).join(' ')
          assert.deepEqual(texts(sql), statements)
        },
      ),
      { numRuns: 300 },
    )
  })

  test('offsets point into the source', () => {
    const sql = ' SELECT 1 ; -- c\n SELECT 2'
    for (const piece of splitStatements(sql)) assert.equal(sql.slice(piece.start, piece.end), piece.sql)
  })

  test('leading tokens are upper-cased words and punctuation', () => {
    const [piece] = splitStatements("pragma main.foreign_keys = 'on'")
    assert.deepEqual(piece?.leading, ['PRAGMA', 'MAIN', '.', 'FOREIGN_KEYS', '=', "'on'"])
  })

  test('every case agrees with SQLite: each piece prepares alone, and SQLite takes each as one statement', () => {
    const db = new BetterSqlite3(':memory:')
    db.exec(
      'CREATE TABLE a(x, "end"); CREATE TABLE b(y, "end"); CREATE TABLE c(x); CREATE TABLE t(a, "a;b", "a"";b")',
    )
    for (const [name, sql] of cases) {
      if (sql.includes("'a; b") || sql.includes("'héllo")) continue // unterminated on purpose / checked above
      for (const piece of splitStatements(sql)) {
        // prepare() rejects "more than one statement" and "incomplete input": both would mean a wrong cut.
        try {
          db.prepare(piece.sql)
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error)
          assert.ok(
            !/more than one statement|incomplete input/.test(message),
            `${name}: ${JSON.stringify(piece.sql)}: ${message}`,
          )
        }
      }
    }
    db.close()
  })
})

describe('parameters (sqlite3_bind_parameter_count and _name)', () => {
  const db = new BetterSqlite3(':memory:')
  const cases: ReadonlyArray<readonly [sql: string, names: ReadonlyArray<string | null>]> = [
    ['SELECT 1', []],
    ['SELECT ?', [null]],
    ['SELECT ?, ?', [null, null]],
    ['SELECT ?3', [null, null, '?3']],
    ['SELECT ?2, ?', [null, '?2', null]],
    ['SELECT ?1, ?1', ['?1']],
    ["SELECT '?', ? -- ?\n", [null]],
    ['SELECT :a, @a, $a, :a, ?', [':a', '@a', '$a', null]],
    ['SELECT $a, :x, $a', ['$a', ':x']],
    [`SELECT ':a' AS "@b", 2 AS [$c]`, []],
  ]
  for (const [sql, names] of cases) {
    test(sql.replace(/\n/g, ' '), () => {
      const counted = countParameters(sql)
      assert.deepEqual(counted.parameterNames, names)
      assert.equal(counted.parameterCount, names.length)
      // SQLite agrees: exactly these anonymous slots and names bind, one fewer value does not.
      const anonymous = names.filter((name) => name === null).map(() => 1)
      const named = Object.fromEntries(
        names.filter((name) => name !== null).map((name) => [name.slice(1), 1]),
      )
      db.prepare(sql).get(...anonymous, named)
      if (anonymous.length > 0) assert.throws(() => db.prepare(sql).get(...anonymous.slice(1), named))
    })
  }
})

describe('statementKind', () => {
  const kind = (sql: string) => statementKind(splitStatements(sql)[0]?.leading ?? [])
  test('transaction control', () => {
    for (const sql of [
      'BEGIN',
      'begin immediate',
      'COMMIT',
      'END TRANSACTION',
      'ROLLBACK',
      'ROLLBACK TRANSACTION',
    ]) {
      assert.equal(kind(sql), 'transactionControl', sql)
    }
    assert.equal(kind('ROLLBACK TO s1'), 'other')
    assert.equal(kind('ROLLBACK TRANSACTION TO SAVEPOINT s1'), 'other')
    assert.equal(kind('SAVEPOINT s1'), 'other')
  })
  test('connection changes', () => {
    for (const sql of [
      'PRAGMA foreign_keys = ON',
      'PRAGMA main.synchronous=0',
      'PRAGMA foreign_keys(1)',
      'PRAGMA wal_checkpoint(TRUNCATE)',
      "ATTACH 'x.db' AS x",
      'DETACH x',
      'VACUUM',
      'EXPLAIN PRAGMA foreign_keys = ON',
      'EXPLAIN QUERY PLAN PRAGMA main.foreign_keys = ON',
      'EXPLAIN BEGIN',
    ]) {
      assert.equal(kind(sql), 'connectionChange', sql)
    }
  })
  test('reads', () => {
    for (const sql of [
      'SELECT 1',
      'WITH c AS (SELECT 1) SELECT * FROM c',
      'VALUES (1)',
      'EXPLAIN QUERY PLAN SELECT 1',
      'EXPLAIN INSERT INTO t VALUES(1)',
      'PRAGMA foreign_keys',
      'PRAGMA table_info(t)',
      'PRAGMA main.index_list(t)',
    ]) {
      assert.equal(kind(sql), 'read', sql)
    }
    assert.equal(kind('INSERT INTO t VALUES(1)'), 'other')
  })
})
