// Checks that responses are byte-identical to rqlite's, by encoding StatementResult arrays and comparing the
// strings with literal responses from rqlite's tests (system_test, db tests, command/encoding tests, the
// reference §1 and §8.1) and with Go's JSON, time and type-conversion rules for each edge case.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { StatementResult } from '../../../src/db/types.js'
import {
  ResultEncodingError,
  TimeError,
  convertValue,
  encodeGoJson,
  encodeResponse,
  goJsonString,
  goStringFromBytes,
  indentGoJson,
  integerToTime,
  textToTime,
} from '../../../src/http/result-encoding.js'

const fooRow: StatementResult = {
  columns: ['id', 'name'],
  types: ['integer', 'text'],
  values: [[1, 'fiona']],
}

// --- Literal responses from rqlite's system tests (§8.1) and reference examples (§1) ---

test('system_test: execute and query literals', () => {
  assert.equal(encodeResponse([{}]), '{"results":[{}]}')
  assert.equal(
    encodeResponse([{ last_insert_id: 1, rows_affected: 1 }]),
    '{"results":[{"last_insert_id":1,"rows_affected":1}]}',
  )
  assert.equal(
    encodeResponse([{ error: 'no such table: bar' }]),
    '{"results":[{"error":"no such table: bar"}]}',
  )
  assert.equal(
    encodeResponse([{ error: 'near "blah": syntax error' }]),
    '{"results":[{"error":"near \\"blah\\": syntax error"}]}',
  )
  assert.equal(
    encodeResponse([fooRow], { endpointShape: 'query' }),
    '{"results":[{"columns":["id","name"],"types":["integer","text"],"values":[[1,"fiona"]]}]}',
  )
  assert.equal(encodeResponse([]), '{"results":[]}')
  assert.equal(
    encodeResponse([{ columns: ['id', 'name', 'age'], types: ['integer', 'text', 'integer'] }]),
    '{"results":[{"columns":["id","name","age"],"types":["integer","text","integer"]}]}',
  )
  assert.equal(
    encodeResponse([
      {
        columns: ['id', 'name', 'age'],
        types: ['integer', 'text', 'integer'],
        values: [[1, 'declan', null]],
      },
    ]),
    '{"results":[{"columns":["id","name","age"],"types":["integer","text","integer"],"values":[[1,"declan",null]]}]}',
  )
  assert.equal(
    encodeResponse([{ columns: ['COUNT(*)'], types: ['integer'], values: [[200]] }]),
    '{"results":[{"columns":["COUNT(*)"],"types":["integer"],"values":[[200]]}]}',
  )
  assert.equal(
    encodeResponse([
      {
        columns: ['id', 'name'],
        types: ['integer', 'text'],
        values: [
          [1, 'fiona'],
          [2, 'declan'],
        ],
      },
      { columns: ['id', 'sequence'], types: ['integer', 'integer'], values: [[1, 5]] },
    ]),
    '{"results":[{"columns":["id","name"],"types":["integer","text"],"values":[[1,"fiona"],[2,"declan"]]},{"columns":["id","sequence"],"types":["integer","integer"],"values":[[1,5]]}]}',
  )
})

test('system_test: whole-request error and queued write', () => {
  assert.equal(
    encodeResponse([], { error: 'disallowed pragma' }),
    '{"results":[],"error":"disallowed pragma"}',
  )
  const queued = encodeResponse([], { sequenceNumber: 1653314298877648934n })
  assert.equal(queued, '{"results":[],"sequence_number":1653314298877648934}')
  assert.match(queued, /^{"results":\[\],"sequence_number":\d+}$/)
})

test('system_test: BLOB column holding TEXT and BLOB, base64 and blob_array', () => {
  const result: StatementResult = {
    columns: ['data'],
    types: ['blob'],
    values: [['fiona'], [Buffer.from([0xde, 0xad, 0xbe, 0xef])]],
  }
  assert.equal(
    encodeResponse([result]),
    '{"results":[{"columns":["data"],"types":["blob"],"values":[["fiona"],["3q2+7w=="]]}]}',
  )
  assert.equal(
    encodeResponse([result], { blobArray: true }),
    '{"results":[{"columns":["data"],"types":["blob"],"values":[["fiona"],[[222,173,190,239]]]}]}',
  )
})

