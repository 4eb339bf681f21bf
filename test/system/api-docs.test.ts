// Runs every example of docs/api.md against real tqlited processes and compares the responses byte for byte.
//
// The document's examples are pairs of fenced blocks: a ```http request (`METHOD /path?query`, header lines, a
// blank line, the body) immediately followed by a ```json or ```text block with the response: optionally an
// `HTTP <status>` line plus the headers to check and a blank line, then the exact body (200 and no header
// check when there is no `HTTP` line). The body is the block's text without the fence's final newline.
// Placeholders such as <time> stand for values that legitimately vary (see `placeholders`). Addresses in the
// document (localhost:4001 ...) are mapped to the ports the test picked, both ways. Section markers
// `<!-- examples: single -->` and `<!-- examples: cluster -->` say which nodes the examples that follow run
// on; `<!-- test: retry -->` before a request lets the test repeat it (a read on a follower that is still
// applying) until it matches.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, test } from 'node:test'
import { Cluster, type NodeProcess, getJson, ready, waitFor } from './harness.js'

const docPath = new URL('../../docs/api.md', import.meta.url)

export interface Example {
  readonly line: number
  readonly setup: 'single' | 'cluster'
  readonly retry: boolean
  readonly method: string
  readonly path: string
  readonly headers: ReadonlyMap<string, string>
  readonly body: string
  readonly status: number
  readonly expectedHeaders: ReadonlyMap<string, string>
  readonly expectedBody: string
}

