// Register workload: reads, blind writes and compare-and-set on a few integer keys of one table, with
// unique values, checked per key for linearizability (or, at weak/none, for what those levels still
// promise). Keys are retired after a bounded number of operations, as Jepsen's independent keys are, so
// that each key's history stays small enough for the linearizability search.
import { HistoryRecorder } from '../../sim/checkers/history.js'
import { checkRegister } from '../checkers/register.js'
import {
  type ClientContext,
  History,
  type Outcome,
  executePath,
  post,
  queryPath,
  retry,
  rowsOf,
  runClients,
  slotError,
  executeUntilOk,
} from './client.js'
import type { Level, RunOptions, Workload, WorkloadReport } from './workload.js'

/** Indeterminate writes on one key before it is retired (see #pickKey). */
const INDETERMINATE_PER_KEY_MAX = 6

export interface RegisterOptions {
  /** Keys in use at once. */
  readonly activeKeys?: number
  /** Operations on a key before it is retired for a fresh one. */
  readonly opsPerKey?: number
  readonly timeoutMs?: number
  /** Table name (default `registers`), so that runs can share a cluster. */
  readonly table?: string
}

function statements(table: string) {
  return {
    create: `CREATE TABLE IF NOT EXISTS ${table} (k INTEGER PRIMARY KEY, v TEXT)`,
    read: `SELECT v FROM ${table} WHERE k = ?`,
    write: `INSERT INTO ${table}(k, v) VALUES(?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`,
    casFromNull: `INSERT INTO ${table}(k, v) VALUES(?, ?) ON CONFLICT(k) DO NOTHING`,
    cas: `UPDATE ${table} SET v = ? WHERE k = ? AND v = ?`,
  }
}

export class RegisterWorkload implements Workload {
  readonly name = 'register'
  #level: Level
  readonly #recorder = new HistoryRecorder()
  readonly #history = new History()
  readonly #activeKeys: number
  readonly #opsPerKey: number
  readonly #infoOnKey = new Map<number, number>()
  readonly #timeoutMs: number | undefined
  readonly #keys: number[] = []
  readonly #opsOnKey = new Map<number, number>()
  readonly #lastSeen = new Map<number, string | null>()
  readonly #sql: ReturnType<typeof statements>
  #nextKey = 0
  #nextValue = 0
  #unexpected = 0

