// The front answers the data endpoints itself and hands any other connection to node:http. Driven over raw
// sockets, so the exact bytes (split heads and bodies, pipelining, half-close) are the test's to choose.
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import { test } from 'node:test'
import type { DataRequest, Respond } from '../../../src/http/answer.js'
import type { FrontOptions, HttpFront, HttpHandler } from '../../../src/http/http1-front.js'
import { isDataPath, listen } from '../../../src/http/server.js'
import { splitAnswers } from './raw-answers.js'

interface Served {
  readonly request: DataRequest
  readonly body: string
  readonly respond: Respond
}

/** A handler whose data requests wait in `served` until the test answers them; node:http's echo the path. */
function fakeHandler(bodyBytesMax = 1024) {
  const served: Served[] = []
  const waiters: (() => void)[] = []
  const nodeRequests: string[] = []
  const node = (req: IncomingMessage, res: ServerResponse) => {
    nodeRequests.push(`${req.method} ${req.url}`)
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => res.end(`node:${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`))
  }
  const handler: HttpHandler = Object.assign(node, {
    bodyBytesMax,
    isDataPath,
    data: (request: DataRequest, respond: Respond) => {
      request.body(bodyBytesMax).then((body) => {
        served.push({ request, body: body.toString(), respond })
        for (const wake of waiters.splice(0)) wake()
      })
    },
  })
  /** The n-th data request (0-based), once it has reached the handler. */
  const nth = async (n: number): Promise<Served> => {
    while (served.length <= n) await new Promise<void>((resolve) => waiters.push(resolve))
    return served[n]!
  }
  return { handler, served, nodeRequests, nth }
}

async function start(handler: HttpHandler, options: FrontOptions = {}) {
  const front = await listen(handler, '127.0.0.1:0', options)
  const { port } = front.address() as AddressInfo
  return { front, port }
}

/** Starts a front on `handler`, connects one client, runs `body`, and stops the front whatever happens. */
async function withClient(
  handler: HttpHandler,
  body: (c: Client, front: HttpFront) => Promise<void>,
  options: FrontOptions = {},
): Promise<void> {
  const { front, port } = await start(handler, options)
  const c = await client(port)
  try {
    await body(c, front)
  } finally {
    await stop(front)
  }
}

type Client = Awaited<ReturnType<typeof client>>

function stop(front: HttpFront): Promise<void> {
  return new Promise((resolve) => {
    front.close(() => resolve())
    front.closeAllConnections()
  })
}

/** A raw client: what it has received so far, and a way to wait for more. */
async function client(port: number) {
  const socket = connect(port, '127.0.0.1')
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  let received = ''
  let closed = false
  const waiters: (() => void)[] = []
  const wake = () => {
    for (const w of waiters.splice(0)) w()
  }
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1')
    wake()
  })
  socket.on('close', () => {
    closed = true
    wake()
  })
  socket.on('error', () => {})
  const until = async (done: () => boolean) => {
    while (!done()) {
      if (closed) throw new Error(`connection closed; received ${JSON.stringify(received)}`)
      await new Promise<void>((resolve) => waiters.push(resolve))
    }
  }
  return {
    socket,
    get received() {
      return received
    },
    /** Waits until `count` whole answers have arrived and returns them. */
    async answers(count: number) {
      await until(() => splitAnswers(received).length >= count)
      return splitAnswers(received)
    },
    async closed() {
      while (!closed) await new Promise<void>((resolve) => waiters.push(resolve))
    },
  }
}

const get = (target: string, extra = '') => `GET ${target} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`
const post = (target: string, body: string, extra = '') =>
  `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`
const ok = (text: string): Parameters<Respond> => [
  200,
  ['Content-Type', 'text/plain', 'Content-Length', String(Buffer.byteLength(text))],
  text,
]

