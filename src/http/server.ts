import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import { gzipSync } from 'node:zlib'
import { splitStatements } from '../db/statement-splitter.js'
import type { Batch } from '../db/types.js'
import { checkPragmas } from '../store/disallowed-pragmas.js'
import {
  LeaderNotFoundError,
  MembershipError,
  NotLeaderError,
  NotSingleNodeError,
  StaleReadError,
  StoreError,
  UnknownOutcomeError,
} from '../store/errors.js'
import type {
  BackupRequest,
  ExecuteRequest,
  MixedRequest,
  Outcome,
  QueryRequest,
  Store,
} from '../store/store.js'
import { isSqliteImage } from '../store/store.js'
import { WriteQueueClosedError, type WriteQueue } from '../store/write-queue.js'
import { encodeJson, parseJsonExact } from './json.js'
import { type QueryParams, QueryParamError, parseQueryParams } from './query-params.js'
import { HttpError, parseStatements, readBytes, readText } from './request-body.js'
import { encodeResponse } from './result-encoding.js'
import { type NodeDescription, goDuration, statusDocument, subtree, version } from './status.js'

export { version }

/** Sends a request that only the leader can serve to the leader over the cluster service. */
export interface Forwarder {
  execute(raftAddress: string, request: ExecuteRequest): Promise<Outcome>
  query(raftAddress: string, request: QueryRequest): Promise<Outcome>
  request(raftAddress: string, request: MixedRequest): Promise<Outcome>
  /** Returns the members after the join, so the new node can reach them before it applies any log. */
  join(
    raftAddress: string,
    request: { nodeId: number; raftAddress: string; httpAddress: string; voter: boolean },
  ): Promise<readonly { nodeId: number; raftAddress: string; httpAddress: string }[]>
  remove(raftAddress: string, nodeId: number): Promise<void>
  /** Hands leadership to `to` (or the most up-to-date voter) on the leader; with `wait`, until done. */
  stepDown(raftAddress: string, request: { to?: number; wait: boolean }): Promise<void>
  backup(raftAddress: string, request: BackupRequest): Promise<Uint8Array>
  load(raftAddress: string, body: Uint8Array): Promise<Outcome>
  /** Contacts a node; rejects when it cannot be reached within the timeout. */
  probe(raftAddress: string, timeoutMs: number): Promise<{ version: string }>
}

export interface HttpOptions {
  readonly store: Store
  readonly forwarder: Forwarder
  readonly advertisedAddress: string
  readonly bodyBytesMax?: number
  readonly startedAt?: number
  /** `-http-allow-origin`: sent as Access-Control-Allow-Origin when set. */
  readonly allowOrigin?: string
  /** Queued writes (`/db/execute?queue`); without it such requests get 503. */
  readonly queue?: WriteQueue
  readonly node?: NodeDescription
}

