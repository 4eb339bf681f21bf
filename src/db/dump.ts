/**
 * SQL-text dump of a database in the style of the sqlite3 shell's `.dump` (and rqlite's `fmt=sql`). Runs
 * synchronously inside the db worker. The text is meant to be loaded back through `execute` as one string
 * (that is how `/db/load` runs SQL text), so every value must reload bit-identical and every statement must
 * survive our statement splitter.
 *
 * Layout, as the shell writes it: `PRAGMA foreign_keys=OFF; BEGIN TRANSACTION;`, then each table in
 * `sqlite_schema` order (its CREATE, then its rows), `sqlite_sequence` last among the tables, then views,
 * triggers and indexes (views first so INSTEAD OF triggers find them; triggers after the rows so loading
 * does not fire them), then `COMMIT;`.
 */

import { META_TABLE } from './executor.js'
import type { SqliteDatabase } from './sqlite-port.js'

export interface DumpRunOptions {
  /** Only these tables (and their indexes and triggers, and views named here); ASCII case-insensitive. */
  readonly tables?: readonly string[]
  /** Called every `progressEveryRows` rows and after each table. */
  readonly onProgress?: (rowsDumped: number, tablesDone: number, tablesTotal: number) => void
  readonly progressEveryRows?: number
  /** Replaces the value encoder; only tests use it (to show that a lossy encoder is caught). */
  readonly literal?: (value: unknown) => string
}

interface SchemaRow {
  readonly name: string
  readonly type: string
  readonly tblName: string
  readonly sql: string
}

const DEFAULT_PROGRESS_ROWS = 100_000
/** Pieces of text are joined when the pending list reaches this many characters (fewer, bigger strings). */
const CHUNK_CHARS = 1 << 20

export function dumpDatabase(db: SqliteDatabase, options: DumpRunOptions = {}): string {
  const literal = options.literal ?? sqlLiteral
  const filter = options.tables === undefined ? null : new Set(options.tables.map(foldAscii))
  const kinds = tableKinds(db)
  // Never dumped: the applied index belongs to this replica's log position, and a load into a fresh
  // database would collide with the `_tqlite_meta` it already has; shadow tables are rebuilt by their
  // virtual table when its rows are inserted.
  const isHidden = (name: string): boolean => foldAscii(name) === META_TABLE || kinds.get(name) === 'shadow'
  const wanted = (name: string): boolean => filter === null || filter.has(foldAscii(name))

  const schema = readSchema(
    db,
    `SELECT name, type, tbl_name, sql FROM sqlite_schema WHERE sql NOT NULL AND type = 'table'
     ORDER BY tbl_name = 'sqlite_sequence', rowid`,
  )
  const tables = schema.filter((row) => {
    if (row.name === 'sqlite_sequence') return true
    if (/^sqlite_stat\d$/.test(row.name)) return filter === null
    if (row.name.startsWith('sqlite_')) return false
    return !isHidden(row.name) && wanted(row.name)
  })
  const selected = new Set(
    tables.filter((row) => !row.name.startsWith('sqlite_')).map((row) => foldAscii(row.name)),
  )
  const hasAutoincrement = tables.some(
    (row) => !row.name.startsWith('sqlite_') && /\bAUTOINCREMENT\b/i.test(row.sql),
  )

  const out = new TextBuilder()
  out.add('PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n')
  let rowsDumped = 0
  let tablesDone = 0
  let nextReport = options.progressEveryRows ?? DEFAULT_PROGRESS_ROWS
  const everyRows = nextReport
  const report = (): void => options.onProgress?.(rowsDumped, tablesDone, tables.length)
  let analyzed = false

  for (const table of tables) {
    let where: ((row: readonly unknown[]) => boolean) | null = null
    if (table.name === 'sqlite_sequence') {
      // Only when the dump creates an AUTOINCREMENT table does the loading database have a sqlite_sequence
      // (the source keeps it after such a table is dropped, and DELETE FROM a missing table would stop the load).
      if (!hasAutoincrement) {
        tablesDone++
        continue
      }
      // A partial dump may be loaded into a database with other AUTOINCREMENT tables: reset only its own.
      const names = [...selected].map((name) => literal(name)).join(',')
      out.add(
        filter === null
          ? 'DELETE FROM sqlite_sequence;\n'
          : `DELETE FROM sqlite_sequence WHERE lower(name) IN (${names});\n`,
      )
      where = (row) => typeof row[0] === 'string' && selected.has(foldAscii(row[0]))
    } else if (table.name.startsWith('sqlite_stat')) {
      if (!analyzed) out.add('ANALYZE sqlite_schema;\n') // creates the stat tables, as the shell does
      analyzed = true
    } else {
      out.add(`${table.sql};\n`)
    }
    for (const line of tableInserts(db, table.name, kinds.get(table.name) === 'virtual', literal, where)) {
      out.add(line)
      rowsDumped++
      if (rowsDumped >= nextReport) {
        nextReport += everyRows
        report()
      }
    }
    tablesDone++
    report()
  }

  const others = readSchema(
    db,
    `SELECT name, type, tbl_name, sql FROM sqlite_schema WHERE sql NOT NULL AND type IN ('index', 'trigger', 'view')
     ORDER BY type COLLATE NOCASE DESC, rowid`,
  )
  for (const object of others) {
    if (isHidden(object.tblName)) continue
    // Indexes and triggers follow their table (or view); a view is dumped when it is named itself.
    if (!wanted(object.type === 'view' ? object.name : object.tblName)) continue
    out.add(`${object.sql};\n`)
  }
  out.add('COMMIT;\n')
  return out.finish()
}