test('the data endpoints are answered by the front, not node:http', async () => {
  const { handler, nodeRequests, nth } = fakeHandler()
  await withClient(handler, async (c) => {
    c.socket.write(get('/db/query?q=SELECT%201&level=none'))
    const served = await nth(0)
    assert.equal(served.request.method, 'GET')
    assert.equal(served.request.path, '/db/query')
    assert.equal(served.request.search, '?q=SELECT%201&level=none')
    served.respond(...ok('one'))
    const [answer] = await c.answers(1)
    assert.equal(answer!.status, 200)
    assert.equal(answer!.body, 'one')
    assert.match(answer!.headers.get('date') ?? '', /GMT$/)
    assert.equal(answer!.headers.get('keep-alive'), 'timeout=5')
    assert.deepEqual(nodeRequests, [])
  })
})

test('pipelined requests are served one at a time and answered in order', async () => {
  const { handler, served, nth } = fakeHandler()
  await withClient(handler, async (c) => {
    c.socket.write(post('/db/execute', '["a"]') + get('/db/query?q=b') + post('/db/request', '["c"]'))
    const first = await nth(0)
    assert.equal(first.body, '["a"]')
    // The next request waits in the buffer until the first is answered.
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(served.length, 1)
    first.respond(...ok('A'))
    ;(await nth(1)).respond(...ok('B'))
    const third = await nth(2)
    assert.equal(third.request.path, '/db/request')
    assert.equal(third.request.contentType, 'application/json')
    third.respond(...ok('C'))
    const answers = await c.answers(3)
    assert.deepEqual(
      answers.map((a) => a.body),
      ['A', 'B', 'C'],
    )
  })
})

test('a request that arrives a byte at a time is served whole', async () => {
  const { handler, nth } = fakeHandler()
  await withClient(handler, async (c) => {
    const bytes = Buffer.from(post('/db/execute?timings', '["INSERT INTO t VALUES(1)"]'))
    for (const byte of bytes) {
      c.socket.write(Buffer.from([byte]))
      await new Promise((resolve) => setImmediate(resolve))
    }
    const served = await nth(0)
    assert.equal(served.body, '["INSERT INTO t VALUES(1)"]')
    assert.equal(served.request.search, '?timings')
    served.respond(...ok('done'))
    assert.equal((await c.answers(1))[0]!.body, 'done')
  })
})

test('a body of many chunks is served whole', async () => {
  const { handler, nth } = fakeHandler(1 << 20)
  await withClient(handler, async (c) => {
    const body = JSON.stringify(Array.from({ length: 20_000 }, (_, i) => `row ${i}`))
    assert.ok(body.length > 200_000)
    const bytes = Buffer.from(post('/db/execute', body))
    for (let at = 0; at < bytes.length; at += 7_000) c.socket.write(bytes.subarray(at, at + 7_000))
    const served = await nth(0)
    assert.equal(served.body, body)
    served.respond(...ok('done'))
    assert.equal((await c.answers(1))[0]!.body, 'done')
  })
})

test('after a data request, another kind hands the connection to node:http, answers in order', async () => {
  const { handler, nodeRequests, nth } = fakeHandler()
  await withClient(handler, async (c) => {
    c.socket.write(get('/db/query?q=1') + get('/status?pretty') + get('/db/query?q=2'))
    ;(await nth(0)).respond(...ok('front'))
    const answers = await c.answers(3)
    assert.deepEqual(
      answers.map((a) => a.body),
      ['front', 'node:GET /status?pretty ', 'node:GET /db/query?q=2 '],
    )
    // From the handover on, node:http serves the connection, data paths included.
    assert.deepEqual(nodeRequests, ['GET /status?pretty', 'GET /db/query?q=2'])
  })
})

