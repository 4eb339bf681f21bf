import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import { gzipSync } from 'node:zlib'
import type { Batch, StatementResult } from '../db/types.js'
import {
  LeaderNotFoundError,
  MembershipError,
  NotLeaderError,
  StaleReadError,
  StoreError,
  UnknownOutcomeError,
} from '../store/errors.js'
import type { ReadLevel, Store } from '../store/store.js'
import { encodeJson, parseJsonExact } from './json.js'
import { QueryParamError, parseQueryParams } from './query-params.js'
import { encodeResponse } from './result-encoding.js'

export const version = 'v0.1.0'

/** Sends a request that only the leader can serve to the leader over the cluster service. */
export interface Forwarder {
  execute(raftAddress: string, statements: Batch, transaction: boolean): Promise<StatementResult[]>
  query(
    raftAddress: string,
    request: { statements: Batch; level: ReadLevel; transaction: boolean; freshnessMs?: number },
  ): Promise<StatementResult[]>
  /** Returns the members after the join, so the new node can reach them before it applies any log. */
  join(
    raftAddress: string,
    request: { nodeId: number; raftAddress: string; httpAddress: string; voter: boolean },
  ): Promise<readonly { nodeId: number; raftAddress: string; httpAddress: string }[]>
  remove(raftAddress: string, nodeId: number): Promise<void>
  /** Hands leadership to `to` (or the most up-to-date voter) on the leader; with `wait`, until done. */
  stepDown(raftAddress: string, request: { to?: number; wait: boolean }): Promise<void>
  backup(raftAddress: string): Promise<Uint8Array>
  load(raftAddress: string, body: Uint8Array): Promise<StatementResult[]>
  /** Contacts a node; rejects when it cannot be reached within the timeout. */
  probe(raftAddress: string, timeoutMs: number): Promise<{ version: string }>
}

