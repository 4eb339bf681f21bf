/**
 * rqlite's response bytes for execute/query/request (rqlite-reference.md §1.6): Go structs with
 * `omitempty` (zero values dropped, fixed field order), Go maps with keys sorted byte-wise (associative
 * rows and types), go-sqlite3's type-dependent values (RFC3339 times for `date`/`datetime`/`timestamp`
 * columns, booleans for `boolean` columns, BLOBs in text-like columns as strings), and Go's JSON text:
 * `<`, `>`, `&`, U+2028 and U+2029 escaped, invalid UTF-8 as U+FFFD, floats in Go's shortest form, and
 * `?pretty` as `json.MarshalIndent` with four spaces. Pure: no I/O.
 */
import type { QueryResult, SqlValue, StatementResult } from '../db/types.js'

/** A JSON value as Go writes it: `Map` is an object in insertion order, `bigint` an exact integer. */
export type GoJsonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | readonly GoJsonValue[]
  | ReadonlyMap<string, GoJsonValue>

/**
 * A response that rqlite could not marshal (a non-finite float, columns and types of different lengths):
 * rqlite answers such requests `500` with this message as plain text.
 */
export class ResultEncodingError extends Error {
  constructor(message: string) {
    super(`json: error calling MarshalJSON for type *http.DBResults: ${message}`)
    this.name = 'ResultEncodingError'
  }
}

export interface EncodeOptions {
  /** `?associative`: query results as `types` map + `rows` objects; execute results get `"rows":null`. */
  readonly associative?: boolean
  /** `?blob_array`: BLOBs as arrays of byte values instead of base64. */
  readonly blobArray?: boolean
  /** `?pretty`: Go's `json.MarshalIndent(v, "", "    ")`. */
  readonly pretty?: boolean
  /**
   * `?timings`: `perStatementSeconds[i]` becomes slot i's `time` (execute and query slots only, never an
   * error slot), `totalSeconds` the top-level `time`. Zero is omitted, as Go's `omitempty` does.
   */
  readonly timings?: {
    readonly perStatementSeconds?: ReadonlyArray<number | undefined>
    readonly totalSeconds: number
  }
  /** Queued writes: top-level `sequence_number` (omitted when 0). */
  readonly sequenceNumber?: number | bigint
  /** `?raft_index`: top-level `raft_index` (omitted when 0). */
  readonly raftIndex?: number | bigint
  /** Whole-request error: top-level `error` (pass `results: []`). */
  readonly error?: string
  /**
   * `'query'` for `/db/query` (rqlite encodes `QueryRows` there: a failed statement in associative mode is
   * `{"rows":[],"error":"..."}`); `'mixed'` (default) for `/db/execute` and `/db/request`, where a
   * failed statement is always `{"error":"..."}`.
   */
  readonly endpointShape?: 'query' | 'mixed'
}

/**
 * The whole response body of an execute/query/request call, byte-for-byte as rqlite writes it. The text is
 * written directly, without building Go-shaped maps first: for a 1,000-row bulk INSERT, building a `Map`
 * per slot and joining its parts was 8% of the leader's main thread and much of its garbage.
 */
export function encodeResponse(results: readonly StatementResult[], options: EncodeOptions = {}): string {
  const perStatement = options.timings?.perStatementSeconds
  let out = '{"results":['
  for (let i = 0; i < results.length; i++) {
    if (i > 0) out += ','
    out += encodeStatementResult(results[i]!, options, perStatement?.[i])
  }
  out += ']'
  if (options.error !== undefined && options.error !== '') out += `,"error":${goJsonString(options.error)}`
  const total = options.timings?.totalSeconds
  if (total !== undefined && total !== 0) out += `,"time":${goNumber(total)}`
  if (options.sequenceNumber !== undefined && options.sequenceNumber !== 0 && options.sequenceNumber !== 0n)
    out += `,"sequence_number":${writeCompact(options.sequenceNumber)}`
  if (options.raftIndex !== undefined && options.raftIndex !== 0 && options.raftIndex !== 0n)
    out += `,"raft_index":${writeCompact(options.raftIndex)}`
  out += '}'
  return options.pretty === true ? indentGoJson(out, '    ') : out
}

