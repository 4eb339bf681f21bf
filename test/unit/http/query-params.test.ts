// Checks that query parameters parse and fail exactly as rqlite's http/query_params.go does, by feeding raw
// query strings and URLSearchParams and comparing the typed result or the 400 message with rqlite's.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  QueryParamError,
  parseGoAtoi,
  parseGoDuration,
  parseGoQuery,
  parseQueryParams,
} from '../../../src/http/query-params.js'

function rejects(query: string | URLSearchParams, message: string): void {
  assert.throws(
    () => parseQueryParams(query, 'query'),
    (error: unknown) => error instanceof QueryParamError && error.status === 400 && error.message === message,
  )
}

test('no parameters: flags off, level weak, fmt binary, no tables, valued params absent', () => {
  const p = parseQueryParams('', 'execute')
  assert.equal(p.pretty, false)
  assert.equal(p.timings, false)
  assert.equal(p.transaction, false)
  assert.equal(p.level, 'weak')
  assert.equal(p.fmt, 'binary')
  assert.deepEqual(p.tables, [])
  assert.equal(p.timeoutMs, undefined)
  assert.equal(p.freshnessMs, undefined)
  assert.equal(p.retries, undefined)
  assert.equal(p.q, undefined)
  assert.equal(p.raw.size, 0)
})

test('every presence flag is ON with a bare key, an empty value, =false and =0', () => {
  const flags = {
    pretty: 'pretty',
    timings: 'timings',
    transaction: 'transaction',
    queue: 'queue',
    wait: 'wait',
    associative: 'associative',
    blobArray: 'blob_array',
    redirect: 'redirect',
    noleader: 'noleader',
    nonvoters: 'nonvoters',
    raftIndex: 'raft_index',
    qualifyColumns: 'qualify_columns',
    noRewriteRandom: 'norwrandom',
    noRewriteTime: 'norwtime',
    noParse: 'noparse',
    compress: 'compress',
    vacuum: 'vacuum',
    sync: 'sync',
    bypass: 'bypass',
  } as const
  for (const [field, key] of Object.entries(flags)) {
    for (const form of [key, `${key}=`, `${key}=false`, `${key}=0`, `${key}=true`]) {
      const p = parseQueryParams(`?${form}`, 'request')
      assert.equal(p[field as keyof typeof flags], true, form)
    }
    const off = parseQueryParams(new URLSearchParams('other=1'), 'request')
    assert.equal(off[field as keyof typeof flags], false, field)
  }
  const strict = parseQueryParams('freshness=1s&freshness_strict=false', 'query')
  assert.equal(strict.freshnessStrict, true)
})

test('keys are case-sensitive', () => {
  const p = parseQueryParams('Pretty&TIMINGS', 'query')
  assert.equal(p.pretty, false)
  assert.equal(p.timings, false)
})

test('URLSearchParams input gives the same flags as the raw string', () => {
  const p = parseQueryParams(new URLSearchParams('timings=true&level=strong&q=SELECT+1'), 'query')
  assert.equal(p.timings, true)
  assert.equal(p.level, 'strong')
  assert.equal(p.q, 'SELECT 1')
})

test('level: known values case-insensitively, unknown or empty → weak (rqlite LevelFromString)', () => {
  for (const level of ['none', 'weak', 'strong', 'linearizable', 'auto'] as const) {
    assert.equal(parseQueryParams(`level=${level}`).level, level)
    assert.equal(parseQueryParams(`level=${level.toUpperCase()}`).level, level)
  }
  assert.equal(parseQueryParams('level=bogus').level, 'weak')
  assert.equal(parseQueryParams('level=').level, 'weak')
  assert.equal(parseQueryParams('level').level, 'weak')
})

test('fmt: binary|sql|delete case-insensitively, anything else → binary', () => {
  assert.equal(parseQueryParams('fmt=sql').fmt, 'sql')
  assert.equal(parseQueryParams('fmt=DELETE').fmt, 'delete')
  assert.equal(parseQueryParams('fmt=binary').fmt, 'binary')
  assert.equal(parseQueryParams('fmt=csv').fmt, 'binary')
})

