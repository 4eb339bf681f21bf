/**
 * rqlite's URL query parameters (rqlite-reference.md §1.1 and §1.5), parsed and checked exactly as
 * rqlite's `http/query_params.go` does: the raw query is split with Go's `url.ParseQuery` rules, the first
 * value of a repeated key wins, flags are ON when the key is present with any value, and the checks run
 * in rqlite's order, each failure a 400 with rqlite's message. Unknown keys are kept (in `raw`) and
 * otherwise ignored. rqlite checks every request this way before routing, so the result does not depend
 * on the endpoint.
 */

/** The endpoints of rqlite's HTTP API. Validation is the same for all (rqlite checks before routing). */
export type Endpoint =
  | 'execute'
  | 'query'
  | 'request'
  | 'sql'
  | 'backup'
  | 'load'
  | 'boot'
  | 'status'
  | 'nodes'
  | 'leader'
  | 'readyz'
  | 'remove'
  | 'snapshot'
  | 'reap'
  | 'debug'
  | 'other'

export type ConsistencyLevel = 'none' | 'weak' | 'strong' | 'linearizable' | 'auto'

export type BackupFormat = 'binary' | 'sql' | 'delete'

/** A malformed query parameter: answer `status` with `message` as a plain-text body (Go's `http.Error`). */
export class QueryParamError extends Error {
  readonly status = 400
  constructor(message: string) {
    super(message)
    this.name = 'QueryParamError'
  }
}

export interface QueryParams {
  // Presence-based flags.
  readonly pretty: boolean
  readonly timings: boolean
  readonly transaction: boolean
  readonly queue: boolean
  readonly wait: boolean
  readonly associative: boolean
  readonly blobArray: boolean
  readonly redirect: boolean
  readonly noleader: boolean
  readonly nonvoters: boolean
  readonly freshnessStrict: boolean
  readonly raftIndex: boolean
  readonly qualifyColumns: boolean
  readonly noRewriteRandom: boolean
  readonly noRewriteTime: boolean
  readonly noParse: boolean
  readonly compress: boolean
  readonly vacuum: boolean
  readonly sync: boolean
  readonly bypass: boolean

  /** `level`, case-insensitive; absent, empty or unknown → `weak` (rqlite's `LevelFromString`). */
  readonly level: ConsistencyLevel
  /** Durations in milliseconds (fractional below 1 ms; may be negative, as Go accepts `-1s`); absent → undefined. */
  readonly freshnessMs?: number
  readonly timeoutMs?: number
  readonly dbTimeoutMs?: number
  readonly linearizableTimeoutMs?: number
  /** Integers (Go `strconv.Atoi`); absent → undefined. */
  readonly retries?: number
  readonly trailingLogs?: number
  /** `q` as given (never empty: an empty `q` is an error). */
  readonly q?: string
  /** `fmt`, case-insensitive; absent or unknown → `binary` (rqlite's `BackupFormatFromString`). */
  readonly fmt: BackupFormat
  /** `tables=a,b`: split on commas, trimmed, empty names dropped; absent or empty → []. */
  readonly tables: readonly string[]
  readonly key?: string
  readonly ver?: string
  /** Every key with its first value (Go keeps `v[0]`), unknown keys included. */
  readonly raw: ReadonlyMap<string, string>
}

const levels: readonly ConsistencyLevel[] = ['none', 'weak', 'strong', 'linearizable', 'auto']
const formats: readonly BackupFormat[] = ['binary', 'sql', 'delete']

/**
 * Parses a request's query parameters. Pass the raw query string (`url.search`, with or without the
 * leading `?`) to get Go's decoding errors too (`invalid URL escape "%zz"`, `invalid semicolon separator
 * in query`); a `URLSearchParams` has already been decoded leniently, so those cannot be detected from it.
 * Throws `QueryParamError` (400) with rqlite's message.
 */
