/**
 * Makes SQL that reads the clock or draws random numbers give the same result on every replica
 * (design.md, dependencies.md §3(b) and appendix A). The leader fixes a `seed` and a time `nowMs` in each
 * log entry; before a batch is applied, `beginApply(seed, nowMs)` points these overrides at them:
 *
 * - `random()`, `randomblob(N)`: a xoshiro128** generator seeded per batch (registered non-deterministic,
 *   so SQLite calls them per row, as the built-ins).
 * - `date, time, datetime, julianday, unixepoch` (time value = argument 0), `strftime` (argument 1),
 *   `timediff` (both arguments): a `'now'` argument, or a missing time value, becomes the fixed time written
 *   as `'YYYY-MM-DD HH:MM:SS.SSSZ'` (the `Z` keeps 'now' semantics for the `utc` modifier); the call is then
 *   evaluated by the real built-in on a pristine helper connection, so every format and modifier behaves as
 *   in SQLite. Registered deterministic, or `CREATE INDEX … ON t(date(c))` would be refused.
 * - `current_timestamp`, `current_date`, `current_time` (what the CURRENT_* keywords compile to).
 *
 * Because application functions take precedence over built-ins everywhere, this covers column DEFAULTs,
 * triggers, views and ORDER BY random(), which rewriting the SQL text cannot.
 *
 * Time zone: the database lives in UTC. The `localtime` and `utc` modifiers are removed before the built-in
 * sees the call, which is exactly what they do when the process time zone is UTC; so the process (or a
 * replica's) TZ cannot change a result. This applies to local reads as well, so an index built at apply time
 * and a read evaluating the same expression always agree.
 *
 * Local reads (`beginLocal()`) use the same functions with the real clock, read once per request, and a
 * fresh random seed.
 */

import { randomFillSync } from 'node:crypto'
import { assert } from '../util/assert.js'
import type { Seed } from './types.js'
import type { SqliteDatabase, SqliteFunctionValue, SqliteStatement } from './sqlite-port.js'

/** The largest time `toISOString()` writes as a four-digit year (9999-12-31T23:59:59.999Z). */
export const NOW_MS_MAX = 253_402_300_799_999

/** SQLite's default SQLITE_MAX_LENGTH: `randomblob(N)` above it fails as the built-in does. */
const BLOB_BYTES_MAX = 1_000_000_000

/** Which argument holds the time value; -1 means every argument does (timediff). */
const TIME_FUNCTIONS: ReadonlyArray<readonly [name: string, timeArgument: number]> = [
  ['date', 0],
  ['time', 0],
  ['datetime', 0],
  ['julianday', 0],
  ['unixepoch', 0],
  ['strftime', 1],
  ['timediff', -1],
]

export interface Determinism {
  /** Fix the seed and the time for the batch about to be applied. Call again to replay it from the start. */
  beginApply(seed: Seed, nowMs: number): void
  /** Use the real clock (read now) and a fresh random seed, for a local read or local request. */
  beginLocal(): void
}

/**
 * Installs the overrides on `db` (the connection that applies batches). `helper` must be a connection
 * without overrides; it evaluates the built-in date functions and can be shared by several installs.
 */
export function installDeterminism(db: SqliteDatabase, helper: SqliteDatabase): Determinism {
  const builtins = new BuiltinCaller(helper)
  // A local read seeds its generator and reads the clock only when a statement asks (random(), 'now'):
  // drawing 16 bytes from the OS and formatting the time for every read was a fifth of the worker's time
  // under point SELECTs.
  let seeded: Xoshiro128 | undefined = Xoshiro128.fromSeed(0, 0)
  let fixedNowMs: number | undefined
  let nowTextOf: { readonly ms: number; readonly text: string } | undefined
  const prng = (): Xoshiro128 => {
    seeded ??= Xoshiro128.fromSeed(randomFillSync(new Uint8Array(16)), 0)
    return seeded
  }
  const now = (): string => {
    const ms = fixedNowMs ?? Date.now()
    fixedNowMs = ms
    if (nowTextOf?.ms !== ms) nowTextOf = { ms, text: isoNow(ms) }
    return nowTextOf.text
  }
  let currentCache: { readonly nowText: string; timestamp?: string; date?: string; time?: string } = {
    nowText: '',
  }

  const fixNow = (value: SqliteFunctionValue): SqliteFunctionValue =>
    typeof value === 'string' && value.length === 3 && value.toLowerCase() === 'now' ? now() : value

  db.function('random', { deterministic: false, safeIntegers: true }, () => prng().nextInt64())
  // better-sqlite3 takes the SQL arity from the JS function's `length`: keep exactly one parameter here.
  db.function('randomblob', { deterministic: false, safeIntegers: true }, (count) =>
    prng().nextBytes(builtins.blobLength(count)),
  )
  for (const [name, timeArgument] of TIME_FUNCTIONS) {
    db.function(name, { varargs: true, deterministic: true, safeIntegers: true }, (...args) => {
      let fixed: SqliteFunctionValue[]
      if (timeArgument < 0) {
        fixed = args.map(fixNow)
      } else {
        fixed = args.filter((value, i) => i <= timeArgument || !isTimeZoneModifier(value))
        if (fixed.length === timeArgument) fixed.push(now())
        else if (fixed.length > timeArgument) fixed[timeArgument] = fixNow(fixed[timeArgument] ?? null)
      }
      return builtins.call(name, fixed)
    })
  }
  const current = (key: 'timestamp' | 'date' | 'time', builtin: string): string => {
    const nowText = now()
    if (currentCache.nowText !== nowText) currentCache = { nowText }
    let value = currentCache[key]
    if (value === undefined) {
      const result = builtins.call(builtin, [nowText])
      assert(typeof result === 'string', `${builtin}() of a valid time returned ${typeof result}`)
      value = result
      currentCache[key] = value
    }
    return value
  }
  db.function('current_timestamp', { deterministic: true }, () => current('timestamp', 'datetime'))
  db.function('current_date', { deterministic: true }, () => current('date', 'date'))
  db.function('current_time', { deterministic: true }, () => current('time', 'time'))

  return {
    beginApply(seed: Seed, nowMs: number): void {
      seeded = Xoshiro128.fromSeed(seed, nowMs)
      fixedNowMs = nowMs
    },
    beginLocal(): void {
      seeded = undefined
      fixedNowMs = undefined
    },
  }
}