test('tables: comma-separated, trimmed, empty names dropped', () => {
  assert.deepEqual(parseQueryParams('tables=').tables, [])
  assert.deepEqual(parseQueryParams('tables=foo').tables, ['foo'])
  assert.deepEqual(parseQueryParams('tables=foo,%20bar%20,,baz').tables, ['foo', 'bar', 'baz'])
})

test('q, key and ver are returned as given; the first of repeated keys wins', () => {
  const p = parseQueryParams('q=SELeCT&key=store.raft&ver=2&key=other', 'status')
  assert.equal(p.q, 'SELeCT')
  assert.equal(p.key, 'store.raft')
  assert.equal(p.ver, '2')
})

test('durations become milliseconds; integers become numbers', () => {
  const p = parseQueryParams(
    'timeout=1m30s&freshness=500ms&db_timeout=2s&linearizable_timeout=1.5h&retries=4&trailing_logs=-2',
  )
  assert.equal(p.timeoutMs, 90_000)
  assert.equal(p.freshnessMs, 500)
  assert.equal(p.dbTimeoutMs, 2000)
  assert.equal(p.linearizableTimeoutMs, 5_400_000)
  assert.equal(p.retries, 4)
  assert.equal(p.trailingLogs, -2)
  assert.equal(parseQueryParams('timeout=0').timeoutMs, 0)
  assert.equal(parseQueryParams('timeout=1500us').timeoutMs, 1.5)
})

test('unknown parameters are ignored but kept in raw, as rqlite keeps every key', () => {
  const p = parseQueryParams('byte_array&associative&foo=bar', 'query')
  assert.equal(p.associative, true)
  assert.equal(p.blobArray, false)
  assert.equal(p.raw.get('foo'), 'bar')
  assert.equal(p.raw.get('byte_array'), '')
})

test('rqlite Test_NewQueryParams cases parse to the same key/value maps', () => {
  const cases: [string, Record<string, string>][] = [
    ['', {}],
    ['timeout=10s&q=test', { timeout: '10s', q: 'test' }],
    ['retries=4', { retries: '4' }],
    ['q=SELeCT', { q: 'SELeCT' }],
    ['special=%40%23%24', { special: '@#$' }],
    ['key=same&key=different', { key: 'same' }],
    ['key=', { key: '' }],
    ['a=1&b=two&c=&d=true&e=123.456', { a: '1', b: 'two', c: '', d: 'true', e: '123.456' }],
    ['&level=auto&freshness=1s', { level: 'auto', freshness: '1s' }],
    ['&freshness=5s&freshness_strict', { freshness_strict: '', freshness: '5s' }],
    ['sync&timeout=2s', { sync: '', timeout: '2s' }],
    ['qualify_columns', { qualify_columns: '' }],
  ]
  for (const [query, expected] of cases)
    assert.deepEqual(Object.fromEntries(parseQueryParams(query).raw), expected, query)
})

// One test per error message (rqlite-reference §1.1).

test('error: freshness_strict without freshness', () => {
  rejects('freshness_strict', 'freshness_strict requires freshness')
  rejects(new URLSearchParams('freshness_strict=true&level=none'), 'freshness_strict requires freshness')
})

test('error: <name> is not a valid duration, for each duration parameter', () => {
  for (const name of ['timeout', 'freshness', 'db_timeout', 'linearizable_timeout']) {
    rejects(`${name}=invalid`, `${name} is not a valid duration`)
    rejects(`${name}=`, `${name} is not a valid duration`)
    rejects(`${name}=5`, `${name} is not a valid duration`)
    rejects(`${name}`, `${name} is not a valid duration`)
  }
})