export function parseQueryParams(search: URLSearchParams | string, _endpoint?: Endpoint): QueryParams {
  const raw = typeof search === 'string' ? parseGoQuery(search) : firstValues(search)

  // rqlite's checks, in its order.
  if (raw.has('freshness_strict') && !raw.has('freshness'))
    throw new QueryParamError('freshness_strict requires freshness')
  // Locals, not two Maps and a split of an empty `tables`: young-generation garbage per point read (weak, c=64,
  // the leader's main thread, `--trace-gc`) went from 12.2 to 11.6 KB, and GC was 11% of that thread.
  const timeoutMs = durationParam(raw, 'timeout')
  const freshnessMs = durationParam(raw, 'freshness')
  const dbTimeoutMs = durationParam(raw, 'db_timeout')
  const linearizableTimeoutMs = durationParam(raw, 'linearizable_timeout')
  const retries = integerParam(raw, 'retries')
  const trailingLogs = integerParam(raw, 'trailing_logs')
  const q = raw.get('q')
  if (q === '') throw new QueryParamError('query parameter not set')

  const has = (name: string): boolean => raw.has(name)
  const levelText = (raw.get('level') ?? '').toLowerCase()
  const fmtText = (raw.get('fmt') ?? '').toLowerCase()

  const params: Mutable<QueryParams> = {
    pretty: has('pretty'),
    timings: has('timings'),
    transaction: has('transaction'),
    queue: has('queue'),
    wait: has('wait'),
    associative: has('associative'),
    blobArray: has('blob_array'),
    redirect: has('redirect'),
    noleader: has('noleader'),
    nonvoters: has('nonvoters'),
    freshnessStrict: has('freshness_strict'),
    raftIndex: has('raft_index'),
    qualifyColumns: has('qualify_columns'),
    noRewriteRandom: has('norwrandom'),
    noRewriteTime: has('norwtime'),
    noParse: has('noparse'),
    compress: has('compress'),
    vacuum: has('vacuum'),
    sync: has('sync'),
    bypass: has('bypass'),
    level: (levels as readonly string[]).includes(levelText) ? (levelText as ConsistencyLevel) : 'weak',
    fmt: (formats as readonly string[]).includes(fmtText) ? (fmtText as BackupFormat) : 'binary',
    tables: tablesParam(raw.get('tables')),
    raw,
  }
  // Set one by one, not spread in from small objects: spreading seven of them was most of this function's
  // cost, which was 6% of the leader's main thread under point reads at c=64 (`--cpu-prof`).
  const set = <K extends keyof QueryParams>(field: K, value: QueryParams[K] | undefined): void => {
    if (value !== undefined) params[field] = value
  }
  set('freshnessMs', freshnessMs)
  set('timeoutMs', timeoutMs)
  set('dbTimeoutMs', dbTimeoutMs)
  set('linearizableTimeoutMs', linearizableTimeoutMs)
  set('retries', retries)
  set('trailingLogs', trailingLogs)
  set('q', q)
  set('key', raw.get('key'))
  set('ver', raw.get('ver'))
  return params
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** A duration parameter in milliseconds, or undefined when absent; rqlite's 400 when it is not one. */
function durationParam(raw: ReadonlyMap<string, string>, name: string): number | undefined {
  const text = raw.get(name)
  if (text === undefined) return undefined
  const ns = parseGoDuration(text)
  if (ns === undefined) throw new QueryParamError(`${name} is not a valid duration`)
  return Number(ns) / 1e6
}

/** An integer parameter, or undefined when absent; rqlite's 400 when it is not one. */
function integerParam(raw: ReadonlyMap<string, string>, name: string): number | undefined {
  const text = raw.get(name)
  if (text === undefined) return undefined
  const value = parseGoAtoi(text)
  if (value === undefined) throw new QueryParamError(`${name} is not a valid integer`)
  return value
}

const noTables: readonly string[] = Object.freeze([])

/** `tables=a,b`: split on commas, trimmed, empty names dropped. */
function tablesParam(text: string | undefined): readonly string[] {
  if (text === undefined || text === '') return noTables
  return text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '')
}

function firstValues(search: URLSearchParams): Map<string, string> {
  const raw = new Map<string, string>()
  for (const [key, value] of search) if (!raw.has(key)) raw.set(key, value)
  return raw
}

/**
 * Go's `url.ParseQuery`: `&`-separated pairs, a pair containing `;` is an error, empty pairs skipped,
 * `+` is a space, `%XX` must be two hex digits. Go records the first error but keeps parsing (a later
 * `;` error replaces an earlier escape error); rqlite then rejects the request with that error.
 */