/**
 * One slot of `results` as compact Go JSON: rqlite's structs with `omitempty` in their field order, and
 * Go maps (associative rows and types) with their keys sorted.
 */
export function encodeStatementResult(
  result: StatementResult,
  options: Pick<EncodeOptions, 'associative' | 'blobArray' | 'endpointShape'>,
  seconds?: number,
): string {
  const associative = options.associative === true
  if ('error' in result) return errorSlot(result.error, associative, options.endpointShape === 'query')
  const time = seconds !== undefined && seconds !== 0 ? `"time":${goNumber(seconds)}` : undefined
  if ('columns' in result) {
    const { columns, types } = result
    const keys = associative ? sortedColumns(columns) : undefined
    const rows = writeQueryRows(result, options.blobArray === true, keys)
    if (rows instanceof TimeError)
      return errorSlot(rows.message, associative, options.endpointShape === 'query')
    if (columns.length !== types.length)
      throw new ResultEncodingError('types and columns are different lengths')
    const parts: string[] = []
    if (keys !== undefined) {
      if (columns.length > 0) {
        parts.push(`"types":{${keys.map(([key, c]) => `${key}:${goJsonString(types[c]!)}`).join(',')}}`)
      }
      parts.push(`"rows":[${rows}]`)
    } else {
      if (columns.length > 0) parts.push(`"columns":${writeStrings(columns)}`)
      if (types.length > 0) parts.push(`"types":${writeStrings(types)}`)
      if (rows !== '') parts.push(`"values":[${rows}]`)
    }
    if (time !== undefined) parts.push(time)
    return `{${parts.join(',')}}`
  }
  // Concatenated field by field on purpose: a parts array joined (the query branch's way) or a leading comma
  // sliced off made a 1,000-row bulk INSERT's response 2.5x slower to encode (113-131 against 48 us).
  let slot = '{'
  const id = result.last_insert_id
  if (id !== undefined && id !== 0 && id !== 0n) slot += `"last_insert_id":${writeCompact(id)}`
  if (result.rows_affected !== undefined && result.rows_affected !== 0)
    slot += `${slot.length > 1 ? ',' : ''}"rows_affected":${goNumber(result.rows_affected)}`
  if (time !== undefined) slot += `${slot.length > 1 ? ',' : ''}${time}`
  if (associative) slot += `${slot.length > 1 ? ',' : ''}"rows":null`
  return `${slot}}`
}

function errorSlot(message: string, associative: boolean, queryShape: boolean): string {
  return `{${associative && queryShape ? '"rows":[],' : ''}"error":${goJsonString(message)}}`
}

function writeStrings(values: readonly string[]): string {
  return `[${values.map(goJsonString).join(',')}]`
}

/**
 * Go's `encoding/json` map order for a row or `types` object: the distinct column names sorted by their
 * UTF-8 bytes, each as its JSON key with the index of its last occurrence (a repeated column keeps its last
 * value).
 */
function sortedColumns(columns: readonly string[]): ReadonlyArray<readonly [string, number]> {
  const last = new Map<string, number>()
  columns.forEach((column, c) => {
    last.set(column, c)
  })
  return [...last.keys()]
    .sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')))
    .map((column) => [goJsonString(column), last.get(column)!] as const)
}

/**
 * The rows of a query with go-sqlite3's conversions applied, as comma-separated JSON arrays, or objects with
 * `keys` (associative); or the first value Go cannot marshal, which turns the slot into an error.
 */
function writeQueryRows(
  result: QueryResult,
  blobArray: boolean,
  keys: ReadonlyArray<readonly [string, number]> | undefined,
): string | TimeError {
  const { types } = result
  let out = ''
  let first = true
  for (const row of result.values ?? []) {
    const values: string[] = []
    for (let c = 0; c < row.length; c++) {
      const value = convertValue(row[c] ?? null, types[c] ?? '', blobArray)
      if (value instanceof TimeError) return value
      values.push(writeCompact(value))
    }
    const text =
      keys === undefined
        ? `[${values.join(',')}]`
        : `{${keys.map(([key, c]) => `${key}:${values[c] ?? 'null'}`).join(',')}}`
    out += first ? text : `,${text}`
    first = false
  }
  return out
}

