// List-append workload (Elle's): each key is a row holding a comma-joined list of integers; a transaction
// is one to four micro-operations, appends of unique values and reads of whole lists, sent as one
// request: appends only through /db/execute?transaction, reads only through /db/query?transaction at the
// workload's level, mixed ones through /db/request?transaction when the server has it, else through
// /db/execute?transaction with each read written as a no-op UPDATE ... RETURNING. Checked by the Elle-style
// cycle checker, with real-time edges at linearizable and strong.
import { type AppendTxn, type MicroOp, checkAppend, describeElle } from '../checkers/elle-append.js'
import {
  History,
  executePath,
  post,
  queryPath,
  retry,
  rowsOf,
  runClients,
  slotError,
  executeUntilOk,
} from './client.js'
import type { HistoryEntry, Level, RunOptions, Workload, WorkloadReport } from './workload.js'

export interface AppendOptions {
  readonly activeKeys?: number
  /** Appends to a key before it is retired for a fresh one (keeps lists, and the search, small). */
  readonly appendsPerKey?: number
  readonly maxTxnLength?: number
  readonly timeoutMs?: number
}

const appendSql =
  "INSERT INTO lists(k, v) VALUES(?, ?) ON CONFLICT(k) DO UPDATE SET v = lists.v || ',' || excluded.v"
const readSql = 'SELECT v FROM lists WHERE k = ?'
const readInWriteSql = 'UPDATE lists SET v = v WHERE k = ? RETURNING v'

export class AppendWorkload implements Workload {
  readonly name = 'append'
  #level: Level
  readonly #history = new History<readonly MicroOp[]>()
  readonly #txns: AppendTxn[] = []
  readonly #activeKeys: number
  readonly #appendsPerKey: number
  readonly #maxTxnLength: number
  readonly #timeoutMs: number | undefined
  readonly #keys: number[] = []
  readonly #appendsOnKey = new Map<number, number>()
  #nextKey = 0
  #nextValue = 1
  #unexpected = 0
  #requestEndpoint: boolean | undefined

