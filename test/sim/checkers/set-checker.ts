/**
 * Checker for the set workload (docs/testing.md §4.e): clients insert unique values into a table
 * without a UNIQUE constraint, so that an insert applied twice shows up as a duplicate row rather
 * than an error; after the cluster heals, one final read returns every row.
 *
 * Acknowledged inserts must be present exactly once. Indeterminate inserts may be present (at
 * most once) or absent. Anything else is unexpected: an insert that definitely failed is not
 * listed at all, so a value that shows up anyway is reported there too.
 */

export interface SetHistory<Value> {
  /** Values whose insert was acknowledged. */
  readonly acknowledged: Iterable<Value>
  /** Values whose insert has an unknown outcome (timeout, connection lost). */
  readonly indeterminate: Iterable<Value>
  /** Every row of the final read, duplicates included. */
  readonly finalRead: readonly Value[]
}

export interface SetDuplicate<Value> {
  readonly value: Value
  readonly count: number
}

export interface SetCheckResult<Value> {
  readonly ok: boolean
  /** Acknowledged but missing from the final read, in acknowledgement order. */
  readonly lost: readonly Value[]
  /** Present more than once, in order of first appearance in the final read. */
  readonly duplicated: readonly SetDuplicate<Value>[]
  /** Never attempted (or definitely failed) but present, in order of first appearance. */
  readonly unexpected: readonly Value[]
  /** Indeterminate inserts that turned out to be applied. */
  readonly recovered: number
  /** Indeterminate inserts that are absent, which is allowed. */
  readonly absentIndeterminate: number
}

/** Values are compared as `Map` keys do (SameValueZero), so use strings or numbers. */
export function checkSet<Value>(history: SetHistory<Value>): SetCheckResult<Value> {
  const counts = new Map<Value, number>()
  for (const value of history.finalRead) counts.set(value, (counts.get(value) ?? 0) + 1)

  const acknowledged = new Set(history.acknowledged)
  // A value both acknowledged and indeterminate (e.g. a retry that got an answer) must be present.
  const indeterminate = new Set([...history.indeterminate].filter((value) => !acknowledged.has(value)))

  const lost = [...acknowledged].filter((value) => !counts.has(value))
  const duplicated: SetDuplicate<Value>[] = []
  const unexpected: Value[] = []
  for (const [value, count] of counts) {
    if (count > 1) duplicated.push({ value, count })
    if (!acknowledged.has(value) && !indeterminate.has(value)) unexpected.push(value)
  }
  let recovered = 0
  for (const value of indeterminate) if (counts.has(value)) recovered++

  return {
    ok: lost.length === 0 && duplicated.length === 0 && unexpected.length === 0,
    lost,
    duplicated,
    unexpected,
    recovered,
    absentIndeterminate: indeterminate.size - recovered,
  }
}

/** One line per problem, for test failure messages and simulator output. */
export function describeSetCheck<Value>(result: SetCheckResult<Value>): string {
  if (result.ok) {
    return `set ok (${result.recovered} indeterminate inserts applied, ${result.absentIndeterminate} absent)`
  }
  const text = (value: Value): string => JSON.stringify(value) ?? String(value)
  const lines: string[] = []
  if (result.lost.length > 0) lines.push(`lost ${result.lost.length}: ${result.lost.map(text).join(', ')}`)
  if (result.duplicated.length > 0) {
    lines.push(
      `duplicated ${result.duplicated.length}: ${result.duplicated.map((d) => `${text(d.value)} x${d.count}`).join(', ')}`,
    )
  }
  if (result.unexpected.length > 0) {
    lines.push(`unexpected ${result.unexpected.length}: ${result.unexpected.map(text).join(', ')}`)
  }
  return lines.join('\n')
}
