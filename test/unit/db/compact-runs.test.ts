// Goal: `run` requests and their results cross to and from the db worker as tuples (compact-runs.ts) and come
// out exactly as they went in, through the same structured clone postMessage uses: fields absent stay absent
// (the HTTP layer asks `'values' in result` and `'time' in result`), parameters and BLOBs survive.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { deserialize, serialize } from 'node:v8'
import {
  type RunRequest,
  compactResults,
  compactRun,
  expandResults,
  expandRun,
  isCompactRunReply,
} from '../../../src/db/compact-runs.js'
import type { StatementResult } from '../../../src/db/types.js'

const cloned = <T>(value: T): T => deserialize(serialize(value)) as T

const queryOptions = { mode: 'query', transaction: false } as const

test('requests: SQL alone, positional and named parameters, and a packed batch come back as they were', () => {
  const requests: RunRequest[] = [
    { type: 'run', id: 1, batch: [{ sql: 'SELECT 1', positional: [] }], options: queryOptions },
    {
      type: 'run',
      id: 2,
      batch: [
        { sql: 'INSERT INTO t VALUES(?, ?, ?)', positional: [1, 'two', Buffer.from([3])] },
        { sql: 'INSERT INTO t VALUES(:a, ?)', positional: [null], named: { a: 9007199254740993n } },
        { sql: 'SELECT 2', positional: [] },
      ],
      options: { mode: 'execute', transaction: true, apply: { seed: 7, nowMs: 1 }, index: 12 },
    },
    { type: 'run', id: 3, packed: new Uint8Array([0x91, 0xa1, 0x78]), options: queryOptions },
  ]
  const back = cloned(requests.map(compactRun)).map(expandRun)
  assert.deepEqual(
    back.map((r) => ('batch' in r ? r.batch.map((s) => 'named' in s) : 'packed')),
    [[false], [false, true, false], 'packed'],
  )
  // deepEqual compares a Buffer with the plain Uint8Array a clone makes of it by bytes.
  assert.deepEqual(back, cloned(requests))
})

test('results: a query with and without rows and time, an execute and an error come back as they were', () => {
  const results: StatementResult[] = [
    { columns: ['id', 'v'], types: ['integer', 'text'], values: [[1, 'a']], time: 0.000002 },
    { columns: ['n'], types: [''] },
    { columns: ['b'], types: ['blob'], values: [[Buffer.from('xy')], [null]] },
    { last_insert_id: 5, rows_affected: 1, time: 0.000001 },
    {},
    { error: 'no such table: nowhere' },
  ]
  const reply = cloned([4, compactResults(results)] as const)
  assert.ok(isCompactRunReply(reply))
  const back = expandResults(reply[1])
  assert.deepEqual(back, cloned(results))
  assert.deepEqual(
    back.map((r) => ['values' in r, 'time' in r]),
    [
      [true, true],
      [false, false],
      [true, false],
      [false, true],
      [false, false],
      [false, false],
    ],
  )
})

test('a compact request is a fraction of the object form on the wire, its shared options written once', () => {
  const reads = Array.from(
    { length: 30 },
    (_, i): RunRequest => ({
      type: 'run',
      id: i,
      batch: [{ sql: `SELECT * FROM bench WHERE id=${i}`, positional: [] }],
      options: queryOptions,
    }),
  )
  const objects = serialize({ type: 'batch', requests: reads }).byteLength
  const compact = serialize({ type: 'runs', runs: reads.map(compactRun) }).byteLength
  assert.ok(compact * 2 < objects, `${compact} bytes compact against ${objects} as objects`)
})