/** A time value Go's `Time.MarshalText` rejects: rqlite turns the statement into an error slot. */
export class TimeError {
  constructor(readonly message: string) {}
}

const timeTypes: ReadonlySet<string> = new Set(['date', 'datetime', 'timestamp'])

/**
 * One SQLite value as rqlite returns it, given the column's lower-cased declared type. An integral
 * `number` stands for INTEGER storage (a REAL that is integral is stored as INTEGER in the NUMERIC-affinity
 * columns that `date`/`datetime`/`timestamp`/`boolean` declare).
 */
export function convertValue(value: SqlValue, declType: string, blobArray: boolean): GoJsonValue | TimeError {
  if (value === null) return null
  if (typeof value === 'string') return timeTypes.has(declType) ? textToTime(value) : value
  if (typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value))) {
    if (timeTypes.has(declType)) return integerToTime(BigInt(value))
    if (declType === 'boolean') return value > 0
    return value
  }
  if (typeof value === 'number') return value
  if (isTextType(declType)) return goStringFromBytes(value)
  return blobArray ? [...value] : value.toString('base64')
}

/** rqlite's `isTextType`: a BLOB read from such a column is returned as a string. */
export function isTextType(declType: string): boolean {
  return (
    declType === 'text' ||
    declType === 'json' ||
    declType === '' ||
    declType.startsWith('varchar') ||
    declType.startsWith('varying character') ||
    declType.startsWith('nchar') ||
    declType.startsWith('native character') ||
    declType.startsWith('nvarchar') ||
    declType.startsWith('clob')
  )
}

// ---------------------------------------------------------------------------------------------------
// Times: go-sqlite3 reads `date`/`datetime`/`timestamp` columns as time.Time, rqlite writes them with
// `Time.MarshalText` (RFC3339 with trimmed nanoseconds).

/** go-sqlite3's `SQLiteTimestampFormats`, tried in order, as regular expressions of Go's parsing rules. */
const timestampLayouts: readonly RegExp[] = [
  /^(\d{4})-(\d{2})-(\d{2}) +(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?([+-])(\d{2}):(\d{2})$/,
  /^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?([+-])(\d{2}):(\d{2})$/,
  /^(\d{4})-(\d{2})-(\d{2}) +(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?$/,
  /^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?$/,
  /^(\d{4})-(\d{2})-(\d{2}) +(\d{1,2}):(\d{2})$/,
  /^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2})$/,
  /^(\d{4})-(\d{2})-(\d{2})$/,
]

interface WallTime {
  readonly year: number
  readonly month: number
  readonly day: number
  readonly hour: number
  readonly minute: number
  readonly second: number
  readonly nanosecond: number
  /** Seconds east of UTC; 0 renders as `Z`. */
  readonly offset: number
}

/** TEXT in a time column: the first layout that parses wins; none → Go's zero time. */
export function textToTime(text: string): string | TimeError {
  const s = text.endsWith('Z') ? text.slice(0, -1) : text
  for (const layout of timestampLayouts) {
    const wall = parseLayout(layout, s)
    if (wall !== undefined) return marshalTime(wall)
  }
  return '0001-01-01T00:00:00Z'
}

function parseLayout(layout: RegExp, text: string): WallTime | undefined {
  const m = layout.exec(text)
  if (m === null) return undefined
  const year = Number(m[1])
  const month = Number(m[2])
  const day = Number(m[3])
  const hour = m[4] === undefined ? 0 : Number(m[4])
  const minute = m[5] === undefined ? 0 : Number(m[5])
  const second = m[6] === undefined ? 0 : Number(m[6])
  const fraction = m[7] ?? ''
  // Go keeps at most nine fractional digits and ignores the rest.
  const nanosecond = fraction === '' ? 0 : Number(fraction.slice(0, 9).padEnd(9, '0'))
  let offset = 0
  if (m[8] !== undefined) {
    const offsetHours = Number(m[9])
    const offsetMinutes = Number(m[10])
    // Go allows 24 hours and 60 minutes in an offset ("some people do write them").
    if (offsetHours > 24 || offsetMinutes > 60) return undefined
    offset = (offsetHours * 60 + offsetMinutes) * 60 * (m[8] === '-' ? -1 : 1)
  }
  if (month < 1 || month > 12) return undefined
  if (day < 1 || day > daysIn(month, year)) return undefined
  if (hour > 23 || minute > 59 || second > 59) return undefined
  return { year, month, day, hour, minute, second, nanosecond, offset }
}