test('system_test: RETURNING in execute (plain and associative), mixed with execute results', () => {
  assert.equal(
    encodeResponse([
      { columns: ['id', 'name'], types: ['integer', 'text'], values: [[4, 'alice']] },
      { last_insert_id: 5, rows_affected: 1 },
    ]),
    '{"results":[{"columns":["id","name"],"types":["integer","text"],"values":[[4,"alice"]]},{"last_insert_id":5,"rows_affected":1}]}',
  )
  assert.equal(
    encodeResponse([{ last_insert_id: 99, rows_affected: 1 }], { associative: true }),
    '{"results":[{"last_insert_id":99,"rows_affected":1,"rows":null}]}',
  )
  assert.equal(
    encodeResponse([{ columns: ['id', 'name'], types: ['integer', 'text'], values: [[7, 'siobhan']] }], {
      associative: true,
    }),
    '{"results":[{"types":{"id":"integer","name":"text"},"rows":[{"id":7,"name":"siobhan"}]}]}',
  )
  assert.equal(
    encodeResponse([{ columns: ['name'], types: ['text'] }], { associative: true }),
    '{"results":[{"types":{"name":"text"},"rows":[]}]}',
  )
  assert.equal(
    encodeResponse([{ error: 'no such table: nonsense' }], { associative: true }),
    '{"results":[{"error":"no such table: nonsense"}]}',
  )
})

test('reference §1.7: associative query, request and timings examples', () => {
  assert.equal(
    encodeResponse(
      [{ columns: ['id', 'name', 'age'], types: ['integer', 'text', 'integer'], values: [[1, 'fiona', 20]] }],
      { associative: true, endpointShape: 'query' },
    ),
    '{"results":[{"types":{"age":"integer","id":"integer","name":"text"},"rows":[{"age":20,"id":1,"name":"fiona"}]}]}',
  )
  assert.equal(
    encodeResponse(
      [
        { last_insert_id: 2, rows_affected: 1 },
        {
          columns: ['id', 'name'],
          types: ['integer', 'text'],
          values: [
            [1, 'fiona'],
            [2, 'declan'],
          ],
        },
        { error: 'no such table: bar' },
      ],
      { associative: true },
    ),
    '{"results":[{"last_insert_id":2,"rows_affected":1,"rows":null},{"types":{"id":"integer","name":"text"},"rows":[{"id":1,"name":"fiona"},{"id":2,"name":"declan"}]},{"error":"no such table: bar"}]}',
  )
  assert.equal(
    encodeResponse([{ last_insert_id: 1, rows_affected: 1 }, { error: 'no such table: nope' }], {
      timings: { perStatementSeconds: [0.00011, 0.0003], totalSeconds: 0.0021 },
    }),
    '{"results":[{"last_insert_id":1,"rows_affected":1,"time":0.00011},{"error":"no such table: nope"}],"time":0.0021}',
  )
})

test('db test Test_DB_SQLiteTimeTypes: date, timestamp, datetime columns as RFC3339', () => {
  const result: StatementResult = {
    columns: ['d', 'ts', 'dt'],
    types: ['date', 'timestamp', 'datetime'],
    values: [['2004-02-14', '2004-02-14 07:15:00', '2021-10-22 19:39:32.016087']],
  }
  assert.equal(
    encodeResponse([result]),
    '{"results":[{"columns":["d","ts","dt"],"types":["date","timestamp","datetime"],"values":[["2004-02-14T00:00:00Z","2004-02-14T07:15:00Z","2021-10-22T19:39:32.016087Z"]]}]}',
  )
})

// --- command/encoding/json_test.go literals (time fields, errors, pretty form) ---

