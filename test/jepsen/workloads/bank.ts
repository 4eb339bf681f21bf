// Bank workload: a fixed total spread over a few accounts; clients transfer random amounts between two
// accounts in one transaction (a CHECK constraint makes an overdraft fail the whole transaction), and read
// every balance in one query at the workload's level. Every read must show all accounts, none negative,
// summing to the total.
import { type BankRead, checkBank } from '../checkers/bank.js'
import {
  History,
  executePath,
  post,
  queryPath,
  retry,
  rowsOf,
  runClients,
  slotError,
  sleep,
  executeUntilOk,
} from './client.js'
import type { Level, RunOptions, Workload, WorkloadReport } from './workload.js'

const readSql = 'SELECT id, balance FROM accounts ORDER BY id'

export class BankWorkload implements Workload {
  readonly name = 'bank'
  #level: Level
  readonly #history = new History()
  readonly #accounts: number[]
  readonly #total: number
  readonly #reads: BankRead[] = []
  readonly #timeoutMs: number | undefined
  #unexpected = 0
  #setupDone = false

  constructor(level: Level, options: { accounts?: number; balance?: number; timeoutMs?: number } = {}) {
    this.#level = level
    this.#accounts = Array.from({ length: options.accounts ?? 5 }, (_, i) => i + 1)
    const balance = options.balance ?? 100
    this.#total = balance * this.#accounts.length
    this.#timeoutMs = options.timeoutMs
  }

  async setup(endpoints: readonly string[]): Promise<void> {
    const balance = this.#total / this.#accounts.length
    // One transaction: either the table is created with every account, or nothing happened (or the table
    // already existed from an earlier attempt whose outcome was unknown, and the inserts are ignored).
    await executeUntilOk(
      endpoints,
      'bank setup',
      [
        'CREATE TABLE IF NOT EXISTS accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0))',
        ...this.#accounts.map((id) => [
          'INSERT OR IGNORE INTO accounts(id, balance) VALUES(?, ?)',
          id,
          balance,
        ]),
      ],
      true,
    )
    // A `none` read on a follower that has not applied the setup yet would see no accounts: wait (a while)
    // until every node has it, so that such a read can only be a snapshot taken after the setup.
    const deadline = Date.now() + 20_000
    for (const endpoint of endpoints) {
      while (Date.now() < deadline) {
        const outcome = await post(endpoint, queryPath('none'), [readSql], 2000)
        if (outcome.kind === 'ok' && rowsOf(outcome.results[0]).length === this.#accounts.length) break
        await sleep(100)
      }
    }
    this.#setupDone = true
  }

  async run(options: RunOptions): Promise<void> {
    this.#level = options.level
    if (!this.#setupDone) throw new Error('bank: run before setup')
    await runClients(options, async (context) => {
      const endpoint = context.node()
      if (context.random.chance(0.5)) {
        await this.#read(context.client, endpoint, this.#level)
        return
      }
      const from = context.random.pick(this.#accounts)
      let to = context.random.pick(this.#accounts)
      while (to === from) to = context.random.pick(this.#accounts)
      const amount = context.random.int(1, 20)
      const entry = this.#history.invoke(context.client, endpoint, 'transfer', { from, to, amount })
      const outcome = await post(
        endpoint,
        executePath(true),
        [
          ['UPDATE accounts SET balance = balance - ? WHERE id = ?', amount, from],
          ['UPDATE accounts SET balance = balance + ? WHERE id = ?', amount, to],
        ],
        this.#timeoutMs,
      )
      if (outcome.kind !== 'ok') {
        this.#history.end(entry, outcome.kind, undefined, outcome.reason)
        return
      }
      // An overdraft fails the CHECK: the transaction was applied as a whole failure.
      const error = slotError(outcome.results)
      this.#history.end(entry, error === undefined ? 'ok' : 'fail', undefined, error)
    })
  }

  async final(endpoints: readonly string[]): Promise<void> {
    await retry(endpoints, 'bank final read', async (endpoint) =>
      (await this.#read(-1, endpoint, 'linearizable')) ? { value: undefined } : { reason: 'read failed' },
    )
  }

  check(): WorkloadReport {
    const result = checkBank(this.#reads, {
      accounts: this.#accounts,
      total: this.#total,
      requireFinal: true,
    })
    const anomalies = [...result.anomalies]
    if (this.#unexpected > 0) anomalies.push(`${this.#unexpected} responses of an unexpected shape`)
    const transfers = this.#history.entries.filter((entry) => entry.f === 'transfer')
    return {
      ok: result.ok && this.#unexpected === 0,
      summary: {
        ...this.#history.counts(),
        transfers: transfers.length,
        transfersOk: transfers.filter((entry) => entry.type === 'ok').length,
        reads: result.reads,
        wrongSum: result.wrongSum,
        wrongAccounts: result.wrongAccounts,
        negative: result.negative,
        unexpectedResponses: this.#unexpected,
      },
      anomalies,
    }
  }

  history(): unknown[] {
    return this.#history.entries
  }

  async #read(client: number, endpoint: string, level: Level): Promise<boolean> {
    const entry = this.#history.invoke(client, endpoint, 'read', null)
    const outcome = await post(endpoint, queryPath(level), [readSql], this.#timeoutMs)
    if (outcome.kind === 'ok' && slotError(outcome.results) === undefined) {
      const rows = rowsOf(outcome.results[0])
      if (rows.every((row) => typeof row[0] === 'number' && typeof row[1] === 'number')) {
        const balances = rows.map((row) => [row[0] as number, row[1] as number] as const)
        this.#history.end(entry, 'ok', balances)
        this.#reads.push({
          id: entry.index,
          client,
          call: entry.call,
          ret: entry.ret!,
          balances,
          final: client < 0,
        })
        return true
      }
      this.#unexpected++
    }
    this.#history.end(
      entry,
      'fail',
      undefined,
      outcome.kind === 'ok' ? slotError(outcome.results) : outcome.reason,
    )
    return false
  }
}