/** Builds the request handler without listening (tests call it in process; `listen` opens the port). */
export function createHandler(options: HttpOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { store, forwarder } = options
  const startedAt = options.startedAt ?? Date.now()
  const bodyBytesMax = options.bodyBytesMax ?? 64 * 1024 * 1024
  /** Requests served, by endpoint, for /debug/vars. */
  const counters = new Map<string, number>()
  const count = (name: string) => counters.set(name, (counters.get(name) ?? 0) + 1)

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname
    const method = req.method ?? 'GET'
    if (method === 'OPTIONS') return send(res, 200, '')
    // Every request's parameters are validated as rqlite does, before routing (a bad one is a 400).
    const params = parseQueryParams(url.search)
    if (params.dbTimeoutMs !== undefined) {
      throw new HttpError(
        400,
        'db_timeout is not supported by TQLite: a running SQLite statement cannot be interrupted here',
      )
    }
    const started = process.hrtime.bigint()
    const respond = (outcome: Outcome, shape: 'query' | 'mixed') => {
      const totalSeconds = Number(process.hrtime.bigint() - started) / 1e9
      const body = encodeResponse(outcome.results, {
        associative: params.associative,
        blobArray: params.blobArray,
        pretty: params.pretty,
        endpointShape: shape,
        ...(params.timings
          ? {
              timings: {
                totalSeconds,
                perStatementSeconds: outcome.results.map((result) =>
                  'time' in result ? result.time : undefined,
                ),
              },
            }
          : {}),
        ...(params.raftIndex ? { raftIndex: outcome.raftIndex } : {}),
      })
      send(res, 200, body, 'application/json; charset=utf-8')
    }
    const forwardTimeout = params.timeoutMs ?? 30_000

    if (path.startsWith('/db/execute')) {
      if (method !== 'POST') return send(res, 405, '')
      if (params.queue) return queuedExecute(req, res, params)
      count('execute')
      // Dropped once proposed (`store.execute` refuses a follower at once, before that): a bulk request's
      // thousand parsed statements, held until the answer, outlived V8's young-generation collections and were
      // copied into the old generation, which then had to be marked (docs/benchmarks.md).
      let request: ExecuteRequest | undefined = {
        statements: parseStatements(req.headers['content-type'], await readBytes(req, bodyBytesMax)),
        transaction: params.transaction,
      }
      const outcome = await leaderOrForward(
        url,
        res,
        () => {
          const proposed = store.execute(request!)
          request = undefined
          return proposed
        },
        (leader) => {
          // Only a refusal before proposing is forwarded; sending a proposed write again could apply it twice.
          if (request === undefined)
            throw new UnknownOutcomeError('leadership moved after the write was proposed')
          return withTimeout(forwarder.execute(leader, request), forwardTimeout, true)
        },
      )
      if (outcome) respond(outcome, 'mixed')
      return
    }
    if (path.startsWith('/db/query')) {
      if (method !== 'GET' && method !== 'POST') return send(res, 405, '')
      count('query')
      let statements: Batch
      if (method === 'GET') {
        if (params.q === undefined) throw new HttpError(400, 'query parameter not set')
        statements = [params.q]
      } else statements = parseStatements(req.headers['content-type'], await readBytes(req, bodyBytesMax))
      const request = readRequest(statements, params)
      const outcome = await leaderOrForward(
        url,
        res,
        () => store.query(request),
        (leader) => withTimeout(forwarder.query(leader, request), forwardTimeout, false),
      )
      if (outcome) respond(outcome, 'query')
      return
    }
    if (path.startsWith('/db/request')) {
      if (method !== 'POST') return send(res, 405, '')
      count('request')
      // JSON only (rqlite): a text/plain body is parsed as JSON too, and fails as such.
      const statements = parseStatements(req.headers['content-type'], await readBytes(req, bodyBytesMax), {
        textAllowed: false,
      })
      const request: MixedRequest = readRequest(statements, params)
      const outcome = await leaderOrForward(
        url,
        res,
        () => store.request(request),
        (leader) => withTimeout(forwarder.request(leader, request), forwardTimeout, true),
      )
      if (outcome) respond(outcome, 'mixed')
      return
    }
    if (path.startsWith('/db/sql')) {
      if (method !== 'GET' && method !== 'POST') return send(res, 405, '')
      count('sql')
      let statements: Batch
      if (method === 'GET') {
        if (params.q === undefined) throw new HttpError(400, 'query parameter not set')
        statements = [params.q]
      } else statements = parseStatements(req.headers['content-type'], await readBytes(req, bodyBytesMax))
      return sendJson(res, { results: await explainStatements(statements) }, params.pretty)
    }
    if (path.startsWith('/db/backup')) {
      if (method !== 'GET') return send(res, 405, '')
      count('backup')
      if (params.vacuum && params.fmt !== 'binary')
        throw new HttpError(400, 'vacuum is only supported with fmt=binary')
      const request: BackupRequest = {
        format: params.fmt,
        vacuum: params.vacuum,
        tables: params.tables,
        noLeader: params.noleader,
      }
      const outcome = await leaderOrForward(
        url,
        res,
        () => store.backup(request),
        (leader) => withTimeout(forwarder.backup(leader, request), forwardTimeout, false),
      )
      if (!outcome) return
      const body = params.compress ? gzipSync(outcome, { level: 1 }) : outcome
      res.setHeader('Content-Type', params.fmt === 'sql' ? 'application/sql' : 'application/octet-stream')
      res.statusCode = 200
      res.end(body)
      return
    }
    if (path.startsWith('/db/load')) {
      if (method !== 'POST') return send(res, 405, '')
      count('load')
      const body = await readBytes(req, bodyBytesMax)
      if (body.byteLength === 0) throw new HttpError(400, 'no data to load')
      const outcome = await leaderOrForward(
        url,
        res,
        () => store.load(body),
        (leader) => withTimeout(forwarder.load(leader, body), forwardTimeout, true),
      )
      if (outcome) respond(outcome, 'mixed')
      return
    }
    if (path === '/boot') {
      if (method !== 'POST') return send(res, 405, '')
      count('boot')
      const body = await readBytes(req, bodyBytesMax)
      if (!isSqliteImage(body)) throw new HttpError(400, 'invalid SQLite data')
      await store.boot(body)
      return send(res, 200, '')
    }
    if (path.startsWith('/status')) {
      count('status')
      const document = await statusDocument({
        store,
        advertisedAddress: options.advertisedAddress,
        startedAt,
        node: options.node,
        queue: options.queue,
        allowOrigin: options.allowOrigin,
        database: () => store.databaseFacts(),
      })
      return sendJson(res, subtree(document, url.searchParams.get('key')), params.pretty)
    }
    if (path === '/debug/vars') {
      if (method !== 'GET') return send(res, 405, '')
      const vars: Record<string, unknown> = {
        cluster: { num_join_req: store.stats.joinRequests },
        cmdline: process.argv,
        http: Object.fromEntries([...counters].sort(([a], [b]) => a.localeCompare(b))),
        memstats: process.memoryUsage(),
        ...(options.queue ? { queue: options.queue.stats } : {}),
        store: {
          num_restores: store.stats.snapshotsRestored,
          num_snapshots: store.stats.snapshotsTaken,
        },
      }
      const key = url.searchParams.get('key')
      return sendJson(res, key ? (vars[key] ?? {}) : vars, params.pretty)
    }
    if (path.startsWith('/nodes')) {
      count('nodes')
      const nodes = await probeNodes(params.nonvoters, params.timeoutMs ?? 30_000)
      if (params.ver === '2') return sendJson(res, { nodes }, params.pretty)
      return sendJson(res, Object.fromEntries(nodes.map((node) => [node.id, node])), params.pretty)
    }
    if (path === '/leader') {
      if (method === 'GET') {
        const leader = store.leader()
        const nodes = leader ? await probeNodes(true, params.timeoutMs ?? 30_000) : []
        const node = nodes.find((n) => n.leader)
        if (!node) return send(res, 503, 'leader not found', 'text/plain; charset=utf-8', true)
        return sendJson(res, node, params.pretty)
      }
      if (method !== 'POST') return send(res, 405, '')
      const text = await readText(req, bodyBytesMax)
      let to: number | undefined
      if (req.headers['content-type'] === 'application/json' && text.trim() !== '') {
        const body = parseJsonExact(text) as Record<string, unknown>
        to = Number(body.id)
        if (!Number.isSafeInteger(to) || to <= 0) throw new HttpError(400, 'invalid request')
      }
      const request = { ...(to !== undefined ? { to } : {}), wait: params.wait }
      const outcome = await leaderOrForward(
        url,
        res,
        () => store.stepDown(request).then(() => true),
        (leader) => forwarder.stepDown(leader, request).then(() => true),
      )
      if (outcome) send(res, 200, '')
      return
    }
    if (path.startsWith('/readyz')) return readyz(res, params)
    if (path === '/snapshot') {
      if (method !== 'POST') return send(res, 405, '')
      if (params.trailingLogs !== undefined && params.trailingLogs !== 0) {
        throw new HttpError(
          400,
          'trailing_logs is not supported: TQLite compacts every entry a snapshot covers (a lagging follower gets the snapshot)',
        )
      }
      const index = await store.snapshot()
      return send(res, index === undefined ? 204 : 200, '')
    }
    if (path === '/join') {
      if (method !== 'POST') return send(res, 405, '')
      const body = parseJsonExact(await readText(req, bodyBytesMax)) as Record<string, unknown>
      const nodeId = Number(body.id)
      const raftAddress = body.addr
      const httpAddress = typeof body.http_addr === 'string' ? body.http_addr : ''
      if (!Number.isSafeInteger(nodeId) || nodeId <= 0 || typeof raftAddress !== 'string') {
        throw new HttpError(400, 'invalid request')
      }
      const voter = body.voter !== false
      const request = { nodeId, raftAddress, httpAddress, voter }
      const outcome = await leaderOrForward(
        url,
        res,
        async () => {
          await store.join({ nodeId, raftAddress, httpAddress }, voter)
          return store.nodes()
        },
        (leader) => forwarder.join(leader, request),
      )
      if (!outcome) return
      // rqlite answers an empty 200; the member list is TQLite's addition for joining nodes.
      return sendJson(res, {
        nodes: outcome.map((m) => ({ id: String(m.nodeId), addr: m.raftAddress, http_addr: m.httpAddress })),
      })
    }
    if (path.startsWith('/remove')) {
      if (method !== 'DELETE') return send(res, 405, '')
      const body = parseJsonExact(await readText(req, bodyBytesMax))
      if (typeof body !== 'object' || body === null || Object.keys(body).length !== 1)
        throw new HttpError(400, 'invalid request')
      const nodeId = Number((body as Record<string, unknown>).id)
      if (!Number.isSafeInteger(nodeId) || nodeId <= 0) throw new HttpError(400, 'invalid request')
      const outcome = await leaderOrForward(
        url,
        res,
        () => store.remove(nodeId).then(() => true),
        (leader) => forwarder.remove(leader, nodeId).then(() => true),
      )
      if (outcome) send(res, 200, '')
      return
    }
    if (path === '/' && method === 'GET') {
      res.setHeader('Location', '/status')
      return send(res, 302, '')
    }
    send(res, 404, '')
  }

  /**
   * `/db/execute?queue`: accepted at once with a sequence number, written in the background (rqlite's queued
   * writes). With `wait`, answers once the request's batch is written (408 after `timeout`).
   */
  async function queuedExecute(
    req: IncomingMessage,
    res: ServerResponse,
    params: QueryParams,
  ): Promise<void> {
    count('queued_execute')
    const queue = options.queue
    if (!queue) throw new HttpError(503, 'queued writes are not enabled on this node')
    const statements = parseStatements(req.headers['content-type'], await readBytes(req, bodyBytesMax), {
      allowEmpty: params.wait,
    })
    checkPragmas(statements)
    if (!params.noleader && store.leader() === undefined) throw new LeaderNotFoundError()
    const { sequence, flushed } = await queue.enqueue(statements)
    if (params.wait) {
      const timeoutMs = params.timeoutMs ?? 30_000
      let timer: NodeJS.Timeout | undefined
      const expired = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs)
      })
      const result = await Promise.race([flushed.then(() => 'flushed' as const), expired])
      clearTimeout(timer)
      if (result === 'timeout') throw new HttpError(408, 'queue wait timeout')
    }
    const body = encodeResponse([], { pretty: params.pretty, sequenceNumber: sequence })
    send(res, 200, body, 'application/json; charset=utf-8')
  }

  /** /readyz: 200 once the node knows a leader and its database answers; `noleader` and `sync` as rqlite. */
  async function readyz(res: ServerResponse, params: QueryParams): Promise<void> {
    const text = 'text/plain; charset=utf-8'
    if (params.noleader) return send(res, 200, '[+]node ok', text)
    if (store.leader() === undefined) return send(res, 503, '[+]node ok\n[+]leader does not exist', text)
    const lines = ['[+]node ok', '[+]leader ok', '[+]store ok']
    if (params.sync) {
      try {
        await store.waitCaughtUp(params.timeoutMs ?? 30_000)
        lines.push('[+]sync ok')
      } catch (error) {
        lines.push(`[+]sync ${error instanceof Error ? error.message : String(error)}`)
        return send(res, 503, lines.join('\n'), text)
      }
    }
    try {
      await store.query({ statements: ['SELECT 1'], level: 'none' })
      lines.push('[+]db ok')
    } catch (error) {
      lines.push(`[+]db ${error instanceof Error ? error.message : String(error)}`)
      return send(res, 503, lines.join('\n'), text)
    }
    return send(res, 200, lines.join('\n'), text)
  }

  /**
   * `/db/sql`: what each statement becomes when applied. TQLite does not rewrite SQL (random() and the clock
   * are fixed per log entry at apply time), so `rewritten` equals `original`; a statement that does not
   * prepare gets `error` instead, as in rqlite.
   */
  async function explainStatements(statements: Batch): Promise<Record<string, string>[]> {
    const out: Record<string, string>[] = []
    for (const statement of statements) {
      const sql = typeof statement === 'string' ? statement : statement[0]
      const pieces = splitStatements(sql)
      const checks = pieces.length === 0 ? [] : await store.explain(pieces.map((piece) => piece.sql))
      const failed = checks.find((check) => check !== undefined)
      out.push(failed === undefined ? { original: sql, rewritten: sql } : { original: sql, error: failed })
    }
    return out
  }

  /**
   * Runs `local` here, or on the leader through `forward` when this node is not the leader (rqlite's
   * transparent forwarding), or answers 301 with the leader's URL when the client asked for `redirect`.
   * Returns the value, or undefined when it already answered (the redirect); so T must not be undefined.
   */
  async function leaderOrForward<T extends NonNullable<unknown>>(
    url: URL,
    res: ServerResponse,
    local: () => Promise<T>,
    forward: (leaderRaftAddress: string) => Promise<T>,
  ): Promise<T | undefined> {
    try {
      const value = await local()
      addHeader(res, 'X-Rqlite-Served-By', options.advertisedAddress)
      return value
    } catch (error) {
      if (!(error instanceof NotLeaderError)) throw error
      if (url.searchParams.has('redirect')) {
        if (!error.leaderHttpAddress) throw new HttpError(500, 'leader not found')
        addHeader(res, 'Location', `http://${error.leaderHttpAddress}${url.pathname}${url.search}`)
        send(res, 301, '')
        return undefined
      }
      if (!error.leaderRaftAddress) throw new LeaderNotFoundError()
      count('forwarded')
      const value = await forward(error.leaderRaftAddress)
      addHeader(res, 'X-Rqlite-Served-By', error.leaderRaftAddress)
      return value
    }
  }

  /**
   * The members with live reachability, as rqlite's /nodes: voters only unless `nonvoters`, each contacted
   * in parallel (this node answers for itself), fields in rqlite's order.
   */
  async function probeNodes(nonVoters: boolean, timeoutMs: number): Promise<Record<string, unknown>[]> {
    const status = store.status()
    const leader = store.leader()
    const members = store
      .nodes()
      .filter(
        (meta) =>
          status.config.voters.includes(meta.nodeId) ||
          (nonVoters && status.config.nonVoters.includes(meta.nodeId)),
      )
      .sort((a, b) => a.nodeId - b.nodeId)
    return Promise.all(
      members.map(async (meta) => {
        const started = process.hrtime.bigint()
        let reachable = true
        let remoteVersion = version
        let error: string | undefined
        if (meta.nodeId !== store.nodeId) {
          try {
            remoteVersion = (await forwarder.probe(meta.raftAddress, timeoutMs)).version
          } catch (cause) {
            reachable = false
            remoteVersion = ''
            error = cause instanceof Error ? cause.message : String(cause)
          }
        }
        const seconds = Number(process.hrtime.bigint() - started) / 1e9
        return {
          id: String(meta.nodeId),
          ...(reachable ? { api_addr: `http://${meta.httpAddress}` } : {}),
          addr: meta.raftAddress,
          version: remoteVersion,
          voter: status.config.voters.includes(meta.nodeId),
          reachable,
          leader: leader?.id === meta.nodeId,
          time: seconds,
          time_s: goDuration(seconds * 1000),
          ...(error !== undefined ? { error } : {}),
        }
      }),
    )
  }

  const commonHeaders = [
    'X-Tqlite-Version',
    version,
    'X-Rqlite-Version',
    version,
    'Access-Control-Allow-Methods',
    'OPTIONS, GET, POST',
    'Access-Control-Allow-Headers',
    'Content-Type',
    ...(options.allowOrigin ? ['Access-Control-Allow-Origin', options.allowOrigin] : []),
  ]
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (isDataPath(url.pathname)) {
      // The data endpoints answer with one writeHead of a prepared list (see `send`).
      ;(res as PendingHeaders)[pendingHeaders] = [...commonHeaders]
    } else {
      for (let i = 0; i < commonHeaders.length; i += 2)
        res.setHeader(commonHeaders[i]!, commonHeaders[i + 1]!)
    }
    const adminRoute = url.pathname === '/join' || url.pathname.startsWith('/remove')
    route(req, res, url).catch((error: unknown) => sendError(res, error, adminRoute))
  }
}