test('encoding tests: execute result with error and time, compact and pretty', () => {
  // A ExecuteResult carrying an error (rqlite's struct form); TQLite's execute slots carry no error, so
  // the pretty form is checked on the field order rqlite writes for a success with time.
  assert.equal(
    encodeResponse([{ last_insert_id: 1, rows_affected: 2 }], {
      timings: { perStatementSeconds: [1234], totalSeconds: 0 },
    }),
    '{"results":[{"last_insert_id":1,"rows_affected":2,"time":1234}]}',
  )
  assert.equal(
    encodeGoJson(
      new Map<string, null | number | string>([
        ['last_insert_id', 4],
        ['rows_affected', 5],
        ['error', 'something went wrong'],
        ['time', 6789],
      ]),
      true,
    ),
    '{\n    "last_insert_id": 4,\n    "rows_affected": 5,\n    "error": "something went wrong",\n    "time": 6789\n}',
  )
})

test('encoding tests: query rows compact, pretty, associative pretty, blob pretty', () => {
  const rows: StatementResult = {
    columns: ['c1', 'c2', 'c3'],
    types: ['int', 'float', 'string'],
    values: [[123, 678, 'fiona']],
  }
  const timed = { timings: { perStatementSeconds: [6789], totalSeconds: 0 } }
  assert.equal(
    encodeResponse([rows], timed),
    '{"results":[{"columns":["c1","c2","c3"],"types":["int","float","string"],"values":[[123,678,"fiona"]],"time":6789}]}',
  )
  const pretty = encodeResponse([rows], { ...timed, pretty: true })
  assert.equal(
    pretty,
    `{
    "results": [
        {
            "columns": [
                "c1",
                "c2",
                "c3"
            ],
            "types": [
                "int",
                "float",
                "string"
            ],
            "values": [
                [
                    123,
                    678,
                    "fiona"
                ]
            ],
            "time": 6789
        }
    ]
}`,
  )
  assert.equal(
    encodeResponse([rows], { ...timed, associative: true }),
    '{"results":[{"types":{"c1":"int","c2":"float","c3":"string"},"rows":[{"c1":123,"c2":678,"c3":"fiona"}],"time":6789}]}',
  )
  assert.equal(
    encodeResponse([rows], { ...timed, associative: true, pretty: true }),
    `{
    "results": [
        {
            "types": {
                "c1": "int",
                "c2": "float",
                "c3": "string"
            },
            "rows": [
                {
                    "c1": 123,
                    "c2": 678,
                    "c3": "fiona"
                }
            ],
            "time": 6789
        }
    ]
}`,
  )
  const blob: StatementResult = {
    columns: ['c1', 'c2'],
    types: ['blob', 'string'],
    values: [[Buffer.from('hello'), 'fiona']],
  }
  assert.equal(
    encodeResponse([blob]),
    '{"results":[{"columns":["c1","c2"],"types":["blob","string"],"values":[["aGVsbG8=","fiona"]]}]}',
  )
})

test('encoding tests: mixed ExecuteQueryResponse list, plain and associative', () => {
  const results: StatementResult[] = [
    { last_insert_id: 123, rows_affected: 456 },
    { error: 'unique constraint failed' },
    { columns: ['column1', 'column2'], types: ['int', 'text'], values: [[456, 'declan']] },
    { columns: ['column1', 'column2'], types: ['int', 'text'] },
  ]
  assert.equal(
    encodeResponse(results),
    '{"results":[{"last_insert_id":123,"rows_affected":456},{"error":"unique constraint failed"},{"columns":["column1","column2"],"types":["int","text"],"values":[[456,"declan"]]},{"columns":["column1","column2"],"types":["int","text"]}]}',
  )
  assert.equal(
    encodeResponse(
      [
        ...results.slice(0, 3),
        { columns: ['aaa', 'bbb'], types: ['int', 'text'] },
        { columns: ['ccc', 'ddd'], types: ['int', 'text'] },
      ],
      { associative: true },
    ),
    '{"results":[{"last_insert_id":123,"rows_affected":456,"rows":null},{"error":"unique constraint failed"},{"types":{"column1":"int","column2":"text"},"rows":[{"column1":456,"column2":"declan"}]},{"types":{"aaa":"int","bbb":"text"},"rows":[]},{"types":{"ccc":"int","ddd":"text"},"rows":[]}]}',
  )
})