  constructor(level: Level, options: RegisterOptions = {}) {
    this.#level = level
    this.#activeKeys = options.activeKeys ?? 3
    this.#opsPerKey = options.opsPerKey ?? 120
    this.#timeoutMs = options.timeoutMs
    this.#sql = statements(options.table ?? 'registers')
    for (let i = 0; i < this.#activeKeys; i++) this.#keys.push(this.#nextKey++)
  }

  async setup(endpoints: readonly string[]): Promise<void> {
    await executeUntilOk(endpoints, 'register setup', [this.#sql.create])
  }

  async run(options: RunOptions): Promise<void> {
    this.#level = options.level
    await runClients(options, (context) => this.#operation(context))
  }

  async final(endpoints: readonly string[]): Promise<void> {
    const keys = [...this.#opsOnKey.keys()].sort((a, b) => a - b)
    for (const key of keys) {
      await retry(endpoints, `register final read of key ${key}`, async (endpoint) => {
        const ok = await this.#read(-1, endpoint, key, 'linearizable')
        return ok ? { value: undefined } : { reason: 'read failed' }
      })
    }
  }

  check(): WorkloadReport {
    const report = checkRegister(this.#recorder.history(), this.#level)
    const anomalies = [...report.anomalies]
    if (this.#unexpected > 0) anomalies.push(`${this.#unexpected} responses of an unexpected shape`)
    return {
      ok: report.ok && this.#unexpected === 0,
      summary: { ...this.#history.counts(), ...report.summary, unexpectedResponses: this.#unexpected },
      anomalies,
    }
  }

  history(): unknown[] {
    return this.#history.entries
  }

  #pickKey(context: ClientContext): number {
    const slot = context.random.int(0, this.#keys.length - 1)
    const key = this.#keys[slot]!
    const count = (this.#opsOnKey.get(key) ?? 0) + 1
    this.#opsOnKey.set(key, count)
    // Indeterminate writes each multiply the linearizability search (each may or may not have happened, at
    // any later point), so a key that collected a few is retired early, as Jepsen bounds ops per key.
    if (count >= this.#opsPerKey || (this.#infoOnKey.get(key) ?? 0) >= INDETERMINATE_PER_KEY_MAX)
      this.#keys[slot] = this.#nextKey++
    return key
  }

  async #operation(context: ClientContext): Promise<void> {
    const key = this.#pickKey(context)
    const endpoint = context.node()
    const roll = context.random.float()
    if (roll < 0.5) {
      await this.#read(context.client, endpoint, key, this.#level)
      return
    }
    const value = `${key}:${this.#nextValue++}`
    if (roll < 0.75) await this.#write(context.client, endpoint, key, value)
    else await this.#cas(context.client, endpoint, key, this.#lastSeen.get(key) ?? null, value)
  }

  /** Returns whether the read got an answer. */
  async #read(client: number, endpoint: string, key: number, level: Level): Promise<boolean> {
    const entry = this.#history.invoke(client, endpoint, 'read', { key })
    const id = this.#recorder.invoke(client, String(key), 'read', null, entry.call)
    const outcome = await post(endpoint, queryPath(level), [[this.#sql.read, key]], this.#timeoutMs)
    if (outcome.kind === 'ok' && slotError(outcome.results) === undefined) {
      const rows = rowsOf(outcome.results[0])
      const value = rows[0]?.[0] ?? null
      if (rows.length <= 1 && (value === null || typeof value === 'string')) {
        this.#history.end(entry, 'ok', { key, value })
        this.#recorder.complete(id, value, entry.ret!)
        this.#lastSeen.set(key, value)
        return true
      }
      this.#unexpected++
    }
    // A read without an answer tells nothing: it is dropped from the checked history.
    this.#history.end(entry, 'fail', undefined, reasonOf(outcome))
    this.#recorder.fail(id)
    return false
  }

  async #write(client: number, endpoint: string, key: number, value: string): Promise<void> {
    const entry = this.#history.invoke(client, endpoint, 'write', { key, value })
    const id = this.#recorder.invoke(client, String(key), 'write', value, entry.call)
    const outcome = await post(endpoint, executePath(false), [[this.#sql.write, key, value]], this.#timeoutMs)
    const verdict = writeVerdict(outcome)
    this.#history.end(entry, verdict.type, undefined, verdict.error)
    if (verdict.type === 'ok') {
      this.#recorder.complete(id, null, entry.ret!)
      this.#lastSeen.set(key, value)
    } else if (verdict.type === 'fail') this.#recorder.fail(id)
    else this.#indeterminate(id, key)
  }

  #indeterminate(id: number, key: number): void {
    this.#recorder.indeterminate(id)
    this.#infoOnKey.set(key, (this.#infoOnKey.get(key) ?? 0) + 1)
  }

  async #cas(
    client: number,
    endpoint: string,
    key: number,
    expected: string | null,
    next: string,
  ): Promise<void> {
    const entry = this.#history.invoke(client, endpoint, 'cas', { key, expected, next })
    const id = this.#recorder.invoke(client, String(key), 'cas', { expected, next }, entry.call)
    const statement =
      expected === null ? [this.#sql.casFromNull, key, next] : [this.#sql.cas, next, key, expected]
    const outcome = await post(endpoint, executePath(false), [statement], this.#timeoutMs)
    const verdict = writeVerdict(outcome)
    if (verdict.type === 'ok' && outcome.kind === 'ok') {
      const affected = outcome.results[0]?.rows_affected ?? 0
      if (affected === 0 || affected === 1) {
        const ok = affected === 1
        this.#history.end(entry, 'ok', { key, expected, next, ok })
        this.#recorder.complete(id, { ok }, entry.ret!)
        if (ok) this.#lastSeen.set(key, next)
        return
      }
      this.#unexpected++
      this.#history.end(entry, 'info', undefined, `rows_affected ${affected}`)
      this.#indeterminate(id, key)
      return
    }
    this.#history.end(entry, verdict.type, undefined, verdict.error)
    if (verdict.type === 'fail') this.#recorder.fail(id)
    else this.#indeterminate(id, key)
  }
}

/**
 * The outcome of a one-statement write: acknowledged, definitely not applied (including a statement that
 * ran and failed with an SQL error, which changes nothing), or unknown.
 */
export function writeVerdict(outcome: Outcome): { type: 'ok' | 'fail' | 'info'; error?: string } {
  if (outcome.kind !== 'ok') return { type: outcome.kind, error: outcome.reason }
  const error = slotError(outcome.results)
  return error === undefined ? { type: 'ok' } : { type: 'fail', error }
}

function reasonOf(outcome: Outcome): string {
  if (outcome.kind !== 'ok') return outcome.reason
  return slotError(outcome.results) ?? 'unexpected response'
}