/** The read part of a request's parameters. */
function readRequest(statements: Batch, params: QueryParams): QueryRequest {
  return {
    statements,
    level: params.level,
    transaction: params.transaction,
    ...(params.freshnessMs !== undefined && params.freshnessMs > 0
      ? { freshnessMs: params.freshnessMs }
      : {}),
    ...(params.freshnessStrict ? { freshnessStrict: true } : {}),
    ...(params.qualifyColumns ? { qualifyColumns: true } : {}),
    ...(params.linearizableTimeoutMs !== undefined ? { timeoutMs: params.linearizableTimeoutMs } : {}),
  }
}

/**
 * Bounds a forwarded call by the request's `timeout`. For a write the outcome is then unknown: it may still
 * commit on the leader, so it is reported as such and never retried.
 */
function withTimeout<T>(call: Promise<T>, timeoutMs: number, write: boolean): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          write
            ? new UnknownOutcomeError(`forwarded request timed out after ${timeoutMs}ms; it may still apply`)
            : new StoreError('TQ_ERR_FORWARD_TIMEOUT', `forwarded request timed out after ${timeoutMs}ms`),
        ),
      timeoutMs,
    )
  })
  return Promise.race([call, expired]).finally(() => clearTimeout(timer))
}

function sendError(res: ServerResponse, error: unknown, adminRoute = false): void {
  if (res.headersSent) {
    res.end()
    return
  }
  // Membership endpoints answer failures with a status code (rqlite does too): a 200 would read as success.
  if (
    adminRoute &&
    error instanceof StoreError &&
    !(error instanceof MembershipError) &&
    !(error instanceof LeaderNotFoundError)
  ) {
    return send(res, 503, error.message, 'text/plain; charset=utf-8', true)
  }
  if (error instanceof HttpError)
    return send(res, error.status, error.message, 'text/plain; charset=utf-8', true)
  if (error instanceof QueryParamError)
    return send(res, error.status, error.message, 'text/plain; charset=utf-8', true)
  if (error instanceof SyntaxError)
    return send(res, 400, 'invalid JSON body', 'text/plain; charset=utf-8', true)
  if (error instanceof LeaderNotFoundError)
    return send(res, 503, 'leader not found', 'text/plain; charset=utf-8', true)
  if (error instanceof NotSingleNodeError)
    return send(res, 503, error.message, 'text/plain; charset=utf-8', true)
  if (error instanceof MembershipError)
    return send(res, 400, error.message, 'text/plain; charset=utf-8', true)
  if (error instanceof WriteQueueClosedError)
    return send(res, 503, error.message, 'text/plain; charset=utf-8', true)
  if (error instanceof StaleReadError) return sendJson(res, { results: [], error: 'stale read' })
  if (error instanceof UnknownOutcomeError || error instanceof StoreError) {
    return sendJson(res, { results: [], error: error.message, code: error.code })
  }
  send(res, 500, error instanceof Error ? error.message : String(error), 'text/plain; charset=utf-8', true)
}

