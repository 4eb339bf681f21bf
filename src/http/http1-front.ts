/**
 * The HTTP listener: a small HTTP/1.1 server of its own for the data endpoints (/db/execute, /db/query,
 * /db/request), and node:http for everything else.
 *
 * Why: node:http's request and response objects and streams cost about as much again as the socket work
 * itself (under wrk at 64 connections, a bare server answering like `/db/query` did 47.5k–52.0k requests/s
 * on node:http and 98k–102k on a net server parsing the head itself). A 3-node cluster answering point
 * reads at level none through this front did 27.6k–31.1k/s where node:http did 23.6k–26.0k, four pairs back
 * to back (docs/benchmarks.md).
 *
 * A connection starts here. Each request whose head `parseRequestHead` accepts, for a data path and with a
 * body within the size limit, is read whole and handed to the routes with a `Respond` that writes the
 * answer to the socket in one write. The first request that is anything else (another path or method,
 * chunked, `Expect`, HTTP/1.0, malformed, too big) hands the whole connection, from that request on, to a
 * node:http server that never listens itself (`emit('connection')`, the documented way to inject one):
 * everything unusual, errors included, is answered by node:http exactly as before. Requests on a connection
 * are served one at a time, in order (pipelined ones wait in the buffer), as node:http does.
 */
import { type IncomingMessage, type Server, STATUS_CODES, type ServerResponse, createServer } from 'node:http'
import {
  type AddressInfo,
  type Socket,
  createServer as createNetServer,
  type Server as NetServer,
} from 'node:net'
import type { DataRequest, Respond } from './answer.js'
import { parseRequestHead, type RequestHead } from './request-head.js'

/** What the front needs of the routes (`createHandler` in server.ts). */
export interface HttpHandler {
  /** node:http's handler: every request the front leaves to it. */
  (req: IncomingMessage, res: ServerResponse): void
  /** Serves a data endpoint's request; calls `respond` exactly once. */
  readonly data: (request: DataRequest, respond: Respond) => void
  /** A larger body is left to node:http, whose route answers 413 while it drains the body. */
  readonly bodyBytesMax: number
  /** The paths `data` serves. */
  readonly isDataPath: (path: string) => boolean
}

export interface FrontOptions {
  /** An idle connection closes after this long (node:http's `keepAliveTimeout`, 5 s). */
  readonly keepAliveTimeoutMs?: number
  /** A request's head must arrive within this long of its first byte (node:http's `headersTimeout`, 60 s). */
  readonly headersTimeoutMs?: number
  /** A request must arrive whole within this long of its first byte (node:http's `requestTimeout`, 300 s). */
  readonly requestTimeoutMs?: number
  /** How often timeouts are checked (node:http checks every 30 s; a timer per request would cost more). */
  readonly sweepIntervalMs?: number
}

/** node:http's default limit on a request head; a longer one goes to node:http, which answers 431. */
const HEAD_BYTES_MAX = 16 * 1024
/** Pipelined bytes held while a request is being served before the socket stops reading. */
const HELD_BYTES_MAX = 1024 * 1024
const HEAD_END = Buffer.from('\r\n\r\n')
const BARE_HEAD_END = Buffer.from('\n\n')
/** Header values may not hold line breaks or NUL (what node:http's `writeHead` refuses). */
const UNWRITABLE = /[\r\n\0]/

export class HttpFront {
  readonly #server: NetServer
  /** Serves the connections handed over; never listens itself. */
  readonly #fallback: Server
  readonly #connections = new Set<FrontConnection>()
  readonly #sweep: NodeJS.Timeout
  readonly handler: HttpHandler
  /** Writes the answers of a turn together. */
  readonly answers = new AnswerWriter()
  readonly keepAliveTimeoutMs: number
  readonly headersTimeoutMs: number
  readonly requestTimeoutMs: number
  #closing = false

