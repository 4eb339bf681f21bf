import { splitStatements } from '../db/statement-splitter.js'
import type { Batch } from '../db/types.js'
import { StoreError } from './errors.js'

/**
 * PRAGMAs that would change how this node stores or checkpoints its database, behind Raft's back (rqlite
 * refuses the same ones, rqlite-reference.md §1.7): setting `journal_mode`, `wal_autocheckpoint`,
 * `synchronous` or `query_only`, and any `wal_checkpoint`.
 */
const SETTING_REFUSED: ReadonlySet<string> = new Set([
  'JOURNAL_MODE',
  'WAL_AUTOCHECKPOINT',
  'SYNCHRONOUS',
  'QUERY_ONLY',
])

/** The whole request is refused before anything runs; rqlite's text, so clients that match it still do. */
export class DisallowedPragmaError extends StoreError {
  constructor(readonly pragma: string) {
    super('TQ_ERR_DISALLOWED_PRAGMA', 'disallowed pragma')
  }
}

/** Throws `DisallowedPragmaError` when any statement of the batch (any piece of a multi-statement string) is refused. */
export function checkPragmas(statements: Batch): void {
  for (const statement of statements) {
    const sql = typeof statement === 'string' ? statement : statement[0]
    // Cheap test first: almost no request holds a PRAGMA.
    if (!/pragma/i.test(sql)) continue
    for (const piece of splitStatements(sql)) {
      const [first, ...rest] = piece.leading
      if (first !== 'PRAGMA') continue
      // PRAGMA [schema.]name [= value | (value)]
      const named = rest[1] === '.' ? rest.slice(2) : rest
      const name = unquote(named[0] ?? '').toUpperCase()
      const setting = named[1] === '=' || named[1] === '('
      if (name === 'WAL_CHECKPOINT' || (setting && SETTING_REFUSED.has(name))) {
        throw new DisallowedPragmaError(name.toLowerCase())
      }
    }
  }
}

function unquote(token: string): string {
  const quote = token[0]
  if ((quote === '"' || quote === '`' || quote === "'") && token.endsWith(quote)) return token.slice(1, -1)
  if (quote === '[' && token.endsWith(']')) return token.slice(1, -1)
  return token
}
