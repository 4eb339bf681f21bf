/**
 * Splits a SQL string that may hold several statements ("CREATE TABLE a(x); INSERT INTO a VALUES(1)") into
 * single statements, because better-sqlite3's `prepare()` accepts exactly one. A small tokenizer following
 * SQLite's own (tokenize.c) finds the `;` that end statements: not inside '…' strings, "…", `…` or […]
 * identifiers, -- and /* *\/ comments, or the BEGIN … END body of a CREATE TRIGGER.
 *
 * Each piece also carries what the executor needs without a SQL parser: the first few tokens (to classify
 * BEGIN/COMMIT, PRAGMA setters and reads) and the parameter count as `sqlite3_bind_parameter_count()` would
 * report it (to hand each piece of a multi-statement string its share of the positional parameters).
 *
 * Pure and synchronous; no SQLite needed. The executor has a safety net for the one ambiguity left (END
 * used as a bare identifier inside a trigger body): a piece that SQLite calls "incomplete input" is joined
 * with the next one.
 */

export interface SplitStatement {
  /** The statement's text: from its first token to its last, without the ending `;`. */
  readonly sql: string
  /** Offset in the source of the statement's first token. */
  readonly start: number
  /** Offset in the source just past the statement's last token. */
  readonly end: number
  /**
   * The first tokens (at most `LEADING_TOKENS_MAX`): words upper-cased, punctuation as written, quoted
   * strings and identifiers as written. Used to classify the statement.
   */
  readonly leading: readonly string[]
  /** The largest parameter index, as `sqlite3_bind_parameter_count()` reports it. */
  readonly parameterCount: number
  /**
   * `sqlite3_bind_parameter_name()` of each index 1…parameterCount (at position index − 1): `"?3"`, `":a"`,
   * `"@a"`, `"$a"`, or null for a plain `?` and for the unused indices below a `?N`.
   */
  readonly parameterNames: ReadonlyArray<string | null>
}

export const LEADING_TOKENS_MAX = 10

type TokenKind = 'word' | 'quoted' | 'parameter' | 'semicolon' | 'punctuation'

interface Token {
  readonly kind: TokenKind
  readonly start: number
  readonly end: number
}

/** Splits `sql` into statements; whitespace- and comment-only pieces are dropped. */
export function splitStatements(sql: string): SplitStatement[] {
  const statements: SplitStatement[] = []
  let builder: StatementBuilder | null = null
  let position = 0
  for (;;) {
    const token = nextToken(sql, position)
    if (token === null) break
    position = token.end
    if (token.kind === 'semicolon') {
      if (builder === null) continue
      if (!builder.endsAtSemicolon()) {
        builder.add(token)
        continue
      }
      statements.push(builder.finish())
      builder = null
      continue
    }
    if (builder === null) builder = new StatementBuilder(sql)
    if (token.kind === 'word' && upperWord(sql, token) === 'END' && builder.isTriggerBodyOpen()) {
      const following = nextToken(sql, token.end)
      builder.addEnd(token, following === null || following.kind === 'semicolon')
      continue
    }
    builder.add(token)
  }
  if (builder !== null) statements.push(builder.finish())
  return statements
}

/** The parameters of one statement's text, numbered the way SQLite numbers them. */
export function countParameters(sql: string): Pick<SplitStatement, 'parameterCount' | 'parameterNames'> {
  const builder = new StatementBuilder(sql)
  let position = 0
  for (;;) {
    const token = nextToken(sql, position)
    if (token === null) break
    position = token.end
    builder.add(token)
  }
  return { parameterCount: builder.parameterCount, parameterNames: builder.parameterNames }
}

/** Accumulates one statement's tokens: leading tokens, parameters, and the CREATE TRIGGER body state. */
class StatementBuilder {
  readonly #sql: string
  #start = -1
  #end = -1
  readonly #leading: string[] = []
  #isTrigger = false
  #bodyStarted = false
  #bodyEnded = false
  #caseDepth = 0
  #maxIndex = 0
  readonly #names = new Map<string, number>()

  constructor(sql: string) {
    this.#sql = sql
  }

  get parameterCount(): number {
    return this.#maxIndex
  }

