// Set workload: inserts of unique integers into a table without a uniqueness constraint (so an insert
// applied twice shows up as two rows), a few reads of the whole set during the run at the workload's
// level, and one final linearizable read that must hold every acknowledged insert exactly once.
import { type SetInsert, type SetRead, checkSetWorkload } from '../checkers/set.js'
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
import { writeVerdict } from './register.js'
import type { Level, RunOptions, Workload, WorkloadReport } from './workload.js'

const readSql = 'SELECT v FROM set_items'

export class SetWorkload implements Workload {
  readonly name = 'set'
  #level: Level
  readonly #history = new History()
  readonly #inserts: SetInsert[] = []
  readonly #reads: SetRead[] = []
  readonly #timeoutMs: number | undefined
  #finalRead: number[] | undefined
  #nextValue = 0
  #unexpected = 0

  constructor(level: Level, options: { timeoutMs?: number } = {}) {
    this.#level = level
    this.#timeoutMs = options.timeoutMs
  }

  async setup(endpoints: readonly string[]): Promise<void> {
    await executeUntilOk(endpoints, 'set setup', [
      'CREATE TABLE IF NOT EXISTS set_items (v INTEGER NOT NULL)',
    ])
  }

  async run(options: RunOptions): Promise<void> {
    this.#level = options.level
    await runClients(options, async (context) => {
      const endpoint = context.node()
      if (context.random.chance(0.05)) {
        await this.#read(context.client, endpoint, this.#level)
        return
      }
      const value = this.#nextValue++
      const entry = this.#history.invoke(context.client, endpoint, 'add', value)
      const outcome = await post(
        endpoint,
        executePath(false),
        [['INSERT INTO set_items(v) VALUES(?)', value]],
        this.#timeoutMs,
      )
      const verdict = writeVerdict(outcome)
      this.#history.end(entry, verdict.type, undefined, verdict.error)
      this.#inserts.push({ value, type: verdict.type, call: entry.call })
    })
  }

  async final(endpoints: readonly string[]): Promise<void> {
    await retry(endpoints, 'set final read', async (endpoint) => {
      const values = await this.#read(-1, endpoint, 'linearizable')
      if (values === undefined) return { reason: 'read failed' }
      this.#finalRead = values
      return { value: undefined }
    })
  }

  check(): WorkloadReport {
    const report = checkSetWorkload({
      inserts: this.#inserts,
      reads: this.#reads,
      finalRead: this.#finalRead,
    })
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

  async #read(client: number, endpoint: string, level: Level): Promise<number[] | undefined> {
    const entry = this.#history.invoke(client, endpoint, 'read', null)
    const outcome = await post(endpoint, queryPath(level), [readSql], this.#timeoutMs)
    if (outcome.kind === 'ok' && slotError(outcome.results) === undefined) {
      const values = rowsOf(outcome.results[0]).map((row) => row[0])
      if (values.every((value): value is number => typeof value === 'number')) {
        this.#history.end(entry, 'ok', values)
        if (client >= 0) this.#reads.push({ id: entry.index, call: entry.call, ret: entry.ret!, values })
        return values
      }
      this.#unexpected++
    }
    this.#history.end(
      entry,
      'fail',
      undefined,
      outcome.kind === 'ok' ? slotError(outcome.results) : outcome.reason,
    )
    return undefined
  }
}