const handedOver: [string, string, string][] = [
  [
    'a chunked body',
    'POST /db/execute HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n["a"]\r\n0\r\n\r\n',
    'node:POST /db/execute ["a"]',
  ],
  ['HTTP/1.0', 'GET /db/query?q=1 HTTP/1.0\r\nHost: x\r\n\r\n', 'node:GET /db/query?q=1 '],
  [
    'a body over the limit',
    post('/db/execute', 'x'.repeat(2000)),
    `node:POST /db/execute ${'x'.repeat(2000)}`,
  ],
  ['a percent-encoded path', get('/db/%71uery?q=1'), 'node:GET /db/%71uery?q=1 '],
]

for (const [name, request, expected] of handedOver) {
  test(`left to node:http: ${name}`, async () => {
    const { handler, served } = fakeHandler(1024)
    await withClient(handler, async (c) => {
      c.socket.write(request)
      if (request.includes('HTTP/1.0')) await c.closed()
      const [answer] = await c.answers(1)
      assert.equal(answer!.body, expected)
      assert.equal(served.length, 0)
    })
  })
}

test('a head too long for the front goes to node:http, which refuses it', async () => {
  const { handler, served } = fakeHandler()
  await withClient(handler, async (c) => {
    c.socket.write(`GET /db/query?q=1 HTTP/1.1\r\nHost: x\r\nX-Long: ${'a'.repeat(20_000)}`)
    const [answer] = await c.answers(1)
    assert.equal(answer!.status, 431)
    assert.equal(served.length, 0)
  })
})

test('Connection: close is answered, then the connection closes', async () => {
  const { handler, nth } = fakeHandler()
  await withClient(handler, async (c) => {
    c.socket.write(get('/db/query?q=1', 'Connection: close\r\n'))
    ;(await nth(0)).respond(...ok('bye'))
    await c.closed()
    const [answer] = splitAnswers(c.received)
    assert.equal(answer!.body, 'bye')
    assert.equal(answer!.headers.get('connection'), 'close')
  })
})

test('a client that ends its side after the request still gets the answer', async () => {
  const { handler, nth } = fakeHandler()
  await withClient(handler, async (c) => {
    c.socket.end(post('/db/execute', '["a"]'))
    const served = await nth(0)
    // The end has arrived before the answer is written.
    await new Promise((resolve) => setImmediate(resolve))
    served.respond(...ok('late'))
    await c.closed()
    assert.equal(splitAnswers(c.received)[0]!.body, 'late')
  })
})

test('a header that cannot be written throws and writes nothing; the answer can still be given', async () => {
  const { handler, nth } = fakeHandler()
  await withClient(handler, async (c) => {
    c.socket.write(get('/db/query?q=1'))
    const served = await nth(0)
    assert.throws(() => served.respond(200, ['Location', 'http://a\r\nX-Injected: 1'], ''), TypeError)
    served.respond(...ok('safe'))
    const [answer] = await c.answers(1)
    assert.equal(answer!.body, 'safe')
    assert.equal(answer!.headers.has('x-injected'), false)
  })
})

test('answers given in one turn are written together, after its promise jobs', async () => {
  const { handler, nth } = fakeHandler()
  const { front, port } = await start(handler)
  const clients = [await client(port), await client(port), await client(port)]
  try {
    const served: Served[] = []
    for (const [i, c] of clients.entries()) {
      c.socket.write(get(`/db/query?q=${i}`))
      served.push(await nth(i))
    }
    const before = front.answers.stats
    // As the routes of one SQLite batch answer: each from its own promise job.
    await Promise.all(served.map(async (s, i) => s.respond(...ok(`answer ${i}`))))
    const answers = await Promise.all(clients.map((c) => c.answers(1)))
    assert.deepEqual(
      answers.map(([a]) => a!.body),
      ['answer 0', 'answer 1', 'answer 2'],
    )
    assert.deepEqual(front.answers.stats, { flushes: before.flushes + 1, answers: before.answers + 3 })
  } finally {
    for (const c of clients) c.socket.destroy()
    await stop(front)
  }
})

