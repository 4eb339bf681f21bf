import type { IncomingMessage, ServerResponse } from 'node:http'
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
import { type Answer, DataAnswer, type DataRequest, type Respond } from './answer.js'
import { type FrontOptions, type HttpHandler, HttpFront } from './http1-front.js'
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
export function createHandler(options: HttpOptions): HttpHandler {
  const { store, forwarder } = options
  const startedAt = options.startedAt ?? Date.now()
  const bodyBytesMax = options.bodyBytesMax ?? 64 * 1024 * 1024
  /** Requests served, by endpoint, for /debug/vars. */
  const counters = new Map<string, number>()
  const count = (name: string) => counters.set(name, (counters.get(name) ?? 0) + 1)

  /**
   * The data endpoints (/db/execute, /db/query, /db/request), which the front (http1-front.ts) serves
   * without node:http; node:http hands them here too (a request the front leaves to it).
   */
  async function dataRoute(request: DataRequest, answer: Answer): Promise<void> {
    const { path, method } = request
    if (method === 'OPTIONS') return answer.send(200, '')
    // Every request's parameters are validated as rqlite does, before routing (a bad one is a 400).
    const params = parseQueryParams(request.search)
    refuseDbTimeout(params)
    const started = process.hrtime.bigint()
    const respond = (outcome: Outcome, shape: 'query' | 'mixed') =>
      answerOutcome(answer, outcome, shape, params, started)
    const forwardTimeout = params.timeoutMs ?? 30_000
    const target = { path, search: request.search, redirect: params.redirect }

    if (path.startsWith('/db/execute')) {
      if (method !== 'POST') return answer.send(405, '')
      if (params.queue) return queuedExecute(request, answer, params)
      count('execute')
      // Dropped once proposed (`store.execute` refuses a follower at once, before that): a bulk request's
      // thousand parsed statements, held until the answer, outlived V8's young-generation collections and were
      // copied into the old generation, which then had to be marked (docs/benchmarks.md).
      let write: ExecuteRequest | undefined = {
        statements: parseStatements(request.contentType, await request.body(bodyBytesMax)),
        transaction: params.transaction,
      }
      const outcome = await leaderOrForward(
        target,
        answer,
        () => {
          const proposed = store.execute(write!)
          write = undefined
          return proposed
        },
        (leader) => {
          // Only a refusal before proposing is forwarded; sending a proposed write again could apply it twice.
          if (write === undefined)
            throw new UnknownOutcomeError('leadership moved after the write was proposed')
          return withTimeout(forwarder.execute(leader, write), forwardTimeout, true)
        },
      )
      if (outcome) respond(outcome, 'mixed')
      return
    }
    if (path.startsWith('/db/query')) {
      if (method !== 'GET' && method !== 'POST') return answer.send(405, '')
      count('query')
      let statements: Batch
      if (method === 'GET') {
        if (params.q === undefined) throw new HttpError(400, 'query parameter not set')
        statements = [params.q]
      } else statements = parseStatements(request.contentType, await request.body(bodyBytesMax))
      const read = readRequest(statements, params)
      const outcome = await leaderOrForward(
        target,
        answer,
        () => store.query(read),
        (leader) => withTimeout(forwarder.query(leader, read), forwardTimeout, false),
      )
      if (outcome) respond(outcome, 'query')
      return
    }
    if (path.startsWith('/db/request')) {
      if (method !== 'POST') return answer.send(405, '')
      count('request')
      // JSON only (rqlite): a text/plain body is parsed as JSON too, and fails as such.
      const statements = parseStatements(request.contentType, await request.body(bodyBytesMax), {
        textAllowed: false,
      })
      const mixed: MixedRequest = readRequest(statements, params)
      const outcome = await leaderOrForward(
        target,
        answer,
        () => store.request(mixed),
        (leader) => withTimeout(forwarder.request(leader, mixed), forwardTimeout, true),
      )
      if (outcome) respond(outcome, 'mixed')
      return
    }
    answer.send(404, '')
  }

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname
    const method = req.method ?? 'GET'
    if (method === 'OPTIONS') return send(res, 200, '')
    // Every request's parameters are validated as rqlite does, before routing (a bad one is a 400).
    const params = parseQueryParams(url.search)
    refuseDbTimeout(params)
    const started = process.hrtime.bigint()
    const forwardTimeout = params.timeoutMs ?? 30_000
    const target = { path, search: url.search, redirect: params.redirect }

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
        target,
        resAnswer(res),
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
      const answer = resAnswer(res)
      const outcome = await leaderOrForward(
        target,
        answer,
        () => store.load(body),
        (leader) => withTimeout(forwarder.load(leader, body), forwardTimeout, true),
      )
      if (outcome) answerOutcome(answer, outcome, 'mixed', params, started)
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
        target,
        resAnswer(res),
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
        target,
        resAnswer(res),
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
        target,
        resAnswer(res),
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
  async function queuedExecute(request: DataRequest, answer: Answer, params: QueryParams): Promise<void> {
    count('queued_execute')
    const queue = options.queue
    if (!queue) throw new HttpError(503, 'queued writes are not enabled on this node')
    const statements = parseStatements(request.contentType, await request.body(bodyBytesMax), {
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
    answer.send(200, body, 'application/json; charset=utf-8')
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
    target: { readonly path: string; readonly search: string; readonly redirect: boolean },
    answer: Answer,
    local: () => Promise<T>,
    forward: (leaderRaftAddress: string) => Promise<T>,
  ): Promise<T | undefined> {
    try {
      const value = await local()
      answer.addHeader('X-Rqlite-Served-By', options.advertisedAddress)
      return value
    } catch (error) {
      if (!(error instanceof NotLeaderError)) throw error
      if (target.redirect) {
        if (!error.leaderHttpAddress) throw new HttpError(500, 'leader not found')
        answer.addHeader('Location', `http://${error.leaderHttpAddress}${target.path}${target.search}`)
        answer.send(301, '')
        return undefined
      }
      if (!error.leaderRaftAddress) throw new LeaderNotFoundError()
      count('forwarded')
      const value = await forward(error.leaderRaftAddress)
      answer.addHeader('X-Rqlite-Served-By', error.leaderRaftAddress)
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
  const data = (request: DataRequest, respond: Respond): void => {
    const answer = new DataAnswer(commonHeaders, respond)
    dataRoute(request, answer).catch((error: unknown) => answerError(answer, error))
  }
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (isDataPath(url.pathname)) {
      const request: DataRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        search: url.search,
        contentType: req.headers['content-type'],
        body: (bytesMax) => readBytes(req, bytesMax),
      }
      return data(request, (status, headers, body) => {
        res.writeHead(status, headers)
        res.end(body)
      })
    }
    for (let i = 0; i < commonHeaders.length; i += 2) res.setHeader(commonHeaders[i]!, commonHeaders[i + 1]!)
    const adminRoute = url.pathname === '/join' || url.pathname.startsWith('/remove')
    route(req, res, url).catch((error: unknown) => answerError(resAnswer(res), error, adminRoute))
  }
  return Object.assign(handler, { data, bodyBytesMax, isDataPath })
}

/** A data endpoint's 200: the results in rqlite's shape, as the request's parameters ask. */
function answerOutcome(
  answer: Answer,
  outcome: Outcome,
  shape: 'query' | 'mixed',
  params: QueryParams,
  started: bigint,
): void {
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
  answer.send(200, body, 'application/json; charset=utf-8')
}

function refuseDbTimeout(params: QueryParams): void {
  if (params.dbTimeoutMs !== undefined) {
    throw new HttpError(
      400,
      'db_timeout is not supported by TQLite: a running SQLite statement cannot be interrupted here',
    )
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

function answerError(answer: Answer, error: unknown, adminRoute = false): void {
  if (answer.sent) return answer.end()
  const text = 'text/plain; charset=utf-8'
  // Membership endpoints answer failures with a status code (rqlite does too): a 200 would read as success.
  if (
    adminRoute &&
    error instanceof StoreError &&
    !(error instanceof MembershipError) &&
    !(error instanceof LeaderNotFoundError)
  ) {
    return answer.send(503, error.message, text, true)
  }
  if (error instanceof HttpError) return answer.send(error.status, error.message, text, true)
  if (error instanceof QueryParamError) return answer.send(error.status, error.message, text, true)
  if (error instanceof SyntaxError) return answer.send(400, 'invalid JSON body', text, true)
  if (error instanceof LeaderNotFoundError) return answer.send(503, 'leader not found', text, true)
  if (error instanceof NotSingleNodeError) return answer.send(503, error.message, text, true)
  if (error instanceof MembershipError) return answer.send(400, error.message, text, true)
  if (error instanceof WriteQueueClosedError) return answer.send(503, error.message, text, true)
  const json = 'application/json; charset=utf-8'
  if (error instanceof StaleReadError)
    return answer.send(200, encodeJson({ results: [], error: 'stale read' }), json)
  if (error instanceof UnknownOutcomeError || error instanceof StoreError) {
    return answer.send(200, encodeJson({ results: [], error: error.message, code: error.code }), json)
  }
  answer.send(500, error instanceof Error ? error.message : String(error), text, true)
}

/** The endpoints the front serves itself (and node:http answers through a `DataAnswer`). */
export function isDataPath(path: string): boolean {
  return path.startsWith('/db/execute') || path.startsWith('/db/query') || path.startsWith('/db/request')
}

/** A node:http answer as an `Answer` (the endpoints other than the data ones). */
function resAnswer(res: ServerResponse): Answer {
  return {
    get sent() {
      return res.headersSent
    },
    addHeader: (name, value) => res.setHeader(name, value),
    send: (status, body, contentType, goError) => send(res, status, body, contentType, goError),
    end: () => res.end(),
  }
}

/** `goError`: the body as Go's `http.Error` writes it (rqlite's protocol errors): a trailing newline, nosniff. */
function send(
  res: ServerResponse,
  status: number,
  body: string,
  contentType?: string,
  goError = false,
): void {
  if (contentType) res.setHeader('Content-Type', contentType)
  if (goError) res.setHeader('X-Content-Type-Options', 'nosniff')
  res.statusCode = status
  res.end(goError ? `${body}\n` : body)
}

function sendJson(res: ServerResponse, value: unknown, pretty = false): void {
  const body = encodeJson(value, pretty ? '    ' : '')
  send(res, 200, body, 'application/json; charset=utf-8')
}

/** Listens on `address` ("host:port"): the front serves the data endpoints, node:http everything else. */
export function listen(
  handler: HttpHandler,
  address: string,
  options: FrontOptions = {},
): Promise<HttpFront> {
  const { host, port } = splitHostPort(address)
  return HttpFront.listen(handler, host, port, options)
}

export function splitHostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':')
  const port = Number(address.slice(at + 1))
  if (at < 0 || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`invalid address ${address}`)
  return { host: address.slice(0, at) || '0.0.0.0', port }
}