export interface HttpOptions {
  readonly store: Store
  readonly forwarder: Forwarder
  readonly advertisedAddress: string
  readonly bodyBytesMax?: number
  readonly startedAt?: number
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

/** Builds the request handler without listening (tests call it in process; `listen` opens the port). */
export function createHandler(options: HttpOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { store, forwarder } = options
  const startedAt = options.startedAt ?? Date.now()
  const bodyBytesMax = options.bodyBytesMax ?? 64 * 1024 * 1024

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname
    const method = req.method ?? 'GET'
    if (method === 'OPTIONS') return send(res, 200, '')
    // Every request's parameters are validated as rqlite does, before routing (a bad one is a 400).
    const params = parseQueryParams(url.search)
    const started = process.hrtime.bigint()
    const respond = (results: StatementResult[], shape: 'query' | 'mixed') => {
      const totalSeconds = Number(process.hrtime.bigint() - started) / 1e9
      const body = encodeResponse(results, {
        associative: params.associative,
        blobArray: params.blobArray,
        pretty: params.pretty,
        endpointShape: shape,
        ...(params.timings ? { timings: { totalSeconds } } : {}),
      })
      send(res, 200, body, 'application/json; charset=utf-8')
    }
    if (path.startsWith('/db/execute')) {
      if (method !== 'POST') return send(res, 405, '')
      const statements = parseStatements(req.headers['content-type'], await readBody(req, bodyBytesMax))
      const transaction = params.transaction
      const outcome = await leaderOrForward(
        url,
        res,
        () => store.execute({ statements, transaction }),
        (leader) => forwarder.execute(leader, statements, transaction),
      )
      if (outcome) respond(outcome.value, 'mixed')
      return
    }
    if (path.startsWith('/db/query')) {
      if (method !== 'GET' && method !== 'POST') return send(res, 405, '')
      let statements: Batch
      if (method === 'GET') {
        if (params.q === undefined || params.q === '') throw new HttpError(400, 'query parameter not set')
        statements = [params.q]
      } else statements = parseStatements(req.headers['content-type'], await readBody(req, bodyBytesMax))
      const level: ReadLevel = params.level
      const transaction = params.transaction
      const freshnessMs = params.freshnessMs
      const request = {
        statements,
        level,
        transaction,
        ...(freshnessMs !== undefined ? { freshnessMs } : {}),
      }
      const outcome = await leaderOrForward(
        url,
        res,
        () => store.query(request),
        (leader) => forwarder.query(leader, request),
      )
      if (outcome) respond(outcome.value, 'query')
      return
    }
    if (path.startsWith('/db/backup')) {
      if (method !== 'GET') return send(res, 405, '')
      if (params.fmt !== 'binary')
        throw new HttpError(400, `fmt=${params.fmt} is not supported yet: use fmt=binary`)
      if (params.vacuum) throw new HttpError(400, 'vacuum is not supported yet')
      const outcome = await leaderOrForward(
        url,
        res,
        () => store.backup({ noLeader: params.noleader }),
        (leader) => forwarder.backup(leader),
      )
      if (!outcome) return
      const body = params.compress ? gzipSync(outcome.value) : outcome.value
      res.setHeader('Content-Type', 'application/octet-stream')
      res.statusCode = 200
      res.end(body)
      return
    }
    if (path.startsWith('/db/load')) {
      if (method !== 'POST') return send(res, 405, '')
      const body = await readBytes(req, bodyBytesMax)
      if (body.byteLength === 0) throw new HttpError(400, 'no data to load')
      const outcome = await leaderOrForward(
        url,
        res,
        () => store.load(body),
        (leader) => forwarder.load(leader, body),
      )
      if (outcome) respond(outcome.value, 'mixed')
      return
    }
    if (path.startsWith('/status')) return sendJson(res, statusDocument(url))
    if (path.startsWith('/nodes')) {
      const nodes = await probeNodes(params.nonvoters, params.timeoutMs ?? 30_000)
      if (params.ver === '2') return sendJson(res, { nodes })
      return sendJson(res, Object.fromEntries(nodes.map((node) => [node.id, node])))
    }
    if (path === '/leader') {
      if (method === 'GET') {
        const leader = store.leader()
        const nodes = leader ? await probeNodes(true, params.timeoutMs ?? 30_000) : []
        const node = nodes.find((n) => n.leader)
        if (!node) return send(res, 503, 'leader not found', 'text/plain; charset=utf-8')
        return sendJson(res, node)
      }
      if (method !== 'POST') return send(res, 405, '')
      const text = await readBody(req, bodyBytesMax)
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
        () => store.stepDown(request),
        (leader) => forwarder.stepDown(leader, request),
      )
      if (outcome) send(res, 200, '')
      return
    }
    if (path.startsWith('/readyz')) {
      if (url.searchParams.has('noleader')) return send(res, 200, '[+]node ok', 'text/plain; charset=utf-8')
      const ok = store.leader() !== undefined
      return send(
        res,
        ok ? 200 : 503,
        ok ? '[+]node ok\n[+]leader ok\n[+]store ok' : '[+]node ok\n[+]leader does not exist',
        'text/plain; charset=utf-8',
      )
    }
    if (path === '/join') {
      if (method !== 'POST') return send(res, 405, '')
      const body = parseJsonExact(await readBody(req, bodyBytesMax)) as Record<string, unknown>
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
      const members = outcome.value
      // rqlite answers an empty 200; the member list is TQLite's addition for joining nodes.
      return sendJson(res, {
        nodes: members.map((m) => ({ id: String(m.nodeId), addr: m.raftAddress, http_addr: m.httpAddress })),
      })
    }
    if (path.startsWith('/remove')) {
      if (method !== 'DELETE') return send(res, 405, '')
      const body = parseJsonExact(await readBody(req, bodyBytesMax)) as Record<string, unknown>
      const nodeId = Number(body.id)
      if (!Number.isSafeInteger(nodeId) || nodeId <= 0) throw new HttpError(400, 'invalid request')
      const outcome = await leaderOrForward(
        url,
        res,
        () => store.remove(nodeId),
        (leader) => forwarder.remove(leader, nodeId),
      )
      if (outcome) send(res, 200, '')
      return
    }
    send(res, 404, '')
  }

  /**
   * Runs `local` here, or on the leader through `forward` when this node is not the leader (rqlite's
   * transparent forwarding), or answers 301 with the leader's URL when the client asked for `redirect`.
   * Returns the value, or undefined when it already answered (the redirect).
   */
  async function leaderOrForward<T>(
    url: URL,
    res: ServerResponse,
    local: () => Promise<T>,
    forward: (leaderRaftAddress: string) => Promise<T>,
  ): Promise<{ value: T } | undefined> {
    try {
      return { value: await local() }
    } catch (error) {
      if (!(error instanceof NotLeaderError)) throw error
      if (url.searchParams.has('redirect')) {
        if (!error.leaderHttpAddress) throw new HttpError(500, 'leader address unknown')
        res.setHeader('Location', `http://${error.leaderHttpAddress}${url.pathname}${url.search}`)
        send(res, 301, '')
        return undefined
      }
      if (!error.leaderRaftAddress) throw new LeaderNotFoundError()
      return { value: await forward(error.leaderRaftAddress) }
    }
  }

  function statusDocument(url: URL): unknown {
    const status = store.status()
    const leader = store.leader()
    const doc = {
      build: { version },
      http: { bind_addr: options.advertisedAddress },
      node: {
        start_time: new Date(startedAt).toISOString(),
        uptime: `${((Date.now() - startedAt) / 1000).toFixed(3)}s`,
      },
      store: {
        node_id: String(store.nodeId),
        leader: { node_id: leader ? String(leader.id) : '', addr: leader?.meta?.raftAddress ?? '' },
        raft: {
          state: {
            leader: 'Leader',
            follower: 'Follower',
            candidate: 'Candidate',
            preCandidate: 'Candidate',
          }[status.role],
          term: status.term,
          commit_index: status.commit,
          applied_index: status.applied,
          last_log_index: status.lastIndex,
          last_snapshot_index: status.firstIndex - 1,
          voter: status.config.voters.includes(store.nodeId),
          num_peers: Math.max(0, status.config.voters.length - 1),
        },
      },
    }
    const key = url.searchParams.get('key')
    if (!key) return doc
    let node: unknown = doc
    for (const part of key.split('.')) {
      node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[part] : undefined
    }
    return node ?? {}
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
          time_s: `${(seconds * 1000).toFixed(3)}ms`,
          ...(error !== undefined ? { error } : {}),
        }
      }),
    )
  }

  return (req, res) => {
    res.setHeader('X-Tqlite-Version', version)
    res.setHeader('X-Rqlite-Version', version)
    res.setHeader('Access-Control-Allow-Methods', 'OPTIONS, GET, POST')
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type')
    const url = new URL(req.url ?? '/', 'http://localhost')
    const adminRoute = url.pathname === '/join' || url.pathname.startsWith('/remove')
    route(req, res, url).catch((error: unknown) => sendError(res, error, adminRoute))
  }
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
    return send(res, 503, error.message, 'text/plain; charset=utf-8')
  }
  if (error instanceof HttpError) return send(res, error.status, error.message, 'text/plain; charset=utf-8')
  if (error instanceof QueryParamError)
    return send(res, error.status, error.message, 'text/plain; charset=utf-8')
  if (error instanceof SyntaxError) return send(res, 400, 'invalid JSON body', 'text/plain; charset=utf-8')
  if (error instanceof LeaderNotFoundError)
    return send(res, 503, 'leader not found', 'text/plain; charset=utf-8')
  if (error instanceof MembershipError) return send(res, 400, error.message, 'text/plain; charset=utf-8')
  if (error instanceof StaleReadError) return sendJson(res, { results: [], error: 'stale read' })
  if (error instanceof UnknownOutcomeError || error instanceof StoreError) {
    return sendJson(res, { results: [], error: error.message, code: error.code })
  }
  send(res, 500, error instanceof Error ? error.message : String(error), 'text/plain; charset=utf-8')
}

