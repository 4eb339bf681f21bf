// HTTP client for the workloads: one request per operation, with its outcome classified as Jepsen does
// (ok / definite failure / unknown), plus the client loop, the shared clock and the retry helper.
import { performance } from 'node:perf_hooks'
import { Prng } from '../../sim/prng.js'
import type { HistoryEntry, Level } from './workload.js'

/** One statement slot of a response, as rqlite encodes it. */
export interface ResultSlot {
  readonly error?: string
  readonly columns?: readonly string[]
  readonly values?: readonly (readonly unknown[])[]
  readonly rows_affected?: number
  readonly last_insert_id?: number
}

/**
 * `ok`: HTTP 200 with results (individual slots may still carry SQL errors). `fail`: the request definitely
 * did not take effect (never sent, no leader, proposal dropped, rejected as malformed). `info`: it may or
 * may not have taken effect (timeout, connection lost after sending, unknown outcome, forwarded failure).
 */
export type Outcome =
  | { readonly kind: 'ok'; readonly results: readonly ResultSlot[] }
  | { readonly kind: 'fail'; readonly reason: string }
  | { readonly kind: 'info'; readonly reason: string }

export const defaultTimeoutMs = 5000

/** Whole-request error codes that mean the request was never applied. */
const definiteFailureCodes = new Set([
  'TQ_ERR_PROPOSAL_DROPPED',
  'TQ_ERR_LEADER_UNREACHABLE',
  'TQ_ERR_LEADER_NOT_FOUND',
  'TQ_ERR_NOT_LEADER',
  'TQ_ERR_STALE_READ',
  'TQ_ERR_READ_TIMEOUT',
  'TQ_ERR_APPLY_TIMEOUT',
])

/** Socket errors raised before any byte of the request could have been sent. */
const neverSentCodes = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND'])

function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (typeof e === 'object' && 'code' in e && typeof e.code === 'string') return e.code
    e = typeof e === 'object' && 'cause' in e ? e.cause : undefined
  }
  return undefined
}

function describeError(error: unknown): string {
  const code = errorCode(error)
  const message = error instanceof Error ? error.message : String(error)
  return code ? `${message} (${code})` : message
}

/** Classifies an HTTP response (status and body) from an execute/query endpoint. */
export function classifyResponse(status: number, body: string): Outcome {
  if (status === 503 && body.includes('leader not found')) return { kind: 'fail', reason: 'leader not found' }
  if (status >= 400 && status < 500) return { kind: 'fail', reason: `HTTP ${status}: ${body.slice(0, 200)}` }
  if (status !== 200) return { kind: 'info', reason: `HTTP ${status}: ${body.slice(0, 200)}` }
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return { kind: 'info', reason: `unparsable body: ${body.slice(0, 200)}` }
  }
  if (typeof parsed !== 'object' || parsed === null) return { kind: 'info', reason: 'body is not an object' }
  const doc = parsed as { results?: unknown; error?: unknown; code?: unknown }
  if (typeof doc.error === 'string' && doc.error !== '') {
    const code = typeof doc.code === 'string' ? doc.code : ''
    const reason = code ? `${doc.error} (${code})` : doc.error
    if (definiteFailureCodes.has(code) || doc.error === 'leader not found' || doc.error === 'not leader') {
      return { kind: 'fail', reason }
    }
    return { kind: 'info', reason }
  }
  if (!Array.isArray(doc.results)) return { kind: 'info', reason: 'no results in body' }
  return { kind: 'ok', results: doc.results as ResultSlot[] }
}