// --- Edge cases, rule by rule ---

test('top-level field order: results, error, time, sequence_number, raft_index; zeros omitted', () => {
  assert.equal(
    encodeResponse([], {
      raftIndex: 7,
      sequenceNumber: 3,
      error: 'stale read',
      timings: { totalSeconds: 0.5 },
    }),
    '{"results":[],"error":"stale read","time":0.5,"sequence_number":3,"raft_index":7}',
  )
  assert.equal(
    encodeResponse([{}], { raftIndex: 0, sequenceNumber: 0n, error: '', timings: { totalSeconds: 0 } }),
    '{"results":[{}]}',
  )
  assert.equal(encodeResponse([{}], { raftIndex: 12n }), '{"results":[{}],"raft_index":12}')
})

test('execute results: zero fields omitted, negative and 64-bit ids exact, time after ids, rows last', () => {
  assert.equal(encodeResponse([{ last_insert_id: 0, rows_affected: 0 }]), '{"results":[{}]}')
  assert.equal(encodeResponse([{ rows_affected: 3 }]), '{"results":[{"rows_affected":3}]}')
  assert.equal(
    encodeResponse([{ last_insert_id: -5, rows_affected: 1 }]),
    '{"results":[{"last_insert_id":-5,"rows_affected":1}]}',
  )
  assert.equal(
    encodeResponse([{ last_insert_id: 9223372036854775807n, rows_affected: 1 }]),
    '{"results":[{"last_insert_id":9223372036854775807,"rows_affected":1}]}',
  )
  assert.equal(
    encodeResponse([{ last_insert_id: 1, rows_affected: 1 }], {
      associative: true,
      timings: { perStatementSeconds: [0.25], totalSeconds: 1 },
    }),
    '{"results":[{"last_insert_id":1,"rows_affected":1,"time":0.25,"rows":null}],"time":1}',
  )
  assert.equal(encodeResponse([{}], { associative: true }), '{"results":[{"rows":null}]}')
})

test('timings: zero or missing per-statement time omitted, never on error slots', () => {
  assert.equal(
    encodeResponse([{}, { error: 'x' }, fooRow], {
      timings: { perStatementSeconds: [0, 5, undefined], totalSeconds: 0.1 },
    }),
    '{"results":[{},{"error":"x"},{"columns":["id","name"],"types":["integer","text"],"values":[[1,"fiona"]]}],"time":0.1}',
  )
})

test('query errors: {"error"} everywhere, {"rows":[],"error"} only for associative /db/query', () => {
  const failed: StatementResult[] = [{ error: 'no such table: foo' }]
  assert.equal(
    encodeResponse(failed, { endpointShape: 'query' }),
    '{"results":[{"error":"no such table: foo"}]}',
  )
  assert.equal(
    encodeResponse(failed, { endpointShape: 'query', associative: true }),
    '{"results":[{"rows":[],"error":"no such table: foo"}]}',
  )
  assert.equal(
    encodeResponse(failed, { endpointShape: 'mixed', associative: true }),
    '{"results":[{"error":"no such table: foo"}]}',
  )
})

test('query results: no columns → {} (Go omitempty), values omitted with no rows', () => {
  assert.equal(encodeResponse([{ columns: [], types: [] }]), '{"results":[{}]}')
  assert.equal(
    encodeResponse([{ columns: [], types: [] }], { associative: true }),
    '{"results":[{"rows":[]}]}',
  )
  assert.equal(
    encodeResponse([{ columns: ['a'], types: ['integer'], values: [] }]),
    '{"results":[{"columns":["a"],"types":["integer"]}]}',
  )
})