  get parameterNames(): Array<string | null> {
    const names = new Array<string | null>(this.#maxIndex).fill(null)
    for (const [name, index] of this.#names) names[index - 1] = name
    return names
  }

  /** Inside a trigger body, a `;` separates the body's statements instead of ending this statement. */
  endsAtSemicolon(): boolean {
    return !this.isTriggerBodyOpen()
  }

  isTriggerBodyOpen(): boolean {
    return this.#isTrigger && this.#bodyStarted && !this.#bodyEnded
  }

  /** An END inside an open trigger body: closes a CASE, closes the body (END ; or END at the end), or is a name. */
  addEnd(token: Token, isFollowedBySemicolonOrEnd: boolean): void {
    this.#record(token)
    if (this.#caseDepth > 0) this.#caseDepth--
    else if (isFollowedBySemicolonOrEnd) this.#bodyEnded = true
  }

  add(token: Token): void {
    this.#record(token)
    if (token.kind === 'parameter') this.#addParameter(token)
    if (token.kind !== 'word') return
    const word = upperWord(this.#sql, token)
    if (this.#leading.length <= 3) this.#detectTrigger()
    if (!this.#isTrigger) return
    if (word === 'CASE') this.#caseDepth++
    else if (word === 'END' && this.#caseDepth > 0) this.#caseDepth--
    else if (word === 'BEGIN' && this.#caseDepth === 0) this.#bodyStarted = true
  }

  finish(): SplitStatement {
    return {
      sql: this.#sql.slice(this.#start, this.#end),
      start: this.#start,
      end: this.#end,
      leading: this.#leading,
      parameterCount: this.parameterCount,
      parameterNames: this.parameterNames,
    }
  }

  #record(token: Token): void {
    if (this.#start < 0) this.#start = token.start
    this.#end = token.end
    if (this.#leading.length < LEADING_TOKENS_MAX) {
      const text = this.#sql.slice(token.start, token.end)
      this.#leading.push(token.kind === 'word' ? text.toUpperCase() : text)
    }
  }

  #detectTrigger(): void {
    const [first, second, third] = this.#leading
    this.#isTrigger =
      first === 'CREATE' &&
      (second === 'TRIGGER' || ((second === 'TEMP' || second === 'TEMPORARY') && third === 'TRIGGER'))
  }

  /** SQLite's sqlite3ExprAssignVarNumber: `?` takes the next index, `?N` is N, a name keeps its first index. */
  #addParameter(token: Token): void {
    const text = this.#sql.slice(token.start, token.end)
    if (text === '?') {
      this.#maxIndex++
      return
    }
    if (text.startsWith('?')) {
      const index = Number.parseInt(text.slice(1), 10)
      if (index > this.#maxIndex) this.#maxIndex = index
      if (!this.#names.has(text) && index > 0) this.#names.set(text, index)
      return
    }
    if (this.#names.has(text)) return
    this.#maxIndex++
    this.#names.set(text, this.#maxIndex)
  }
}

function upperWord(sql: string, token: Token): string {
  return sql.slice(token.start, token.end).toUpperCase()
}

/** SQLite's IdChar: letters, digits, `_`, `$`, and every non-ASCII character. */
function isIdChar(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x5f ||
    code === 0x24 ||
    code >= 0x80
  )
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39
}

/** SQLite's sqlite3Isspace: space, \t, \n, \v, \f, \r. */
function isSpace(code: number): boolean {
  return code === 0x20 || (code >= 0x09 && code <= 0x0d)
}

/** The next significant token at or after `from` (whitespace and comments skipped), or null at the end. */
function nextToken(sql: string, from: number): Token | null {
  const length = sql.length
  let i = from
  while (i < length) {
    const code = sql.charCodeAt(i)
    if (isSpace(code)) {
      i++
      continue
    }
    if (code === 0x2d && sql.charCodeAt(i + 1) === 0x2d) {
      const newline = sql.indexOf('\n', i + 2)
      i = newline < 0 ? length : newline + 1
      continue
    }
    if (code === 0x2f && sql.charCodeAt(i + 1) === 0x2a) {
      const close = sql.indexOf('*/', i + 2)
      i = close < 0 ? length : close + 2
      continue
    }
    return scanToken(sql, i, code)
  }
  return null
}

function scanToken(sql: string, start: number, code: number): Token {
  switch (code) {
    case 0x3b: // ;
      return { kind: 'semicolon', start, end: start + 1 }
    case 0x27: // '
    case 0x22: // "
    case 0x60: // `
      return { kind: 'quoted', start, end: endOfQuoted(sql, start, code) }
    case 0x5b: {
      // [identifier]: no escapes, ends at the first ]
      const close = sql.indexOf(']', start + 1)
      return { kind: 'quoted', start, end: close < 0 ? sql.length : close + 1 }
    }
    case 0x3f: {
      // ? or ?NNN
      let end = start + 1
      while (end < sql.length && isDigit(sql.charCodeAt(end))) end++
      return { kind: 'parameter', start, end }
    }
    case 0x3a: // :name
    case 0x40: // @name
    case 0x24: {
      // $name
      const end = endOfNamedParameter(sql, start)
      return end > start + 1
        ? { kind: 'parameter', start, end }
        : { kind: 'punctuation', start, end: start + 1 }
    }
    default:
      break
  }
  if (isIdChar(code)) {
    let end = start + 1
    while (end < sql.length && isIdChar(sql.charCodeAt(end))) end++
    return { kind: 'word', start, end }
  }
  // A surrogate pair is two UTF-16 units but one character; both are >= 0x80 and handled as IdChar above.
  return { kind: 'punctuation', start, end: start + 1 }
}

/** End of a quoted string or identifier; a doubled quote is an escaped quote. Unterminated: the end. */
function endOfQuoted(sql: string, start: number, quote: number): number {
  let i = start + 1
  while (i < sql.length) {
    if (sql.charCodeAt(i) === quote) {
      if (sql.charCodeAt(i + 1) === quote) {
        i += 2
        continue
      }
      return i + 1
    }
    i++
  }
  return sql.length
}

/**
 * tokenize.c, CC_DOLLAR/CC_VARALPHA: the prefix and at least one IdChar. better-sqlite3 builds SQLite with
 * SQLITE_OMIT_TCL_VARIABLE, so the Tcl forms `$a::b` and `$a(b)` are not parameters.
 */
function endOfNamedParameter(sql: string, start: number): number {
  let i = start + 1
  while (i < sql.length && isIdChar(sql.charCodeAt(i))) i++
  return i
}