/** POSTs a JSON body to `endpoint + path` and classifies the outcome; never throws. */
export async function post(
  endpoint: string,
  path: string,
  body: unknown,
  timeoutMs = defaultTimeoutMs,
): Promise<Outcome> {
  let response: Response
  try {
    response = await fetch(`${endpoint}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    })
  } catch (error) {
    const code = errorCode(error)
    if (code !== undefined && neverSentCodes.has(code)) return { kind: 'fail', reason: describeError(error) }
    return { kind: 'info', reason: describeError(error) }
  }
  let text: string
  try {
    text = await response.text()
  } catch (error) {
    return { kind: 'info', reason: `body lost: ${describeError(error)}` }
  }
  return classifyResponse(response.status, text)
}

export function executePath(transaction: boolean): string {
  return transaction ? '/db/execute?transaction' : '/db/execute'
}

export function queryPath(level: Level, transaction = false): string {
  return `/db/query?level=${level}${transaction ? '&transaction' : ''}`
}

/** The rows of a query slot (`values` is omitted when there are none). */
export function rowsOf(slot: ResultSlot | undefined): readonly (readonly unknown[])[] {
  return slot?.values ?? []
}

/** The first SQL error among the slots, if any. */
export function slotError(results: readonly ResultSlot[]): string | undefined {
  return results.find((slot) => typeof slot.error === 'string')?.error
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Runs `attempt` against the endpoints in turn until it returns a value, for up to `timeoutMs`; throws
 * with the last reason when time runs out.
 */
export async function retry<T>(
  endpoints: readonly string[],
  what: string,
  attempt: (endpoint: string) => Promise<{ value: T } | { reason: string }>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last = 'no attempt'
  for (let i = 0; ; i++) {
    const endpoint = endpoints[i % endpoints.length]!
    const result = await attempt(endpoint)
    if ('value' in result) return result.value
    last = `${endpoint}: ${result.reason}`
    if (Date.now() > deadline) throw new Error(`${what}: gave up after ${timeoutMs}ms; last: ${last}`)
    await sleep(Math.min(500, 50 * (i + 1)))
  }
}

/**
 * Sends `statements` to /db/execute (with `transaction` when asked), on one node after another, until a
 * node answers with no error: the workloads' table setup. Setup statements are idempotent, so a retry after
 * an unknown outcome is harmless.
 */
export function executeUntilOk(
  endpoints: readonly string[],
  what: string,
  statements: readonly unknown[],
  transaction = false,
): Promise<void> {
  return retry(endpoints, what, async (endpoint) => {
    const outcome = await post(endpoint, executePath(transaction), statements)
    if (outcome.kind !== 'ok') return { reason: outcome.reason }
    const error = slotError(outcome.results)
    return error === undefined ? { value: undefined } : { reason: error }
  })
}

/** Records the history of one workload run on a shared monotonic clock (ms since creation). */
export class History<Value = unknown> {
  readonly #epoch = performance.now()
  readonly entries: HistoryEntry[] = []

  now(): number {
    return Math.round((performance.now() - this.#epoch) * 1000) / 1000
  }

  invoke(client: number, node: string, f: string, value: Value): HistoryEntry {
    const entry: HistoryEntry = {
      index: this.entries.length,
      client,
      node,
      f,
      call: this.now(),
      ret: null,
      type: 'pending',
      value,
    }
    this.entries.push(entry)
    return entry
  }

  /** Ends `entry` with the classified outcome; `ok` takes the value learnt (output). */
  end(entry: HistoryEntry, type: 'ok' | 'fail' | 'info', value?: Value, error?: string): void {
    if (entry.type !== 'pending') throw new Error(`history entry ${entry.index} already ended`)
    entry.type = type
    entry.ret = type === 'info' ? null : this.now()
    if (value !== undefined) entry.value = value
    if (error !== undefined) entry.error = error
  }

  counts(): Record<string, number> {
    const counts: Record<string, number> = { ok: 0, fail: 0, info: 0 }
    for (const entry of this.entries) {
      const type = entry.type === 'pending' ? 'info' : entry.type
      counts[type] = (counts[type] ?? 0) + 1
    }
    return counts
  }
}

export interface ClientContext {
  readonly client: number
  readonly random: Prng
  /** A random endpoint for the next operation. */
  node(): string
}

/**
 * Runs `clients` loops, each doing one operation at a time against a random endpoint until `signal`
 * aborts; resolves when every in-flight operation has settled. Each client draws from its own PRNG stream.
 */
export async function runClients(
  options: { endpoints: readonly string[]; clients: number; seed: number; signal: AbortSignal },
  operation: (context: ClientContext) => Promise<void>,
): Promise<void> {
  const { endpoints, signal } = options
  if (endpoints.length === 0) throw new Error('no endpoints')
  const loops = Array.from({ length: options.clients }, async (_, client) => {
    const random = new Prng(options.seed, `client-${client}`)
    const context: ClientContext = { client, random, node: () => random.pick(endpoints) }
    while (!signal.aborted) {
      await operation(context)
      // A short random pause keeps clients from running in lock step and leaves CPU to the nodes.
      if (!signal.aborted) await sleep(random.int(0, 5))
    }
  })
  await Promise.all(loops)
}