test('associative rows: keys sorted by UTF-8 bytes, duplicate columns keep the last value', () => {
  assert.equal(
    encodeResponse(
      [
        {
          columns: ['b', 'a', 'B', 'é', 'a'],
          types: ['text', 'integer', 'text', 'text', 'real'],
          values: [['x', 1, 'y', 'z', 2.5]],
        },
      ],
      { associative: true },
    ),
    '{"results":[{"types":{"B":"text","a":"real","b":"text","é":"text"},"rows":[{"B":"y","a":2.5,"b":"x","é":"z"}]}]}',
  )
  // U+FF5E sorts after U+1F600 in UTF-16 but before it in UTF-8.
  assert.equal(
    encodeResponse([{ columns: ['\u{1f600}', '\uff5e'], types: ['', ''], values: [[1, 2]] }], {
      associative: true,
    }),
    '{"results":[{"types":{"～":"","😀":""},"rows":[{"～":2,"😀":1}]}]}',
  )
})

test('64-bit integers are exact; floats in Go form', () => {
  assert.equal(
    encodeResponse([
      {
        columns: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'],
        types: ['integer', 'integer', 'real', 'real', 'real', 'real', 'real', 'real'],
        values: [[9223372036854775807n, -9223372036854775808n, 1.5, 1e21, 1e-7, 0.000001, -0, 1e20]],
      },
    ]),
    '{"results":[{"columns":["a","b","c","d","e","f","g","h"],"types":["integer","integer","real","real","real","real","real","real"],"values":[[9223372036854775807,-9223372036854775808,1.5,1e+21,1e-7,0.000001,-0,100000000000000000000]]}]}',
  )
})

test('non-finite float: rqlite cannot marshal it (500)', () => {
  assert.throws(
    () => encodeResponse([{ columns: ['x'], types: ['real'], values: [[Number.POSITIVE_INFINITY]] }]),
    (error: unknown) =>
      error instanceof ResultEncodingError &&
      error.message ===
        'json: error calling MarshalJSON for type *http.DBResults: json: unsupported value: +Inf',
  )
  assert.throws(() => encodeResponse([{ columns: ['a', 'b'], types: ['text'] }]), ResultEncodingError)
})

test('BLOBs: base64 by default, byte arrays with blob_array, empty BLOB, strings in text-like columns', () => {
  const empty = Buffer.alloc(0)
  assert.equal(convertValue(empty, 'blob', false), '')
  assert.deepEqual(convertValue(empty, 'blob', true), [])
  assert.equal(convertValue(Buffer.from('hi'), 'integer', false), 'aGk=')
  for (const type of [
    'text',
    'json',
    '',
    'varchar(255)',
    'varying character(10)',
    'nchar(5)',
    'native character(70)',
    'nvarchar(100)',
    'clob',
  ])
    assert.equal(convertValue(Buffer.from('hello'), type, true), 'hello', type)
  // character(20) is text affinity in SQLite but not in rqlite's list: stays base64.
  assert.equal(convertValue(Buffer.from('hello'), 'character(20)', false), 'aGVsbG8=')
  // Invalid UTF-8 in a text column: each bad byte becomes U+FFFD, as Go's encoder writes it.
  assert.equal(
    encodeResponse([
      { columns: ['t'], types: ['text'], values: [[Buffer.from([0x61, 0xff, 0xe2, 0x80, 0x62])]] },
    ]),
    '{"results":[{"columns":["t"],"types":["text"],"values":[["a\ufffd\ufffd\ufffdb"]]}]}',
  )
  // A BLOB in a time or boolean column is still a BLOB.
  assert.equal(convertValue(Buffer.from('hi'), 'datetime', false), 'aGk=')
  assert.equal(convertValue(Buffer.from('hi'), 'boolean', false), 'aGk=')
})

test('goStringFromBytes: Go UTF-8 validity (overlongs, surrogates, > U+10FFFF are invalid bytes)', () => {
  assert.equal(goStringFromBytes(Buffer.from('héllo 😀', 'utf8')), 'héllo 😀')
  assert.equal(goStringFromBytes(Buffer.from([0xc0, 0x80])), '\ufffd\ufffd')
  assert.equal(goStringFromBytes(Buffer.from([0xed, 0xa0, 0x80])), '\ufffd\ufffd\ufffd')
  assert.equal(goStringFromBytes(Buffer.from([0xf4, 0x90, 0x80, 0x80])), '\ufffd\ufffd\ufffd\ufffd')
  assert.equal(goStringFromBytes(Buffer.from([0xf0, 0x9f, 0x98])), '\ufffd\ufffd\ufffd')
})