/** Every request/response pair of the document, in order. */
export function parseExamples(markdown: string): Example[] {
  const lines = markdown.split('\n')
  const blocks: { line: number; lang: string; text: string; setup: 'single' | 'cluster'; retry: boolean }[] =
    []
  let setup: 'single' | 'cluster' | undefined
  let retry = false
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const marker = /^<!-- examples: (single|cluster) -->$/.exec(line)
    if (marker) setup = marker[1] as 'single' | 'cluster'
    if (line === '<!-- test: retry -->') retry = true
    const fence = /^```(\w*)$/.exec(line)
    if (!fence) continue
    const start = i
    const body: string[] = []
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]!)
    if (i >= lines.length) throw new Error(`docs/api.md:${start + 1}: unclosed fence`)
    const lang = fence[1] ?? ''
    if (lang === 'http') {
      if (setup === undefined)
        throw new Error(`docs/api.md:${start + 1}: an http example before any section marker`)
      blocks.push({ line: start + 1, lang, text: body.join('\n'), setup, retry })
      retry = false
    } else
      blocks.push({ line: start + 1, lang, text: body.join('\n'), setup: setup ?? 'single', retry: false })
  }
  const examples: Example[] = []
  for (let b = 0; b < blocks.length; b++) {
    const request = blocks[b]!
    if (request.lang !== 'http') continue
    const response = blocks[b + 1]
    if (!response || (response.lang !== 'json' && response.lang !== 'text'))
      throw new Error(`docs/api.md:${request.line}: a request must be followed by a json or text block`)
    const [first, ...rest] = request.text.split('\n')
    const start = /^(GET|POST|DELETE|OPTIONS|PUT) (\/\S*)$/.exec(first ?? '')
    if (!start) throw new Error(`docs/api.md:${request.line}: bad request line ${JSON.stringify(first)}`)
    const { headers, body } = splitHead(rest, request.line)
    let status = 200
    let expectedHeaders = new Map<string, string>()
    let expectedBody = response.text
    const statusLine = /^HTTP (\d{3})$/.exec(response.text.split('\n')[0] ?? '')
    if (statusLine) {
      status = Number(statusLine[1])
      const head = splitHead(response.text.split('\n').slice(1), response.line)
      expectedHeaders = head.headers
      expectedBody = head.body
    }
    examples.push({
      line: request.line,
      setup: request.setup,
      retry: request.retry,
      method: start[1]!,
      path: start[2]!,
      headers,
      body,
      status,
      expectedHeaders,
      expectedBody,
    })
  }
  return examples
}

/** `Name: value` lines up to the first blank line (or the end), then the body. */
function splitHead(lines: string[], at: number): { headers: Map<string, string>; body: string } {
  const headers = new Map<string, string>()
  let i = 0
  for (; i < lines.length && lines[i] !== ''; i++) {
    const header = /^([A-Za-z-]+): (.*)$/.exec(lines[i]!)
    if (!header) throw new Error(`docs/api.md:${at}: bad header line ${JSON.stringify(lines[i])}`)
    headers.set(header[1]!.toLowerCase(), header[2]!)
  }
  return { headers, body: lines.slice(i + 1).join('\n') }
}

/** What each placeholder of the document stands for. */
const placeholders: Record<string, string> = {
  '<time>': '-?\\d+(?:\\.\\d+)?(?:e-?\\d+)?', // a float of seconds
  '<n>': '\\d+', // a sequence number, log index, term, count
  '<duration>': '-?\\d[0-9.a-zµ]*', // Go duration text such as 1m2.5s or 0.002ms
  '<text>': '[^"\\n]*', // any text within a JSON string
  '<any>': '[\\s\\S]*', // anything at all, to the end
}

/** Whether `actual` is `expected` with each placeholder standing for a value of its kind. */
export function matches(expected: string, actual: string): boolean {
  const names = Object.keys(placeholders).map((name) => name.replace(/[<>]/g, '\\$&'))
  const pattern = expected
    .split(new RegExp(`(${names.join('|')})`))
    .map((piece) => placeholders[piece] ?? piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('')
  return new RegExp(`^${pattern}$`).test(actual)
}

/** A binary body as the document shows it: its first 20 bytes in hex, then … when there are more. */
export function showBinary(bytes: Uint8Array): string {
  const head = [...bytes.subarray(0, 20)].map((b) => b.toString(16).padStart(2, '0')).join(' ')
  return bytes.length > 20 ? `${head} …` : head
}

// ---------------------------------------------------------------------------------------------------

const examples = parseExamples(readFileSync(docPath, 'utf8'))

let single: Cluster | undefined
let cluster: Cluster | undefined
let nonVoters: Cluster | undefined
/** Document address → real address, per setup. */
const addresses = { single: new Map<string, string>(), cluster: new Map<string, string>() }
/** The last SQLite file served by /db/backup, for requests whose body is `<@backup.sqlite>`. */
let lastImage: Uint8Array | undefined

function mapAddresses(node: NodeProcess, http: string, raft: string, into: Map<string, string>): void {
  into.set(http, node.httpAddr)
  into.set(raft, node.raftAddr)
}

before(async () => {
  single = await Cluster.create(['-raft-snap-int', '1h'])
  const alone = await single.add(1)
  mapAddresses(alone, 'localhost:4001', 'localhost:4002', addresses.single)
  if (examples.some((example) => example.setup === 'cluster')) {
    // Nodes join one after the other, so the members are listed in id order everywhere.
    cluster = await Cluster.create(['-raft-snap-int', '1h'])
    const n1 = await cluster.add(1)
    await ready(n1)
    const members = async (count: number) =>
      waitFor(
        async () => {
          const doc = (await getJson(n1, '/nodes?nonvoters').catch(() => ({}))) as Record<
            string,
            { reachable: boolean }
          >
          return Object.values(doc).filter((n) => n.reachable).length === count ? true : undefined
        },
        60_000,
        `${count} reachable members`,
      )
    await cluster.add(2, `http://${n1.httpAddr}`)
    await members(2)
    await cluster.add(3, `http://${n1.httpAddr}`)
    await members(3)
    nonVoters = await Cluster.create(['-raft-snap-int', '1h', '-raft-non-voter'])
    const n4 = await nonVoters.add(4, n1.raftAddr)
    await members(4)
    mapAddresses(n1, 'localhost:4001', 'localhost:4002', addresses.cluster)
    mapAddresses(cluster.get(2), 'localhost:4011', 'localhost:4012', addresses.cluster)
    mapAddresses(cluster.get(3), 'localhost:4021', 'localhost:4022', addresses.cluster)
    mapAddresses(n4, 'localhost:4031', 'localhost:4032', addresses.cluster)
    // The document's cluster is led by node 1.
    if ((await cluster.leader()) !== 1) {
      const leader = cluster.get(await cluster.leader())
      await fetch(`http://${leader.httpAddr}/leader?wait`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"id":"1"}',
      })
      await waitFor(
        async () => ((await cluster!.leader()) === 1 ? true : undefined),
        30_000,
        'node 1 to lead',
      )
    }
  }
  await ready(alone)
})

after(async () => {
  await single?.destroy()
  await nonVoters?.destroy()
  await cluster?.destroy()
})

function replaceAll(text: string, map: ReadonlyMap<string, string>, reverse: boolean): string {
  let out = text
  // Longest first, so that localhost:4001 never rewrites part of a longer address.
  const pairs = [...map].map(([doc, real]) => (reverse ? [real, doc] : [doc, real]) as [string, string])
  pairs.sort((a, b) => b[0].length - a[0].length)
  // Through unique tokens, so a replacement is never replaced again.
  const tokens = pairs.map((_, i) => `\u0000${i}\u0000`)
  pairs.forEach(([from], i) => {
    out = out.split(from).join(tokens[i]!)
  })
  pairs.forEach(([, to], i) => {
    out = out.split(tokens[i]!).join(to)
  })
  return out
}

interface Observed {
  readonly status: number
  readonly headers: Headers
  readonly body: string
}