function daysIn(month: number, year: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return [4, 6, 9, 11].includes(month) ? 30 : 31
}

/** INTEGER in a time column: unix seconds, or milliseconds beyond ±1e12 (Go's int64 overflow kept). */
export function integerToTime(value: bigint): string | TimeError {
  let seconds: bigint
  let nanosecond: bigint
  if (value > 1_000_000_000_000n || value < -1_000_000_000_000n) {
    const ns = BigInt.asIntN(64, value * 1_000_000n)
    seconds = ns / 1_000_000_000n
    nanosecond = ns % 1_000_000_000n
    if (nanosecond < 0n) {
      nanosecond += 1_000_000_000n
      seconds -= 1n
    }
  } else {
    seconds = value
    nanosecond = 0n
  }
  // |seconds| ≤ 1e12, so milliseconds stay within the range of a JS Date (±8.64e15).
  const date = new Date(Number(seconds) * 1000)
  return marshalTime({
    year: date.getUTCFullYear(),
    month: date.getUTCMonth() + 1,
    day: date.getUTCDate(),
    hour: date.getUTCHours(),
    minute: date.getUTCMinutes(),
    second: date.getUTCSeconds(),
    nanosecond: Number(nanosecond),
    offset: 0,
  })
}

/** Go's `Time.MarshalText`: RFC3339 with nanoseconds (trailing zeros trimmed), strict ranges. */
function marshalTime(t: WallTime): string | TimeError {
  if (t.year < 0 || t.year > 9999) return new TimeError('Time.MarshalText: year outside of range [0,9999]')
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0')
  let text = `${pad(t.year, 4)}-${pad(t.month)}-${pad(t.day)}T${pad(t.hour)}:${pad(t.minute)}:${pad(t.second)}`
  if (t.nanosecond !== 0) text += `.${pad(t.nanosecond, 9).replace(/0+$/, '')}`
  if (t.offset === 0) return `${text}Z`
  const abs = Math.abs(t.offset)
  const hours = Math.floor(abs / 3600)
  if (hours >= 24) return new TimeError('Time.MarshalText: timezone hour outside of range [0,23]')
  return `${text}${t.offset < 0 ? '-' : '+'}${pad(hours)}:${pad(Math.floor((abs % 3600) / 60))}`
}

// ---------------------------------------------------------------------------------------------------
// Go's JSON text.

/** Bytes read as a Go string and later written by Go's JSON encoder: each invalid byte becomes U+FFFD. */
export function goStringFromBytes(bytes: Uint8Array): string {
  let out = ''
  let i = 0
  while (i < bytes.length) {
    const b0 = bytes[i]!
    if (b0 < 0x80) {
      out += String.fromCharCode(b0)
      i++
      continue
    }
    const width =
      b0 >= 0xc2 && b0 <= 0xdf ? 2 : b0 >= 0xe0 && b0 <= 0xef ? 3 : b0 >= 0xf0 && b0 <= 0xf4 ? 4 : 0
    let ok = width > 0 && i + width <= bytes.length
    if (ok) {
      const b1 = bytes[i + 1]!
      // Second-byte ranges exclude overlongs, surrogates and code points above U+10FFFF (Go's utf8 rules).
      const low = b0 === 0xe0 ? 0xa0 : b0 === 0xf0 ? 0x90 : 0x80
      const high = b0 === 0xed ? 0x9f : b0 === 0xf4 ? 0x8f : 0xbf
      ok = b1 >= low && b1 <= high
      for (let k = 2; ok && k < width; k++) ok = bytes[i + k]! >= 0x80 && bytes[i + k]! <= 0xbf
    }
    if (!ok) {
      out += '\ufffd'
      i++
      continue
    }
    out += Buffer.from(bytes.subarray(i, i + width)).toString('utf8')
    i += width
  }
  return out
}

