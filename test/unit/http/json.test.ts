// Request bodies keep 64-bit integers exact (rqlite binds a JSON integer literal as INTEGER, unrounded).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { encodeJson, parseJsonExact } from '../../../src/http/json.js'

test('integer literals beyond 2^53 parse as exact bigints; smaller ones as numbers', () => {
  const value = parseJsonExact(
    '[["INSERT INTO t VALUES(?, ?, ?)", 9223372036854775807, -9223372036854775808, 1234567890123456]]',
  )
  assert.deepEqual(value, [
    ['INSERT INTO t VALUES(?, ?, ?)', 9223372036854775807n, -9223372036854775808n, 1234567890123456],
  ])
})

test('digits inside strings, and decimals or exponents, are left alone', () => {
  assert.deepEqual(parseJsonExact('["12345678901234567890", 12345678901234567890.5, 12345678901234567e2]'), [
    '12345678901234567890',
    Number('12345678901234567890.5'),
    Number('12345678901234567e2'),
  ])
})

test('16 or more digits after a decimal point or in an exponent are a number, not an integer literal', () => {
  // Found by the piecewise parser's property test: these were refused as invalid JSON. 0.1 + 0.2 is written
  // 0.30000000000000004 by JavaScript and Python alike.
  assert.deepEqual(
    parseJsonExact(
      '[["INSERT INTO t VALUES(?, ?, ?)", 0.30000000000000004, -1.0000000000000002e-6, 1e-0000000000000000001]]',
    ),
    [['INSERT INTO t VALUES(?, ?, ?)', 0.30000000000000004, -1.0000000000000002e-6, 0.1]],
  )
  assert.deepEqual(parseJsonExact('[1.5e12345678901234567, -12345678901234567]'), [
    Number.POSITIVE_INFINITY,
    -12345678901234567n,
  ])
})

test('a client string that looks like an internal marker stays a string', () => {
  assert.deepEqual(parseJsonExact('["\\u0000bigint:5", "\\u0000int:5"]'), ['\u0000bigint:5', '\u0000int:5'])
})

test('malformed JSON is a SyntaxError', () => {
  assert.throws(() => parseJsonExact('[1,'), SyntaxError)
})

test('encodeJson writes bigints as bare digits and can indent as Go does', () => {
  assert.equal(
    encodeJson({ a: 9223372036854775807n, b: [1, 2], c: {} }),
    '{"a":9223372036854775807,"b":[1,2],"c":{}}',
  )
  assert.equal(encodeJson({ a: [1], b: [] }, '    '), '{\n    "a": [\n        1\n    ],\n    "b": []\n}')
})
