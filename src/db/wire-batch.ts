import { BadStatementError, DbError } from './errors.js'
import type { WireStatement } from './executor.js'
import type { Batch, NamedParams, ParamValue } from './types.js'

/** Checks rqlite's statement grammar and converts to the wire form; malformed shapes reject the request. */
export function toWireBatch(batch: Batch): WireStatement[] {
  if (!Array.isArray(batch)) throw new DbError('TQ_ERR_DB_BAD_STATEMENT', 'the batch must be an array')
  return batch.map((statement: unknown, i): WireStatement => {
    if (typeof statement === 'string') return { sql: statement, positional: [] }
    if (!Array.isArray(statement)) throw new BadStatementError(i, 'must be a string or an array')
    const sql: unknown = statement[0]
    if (typeof sql !== 'string') throw new BadStatementError(i, 'the first element must be the SQL string')
    const positional: ParamValue[] = []
    let named: Record<string, ParamValue> | undefined
    // By index, not `[sql, ...params]`: a thousand-row batch made a rest array per row.
    for (let p = 1; p < statement.length; p++) {
      const param: unknown = statement[p]
      if (isParamValue(param)) {
        positional.push(param)
      } else if (isPlainObject(param)) {
        named ??= {}
        for (const [name, value] of Object.entries(param)) {
          if (!isParamValue(value))
            throw new BadStatementError(i, `named parameter ${name}: unsupported type`)
          named[name] = value
        }
      } else {
        throw new BadStatementError(i, `unsupported parameter type ${describeType(param)}`)
      }
    }
    const namedParams: NamedParams | undefined = named
    return namedParams === undefined ? { sql, positional } : { sql, positional, named: namedParams }
  })
}

function isParamValue(value: unknown): value is ParamValue {
  return (
    value === null ||
    typeof value === 'number' ||
    typeof value === 'bigint' ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    value instanceof Uint8Array
  )
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

function describeType(value: unknown): string {
  if (Array.isArray(value)) return 'array'
  if (value === undefined) return 'undefined'
  return typeof value
}