test('boolean columns: INTEGER storage → true when > 0 (go-sqlite3), other storage unchanged', () => {
  assert.equal(
    encodeResponse([
      {
        columns: ['b'],
        types: ['boolean'],
        values: [[1], [0], [2], [-1], [9223372036854775807n], ['yes'], [0.5], [null]],
      },
    ]),
    '{"results":[{"columns":["b"],"types":["boolean"],"values":[[true],[false],[true],[false],[true],["yes"],[0.5],[null]]}]}',
  )
})

test('time columns: TEXT with every go-sqlite3 layout', () => {
  const cases: [string, string][] = [
    ['2021-10-22 19:39:32.016087', '2021-10-22T19:39:32.016087Z'],
    ['2004-02-14', '2004-02-14T00:00:00Z'],
    ['2004-02-14 07:15:00', '2004-02-14T07:15:00Z'],
    ['2004-02-14T07:15:00', '2004-02-14T07:15:00Z'],
    ['2004-02-14 07:15', '2004-02-14T07:15:00Z'],
    ['2004-02-14T07:15', '2004-02-14T07:15:00Z'],
    ['2004-02-14T07:15:00Z', '2004-02-14T07:15:00Z'],
    ['2004-02-14 07:15:00.100000000', '2004-02-14T07:15:00.1Z'],
    ['2004-02-14 07:15:00,5', '2004-02-14T07:15:00.5Z'],
    ['2004-02-14 07:15:00.1234567891234', '2004-02-14T07:15:00.123456789Z'],
    ['2004-02-14 7:15:00', '2004-02-14T07:15:00Z'],
    ['2004-02-14   07:15:00', '2004-02-14T07:15:00Z'],
    ['2004-02-14 07:15:00+00:00', '2004-02-14T07:15:00Z'],
    ['2004-02-14 07:15:00-00:00', '2004-02-14T07:15:00Z'],
    ['2004-02-14 07:15:00+05:30', '2004-02-14T07:15:00+05:30'],
    ['2004-02-14T07:15:00.25-08:00', '2004-02-14T07:15:00.25-08:00'],
    ['2004-02-14 07:15:00+05:60', '2004-02-14T07:15:00+06:00'],
    ['2000-02-29', '2000-02-29T00:00:00Z'],
    ['0000-01-01', '0000-01-01T00:00:00Z'],
  ]
  for (const [stored, expected] of cases) assert.equal(textToTime(stored), expected, stored)
})

test('time columns: unparsable TEXT → Go zero time', () => {
  for (const bad of [
    'now',
    '',
    '2021-13-01',
    '2021-02-29',
    '1900-02-29',
    '2021-10-22 24:00:00',
    '2021-10-22 19:60',
    '2021-10-22 19:39:60',
    '2021-10-22 19:39:32.',
    '2021-10-22 19:39:32 ',
    '21-10-22',
    '2021-1-22',
    '2021-10-22 19:39:32+25:00',
    '2021-10-22 19:39:32+0500',
    '2021-10-22ZZ',
    '1634931572',
  ])
    assert.equal(textToTime(bad), '0001-01-01T00:00:00Z', bad)
})

test('time columns: INTEGER as unix seconds, or milliseconds beyond ±1e12', () => {
  assert.equal(integerToTime(0n), '1970-01-01T00:00:00Z')
  assert.equal(integerToTime(1634931572n), '2021-10-22T19:39:32Z')
  assert.equal(integerToTime(-1n), '1969-12-31T23:59:59Z')
  assert.equal(integerToTime(1634931572016n), '2021-10-22T19:39:32.016Z')
  assert.equal(integerToTime(-1000000000001n), '1938-04-24T22:13:19.999Z')
  assert.equal(integerToTime(1000000000000n).constructor, TimeError) // year 33658: seconds, out of range
  assert.equal(integerToTime(253402300799n), '9999-12-31T23:59:59Z')
  assert.equal(integerToTime(-62167219200n), '0000-01-01T00:00:00Z')
  // Go multiplies milliseconds into int64 nanoseconds and wraps on overflow.
  assert.equal(integerToTime(9223372036855n), '1677-09-21T00:12:43.145448384Z')
})