/** `INSERT` lines of one table, read in storage order (rowid, or primary key for WITHOUT ROWID). */
function* tableInserts(
  db: SqliteDatabase,
  table: string,
  isVirtual: boolean,
  literal: (value: unknown) => string,
  where: ((row: readonly unknown[]) => boolean) | null,
): Generator<string> {
  const columns = db.prepare('SELECT name, hidden FROM pragma_table_xinfo(?)').raw(true).all(table) as Array<
    [string, bigint | number]
  >
  // hidden 1: a virtual table's hidden column; 2/3: generated columns, which cannot be inserted into.
  const insertable = columns.filter(([, hidden]) => Number(hidden) === 0).map(([name]) => name)
  // A virtual table's rowid is data (an FTS document id), not derivable from its columns.
  const withRowid = isVirtual && hasRowid(db, table)
  const names = [...(withRowid ? ['rowid'] : []), ...insertable.map(quoteIdentifier)]
  const explicit = withRowid || insertable.length !== columns.length
  const prefix = `INSERT INTO ${quoteIdentifier(table)}${explicit ? `(${names.join(',')})` : ''} VALUES(`
  const select = db.prepare(`SELECT ${names.join(',')} FROM ${quoteIdentifier(table)}`)
  select.raw(true)
  select.safeIntegers(true)
  for (const row of select.iterate() as Iterable<unknown[]>) {
    if (where !== null && !where(row)) continue
    let line = prefix
    for (let i = 0; i < row.length; i++) line += (i === 0 ? '' : ',') + literal(row[i])
    yield `${line});\n`
  }
}

function hasRowid(db: SqliteDatabase, table: string): boolean {
  try {
    db.prepare(`SELECT rowid FROM ${quoteIdentifier(table)} LIMIT 0`)
    return true
  } catch {
    return false
  }
}

function tableKinds(db: SqliteDatabase): Map<string, string> {
  const rows = db
    .prepare("SELECT name, type FROM pragma_table_list WHERE schema = 'main'")
    .raw(true)
    .all() as Array<[string, string]>
  return new Map(rows)
}

function readSchema(db: SqliteDatabase, sql: string): SchemaRow[] {
  const rows = db.prepare(sql).raw(true).all() as Array<[string, string, string, string]>
  return rows.map(([name, type, tblName, text]) => ({ name, type, tblName, sql: text }))
}