export function parseGoQuery(query: string): Map<string, string> {
  const text = query.startsWith('?') ? query.slice(1) : query
  const raw = new Map<string, string>()
  let error: string | undefined
  if (text === '') return raw
  for (const pair of text.split('&')) {
    if (pair.includes(';')) {
      error = 'invalid semicolon separator in query'
      continue
    }
    if (pair === '') continue
    const at = pair.indexOf('=')
    const key = goQueryUnescape(at < 0 ? pair : pair.slice(0, at))
    if (typeof key !== 'string') {
      error ??= key.error
      continue
    }
    const value = goQueryUnescape(at < 0 ? '' : pair.slice(at + 1))
    if (typeof value !== 'string') {
      error ??= value.error
      continue
    }
    if (!raw.has(key)) raw.set(key, value)
  }
  if (error !== undefined) throw new QueryParamError(error)
  return raw
}

/** Every `%` starts a two-hex-digit escape. */
const wellEscaped = /^(?:[^%]|%[0-9a-fA-F]{2})*$/

function goQueryUnescape(text: string): string | { error: string } {
  if (!text.includes('%') && !text.includes('+')) return text
  if (wellEscaped.test(text)) {
    // The usual case (a `q` of SQL): the engine's decoder; it refuses escapes that are not UTF-8, which Go
    // decodes byte by byte (invalid sequences become U+FFFD), as below.
    try {
      return decodeURIComponent(text.replaceAll('+', ' '))
    } catch (error) {
      if (!(error instanceof URIError)) throw error
    }
  }
  const bytes: number[] = []
  const source = Buffer.from(text, 'utf8')
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!
    if (c === 0x25) {
      const hi = hexValue(source[i + 1])
      const lo = hexValue(source[i + 2])
      if (hi === undefined || lo === undefined) {
        const bad = source.subarray(i, i + 3).toString('utf8')
        return { error: `invalid URL escape ${goQuote(bad)}` }
      }
      bytes.push(hi * 16 + lo)
      i += 2
    } else bytes.push(c === 0x2b ? 0x20 : c)
  }
  return Buffer.from(bytes).toString('utf8')
}

function hexValue(c: number | undefined): number | undefined {
  if (c === undefined) return undefined
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10
  return undefined
}

/** Go's `strconv.Quote` for the short printable strings of an escape error. */
function goQuote(text: string): string {
  let out = '"'
  for (const ch of text) {
    const code = ch.codePointAt(0)!
    if (ch === '"' || ch === '\\') out += `\\${ch}`
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`
    else out += ch
  }
  return `${out}"`
}

const durationUnits: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['µs', 1_000n], // U+00B5 micro sign
  ['μs', 1_000n], // U+03BC Greek mu
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
])

const int64Max = (1n << 63n) - 1n

/**
 * Go's `time.ParseDuration`, in nanoseconds: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` or a bare (signed) `0`,
 * units ns us µs μs ms s m h, overflow beyond int64 rejected. Undefined when Go would return an error.
 */
export function parseGoDuration(text: string): bigint | undefined {
  let s = text
  let negative = false
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s[0] === '-'
    s = s.slice(1)
  }
  if (s === '0') return 0n
  if (s === '') return undefined
  let total = 0n
  const unitPattern = /^[^.0-9]+/
  while (s !== '') {
    const integer = /^[0-9]*/.exec(s)![0]
    s = s.slice(integer.length)
    let fraction = ''
    let hasFraction = false
    if (s.startsWith('.')) {
      fraction = /^[0-9]*/.exec(s.slice(1))![0]
      hasFraction = fraction !== ''
      s = s.slice(1 + fraction.length)
    }
    if (integer === '' && !hasFraction) return undefined
    const unitText = unitPattern.exec(s)?.[0]
    if (unitText === undefined) return undefined
    s = s.slice(unitText.length)
    const unit = durationUnits.get(unitText)
    if (unit === undefined) return undefined
    const whole = integer === '' ? 0n : BigInt(integer)
    if (whole > (1n << 63n) / unit) return undefined
    let value = whole * unit
    if (hasFraction) {
      // Go scales the fraction in float64 and truncates; at most 3.6e12 ns per unit, so float is exact enough.
      const digits = fraction.slice(0, 19)
      const scale = 10 ** digits.length
      value += BigInt(Math.trunc(Number(BigInt(digits)) * (Number(unit) / scale)))
      if (value > 1n << 63n) return undefined
    }
    total += value
    if (total > 1n << 63n) return undefined
  }
  if (negative) return -total
  return total > int64Max ? undefined : total
}

/** Go's `strconv.Atoi` on a 64-bit platform: optional sign, decimal digits, within int64. */
export function parseGoAtoi(text: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined
  const value = BigInt(text)
  if (value > int64Max || value < -(1n << 63n)) return undefined
  return Number(value)
}