async function run(example: Example): Promise<Observed> {
  const map = addresses[example.setup]
  const host = example.headers.get('host') ?? 'localhost:4001'
  const target = map.get(host)
  if (!target) throw new Error(`docs/api.md:${example.line}: unknown host ${host}`)
  const headers: Record<string, string> = {}
  for (const [name, value] of example.headers)
    if (name !== 'host') headers[name] = replaceAll(value, map, false)
  let body: Uint8Array | undefined
  if (example.body === '<@backup.sqlite>') {
    if (!lastImage) throw new Error(`docs/api.md:${example.line}: no backup served before this example`)
    body = lastImage
  } else if (example.body !== '') body = Buffer.from(replaceAll(example.body, map, false), 'utf8')
  // A Uint8Array body: fetch adds no Content-Type of its own (a string would get text/plain).
  const response = await fetch(`http://${target}${replaceAll(example.path, map, false)}`, {
    method: example.method,
    headers,
    redirect: 'manual',
    ...(body !== undefined ? { body } : {}),
  })
  const bytes = new Uint8Array(await response.arrayBuffer())
  let shown: string
  if (response.headers.get('content-type') === 'application/octet-stream') {
    shown = showBinary(bytes)
    if (bytes.length >= 16 && Buffer.from(bytes.subarray(0, 16)).toString('latin1') === 'SQLite format 3\0')
      lastImage = bytes
  } else shown = replaceAll(Buffer.from(bytes).toString('utf8'), map, true)
  return { status: response.status, headers: response.headers, body: shown }
}

function verdict(example: Example, observed: Observed): string | undefined {
  const map = addresses[example.setup]
  const problems: string[] = []
  if (observed.status !== example.status)
    problems.push(`status ${observed.status}, documented ${example.status}`)
  for (const [name, value] of example.expectedHeaders) {
    const actual = replaceAll(observed.headers.get(name) ?? '<absent>', map, true)
    if (!matches(value, actual))
      problems.push(`header ${name}: ${JSON.stringify(actual)}, documented ${value}`)
  }
  if (!matches(example.expectedBody, observed.body))
    problems.push(`body differs.\n--- documented\n${example.expectedBody}\n--- actual\n${observed.body}`)
  return problems.length === 0 ? undefined : problems.join('\n')
}

test('the matcher fails when a documented value differs from the response', () => {
  assert.ok(matches('{"results":[{"last_insert_id":1}]}', '{"results":[{"last_insert_id":1}]}'))
  assert.ok(!matches('{"results":[{"last_insert_id":1}]}', '{"results":[{"last_insert_id":2}]}'))
  assert.ok(!matches('{"results":[]}', '{"results":[]}\n'), 'a trailing newline counts')
  assert.ok(matches('{"time":<time>}', '{"time":0.000123}'))
  assert.ok(!matches('{"time":<time>}', '{"time":"x"}'))
  assert.ok(matches('"sequence_number":<n>}', '"sequence_number":1796065249012000001}'))
  const doc = parseExamples(
    '<!-- examples: single -->\n```http\nPOST /x\nContent-Type: text/plain\n\nSELECT 1\n```\n```text\nHTTP 400\nX-A: b\n\nno\n```\n',
  )
  assert.deepEqual(
    doc.map((e) => [e.method, e.path, e.body, e.status, [...e.expectedHeaders], e.expectedBody]),
    [['POST', '/x', 'SELECT 1', 400, [['x-a', 'b']], 'no']],
  )
})

test('the document has examples of every endpoint', () => {
  const paths = new Set(examples.map((example) => `${example.method} ${example.path.split('?')[0]}`))
  for (const endpoint of [
    'POST /db/execute',
    'GET /db/query',
    'POST /db/query',
    'POST /db/request',
    'GET /db/sql',
    'POST /db/sql',
    'GET /db/backup',
    'POST /db/load',
    'POST /boot',
    'GET /status',
    'GET /nodes',
    'GET /leader',
    'POST /leader',
    'GET /readyz',
    'POST /join',
    'DELETE /remove',
    'POST /snapshot',
    'GET /debug/vars',
    'OPTIONS /db/execute',
  ]) {
    assert.ok(paths.has(endpoint), `no example of ${endpoint}`)
  }
  assert.ok(examples.length >= 30, `${examples.length} examples`)
})

for (const example of examples) {
  test(`docs/api.md:${example.line} ${example.method} ${example.path}`, async () => {
    let observed = await run(example)
    let problem = verdict(example, observed)
    if (problem && example.retry) {
      const deadline = Date.now() + 10_000
      while (problem && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        observed = await run(example)
        problem = verdict(example, observed)
      }
    }
    assert.equal(problem, undefined, `docs/api.md:${example.line}: ${problem}`)
  })
}
