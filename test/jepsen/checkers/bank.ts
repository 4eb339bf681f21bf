/**
 * Bank checker: transfers move money between a fixed set of accounts inside one transaction each, so
 * every read of all balances, at any read level, is a snapshot of some committed state (a stale snapshot
 * is still consistent): it must list exactly the accounts, none negative, summing to the total.
 */

export interface BankRead {
  readonly id: number
  readonly client: number
  readonly call: number
  readonly ret: number
  /** [account id, balance] rows as read. */
  readonly balances: readonly (readonly [number, number])[]
  readonly final?: boolean
}

export interface BankCheckResult {
  readonly ok: boolean
  readonly reads: number
  readonly wrongSum: number
  readonly wrongAccounts: number
  readonly negative: number
  /** A final read was expected but none was recorded. */
  readonly missingFinal: boolean
  readonly anomalies: readonly string[]
}

export function checkBank(
  reads: readonly BankRead[],
  options: { readonly accounts: readonly number[]; readonly total: number; readonly requireFinal?: boolean },
): BankCheckResult {
  const expected = [...options.accounts].sort((a, b) => a - b).join(',')
  const anomalies: string[] = []
  let wrongSum = 0
  let wrongAccounts = 0
  let negative = 0
  for (const read of reads) {
    const what = `read #${read.id} (client ${read.client}${read.final ? ', final' : ''}) [${read.call}, ${read.ret}]`
    const ids = read.balances.map(([id]) => id).sort((a, b) => a - b)
    if (ids.join(',') !== expected) {
      wrongAccounts++
      anomalies.push(`wrong accounts: ${what} saw accounts [${ids.join(', ')}], expected [${expected}]`)
    }
    const sum = read.balances.reduce((total, [, balance]) => total + balance, 0)
    if (sum !== options.total) {
      wrongSum++
      anomalies.push(`wrong total: ${what} summed to ${sum}, expected ${options.total}: ${describe(read)}`)
    }
    const below = read.balances.filter(([, balance]) => balance < 0 || !Number.isInteger(balance))
    if (below.length > 0) {
      negative++
      anomalies.push(`negative or invalid balance: ${what}: ${describe(read)}`)
    }
  }
  const missingFinal = options.requireFinal === true && !reads.some((read) => read.final)
  if (missingFinal) anomalies.push('no final read succeeded')
  return {
    ok: anomalies.length === 0,
    reads: reads.length,
    wrongSum,
    wrongAccounts,
    negative,
    missingFinal,
    anomalies,
  }
}

function describe(read: BankRead): string {
  return read.balances.map(([id, balance]) => `${id}:${balance}`).join(' ')
}