/**
 * Headers of a data-endpoint answer, gathered until `send` writes them with the status in one `writeHead`.
 * Each `setHeader` validates and stores its header one by one, and `writeHead` then merges them again: for a
 * bare node:http server that answers like `/db/query`, a prepared list was 10% more requests/s (22.2k → 24.6k
 * under wrk, c=64).
 */
const pendingHeaders = Symbol('pendingHeaders')
type PendingHeaders = ServerResponse & { [pendingHeaders]?: string[] }

/** The endpoints that answer through `send` only (never `res.setHeader`/`res.end` directly). */
function isDataPath(path: string): boolean {
  return path.startsWith('/db/execute') || path.startsWith('/db/query') || path.startsWith('/db/request')
}

function addHeader(res: ServerResponse, name: string, value: string): void {
  const pending = (res as PendingHeaders)[pendingHeaders]
  if (pending !== undefined) pending.push(name, value)
  else res.setHeader(name, value)
}

/** `goError`: the body as Go's `http.Error` writes it (rqlite's protocol errors): a trailing newline, nosniff. */
function send(
  res: ServerResponse,
  status: number,
  body: string,
  contentType?: string,
  goError = false,
): void {
  const text = goError ? `${body}\n` : body
  const pending = (res as PendingHeaders)[pendingHeaders]
  if (pending !== undefined && !res.headersSent) {
    ;(res as PendingHeaders)[pendingHeaders] = undefined
    if (contentType) pending.push('Content-Type', contentType)
    if (goError) pending.push('X-Content-Type-Options', 'nosniff')
    // Written before end(), so Node cannot count the body itself: without a length it would chunk it.
    pending.push('Content-Length', String(Buffer.byteLength(text)))
    res.writeHead(status, pending)
    res.end(text)
    return
  }
  if (contentType) res.setHeader('Content-Type', contentType)
  if (goError) res.setHeader('X-Content-Type-Options', 'nosniff')
  res.statusCode = status
  res.end(text)
}

function sendJson(res: ServerResponse, value: unknown, pretty = false): void {
  const body = encodeJson(value, pretty ? '    ' : '')
  send(res, 200, body, 'application/json; charset=utf-8')
}

export function listen(handler: ReturnType<typeof createHandler>, address: string): Promise<Server> {
  const { host, port } = splitHostPort(address)
  const server = createServer(handler)
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve(server)
    })
  })
}

export function splitHostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':')
  const port = Number(address.slice(at + 1))
  if (at < 0 || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`invalid address ${address}`)
  return { host: address.slice(0, at) || '0.0.0.0', port }
}