  constructor(level: Level, options: AppendOptions = {}) {
    this.#level = level
    this.#activeKeys = options.activeKeys ?? 5
    this.#appendsPerKey = options.appendsPerKey ?? 32
    this.#maxTxnLength = options.maxTxnLength ?? 4
    this.#timeoutMs = options.timeoutMs
    for (let i = 0; i < this.#activeKeys; i++) this.#keys.push(this.#nextKey++)
  }

  async setup(endpoints: readonly string[]): Promise<void> {
    await executeUntilOk(endpoints, 'append setup', [
      'CREATE TABLE IF NOT EXISTS lists (k INTEGER PRIMARY KEY, v TEXT NOT NULL)',
    ])
    // Does the server have rqlite's unified endpoint? A 404 says no (any other answer says yes).
    this.#requestEndpoint = await retry(endpoints, 'append probe of /db/request', async (endpoint) => {
      const outcome = await post(endpoint, '/db/request?level=none', ['SELECT 1'], 5000)
      if (outcome.kind === 'fail' && outcome.reason.startsWith('HTTP 404')) return { value: false }
      if (outcome.kind === 'ok') return { value: true }
      return { reason: outcome.reason }
    })
  }

  async run(options: RunOptions): Promise<void> {
    this.#level = options.level
    if (this.#requestEndpoint === undefined) throw new Error('append: run before setup')
    await runClients(options, async (context) => {
      const length = context.random.int(1, this.#maxTxnLength)
      const ops: MicroOp[] = []
      for (let i = 0; i < length; i++) {
        const slot = context.random.int(0, this.#keys.length - 1)
        const key = this.#keys[slot]!
        if (context.random.chance(0.5)) {
          ops.push(['r', key, null])
          continue
        }
        ops.push(['append', key, this.#nextValue++])
        const count = (this.#appendsOnKey.get(key) ?? 0) + 1
        this.#appendsOnKey.set(key, count)
        if (count >= this.#appendsPerKey) this.#keys[slot] = this.#nextKey++
      }
      await this.#transact(context.client, context.node(), ops, this.#level)
    })
  }

  async final(endpoints: readonly string[]): Promise<void> {
    const keys = new Set<number>()
    for (const txn of this.#txns) for (const op of txn.ops) keys.add(op[1])
    const ops: MicroOp[] = [...keys].sort((a, b) => a - b).map((key) => ['r', key, null])
    await retry(endpoints, 'append final read', async (endpoint) => {
      const entry = this.#history.invoke(-1, endpoint, 'txn', ops)
      const outcome = await post(
        endpoint,
        queryPath('linearizable'),
        ['SELECT k, v FROM lists'],
        this.#timeoutMs,
      )
      if (outcome.kind === 'ok' && slotError(outcome.results) === undefined) {
        const lists = new Map<number, number[]>()
        for (const row of rowsOf(outcome.results[0])) {
          const list = parseList(row[1])
          if (typeof row[0] !== 'number' || list === undefined) {
            this.#unexpected++
            continue
          }
          lists.set(row[0], list)
        }
        const read = ops.map((op): MicroOp => ['r', op[1], lists.get(op[1]) ?? []])
        this.#history.end(entry, 'ok', read)
        this.#record(entry, read, true)
        return { value: undefined }
      }
      const reason = outcome.kind === 'ok' ? (slotError(outcome.results) ?? '') : outcome.reason
      this.#history.end(entry, 'fail', undefined, reason)
      return { reason }
    })
  }

  check(): WorkloadReport {
    const result = checkAppend(this.#txns, {
      realtime: this.#level === 'linearizable' || this.#level === 'strong',
    })
    const anomalies = result.ok ? [] : describeElle(result).split('\n')
    if (this.#unexpected > 0) anomalies.push(`${this.#unexpected} responses of an unexpected shape`)
    const summary: Record<string, number> = { ...this.#history.counts(), ...result.stats }
    for (const [type, count] of Object.entries(result.counts)) summary[type] = count
    summary.unexpectedResponses = this.#unexpected
    summary.finalReads = this.#txns.filter((txn) => txn.final).length
    if (summary.finalReads === 0) anomalies.push('no final read succeeded')
    return { ok: anomalies.length === 0, summary, anomalies }
  }

  history(): unknown[] {
    return this.#history.entries
  }

  async #transact(client: number, endpoint: string, ops: readonly MicroOp[], level: Level): Promise<void> {
    const entry = this.#history.invoke(client, endpoint, 'txn', ops)
    const reads = ops.filter((op) => op[0] === 'r').length
    let path: string
    let statements: unknown[]
    if (reads === 0) {
      path = executePath(true)
      statements = ops.map((op) => [appendSql, op[1], String(op[2])])
    } else if (reads === ops.length) {
      path = queryPath(level, true)
      statements = ops.map((op) => [readSql, op[1]])
    } else {
      path = this.#requestEndpoint ? `/db/request?transaction&level=${level}` : executePath(true)
      const read = this.#requestEndpoint ? readSql : readInWriteSql
      statements = ops.map((op) => (op[0] === 'r' ? [read, op[1]] : [appendSql, op[1], String(op[2])]))
    }
    const outcome = await post(endpoint, path, statements, this.#timeoutMs)
    if (outcome.kind !== 'ok') {
      this.#history.end(entry, outcome.kind, undefined, outcome.reason)
      this.#record(entry, ops, false)
      return
    }
    const error = slotError(outcome.results)
    if (error !== undefined || outcome.results.length !== ops.length) {
      // A statement failed inside the transaction, so all of it was rolled back.
      if (error === undefined) this.#unexpected++
      this.#history.end(entry, 'fail', undefined, error ?? 'wrong number of results')
      this.#record(entry, ops, false)
      return
    }
    const completed: MicroOp[] = []
    for (const [i, op] of ops.entries()) {
      if (op[0] === 'append') {
        completed.push(op)
        continue
      }
      const rows = rowsOf(outcome.results[i])
      const list = rows.length === 0 ? [] : parseList(rows[0]![0])
      if (list === undefined || rows.length > 1) {
        this.#unexpected++
        completed.push(op)
      } else completed.push(['r', op[1], list])
    }
    this.#history.end(entry, 'ok', completed)
    this.#record(entry, completed, false)
  }

  #record(entry: HistoryEntry, ops: readonly MicroOp[], final: boolean): void {
    const type = entry.type === 'pending' ? 'info' : entry.type
    this.#txns.push({
      id: entry.index,
      client: entry.client,
      type,
      call: entry.call,
      ret: entry.ret ?? Number.POSITIVE_INFINITY,
      // Reads of a transaction that failed or whose outcome is unknown returned nothing.
      ops: type === 'ok' ? ops : ops.map((op) => (op[0] === 'r' ? (['r', op[1], null] as const) : op)),
      ...(final ? { final } : {}),
    })
  }
}

/** The list stored in a row: comma-joined integers ('' or null for none), or undefined if malformed. */
export function parseList(value: unknown): number[] | undefined {
  if (value === null || value === '') return []
  if (typeof value === 'number') return [value]
  if (typeof value !== 'string') return undefined
  const list = value.split(',').map(Number)
  return list.every(Number.isSafeInteger) ? list : undefined
}
