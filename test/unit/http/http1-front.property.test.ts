// Random sequences of requests, sent as one byte stream cut at random places, are answered in order and
// whole: by the front up to the first request it leaves to node:http, and by node:http from there on.
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import { test } from 'node:test'
import fc from 'fast-check'
import type { DataRequest, Respond } from '../../../src/http/answer.js'
import type { HttpHandler } from '../../../src/http/http1-front.js'
import { isDataPath, listen } from '../../../src/http/server.js'
import { splitAnswers } from './raw-answers.js'

const bodyBytesMax = 4096

type Spec =
  | { kind: 'get'; n: number }
  | { kind: 'post'; path: '/db/execute' | '/db/request' | '/db/query'; body: string }
  | { kind: 'other'; n: number }
  | { kind: 'chunked'; body: string }

const spec: fc.Arbitrary<Spec> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('get' as const), n: fc.nat(99_999) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('post' as const),
      path: fc.constantFrom('/db/execute' as const, '/db/request' as const, '/db/query' as const),
      // Short bodies, and ones of a few KB that arrive in several pieces (fast-check's default sizes stay small).
      body: fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.string({ minLength: 1000, maxLength: 3000, size: 'max' }),
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('other' as const), n: fc.nat(99) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('chunked' as const),
      body: fc.string({ minLength: 1, maxLength: 50 }),
    }),
  },
)

function bytesOf(request: Spec): Buffer {
  switch (request.kind) {
    case 'get':
      return Buffer.from(`GET /db/query?q=${request.n} HTTP/1.1\r\nHost: x\r\n\r\n`)
    case 'post': {
      const body = Buffer.from(request.body)
      return Buffer.concat([
        Buffer.from(`POST ${request.path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.byteLength}\r\n\r\n`),
        body,
      ])
    }
    case 'other':
      return Buffer.from(`GET /status?n=${request.n} HTTP/1.1\r\nHost: x\r\n\r\n`)
    case 'chunked': {
      const body = Buffer.from(request.body)
      return Buffer.concat([
        Buffer.from(`POST /db/execute HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`),
        Buffer.from(`${body.byteLength.toString(16)}\r\n`),
        body,
        Buffer.from('\r\n0\r\n\r\n'),
      ])
    }
  }
}

function target(request: Spec): string {
  switch (request.kind) {
    case 'get':
      return `GET /db/query?q=${request.n}`
    case 'post':
      return `POST ${request.path}`
    case 'other':
      return `GET /status?n=${request.n}`
    case 'chunked':
      return 'POST /db/execute'
  }
}

function bodyOf(request: Spec): string {
  return request.kind === 'post' || request.kind === 'chunked' ? request.body : ''
}

/** Echoes each request; the front's answers come synchronously, after a microtask or after a turn. */
function echoHandler(delays: number[]): HttpHandler {
  let count = 0
  const node = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => res.end(`node:${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`))
  }
  return Object.assign(node, {
    bodyBytesMax,
    isDataPath,
    data: (request: DataRequest, respond: Respond) => {
      const delay = delays[count++ % delays.length]!
      request.body(bodyBytesMax).then((body) => {
        const text = `front:${request.method} ${request.path}${request.search} ${body.toString()}`
        const answer = () => respond(200, ['Content-Length', String(Buffer.byteLength(text))], text)
        if (delay === 0) answer()
        else if (delay === 1) queueMicrotask(answer)
        else setImmediate(answer)
      })
    },
  })
}

/** Bodies of the whole answers in `bytes`, as UTF-8 text. */
function answerBodies(bytes: Buffer): string[] {
  return splitAnswers(bytes.toString('latin1')).map((answer) =>
    Buffer.from(answer.body, 'latin1').toString('utf8'),
  )
}

test('any sequence of requests, cut anywhere, is answered in order by the front then node:http', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(spec, { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.array(fc.constantFrom(0, 1, 2), { minLength: 1, maxLength: 4 }),
      async (requests, cuts, delays) => {
        const front = await listen(echoHandler(delays), '127.0.0.1:0')
        const { port } = front.address() as AddressInfo
        try {
          const stream = Buffer.concat(requests.map(bytesOf))
          const points = [...new Set(cuts.map((cut) => cut % stream.byteLength))].sort((a, b) => a - b)
          const socket = connect(port, '127.0.0.1')
          await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
          const received: Buffer[] = []
          const expected = requests.length
          const done = new Promise<void>((resolve, reject) => {
            socket.on('data', (chunk: Buffer) => {
              received.push(chunk)
              if (answerBodies(Buffer.concat(received)).length >= expected) resolve()
            })
            socket.on('close', () => reject(new Error('closed before every answer came')))
          })
          // A bound, not a wait: a front that loses a byte leaves a request incomplete, and no answer comes.
          let timer: NodeJS.Timeout | undefined
          const expired = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('not every answer came within 5 s')), 5_000)
          })
          let from = 0
          for (const point of [...points, stream.byteLength]) {
            if (point > from) socket.write(stream.subarray(from, point))
            from = point
            await new Promise((resolve) => setImmediate(resolve))
          }
          try {
            await Promise.race([done, expired])
          } finally {
            clearTimeout(timer)
            socket.destroy()
          }
          const handOver = requests.findIndex((r) => r.kind === 'other' || r.kind === 'chunked')
          const wanted = requests.map((request, i) => {
            const served = handOver < 0 || i < handOver ? 'front' : 'node'
            return `${served}:${target(request)} ${bodyOf(request)}`
          })
          assert.deepEqual(answerBodies(Buffer.concat(received)), wanted)
        } finally {
          await new Promise<void>((resolve) => {
            front.close(() => resolve())
            front.closeAllConnections()
          })
        }
      },
    ),
    // No shrinking: a failing run may wait out its 5 s bound, and the seed in the report replays it.
    { numRuns: 60, endOnFailure: true },
  )
})