/** `'YYYY-MM-DD HH:MM:SS.SSSZ'`: what SQLite's 'now' means, with the `Z` marking it as UTC. */
function isoNow(nowMs: number): string {
  assert(Number.isSafeInteger(nowMs) && nowMs >= 0 && nowMs <= NOW_MS_MAX, `nowMs out of range: ${nowMs}`)
  return new Date(nowMs).toISOString().replace('T', ' ')
}

/** SQLite compares modifiers with sqlite3_stricmp: case-insensitive, no trimming. */
function isTimeZoneModifier(value: SqliteFunctionValue): boolean {
  if (typeof value !== 'string' || (value.length !== 3 && value.length !== 9)) return false
  const lower = value.toLowerCase()
  return lower === 'utc' || lower === 'localtime'
}

/** Calls built-in SQL functions on the pristine helper connection, one cached statement per name and arity. */
class BuiltinCaller {
  readonly #helper: SqliteDatabase
  readonly #statements = new Map<string, SqliteStatement>()
  readonly #castInteger: SqliteStatement

  constructor(helper: SqliteDatabase) {
    this.#helper = helper
    this.#castInteger = helper.prepare('SELECT CAST(? AS INTEGER)').pluck().safeIntegers(true)
  }

  call(name: string, args: readonly SqliteFunctionValue[]): SqliteFunctionValue {
    const key = `${name}/${args.length}`
    let statement = this.#statements.get(key)
    if (statement === undefined) {
      const placeholders = args.map(() => '?').join(', ')
      // safeIntegers: an INTEGER result (unixepoch) must come back as a bigint, or returning it from the
      // override would turn it into a REAL.
      statement = this.#helper.prepare(`SELECT ${name}(${placeholders})`).pluck().safeIntegers(true)
      this.#statements.set(key, statement)
    }
    return statement.get(...args) as SqliteFunctionValue
  }

  /** The byte count `randomblob(N)` uses: sqlite3_value_int64(N), at least 1. */
  blobLength(count: SqliteFunctionValue): number {
    let n: bigint
    if (typeof count === 'bigint') n = count
    else if (count === null) n = 0n
    else {
      const converted = this.#castInteger.get(count)
      n = typeof converted === 'bigint' ? converted : 0n
    }
    if (n < 1n) return 1
    if (n > BigInt(BLOB_BYTES_MAX)) throw new RangeError('string or blob too big')
    return Number(n)
  }
}

/**
 * xoshiro128** (Blackman and Vigna), 128-bit state. Seeded from a u32 plus the batch time through
 * splitmix32, or from 16 bytes taken as the state.
 */
export class Xoshiro128 {
  #a: number
  #b: number
  #c: number
  #d: number

  private constructor(a: number, b: number, c: number, d: number) {
    this.#a = a
    this.#b = b
    this.#c = c
    this.#d = d
    if ((a | b | c | d) === 0) this.#d = 0x9e3779b9 // the all-zero state never leaves zero
  }

  static fromSeed(seed: Seed, nowMs: number): Xoshiro128 {
    if (typeof seed !== 'number') {
      assert(seed.length === 16, `a byte seed must be 16 bytes, got ${seed.length}`)
      const view = new DataView(seed.buffer, seed.byteOffset, 16)
      return new Xoshiro128(
        view.getUint32(0, true),
        view.getUint32(4, true),
        view.getUint32(8, true),
        view.getUint32(12, true),
      )
    }
    let state = seed >>> 0
    const splitmix32 = (): number => {
      state = (state + 0x9e3779b9) >>> 0
      let z = state
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
      return (z ^ (z >>> 16)) >>> 0
    }
    const nowLow = nowMs >>> 0
    const nowHigh = Math.floor(nowMs / 0x1_0000_0000) >>> 0
    const generator = new Xoshiro128(
      splitmix32(),
      splitmix32() ^ nowLow,
      splitmix32() ^ nowHigh,
      splitmix32(),
    )
    for (let i = 0; i < 8; i++) generator.next32() // spread the time bits over the whole state
    return generator
  }

  next32(): number {
    const b = this.#b
    const result = Math.imul(rotateLeft(Math.imul(b, 5), 7), 9) >>> 0
    const t = b << 9
    this.#c ^= this.#a
    this.#d ^= b
    this.#b ^= this.#c
    this.#a ^= this.#d
    this.#c ^= t
    this.#d = rotateLeft(this.#d, 11)
    return result
  }

  /** A signed 64-bit integer, as SQLite's random() returns. */
  nextInt64(): bigint {
    const high = this.next32()
    const low = this.next32()
    return BigInt.asIntN(64, (BigInt(high) << 32n) | BigInt(low))
  }

  nextBytes(count: number): Buffer {
    const bytes = Buffer.allocUnsafe(count)
    for (let i = 0; i < count; i += 4) {
      const word = this.next32()
      for (let k = 0; k < 4 && i + k < count; k++) bytes[i + k] = (word >>> (8 * k)) & 0xff
    }
    return bytes
  }
}

function rotateLeft(x: number, bits: number): number {
  return (x << bits) | (x >>> (32 - bits))
}