function send(res: ServerResponse, status: number, body: string, contentType?: string): void {
  if (contentType) res.setHeader('Content-Type', contentType)
  res.statusCode = status
  res.end(body)
}

function sendJson(res: ServerResponse, value: unknown): void {
  send(res, 200, encodeJson(value), 'application/json; charset=utf-8')
}

async function readBody(req: IncomingMessage, bytesMax: number): Promise<string> {
  return (await readBytes(req, bytesMax)).toString('utf8')
}

function readBytes(req: IncomingMessage, bytesMax: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let bytes = 0
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.byteLength
      if (bytes > bytesMax) {
        reject(new HttpError(413, `request body larger than ${bytesMax} bytes`))
        req.destroy()
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

/** rqlite's request body grammar (rqlite-reference.md §1.3). */
function parseStatements(contentType: string | undefined, body: string): Batch {
  if (contentType?.startsWith('text/plain')) {
    if (body.trim() === '') throw new HttpError(400, 'no statements')
    return [body]
  }
  const value = parseJsonExact(body)
  if (!Array.isArray(value)) throw new HttpError(400, 'invalid request')
  const statements: Batch[number][] = []
  for (const item of value) {
    if (typeof item === 'string') {
      if (item.trim() !== '') statements.push(item)
      continue
    }
    if (Array.isArray(item) && typeof item[0] === 'string') {
      for (const param of item.slice(1)) {
        const ok =
          param === null ||
          ['number', 'string', 'boolean', 'bigint'].includes(typeof param) ||
          (typeof param === 'object' && !Array.isArray(param))
        if (!ok) throw new HttpError(400, `unsupported type ${JSON.stringify(param)}`)
      }
      statements.push(item as unknown as Batch[number])
      continue
    }
    throw new HttpError(400, 'invalid request')
  }
  if (statements.length === 0) throw new HttpError(400, 'no statements')
  return statements
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
