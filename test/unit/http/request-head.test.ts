// The front serves only the simple form of a request head and leaves every other one to node:http
// (undefined). Each refusal below is a head node:http treats differently from the simple form (it rejects,
// normalizes or streams it), so serving it here would change an answer.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseRequestHead } from '../../../src/http/request-head.js'

const head = (...lines: string[]) => lines.join('\r\n')

test('a GET with a query string', () => {
  assert.deepEqual(parseRequestHead(head('GET /db/query?q=SELECT%201&level=none HTTP/1.1', 'Host: x')), {
    method: 'GET',
    path: '/db/query',
    search: '?q=SELECT%201&level=none',
    contentLength: 0,
    contentType: undefined,
    close: false,
  })
})

test('a POST with its length, type and optional whitespace; names in any case', () => {
  const parsed = parseRequestHead(
    head(
      'POST /db/execute?timings HTTP/1.1',
      'host: x',
      'CONTENT-LENGTH:  12 ',
      'Content-Type:\tapplication/json\t',
      'Connection: keep-alive, Close',
      'X-Other: anything at all',
    ),
  )
  assert.deepEqual(parsed, {
    method: 'POST',
    path: '/db/execute',
    search: '?timings',
    contentLength: 12,
    contentType: 'application/json',
    close: true,
  })
})

test('a lone ? is no query string, as URL#search has it', () => {
  assert.equal(parseRequestHead(head('GET /db/query? HTTP/1.1', 'Host: x'))?.search, '')
})

test('an empty header value is kept', () => {
  assert.equal(
    parseRequestHead(head('POST /db/execute HTTP/1.1', 'Host: x', 'Content-Type:'))?.contentType,
    '',
  )
})

const refused: [string, string][] = [
  ['HTTP/1.0', head('GET /db/query?q=1 HTTP/1.0', 'Host: x')],
  ['HEAD', head('HEAD /db/query HTTP/1.1', 'Host: x')],
  ['OPTIONS', head('OPTIONS /db/query HTTP/1.1', 'Host: x')],
  ['lower-case method', head('get /db/query HTTP/1.1', 'Host: x')],
  ['absolute form', head('GET http://x/db/query HTTP/1.1', 'Host: x')],
  ['percent in the path', head('GET /db/%71uery HTTP/1.1', 'Host: x')],
  ['dot segment', head('GET /db/../db/query HTTP/1.1', 'Host: x')],
  ['backslash', head('GET /db\\query HTTP/1.1', 'Host: x')],
  ['fragment', head('GET /db/query?q=1#x HTTP/1.1', 'Host: x')],
  ['non-ASCII in the query', head('GET /db/query?q=\u00e9 HTTP/1.1', 'Host: x')],
  ['two spaces', head('GET  /db/query HTTP/1.1', 'Host: x')],
  ['no version', 'GET /db/query'],
  ['chunked', head('POST /db/execute HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked')],
  ['Expect', head('POST /db/execute HTTP/1.1', 'Host: x', 'Expect: 100-continue', 'Content-Length: 2')],
  ['Upgrade', head('GET /db/query HTTP/1.1', 'Host: x', 'Upgrade: websocket')],
  ['Connection: upgrade', head('GET /db/query HTTP/1.1', 'Host: x', 'Connection: Upgrade')],
  ['two lengths', head('POST /db/execute HTTP/1.1', 'Host: x', 'Content-Length: 2', 'Content-Length: 2')],
  ['negative length', head('POST /db/execute HTTP/1.1', 'Host: x', 'Content-Length: -1')],
  ['signed length', head('POST /db/execute HTTP/1.1', 'Host: x', 'Content-Length: +5')],
  ['exponent length', head('POST /db/execute HTTP/1.1', 'Host: x', 'Content-Length: 1e3')],
  ['empty length', head('POST /db/execute HTTP/1.1', 'Host: x', 'Content-Length: ')],
  ['16-digit length', head('POST /db/execute HTTP/1.1', 'Host: x', 'Content-Length: 1000000000000000')],
  ['two types', head('POST /db/execute HTTP/1.1', 'Host: x', 'Content-Type: a', 'Content-Type: b')],
  ['no Host', 'GET /db/query HTTP/1.1'],
  ['two Hosts', head('GET /db/query HTTP/1.1', 'Host: x', 'Host: y')],
  ['line without colon', head('GET /db/query HTTP/1.1', 'Host: x', 'nonsense')],
  ['space before colon', head('GET /db/query HTTP/1.1', 'Host : x')],
  ['folded line', head('GET /db/query HTTP/1.1', 'Host: x', 'X-A: a', ' continued')],
  ['lone LF in a value', head('GET /db/query HTTP/1.1', 'Host: x', 'X-A: a\nX-B: b')],
  ['NUL in a value', head('GET /db/query HTTP/1.1', 'Host: x', 'X-A: a\0')],
]

for (const [name, text] of refused) {
  test(`left to node:http: ${name}`, () => {
    assert.equal(parseRequestHead(text), undefined)
  })
}