/** Always quoted: a name that is plain today may become a keyword in a later SQLite. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** A SQL literal that reloads as exactly `value` (storage class and bits), for values read with safe integers. */
export function sqlLiteral(value: unknown): string {
  if (value === null) return 'NULL'
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'number') return realLiteral(value)
  if (typeof value === 'string') return textLiteral(value)
  if (Buffer.isBuffer(value)) return `X'${value.toString('hex')}'`
  throw new TypeError(`unexpected value from SQLite: ${typeof value}`)
}

/**
 * JavaScript's shortest round-trip digits; SQLite (3.43+) parses them back correctly rounded (a 300k-value
 * random check found no difference). ".0" keeps an integral value REAL; -0.0 keeps its sign (SQLite applies
 * the minus to 0.0); infinities use the shell's overflowing literal. SQLite never stores NaN (it becomes NULL).
 */
export function realLiteral(value: number): string {
  if (Number.isNaN(value)) return 'NULL'
  if (value === Number.POSITIVE_INFINITY) return '1e999'
  if (value === Number.NEGATIVE_INFINITY) return '-1e999'
  if (Object.is(value, -0)) return '-0.0'
  const text = String(value)
  return /[.e]/.test(text) ? text : `${text}.0`
}

/**
 * Control characters are written as `replace('a\nb', '\n', char(10))`, the shell's trick: the text stays on
 * one line, NUL (which ends SQL text) survives, and the nesting depth is the number of distinct control
 * characters, never the number of occurrences (SQLite limits expression depth to 1000).
 */
export function textLiteral(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  const controls = /[\u0000-\u0008\u000a-\u001f]/g
  const found = new Set(text.match(controls) ?? [])
  if (found.size === 0) return `'${text.replaceAll("'", "''")}'`
  // A marker is a backslash and one printable character not following a backslash anywhere in the text.
  // Two-character markers starting with a backslash cannot be formed across a marker boundary, so
  // replacing them one kind at a time restores exactly the original characters.
  const markers = new Map<string, string>()
  const candidates = [...MARKER_CHARACTERS]
  for (const control of [...found].sort()) {
    const preferred = PREFERRED_MARKER.get(control)
    const order = preferred === undefined ? candidates : [preferred, ...candidates]
    const marker = order
      .map((character) => `\\${character}`)
      .find((candidate) => !text.includes(candidate) && ![...markers.values()].includes(candidate))
    if (marker === undefined) {
      return `CAST(X'${Buffer.from(text, 'utf8').toString('hex')}' AS TEXT)` // a text using every marker
    }
    markers.set(control, marker)
  }
  let body = text.replaceAll("'", "''")
  for (const [control, marker] of markers) body = body.replaceAll(control, marker)
  let expression = `'${body}'`
  for (const [control, marker] of markers) {
    expression = `replace(${expression},'${marker}',char(${control.charCodeAt(0)}))`
  }
  return expression
}

const PREFERRED_MARKER = new Map<string, string>([
  ['\u0000', '0'],
  ['\n', 'n'],
  ['\r', 'r'],
])

/** Printable ASCII except the backslash and the quote (which would be doubled inside the literal). */
const MARKER_CHARACTERS = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i))
  .filter((character) => character !== '\\' && character !== "'")
  .join('')

/** SQLite compares identifiers case-insensitively for ASCII letters only. */
function foldAscii(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => letter.toLowerCase())
}

/** Collects text in pieces; joins them now and then so the list stays short. */
class TextBuilder {
  #pending: string[] = []
  #pendingChars = 0
  readonly #chunks: string[] = []

  add(text: string): void {
    this.#pending.push(text)
    this.#pendingChars += text.length
    if (this.#pendingChars >= CHUNK_CHARS) this.#flush()
  }

  finish(): string {
    this.#flush()
    return this.#chunks.join('')
  }

  #flush(): void {
    if (this.#pending.length === 0) return
    this.#chunks.push(this.#pending.join(''))
    this.#pending = []
    this.#pendingChars = 0
  }
}