test('time columns in a response: REAL and NULL unchanged, out-of-range year → statement error slot', () => {
  assert.equal(
    encodeResponse([
      {
        columns: ['d'],
        types: ['datetime'],
        values: [[1634931572], [null], [1.5], ['2004-02-14'], ['junk']],
      },
    ]),
    '{"results":[{"columns":["d"],"types":["datetime"],"values":[["2021-10-22T19:39:32Z"],[null],[1.5],["2004-02-14T00:00:00Z"],["0001-01-01T00:00:00Z"]]}]}',
  )
  assert.equal(
    encodeResponse([{ columns: ['d'], types: ['date'], values: [[300000000000]] }, { last_insert_id: 1 }]),
    '{"results":[{"error":"Time.MarshalText: year outside of range [0,9999]"},{"last_insert_id":1}]}',
  )
  assert.equal(
    encodeResponse([{ columns: ['d'], types: ['timestamp'], values: [['2004-02-14 07:15:00+24:00']] }], {
      associative: true,
      endpointShape: 'query',
    }),
    '{"results":[{"rows":[],"error":"Time.MarshalText: timezone hour outside of range [0,23]"}]}',
  )
  // Only the exact lower-cased names convert (go-sqlite3 compares decltype exactly).
  assert.equal(convertValue('2004-02-14', 'datetime(6)', false), '2004-02-14')
  assert.equal(convertValue(5, 'time', false), 5)
})

test('Go string escaping: HTML characters, control characters, line separators, lone surrogates', () => {
  assert.equal(goJsonString('<a href="x">&</a>'), '"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e"')
  assert.equal(goJsonString('\b\f\n\r\t\u0001\u001f\u007f'), '"\\b\\f\\n\\r\\t\\u0001\\u001f\u007f"')
  assert.equal(goJsonString('a\u2028b\u2029c'), '"a\\u2028b\\u2029c"')
  assert.equal(goJsonString('back\\slash'), '"back\\\\slash"')
  assert.equal(goJsonString('é😀'), '"é😀"')
  assert.equal(goJsonString('x\ud800y\udc00'), '"x\\ufffdy\\ufffd"')
  assert.equal(
    encodeResponse([{ columns: ['<b>'], types: ['text'], values: [['a & b']] }]),
    '{"results":[{"columns":["\\u003cb\\u003e"],"types":["text"],"values":[["a \\u0026 b"]]}]}',
  )
})

test('pretty: Go MarshalIndent shape for empty arrays/objects, nulls and top-level fields', () => {
  assert.equal(encodeResponse([], { pretty: true }), '{\n    "results": []\n}')
  assert.equal(
    encodeResponse([{}, { last_insert_id: 1 }], { pretty: true, associative: true, raftIndex: 3 }),
    `{
    "results": [
        {
            "rows": null
        },
        {
            "last_insert_id": 1,
            "rows": null
        }
    ],
    "raft_index": 3
}`,
  )
  assert.equal(
    encodeResponse([{ columns: ['x'], types: ['text'] }], { pretty: true, associative: true }),
    `{
    "results": [
        {
            "types": {
                "x": "text"
            },
            "rows": []
        }
    ]
}`,
  )
  assert.equal(
    encodeResponse([{ error: 'near ",": syntax error' }], { pretty: true }),
    '{\n    "results": [\n        {\n            "error": "near \\",\\": syntax error"\n        }\n    ]\n}',
  )
  assert.equal(
    indentGoJson('{"a":[{},[]],"b":"x:,{"}', '  '),
    '{\n  "a": [\n    {},\n    []\n  ],\n  "b": "x:,{"\n}',
  )
})