test('an idle connection closes after the keep-alive timeout', async () => {
  const { handler, nth } = fakeHandler()
  await withClient(
    handler,
    async (c) => {
      c.socket.write(get('/db/query?q=1'))
      ;(await nth(0)).respond(...ok('one'))
      await c.answers(1)
      await c.closed()
    },
    { keepAliveTimeoutMs: 30, sweepIntervalMs: 5 },
  )
})

test('a head that never completes is dropped after the headers timeout', async () => {
  const { handler, served } = fakeHandler()
  await withClient(
    handler,
    async (c) => {
      c.socket.write('GET /db/query?q=1 HTTP/1.1\r\nHost: x\r\n')
      await c.closed()
      assert.equal(served.length, 0)
    },
    { headersTimeoutMs: 30, sweepIntervalMs: 5 },
  )
})

test('a body that never completes is dropped after the request timeout, not the headers timeout', async () => {
  const { handler, served } = fakeHandler()
  const { front, port } = await start(handler, {
    headersTimeoutMs: 10,
    requestTimeoutMs: 60,
    sweepIntervalMs: 5,
  })
  const c = await client(port)
  const started = Date.now()
  try {
    c.socket.write(post('/db/execute', '["a"]').slice(0, -2))
    await c.closed()
    assert.ok(Date.now() - started >= 60, 'closed by the headers timeout')
    assert.equal(served.length, 0)
  } finally {
    await stop(front)
  }
})

test('a request that never completes is dropped after the request timeout', async () => {
  const { handler, served } = fakeHandler()
  await withClient(
    handler,
    async (c) => {
      c.socket.write(post('/db/execute', '["a"]').slice(0, -2))
      await c.closed()
      assert.equal(served.length, 0)
    },
    { requestTimeoutMs: 30, sweepIntervalMs: 5 },
  )
})

test('a request being served when the listener closes is answered with Connection: close', async () => {
  const { handler, nth } = fakeHandler()
  const { front, port } = await start(handler)
  const idle = await client(port)
  const busy = await client(port)
  busy.socket.write(get('/db/query?q=1'))
  const served = await nth(0)
  const closed = new Promise<void>((resolve) => front.close(() => resolve()))
  await idle.closed()
  served.respond(...ok('last'))
  await busy.closed()
  await closed
  const [answer] = splitAnswers(busy.received)
  assert.equal(answer!.body, 'last')
  assert.equal(answer!.headers.get('connection'), 'close')
})

test('a client that does not read its answers is not served further until it does', async () => {
  const { handler, served, nth } = fakeHandler()
  await withClient(handler, async (c) => {
    c.socket.pause()
    const big = 'x'.repeat(8 << 20)
    c.socket.write(get('/db/query?q=1') + get('/db/query?q=2'))
    ;(await nth(0)).respond(...ok(big))
    // The 8 MiB answer fills the socket's buffers while the client reads nothing; without waiting for them to
    // drain, the front would have handed over the second request by the next turn.
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve))
    assert.equal(served.length, 1)
    c.socket.resume()
    ;(await nth(1)).respond(...ok('two'))
    const answers = await c.answers(2)
    assert.equal(answers[0]!.body.length, big.length)
    assert.equal(answers[1]!.body, 'two')
  })
})

test('thousands of pipelined requests answered at once do not grow the stack', async () => {
  const count = 20_000
  let served = 0
  const node = (_req: IncomingMessage, res: ServerResponse) => res.end('node')
  // Answered before `data` returns, as a route does for a 405.
  const handler: HttpHandler = Object.assign(node, {
    bodyBytesMax: 1024,
    isDataPath,
    data: (_request: DataRequest, respond: Respond) => {
      served++
      respond(...ok('x'))
    },
  })
  await withClient(handler, async (c) => {
    c.socket.write(get('/db/execute').repeat(count))
    const answers = await c.answers(count)
    assert.equal(answers.length, count)
    assert.equal(served, count)
  })
})
