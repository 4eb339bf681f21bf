// A large request body is parsed in pieces cut at the top-level array's own commas (json.ts,
// `parseJsonBytes`): the value must be exactly the whole body's, and malformed JSON must fail exactly when the
// whole body would. Strings full of commas, brackets, quotes and backslashes are where a careless cutter goes
// wrong.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { arrayPieces, parseJsonBytes, parseJsonExact } from '../../../src/http/json.js'

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8')

/** Strings made mostly of JSON's structural characters, so cuts inside them would show. */
const tricky = fc.string({
  unit: fc.constantFrom(',', '[', ']', '{', '}', '"', '\\', 'é', '𝄞', ' ', 'a', '\n'),
  maxLength: 40,
})
const element: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    tricky,
    fc.integer(),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(tricky, tie('value'), { maxKeys: 3 }),
  ),
})).value

/** JSON text of `values`, bigints as bare digits (as a client writes int64), indented with `space`. */
function jsonText(values: readonly unknown[], space: string): string {
  const text = JSON.stringify(
    values,
    (_key, value: unknown) => (typeof value === 'bigint' ? `\u0000big${value}` : value),
    space,
  )
  return text.replace(/"\\u0000big(-?\d+)"/g, '$1')
}

test('a large array parses in pieces to exactly the value of the whole', () => {
  fc.assert(
    fc.property(
      fc.array(element, { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 100, max: 3000 }),
      fc.constantFrom('', ' ', '\t'),
      (sample, copies, space) => {
        // Repeated until the body is well past the piece size, so that it is really cut.
        const values = Array.from({ length: copies }, (_, i) => sample[i % sample.length])
        const text = ` ${jsonText(values, space)}\n`
        const body = bytes(text)
        if (body.byteLength > 64 * 1024)
          assert.ok((arrayPieces(body)?.ranges.length ?? 0) > 1, 'cut in pieces')
        assert.deepEqual(parseJsonBytes(body), parseJsonExact(text))
      },
    ),
    { numRuns: 60 },
  )
})

test('the cuts fall only on top-level commas, outside strings', () => {
  const row = JSON.stringify(['INSERT INTO t(v) VALUES(?)', '"],["\\', { a: [1, ',', ']'] }])
  const text = `[${Array.from({ length: 2000 }, () => row).join(',')}]`
  const body = bytes(text)
  const pieces = arrayPieces(body)?.ranges
  assert.ok(pieces !== undefined && pieces.length > 1)
  for (const [from, to] of pieces) {
    assert.equal(text[from - 1] === ',' || text[from - 1] === '[', true, 'a piece starts after a comma or [')
    assert.equal(text[to] === ',' || text[to] === ']', true, 'a piece ends before a comma or ]')
    assert.equal(JSON.parse(`[${text.slice(from, to)}]`).length > 0, true)
  }
  assert.deepEqual(parseJsonBytes(body), JSON.parse(text))
})

test('malformed large bodies fail as the whole body would: SyntaxError', () => {
  const row = '["INSERT INTO t VALUES(?)", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]'
  const rows = Array.from({ length: 1500 }, () => row)
  const malformed = [
    `[${rows.join(',')},]`, // trailing comma
    `[,${rows.join(',')}]`, // leading comma
    `[${rows.slice(0, 700).join(',')},,${rows.slice(700).join(',')}]`, // empty element
    `[${rows.join(',')}`, // unclosed
    `[${rows.join(',')}] x`, // trailing garbage
    `[${rows.join(',')}]]`, // one bracket too many
    `{"a": [${rows.join(',')}]`, // not an array, unclosed
    `[${rows.join(',')}, "unterminated]`,
  ]
  for (const text of malformed) {
    assert.throws(() => parseJsonExact(text), SyntaxError, 'the whole body is malformed')
    assert.throws(() => parseJsonBytes(bytes(text)), SyntaxError, text.slice(-30))
  }
})

test('a short array is one piece, and a body that is not an array parses whole', () => {
  assert.deepEqual(
    arrayPieces(bytes('[1, 2]')),
    { ranges: [[1, 5]], longDigits: false },
    'one piece: never cut',
  )
  assert.deepEqual(parseJsonBytes(bytes('[1, 2]')), [1, 2])
  const big = `{"a": "${'x'.repeat(100_000)}"}`
  assert.equal(arrayPieces(bytes(big)), undefined)
  assert.deepEqual(parseJsonBytes(bytes(big)), { a: 'x'.repeat(100_000) })
})

test('long digit runs are seen outside strings only, and integers beyond 2^53 stay exact', () => {
  const row = (value: string) =>
    `["INSERT INTO t VALUES(?, ?)", "12345678901234567890 \\" 1234567890123456 \\\\", ${value}]`
  const rows = (value: string) => `[${Array.from({ length: 800 }, () => row(value)).join(',')}]`
  const inStrings = bytes(rows('1.5'))
  assert.equal(
    arrayPieces(inStrings)?.longDigits,
    false,
    'digits inside strings (after an escaped quote too)',
  )
  assert.deepEqual(parseJsonBytes(inStrings), JSON.parse(rows('1.5')))
  const big = bytes(rows('9007199254740993'))
  assert.equal(arrayPieces(big)?.longDigits, true)
  const values = parseJsonBytes(big) as unknown[][]
  assert.equal(values.length, 800)
  assert.equal(values[799]![2], 9007199254740993n, 'beyond 2^53: a bigint, not a rounded double')
  assert.equal(
    values[0]![1],
    '12345678901234567890 " 1234567890123456 \\',
    'an escaped quote, an escaped backslash',
  )
})