test('error: <name> is not a valid integer, for retries and trailing_logs', () => {
  for (const name of ['retries', 'trailing_logs']) {
    rejects(`${name}=invalid`, `${name} is not a valid integer`)
    rejects(`${name}=1.5`, `${name} is not a valid integer`)
    rejects(`${name}=`, `${name} is not a valid integer`)
    rejects(`${name}=99999999999999999999`, `${name} is not a valid integer`)
  }
})

test('error: query parameter not set, for q= and a bare q', () => {
  rejects('q=', 'query parameter not set')
  rejects('q', 'query parameter not set')
  rejects(new URLSearchParams('q='), 'query parameter not set')
})

test('error: Go url.ParseQuery failures (raw string input only)', () => {
  rejects('invalid=%ZZ', 'invalid URL escape "%ZZ"')
  rejects('a=%4', 'invalid URL escape "%4"')
  rejects('a=1;b=2', 'invalid semicolon separator in query')
  // Go keeps parsing after an escape error; a later semicolon replaces it.
  rejects('a=%zz&b=1;c', 'invalid semicolon separator in query')
})

test('errors are reported in rqlite order: freshness_strict, durations, integers, q', () => {
  rejects('freshness_strict&timeout=x&retries=x&q=', 'freshness_strict requires freshness')
  rejects('freshness=x&timeout=y', 'timeout is not a valid duration')
  rejects('retries=x&timeout=y', 'timeout is not a valid duration')
  rejects('q=&trailing_logs=x', 'trailing_logs is not a valid integer')
})

test('parseGoQuery: + is a space, percent escapes decode as UTF-8, empty pairs are skipped', () => {
  const raw = parseGoQuery('?q=SELECT+*+FROM+foo%20WHERE+x%3D%27%C3%A9%27&&pretty')
  assert.equal(raw.get('q'), "SELECT * FROM foo WHERE x='é'")
  assert.equal(raw.get('pretty'), '')
})

test('parseGoDuration follows Go time.ParseDuration', () => {
  const ok: [string, bigint][] = [
    ['0', 0n],
    ['-0', 0n],
    ['+0', 0n],
    ['1ns', 1n],
    ['1us', 1000n],
    ['1µs', 1000n],
    ['1μs', 1000n],
    ['500ms', 500_000_000n],
    ['2s', 2_000_000_000n],
    ['1m30s', 90_000_000_000n],
    ['1h', 3_600_000_000_000n],
    ['1.5s', 1_500_000_000n],
    ['.5s', 500_000_000n],
    ['1.s', 1_000_000_000n],
    ['-1s', -1_000_000_000n],
    ['+2h45m', 9_900_000_000_000n],
    ['9223372036854775807ns', 9223372036854775807n],
    ['-9223372036854775808ns', -9223372036854775808n],
  ]
  for (const [text, ns] of ok) assert.equal(parseGoDuration(text), ns, text)
  for (const bad of ['', '1', '.s', 's', '1x', '1sec', '- 1s', '1s ', '9223372036854775808ns', '3000000h'])
    assert.equal(parseGoDuration(bad), undefined, bad)
})

test('parseGoAtoi follows Go strconv.Atoi', () => {
  assert.equal(parseGoAtoi('42'), 42)
  assert.equal(parseGoAtoi('+7'), 7)
  assert.equal(parseGoAtoi('-3'), -3)
  assert.equal(parseGoAtoi('007'), 7)
  for (const bad of ['', '+', '1_000', '0x10', ' 1', '1e3', '9223372036854775808'])
    assert.equal(parseGoAtoi(bad), undefined, bad)
})

test('parseGoQuery: escapes of any bytes decode as Go decodes them (invalid UTF-8 becomes U+FFFD)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.boolean(), (bytes, plusForSpace) => {
      // Each byte escaped, or kept when it is a plain character; spaces as `+` half the time.
      let query = 'q='
      for (const b of bytes) {
        const plain = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
        if (plusForSpace && b === 0x20) query += '+'
        else query += plain ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`
      }
      const expected = Buffer.from(bytes).toString('utf8')
      assert.equal(parseGoQuery(query).get('q') ?? '', expected)
    }),
    { numRuns: 500 },
  )
})