  private constructor(handler: HttpHandler, options: FrontOptions) {
    this.handler = handler
    this.keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? 5_000
    this.headersTimeoutMs = options.headersTimeoutMs ?? 60_000
    this.requestTimeoutMs = options.requestTimeoutMs ?? 300_000
    this.#fallback = createServer(handler)
    this.#fallback.keepAliveTimeout = this.keepAliveTimeoutMs
    this.#fallback.headersTimeout = Math.min(this.headersTimeoutMs, this.requestTimeoutMs)
    this.#fallback.requestTimeout = this.requestTimeoutMs
    // Half-open like node:http: a client that ends its side after a request still gets the answer.
    this.#server = createNetServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      const connection = new FrontConnection(socket, this)
      this.#connections.add(connection)
      socket.once('close', () => this.#connections.delete(connection))
    })
    this.#sweep = setInterval(() => this.#expire(), options.sweepIntervalMs ?? 1_000)
    this.#sweep.unref()
  }

  static listen(
    handler: HttpHandler,
    host: string,
    port: number,
    options: FrontOptions = {},
  ): Promise<HttpFront> {
    const front = new HttpFront(handler, options)
    return new Promise((resolve, reject) => {
      front.#server.once('error', (error) => {
        clearInterval(front.#sweep)
        reject(error)
      })
      front.#server.listen(port, host, () => {
        front.#server.removeAllListeners('error')
        // A failed accept must not crash the node; the listener stays up.
        front.#server.on('error', () => {})
        resolve(front)
      })
    })
  }

  /** `close()` was called: connections close once their request in progress is answered. */
  get closing(): boolean {
    return this.#closing
  }

  address(): AddressInfo | string | null {
    return this.#server.address()
  }

  /**
   * Stops accepting connections and closes the idle ones (as node:http's `close` does); a connection in the
   * middle of a request closes once it is answered. `callback` runs when every connection has closed.
   */
  close(callback?: (error?: Error) => void): this {
    this.#closing = true
    clearInterval(this.#sweep)
    this.#server.close(callback)
    for (const connection of this.#connections) connection.closeIfIdle()
    this.#fallback.closeIdleConnections()
    return this
  }

  closeAllConnections(): void {
    for (const connection of this.#connections) connection.destroy()
    this.#fallback.closeAllConnections()
  }

  /** Gives `socket` to node:http; `held` is what was read of it and not yet served. */
  handOver(connection: FrontConnection, socket: Socket, held: Buffer): void {
    this.#connections.delete(connection)
    if (held.byteLength > 0) socket.unshift(held)
    socket.resume()
    this.#fallback.emit('connection', socket)
  }

  #expire(): void {
    const now = Date.now()
    for (const connection of this.#connections) connection.expire(now)
  }
}

type State = 'idle' | 'partial' | 'busy'

/** One client connection while the front serves it. */
class FrontConnection {
  readonly #socket: Socket
  readonly #front: HttpFront
  #chunks: Buffer[] = []
  #bytes = 0
  /** The head of the request whose body is still arriving. */
  #head: RequestHead | undefined
  #headBytes = 0
  /** A new connection counts as a partial request: its head must come within the headers timeout. */
  #state: State = 'partial'
  #since = Date.now()
  /** The client ended its side. */
  #ended = false
  /** `#serve` is on the stack. */
  #serving = false
  readonly #onData = (chunk: Buffer): void => {
    this.#chunks.push(chunk)
    this.#bytes += chunk.byteLength
    if (this.#state !== 'busy') this.#serve()
    else if (this.#bytes > HELD_BYTES_MAX) this.#socket.pause()
  }
  readonly #onEnd = (): void => {
    this.#ended = true
    if (this.#state !== 'busy') this.#serve()
  }
  readonly #onError = (): void => {
    this.#socket.destroy()
  }

  constructor(socket: Socket, front: HttpFront) {
    this.#socket = socket
    this.#front = front
    socket.on('data', this.#onData)
    socket.on('end', this.#onEnd)
    socket.on('error', this.#onError)
  }

  closeIfIdle(): void {
    if (this.#state !== 'busy') this.#socket.destroy()
  }

  destroy(): void {
    this.#socket.destroy()
  }

  expire(now: number): void {
    if (this.#state === 'idle' && now - this.#since >= this.#front.keepAliveTimeoutMs) this.#socket.destroy()
    if (this.#state !== 'partial') return
    const waited = now - this.#since
    if (
      waited >= this.#front.requestTimeoutMs ||
      (this.#head === undefined && waited >= this.#front.headersTimeoutMs)
    )
      this.#socket.destroy()
  }

  /**
   * Serves the requests held, one at a time, until one is incomplete or being answered. Answers are written
   * at the end of the turn (`AnswerWriter`), which then comes back here for the next request: a client's
   * thousands of pipelined requests, even ones a route answers before it awaits, never add to the stack.
   */
  #serve(): void {
    if (this.#serving) return
    this.#serving = true
    try {
      this.#serveHeld()
    } finally {
      this.#serving = false
    }
  }

  #serveHeld(): void {
    while (this.#state !== 'busy' && !this.#socket.destroyed) {
      if (this.#head === undefined) {
        if (this.#bytes === 0) {
          if (this.#ended || this.#front.closing) this.#socket.end()
          else this.#enter('idle')
          return
        }
        const held = this.#joined()
        const headEnd = held.indexOf(HEAD_END)
        if (headEnd < 0) {
          // Lines ended by LF alone, or a head too long to be served here: node:http decides.
          if (held.byteLength > HEAD_BYTES_MAX || held.indexOf(BARE_HEAD_END) >= 0) return this.#handOver()
          return this.#waitForMore()
        }
        if (headEnd > HEAD_BYTES_MAX) return this.#handOver()
        const head = parseRequestHead(held.toString('latin1', 0, headEnd))
        const handler = this.#front.handler
        if (head === undefined || !handler.isDataPath(head.path) || head.contentLength > handler.bodyBytesMax)
          return this.#handOver()
        this.#head = head
        this.#headBytes = headEnd + HEAD_END.byteLength
      }
      const end = this.#headBytes + this.#head.contentLength
      if (this.#bytes < end) return this.#waitForMore()
      const held = this.#joined()
      // A view: the routes only read the body, and the chunk it lies in is let go with the request.
      const body = held.subarray(this.#headBytes, end)
      if (held.byteLength > end) this.#chunks = [held.subarray(end)]
      else this.#chunks = []
      this.#bytes = held.byteLength - end
      const head = this.#head
      this.#head = undefined
      this.#dispatch(head, body)
    }
  }

  #dispatch(head: RequestHead, body: Buffer): void {
    this.#enter('busy')
    const request: DataRequest = {
      method: head.method,
      path: head.path,
      search: head.search,
      contentType: head.contentType,
      body: () => Promise.resolve(body),
    }
    let answered = false
    this.#front.handler.data(request, (status, headers, text) => {
      if (answered) throw new Error('a request was answered twice')
      const close = head.close || this.#front.closing
      // Made now, so that a header that cannot be written throws to the route that gave it.
      const answer = answerText(
        status,
        headers,
        text,
        close,
        Math.floor(this.#front.keepAliveTimeoutMs / 1000),
      )
      answered = true
      this.#front.answers.queue(this, answer, close)
    })
  }

  /** Writes an answer given earlier (see `AnswerWriter`), then serves the next request. */
  write(answer: string, close: boolean): void {
    if (this.#socket.destroyed) return
    const written = this.#socket.write(answer)
    if (close) {
      this.#socket.end()
      return
    }
    // A client that does not read its answers gets no more of them until it does.
    if (written) this.#next()
    else this.#socket.once('drain', () => this.#next())
  }

  #next(): void {
    this.#enter('idle')
    if (this.#socket.isPaused()) this.#socket.resume()
    this.#serve()
  }

  #waitForMore(): void {
    if (this.#ended) {
      // The client ended its side in the middle of a request: it can never be whole.
      this.#socket.destroy()
      return
    }
    this.#enter('partial')
  }

  #enter(state: State): void {
    if (this.#state === state) return
    this.#state = state
    this.#since = Date.now()
  }

  #handOver(): void {
    const socket = this.#socket
    socket.off('data', this.#onData)
    socket.off('end', this.#onEnd)
    socket.off('error', this.#onError)
    const held = this.#joined()
    this.#chunks = []
    this.#bytes = 0
    this.#front.handOver(this, socket, held)
  }

  /** The held bytes as one buffer (a copy only when they came in several chunks). */
  #joined(): Buffer {
    if (this.#chunks.length === 1) return this.#chunks[0]!
    const joined = this.#chunks.length === 0 ? Buffer.alloc(0) : Buffer.concat(this.#chunks, this.#bytes)
    this.#chunks = [joined]
    return joined
  }
}

/**
 * The answers given during one turn of the event loop, written one after another once the turn's promise
 * jobs have all run (a `process.nextTick` queued from a promise job runs after the job queue drains), not
 * each as its route gives it.
 *
 * Why: the answers to the reads of one SQLite batch, or to the writes of one commit, are given together, but
 * in between each two the continuations of the next request run. Each `write` to a loopback socket wakes the
 * client (wrk, the bench's load generator), which by the next write had gone back to sleep, so every write paid
 * for a wake-up on the other vCPU. On a 3-node dev cluster, a signal flipping a scratch switch between 4-s wrk
 * runs of point reads at c=64: level none 15,913 → 17,506 reads/s (6 pairs, 5 ahead; an earlier draft 14,167 →
 * 15,952 and, switched the other way round, 16,847 → 18,036), level weak 16,956 → 17,424 (6 pairs, 3 ahead).
 * INSERTs, whose answers leave a few per commit, did not move (c=64: 5,027 → 4,911/s, 5 pairs, 2 ahead).
 */
class AnswerWriter {
  #queued: { readonly connection: FrontConnection; readonly answer: string; readonly close: boolean }[] = []
  #flushes = 0
  #answers = 0

  queue(connection: FrontConnection, answer: string, close: boolean): void {
    this.#queued.push({ connection, answer, close })
    if (this.#queued.length === 1) process.nextTick(() => this.#flush())
  }

  /** How many times queued answers were written, and how many answers: shows that answers travel together. */
  get stats(): { readonly flushes: number; readonly answers: number } {
    return { flushes: this.#flushes, answers: this.#answers }
  }

  #flush(): void {
    const queued = this.#queued
    // Answers given while these are written (a pipelined request answered at once) wait for the next flush.
    this.#queued = []
    this.#flushes++
    this.#answers += queued.length
    for (const { connection, answer, close } of queued) connection.write(answer, close)
  }
}

/** An answer's bytes, head and body, as one string for one `write`. */
function answerText(
  status: number,
  headers: string[],
  body: string,
  close: boolean,
  keepAliveSeconds: number,
): string {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`
  for (let i = 0; i < headers.length; i += 2) {
    const value = headers[i + 1]!
    if (UNWRITABLE.test(value) || UNWRITABLE.test(headers[i]!))
      throw new TypeError(`invalid character in the value of header ${JSON.stringify(headers[i])}`)
    head += `${headers[i]}: ${value}\r\n`
  }
  // As node:http says it (clients such as undici size their idle timeout from Keep-Alive).
  head += close
    ? `Date: ${httpDate()}\r\nConnection: close\r\n`
    : `Date: ${httpDate()}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=${keepAliveSeconds}\r\n`
  return `${head}\r\n${body}`
}

let dateSecond = -1
let dateText = ''

/** The Date header's value, made once a second. */
function httpDate(): string {
  const now = Date.now()
  const second = Math.floor(now / 1000)
  if (second !== dateSecond) {
    dateSecond = second
    dateText = new Date(now).toUTCString()
  }
  return dateText
}