/** A JSON string literal as Go's encoder (HTML escaping on) writes it. */
export function goJsonString(text: string): string {
  let out = '"'
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    let replacement: string | undefined
    if (c < 0x20) {
      replacement =
        c === 0x0a
          ? '\\n'
          : c === 0x0d
            ? '\\r'
            : c === 0x09
              ? '\\t'
              : c === 0x08
                ? '\\b'
                : c === 0x0c
                  ? '\\f'
                  : `\\u00${c.toString(16).padStart(2, '0')}`
    } else if (c === 0x22) replacement = '\\"'
    else if (c === 0x5c) replacement = '\\\\'
    else if (c === 0x3c || c === 0x3e || c === 0x26) replacement = `\\u00${c.toString(16)}`
    else if (c === 0x2028 || c === 0x2029) replacement = `\\u${c.toString(16)}`
    else if (c >= 0xd800 && c <= 0xdfff) {
      const next = text.charCodeAt(i + 1)
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++
        continue
      }
      replacement = '\\ufffd' // a lone surrogate is not UTF-8: Go writes U+FFFD
    }
    if (replacement === undefined) continue
    out += text.slice(start, i) + replacement
    start = i + 1
  }
  return `${out}${text.slice(start)}"`
}

/** A float64 (or exact integer) as Go's encoder writes it. */
function goNumber(value: number): string {
  if (!Number.isFinite(value))
    throw new ResultEncodingError(
      `json: unsupported value: ${Number.isNaN(value) ? 'NaN' : value > 0 ? '+Inf' : '-Inf'}`,
    )
  // Go's 'f'/'e' switch points (1e-6, 1e21) and shortest digits match JavaScript's; only -0 differs.
  return Object.is(value, -0) ? '-0' : String(value)
}

/** Compact Go JSON; with `pretty`, `json.MarshalIndent(v, "", "    ")`. */
export function encodeGoJson(value: GoJsonValue, pretty = false): string {
  const compact = writeCompact(value)
  return pretty ? indentGoJson(compact, '    ') : compact
}

function writeCompact(value: GoJsonValue): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      return goNumber(value)
    case 'bigint':
      return value.toString()
    case 'string':
      return goJsonString(value)
  }
  if (value instanceof Map) {
    const parts: string[] = []
    for (const [key, item] of value as ReadonlyMap<string, GoJsonValue>)
      parts.push(`${goJsonString(key)}:${writeCompact(item)}`)
    return `{${parts.join(',')}}`
  }
  return `[${(value as readonly GoJsonValue[]).map(writeCompact).join(',')}]`
}

/** Go's `json.Indent` on compact JSON: empty `{}`/`[]` stay closed, `": "` after keys, no trailing newline. */
export function indentGoJson(compact: string, indent: string): string {
  let out = ''
  let depth = 0
  let needIndent = false
  let inString = false
  for (let i = 0; i < compact.length; i++) {
    const c = compact[i]!
    if (inString) {
      out += c
      if (c === '\\') {
        out += compact[i + 1] ?? ''
        i++
      } else if (c === '"') inString = false
      continue
    }
    if (c === ' ' || c === '\n' || c === '\t' || c === '\r') continue
    if (needIndent && c !== '}' && c !== ']') {
      needIndent = false
      depth++
      out += `\n${indent.repeat(depth)}`
    }
    switch (c) {
      case '"':
        inString = true
        out += c
        break
      case '{':
      case '[':
        needIndent = true
        out += c
        break
      case ',':
        out += `,\n${indent.repeat(depth)}`
        break
      case ':':
        out += ': '
        break
      case '}':
      case ']':
        if (needIndent) needIndent = false
        else {
          depth--
          out += `\n${indent.repeat(depth)}`
        }
        out += c
        break
      default:
        out += c
    }
  }
  return out
}
