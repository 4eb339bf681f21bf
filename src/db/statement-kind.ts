/**
 * Classifies a statement from its first tokens (see `SplitStatement.leading`), for the few decisions that
 * `stmt.reader`/`stmt.readonly` cannot make: statements that end or start transactions, and statements that
 * change the connection rather than the data (PRAGMA settings, ATTACH, DETACH, VACUUM). Both kinds must not
 * run inside the transaction the executor wraps a batch in, and must never run on the query path, where they
 * would change one replica's connection and not the others'.
 */

export type StatementKind =
  /** BEGIN, COMMIT, END, ROLLBACK (not ROLLBACK TO, which stays inside a transaction). */
  | 'transactionControl'
  /** A PRAGMA that sets something, ATTACH, DETACH, VACUUM: not allowed in a transaction or a query. */
  | 'connectionChange'
  /** SELECT, WITH, VALUES, EXPLAIN, or a PRAGMA that only reads: may run on the query path. */
  | 'read'
  /** Everything else (DDL, DML, SAVEPOINT, RELEASE, ...). */
  | 'other'

/** PRAGMAs whose `(argument)` names an object or a limit to inspect instead of setting a value. */
const INSPECTING_PRAGMAS: ReadonlySet<string> = new Set([
  'TABLE_INFO',
  'TABLE_XINFO',
  'TABLE_LIST',
  'INDEX_INFO',
  'INDEX_XINFO',
  'INDEX_LIST',
  'FOREIGN_KEY_LIST',
  'FOREIGN_KEY_CHECK',
  'INTEGRITY_CHECK',
  'QUICK_CHECK',
])

export function statementKind(leading: readonly string[]): StatementKind {
  const [first, second, third] = leading
  switch (first) {
    case 'BEGIN':
    case 'COMMIT':
    case 'END':
      return 'transactionControl'
    case 'ROLLBACK':
      return second === 'TO' || (second === 'TRANSACTION' && third === 'TO') ? 'other' : 'transactionControl'
    case 'ATTACH':
    case 'DETACH':
    case 'VACUUM':
      return 'connectionChange'
    case 'PRAGMA':
      return isPragmaSetter(leading) ? 'connectionChange' : 'read'
    case 'EXPLAIN': {
      // EXPLAIN runs nothing, but compiling `EXPLAIN PRAGMA x = y` already applies the setting.
      const explained = statementKind(leading.slice(second === 'QUERY' && third === 'PLAN' ? 3 : 1))
      return explained === 'transactionControl' || explained === 'connectionChange'
        ? 'connectionChange'
        : 'read'
    }
    case 'SELECT':
    case 'WITH':
    case 'VALUES':
      return 'read'
    default:
      return 'other'
  }
}

/** `PRAGMA [schema.]name = value` and `PRAGMA [schema.]name(value)` set; a bare name or an inspection reads. */
function isPragmaSetter(leading: readonly string[]): boolean {
  const hasSchema = leading[2] === '.'
  const name = leading[hasSchema ? 3 : 1]
  const after = leading[hasSchema ? 4 : 2]
  if (after === '=') return true
  if (after === '(') return name === undefined || !INSPECTING_PRAGMAS.has(name)
  return false
}
