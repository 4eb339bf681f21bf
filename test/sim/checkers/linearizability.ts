import { assert, assertNever } from '../../../src/util/assert.js'
import type { RegisterCall, RegisterOperation, RegisterOutput } from './history.js'
import { describeRegisterCall, describeTimes, describeValue, isIndeterminate } from './history.js'

/**
 * Linearizability checker: Wing & Gong's backtracking search with Lowe's memoisation, laid out as
 * in porcupine (docs/testing.md §4.e), and split by key (P-compositionality, Horn & Kroening).
 *
 * Events are kept in a doubly linked list sorted by time. The search repeatedly linearizes the
 * earliest pending call whose model step is legal, lifting its call and return out of the list;
 * when it meets a return whose call is not linearized yet, no order of the remaining calls can
 * place that operation before it returned, so it backtracks. Visited (linearized set, state)
 * pairs are memoised, which is what keeps the search practical.
 *
 * Equal times: a call is ordered before a return at the same time, so an operation that returns
 * at time t and one that is called at time t are treated as concurrent. This is the lenient
 * choice: with a coarse clock we cannot tell which came first, and the checker must not report a
 * violation that depends on a tie.
 */

export interface StepResult<State> {
  readonly ok: boolean
  readonly next: State
}

/**
 * A sequential specification. `step` says whether `input` may produce `output` in `state`, and
 * the state after it; it is called with `output === undefined` for an indeterminate operation and
 * must then allow any outcome (linearizing one last is how "never happened" is expressed).
 * `equal` and `hash` must agree: equal states have equal hashes.
 */
export interface Model<State, Input, Output> {
  init(): State
  step(state: State, input: Input, output: Output): StepResult<State>
  equal(a: State, b: State): boolean
  /** A 32-bit integer; other numbers are truncated. */
  hash(state: State): number
  describeState?(state: State): string
  describeOperation?(input: Input, output: Output): string
}

/** One operation as the generic checker sees it; `ret` is `Infinity` when indeterminate. */
export interface ModelOperation<Input, Output> {
  readonly id: number
  readonly key: string
  readonly client?: number
  readonly call: number
  readonly ret: number
  readonly input: Input
  readonly output: Output
}

/** Generous for one simulator run, yet bounded so a pathological history cannot hang CI. */
export const defaultTimeBudgetMs = 30_000

export interface CheckOptions {
  /** Time for the whole check, over all keys (default `defaultTimeBudgetMs`). */
  readonly timeBudgetMs?: number
  /** Keys with more operations are not searched and make the result `unknown` (default: no limit). */
  readonly maxOpsPerKey?: number
  /** Milliseconds; injected so tests can exhaust the budget deterministically. */
  readonly clock?: () => number
  /**
   * Masks the memo's hashes. Only for the checker's own tests: a mask of 0 sends every lookup
   * through the real equality, which collisions otherwise exercise too rarely to test.
   */
  readonly memoHashMask?: number
}

export type LinearizabilityResult =
  | { readonly result: 'ok' }
  | {
      readonly result: 'illegal'
      readonly key: string
      /** Readable report: the longest partial linearization and the op that could not follow it. */
      readonly detail: string
      /** Ids of the longest partial linearization found, in linearization order. */
      readonly longestPrefix: readonly number[]
      /** Id of the operation that cannot be linearized after `longestPrefix`. */
      readonly blockedOpId: number
    }
  | { readonly result: 'unknown'; readonly key: string; readonly reason: string }

export type RegisterState = string | null

/**
 * A single register per key, initially `null` (never written). A read must return the current
 * value; a write sets it; a CAS succeeds iff the value equals `expected`. An indeterminate CAS
 * applies iff its compare matches where it is linearized.
 */
export const registerModel: Model<RegisterState, RegisterCall, RegisterOutput> = {
  init: () => null,
  step(state, call, output) {
    switch (call.f) {
      case 'read':
        return { ok: output === state, next: state }
      case 'write':
        return { ok: true, next: call.input }
      case 'cas': {
        const matches = state === call.input.expected
        const next = matches ? call.input.next : state
        if (output === undefined) return { ok: true, next }
        assert(typeof output === 'object' && output !== null, 'cas output must be { ok } or undefined')
        return { ok: output.ok === matches, next }
      }
      default:
        return assertNever(call, 'register call')
    }
  },
  equal: (a, b) => a === b,
  hash: (state) => (state === null ? 0x6e756c6c : hashString(state)),
  describeState: (state) => describeValue(state),
  describeOperation: describeRegisterCall,
}

/** Checks a register history (see history.ts) against `registerModel`, key by key. */
export function checkLinearizable(
  ops: readonly RegisterOperation[],
  options: CheckOptions = {},
): LinearizabilityResult {
  const modelOps = ops.map((op): ModelOperation<RegisterCall, RegisterOutput> => {
    if (op.f === 'read' && isIndeterminate(op)) {
      throw new RangeError(`read #${op.id} is indeterminate; drop reads without an answer from the history`)
    }
    if (isIndeterminate(op) !== (op.output === undefined)) {
      throw new RangeError(`#${op.id}: output must be undefined exactly when ret is Infinity`)
    }
    return {
      id: op.id,
      key: op.key,
      client: op.client,
      call: op.call,
      ret: op.ret,
      input: op,
      output: op.output,
    }
  })
  return checkOperations(registerModel, modelOps, options)
}

/**
 * Checks any history against any model, partitioned by `key`. Keys are searched in order of
 * first appearance; an illegal key wins over one skipped for `maxOpsPerKey`, and the search stops
 * at the first illegal key or when the time budget runs out. Throws a `RangeError` for a
 * malformed history (duplicate ids, a return before its call), which is a harness bug.
 */
export function checkOperations<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly ModelOperation<Input, Output>[],
  options: CheckOptions = {},
): LinearizabilityResult {
  const clock = options.clock ?? (() => performance.now())
  const deadline = clock() + (options.timeBudgetMs ?? defaultTimeBudgetMs)
  const maxOpsPerKey = options.maxOpsPerKey ?? Number.POSITIVE_INFINITY
  validate(ops)

  let firstUnknown: LinearizabilityResult | undefined
  for (const [key, keyOps] of partitionByKey(ops)) {
    if (keyOps.length > maxOpsPerKey) {
      firstUnknown ??= {
        result: 'unknown',
        key,
        reason: `key has ${keyOps.length} operations, more than maxOpsPerKey (${maxOpsPerKey}); not searched`,
      }
      continue
    }
    const ordered = orderForSearch(keyOps)
    const outcome = searchKey(model, ordered, { deadline, clock, memoHashMask: options.memoHashMask ?? -1 })
    switch (outcome.kind) {
      case 'ok':
        break
      case 'illegal':
        return illegalResult(model, key, ordered, outcome)
      case 'timeout':
        return {
          result: 'unknown',
          key,
          reason:
            `time budget of ${options.timeBudgetMs ?? defaultTimeBudgetMs} ms exhausted while searching ${keyOps.length} ` +
            `operations (deepest partial linearization: ${outcome.deepest})`,
        }
      default:
        assertNever(outcome, 'search outcome')
    }
  }
  return firstUnknown ?? { result: 'ok' }
}

function validate(ops: readonly ModelOperation<unknown, unknown>[]): void {
  const ids = new Set<number>()
  for (const op of ops) {
    if (ids.has(op.id)) throw new RangeError(`duplicate operation id ${op.id}`)
    ids.add(op.id)
    if (!Number.isFinite(op.call)) throw new RangeError(`#${op.id}: call time must be finite, got ${op.call}`)
    if (Number.isNaN(op.ret) || op.ret < op.call) {
      throw new RangeError(`#${op.id}: returns at ${op.ret}, before its call at ${op.call}`)
    }
  }
}

function partitionByKey<T extends { readonly key: string }>(ops: readonly T[]): Map<string, T[]> {
  const byKey = new Map<string, T[]>()
  for (const op of ops) {
    const list = byKey.get(op.key)
    if (list === undefined) byKey.set(op.key, [op])
    else list.push(op)
  }
  return byKey
}

/**
 * Determinate operations by call time, then indeterminate ones by call time. `LinearizedSet`
 * relies on this order to keep its memo keys small.
 */
function orderForSearch<T extends { readonly call: number; readonly ret: number }>(ops: readonly T[]): T[] {
  const byCall = (a: T, b: T): number => a.call - b.call
  const determinate = ops.filter((op) => op.ret !== Number.POSITIVE_INFINITY).sort(byCall)
  const indeterminate = ops.filter((op) => op.ret === Number.POSITIVE_INFINITY).sort(byCall)
  return [...determinate, ...indeterminate]
}

type SearchOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'illegal'; readonly prefix: readonly number[]; readonly events: Int32Array }
  | { readonly kind: 'timeout'; readonly deepest: number }

/** Steps between clock reads: cheap enough to bound overshoot, rare enough not to cost time. */
const clockCheckInterval = 4096

/**
 * The search over one key's operations, indexed 0..n-1 in `orderForSearch` order. List node 2i
 * is the call of operation i and 2i + 1 its return; node 2n is the head sentinel; -1 ends it.
 */
function searchKey<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly ModelOperation<Input, Output>[],
  limits: { readonly deadline: number; readonly clock: () => number; readonly memoHashMask: number },
): SearchOutcome {
  const n = ops.length
  const head = 2 * n
  const events = sortedEvents(ops)
  const next = new Int32Array(2 * n + 1).fill(-1)
  const prev = new Int32Array(2 * n + 1).fill(-1)
  let last = head
  for (const node of events) {
    next[last] = node
    prev[node] = last
    last = node
  }

  // Lifting and unlifting happen in stack order, so each unlift restores exactly what its lift
  // removed (dancing links).
  const unlink = (node: number): void => {
    const before = prev[node]!
    const after = next[node]!
    next[before] = after
    if (after !== -1) prev[after] = before
  }
  const relink = (node: number): void => {
    const after = next[node]!
    next[prev[node]!] = node
    if (after !== -1) prev[after] = node
  }
  const lift = (i: number): void => {
    unlink(2 * i)
    unlink(2 * i + 1)
  }
  const unlift = (i: number): void => {
    relink(2 * i + 1)
    relink(2 * i)
  }

  const determinateCount = ops.findIndex((op) => op.ret === Number.POSITIVE_INFINITY)
  const linearized = new LinearizedSet(determinateCount === -1 ? n : determinateCount, n)
  const encoded = new Uint32Array(linearized.encodedLengthMax)
  const { deadline, clock } = limits
  const cache = new VisitedSet<State>(
    limits.memoHashMask,
    (a, b) => model.equal(a, b),
    (s) => model.hash(s),
  )

  const stackOps: number[] = []
  const stackStates: State[] = []
  let state = model.init()
  // `longest` is the deepest stack seen; its first `agreeing` entries equal the current stack's,
  // so a new maximum only copies what was pushed since the stacks diverged (amortised O(1)).
  const longest: number[] = []
  let agreeing = 0

  let steps = 0
  let entry = next[head]!
  while (next[head] !== -1) {
    if (++steps % clockCheckInterval === 0 && clock() > deadline) {
      return { kind: 'timeout', deepest: longest.length }
    }
    if ((entry & 1) === 0) {
      const i = entry >>> 1
      const op = ops[i]!
      const result = model.step(state, op.input, op.output)
      if (result.ok) {
        linearized.toggle(i)
        const length = linearized.encode(encoded)
        if (cache.addIfAbsent(encoded, length, linearized.hash, result.next)) {
          stackOps.push(i)
          stackStates.push(state)
          state = result.next
          lift(i)
          if (stackOps.length > longest.length) {
            longest.length = agreeing
            for (let k = agreeing; k < stackOps.length; k++) longest.push(stackOps[k]!)
            agreeing = stackOps.length
          }
          entry = next[head]!
          continue
        }
        linearized.toggle(i)
      }
      entry = next[entry]!
    } else {
      // A return whose call is not linearized: every candidate before it has been tried here.
      const i = stackOps.pop()
      if (i === undefined) return { kind: 'illegal', prefix: longest, events }
      state = stackStates.pop()!
      agreeing = Math.min(agreeing, stackOps.length)
      linearized.toggle(i)
      unlift(i)
      entry = next[2 * i]!
    }
  }
  return { kind: 'ok' }
}

/** Call and return nodes sorted by time; at equal times calls first, then by operation index. */
function sortedEvents(ops: readonly ModelOperation<unknown, unknown>[]): Int32Array {
  const nodes = Array.from({ length: 2 * ops.length }, (_, node) => node)
  const time = (node: number): number => {
    const op = ops[node >>> 1]!
    return (node & 1) === 0 ? op.call : op.ret
  }
  nodes.sort((a, b) => {
    const ta = time(a)
    const tb = time(b)
    if (ta !== tb) return ta < tb ? -1 : 1
    if ((a & 1) !== (b & 1)) return (a & 1) - (b & 1)
    return a - b
  })
  return Int32Array.from(nodes)
}

/** Random 32-bit keys per operation, from a fixed seed so runs are reproducible. */
function zobristKeys(n: number): Int32Array {
  const keys = new Int32Array(n)
  let seed = 0x2545f491
  for (let i = 0; i < n; i++) {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    keys[i] = t ^ (t >>> 14)
  }
  return keys
}

/** FNV-1a over UTF-16 code units. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash | 0
}

/**
 * The set of linearized operations as a bitset, with an incremental Zobrist hash and a compact
 * canonical encoding for the memo.
 *
 * Determinate operations are numbered by call time. Every one called before the earliest
 * unlinearized return is either linearized or still concurrent with it, and none called after it
 * can be linearized yet, so the bitset is all ones up to a word `low` and all zeros after a word
 * `high`, with a window of a few words between. The encoding stores only `low`, the window, and
 * the separate bitset of indeterminate operations, which may stay pending to the end. Whole
 * bitsets took over 500 MB for one 10 000-operation key.
 */
class LinearizedSet {
  hash = 0
  readonly encodedLengthMax: number
  readonly #determinateCount: number
  readonly #determinateWords: number
  /** Mask of a full last determinate word, which may be partly padding. */
  readonly #lastWordFull: number
  readonly #bits: Uint32Array
  readonly #zobrist: Int32Array
  /** First determinate word that is not full. */
  #low = 0
  /** Last determinate word that is not zero, or -1. */
  #high = -1

  constructor(determinateCount: number, count: number) {
    this.#determinateCount = determinateCount
    this.#determinateWords = Math.ceil(determinateCount / 32)
    const remainder = determinateCount & 31
    this.#lastWordFull = remainder === 0 ? 0xffffffff : (1 << remainder) - 1
    const indeterminateWords = Math.ceil((count - determinateCount) / 32)
    this.#bits = new Uint32Array(this.#determinateWords + indeterminateWords)
    this.encodedLengthMax = 2 + this.#bits.length
    this.#zobrist = zobristKeys(count)
  }

  toggle(i: number): void {
    const position =
      i < this.#determinateCount ? i : this.#determinateWords * 32 + (i - this.#determinateCount)
    const w = position >>> 5
    const bit = 1 << (position & 31)
    const bits = this.#bits
    bits[w]! ^= bit
    this.hash ^= this.#zobrist[i]!
    if (w >= this.#determinateWords) return
    if ((bits[w]! & bit) !== 0) {
      if (w > this.#high) this.#high = w
      while (this.#low < this.#determinateWords && bits[this.#low] === this.#full(this.#low)) this.#low++
    } else {
      if (w < this.#low) this.#low = w
      while (this.#high >= 0 && bits[this.#high] === 0) this.#high--
    }
  }

  /** Writes the canonical encoding into `out` and returns its length. */
  encode(out: Uint32Array): number {
    const bits = this.#bits
    let length = 0
    out[length++] = this.#low
    out[length++] = Math.max(0, this.#high - this.#low + 1)
    for (let w = this.#low; w <= this.#high; w++) out[length++] = bits[w]!
    for (let w = this.#determinateWords; w < bits.length; w++) out[length++] = bits[w]!
    return length
  }

  #full(w: number): number {
    return w === this.#determinateWords - 1 ? this.#lastWordFull : 0xffffffff
  }
}

/**
 * Open-addressing hash set of (encoded linearized set, state) pairs, compared for real
 * equality, not only by hash. Encodings live in one growing arena rather than one typed array
 * per entry: searches that must exhaust create millions of entries, and per-entry objects made
 * garbage collection the dominant cost.
 */
class VisitedSet<State> {
  #arena = new Uint32Array(1 << 16)
  #arenaUsed = 0
  /** Per entry: its offset in the arena, where its length comes first. */
  #offsets = new Int32Array(1024)
  #hashes = new Int32Array(1024)
  readonly #states: State[] = []
  /** Entry index + 1 per slot; 0 = empty. */
  #slots = new Int32Array(2048)
  #size = 0

  constructor(
    readonly hashMask: number,
    readonly equal: (a: State, b: State) => boolean,
    readonly hash: (state: State) => number,
  ) {}

  /** Adds a copy of the pair and returns true, or returns false if it was already present. */
  addIfAbsent(encoded: Uint32Array, length: number, setHash: number, state: State): boolean {
    const hash = (setHash ^ Math.imul(this.hash(state) | 0, 0x9e3779b1)) & this.hashMask
    const mask = this.#slots.length - 1
    let slot = mix(hash) & mask
    for (;;) {
      const stored = this.#slots[slot]!
      if (stored === 0) break
      const entry = stored - 1
      if (
        this.#hashes[entry] === hash &&
        this.#sameEncoding(entry, encoded, length) &&
        this.equal(this.#states[entry]!, state)
      ) {
        return false
      }
      slot = (slot + 1) & mask
    }
    this.#append(encoded, length, hash, state)
    return true
  }

  #sameEncoding(entry: number, encoded: Uint32Array, length: number): boolean {
    const arena = this.#arena
    const offset = this.#offsets[entry]!
    if (arena[offset] !== length) return false
    for (let k = 0; k < length; k++) if (arena[offset + 1 + k] !== encoded[k]) return false
    return true
  }

  #append(encoded: Uint32Array, length: number, hash: number, state: State): void {
    const entry = this.#size++
    if (entry === this.#hashes.length) {
      this.#offsets = grown(this.#offsets, this.#offsets.length * 2)
      this.#hashes = grown(this.#hashes, this.#hashes.length * 2)
    }
    if (this.#arenaUsed + 1 + length > this.#arena.length) {
      const arena = new Uint32Array(Math.max(this.#arena.length * 2, this.#arenaUsed + 1 + length))
      arena.set(this.#arena)
      this.#arena = arena
    }
    const offset = this.#arenaUsed
    this.#arena[offset] = length
    for (let k = 0; k < length; k++) this.#arena[offset + 1 + k] = encoded[k]!
    this.#arenaUsed += 1 + length
    this.#offsets[entry] = offset
    this.#hashes[entry] = hash
    this.#states.push(state)
    if (this.#hashes.length * 2 === this.#slots.length) {
      this.#place(entry)
    } else {
      // The entry arrays grew: keep the load factor at most 1/2.
      this.#slots = new Int32Array(this.#hashes.length * 2)
      for (let e = 0; e < this.#size; e++) this.#place(e)
    }
  }

  #place(entry: number): void {
    const mask = this.#slots.length - 1
    let slot = mix(this.#hashes[entry]!) & mask
    while (this.#slots[slot] !== 0) slot = (slot + 1) & mask
    this.#slots[slot] = entry + 1
  }
}

function grown(array: Int32Array, length: number): Int32Array<ArrayBuffer> {
  const copy = new Int32Array(length)
  copy.set(array)
  return copy
}

/** Spreads the bits so that masking the low ones gives well-distributed slots. */
function mix(hash: number): number {
  let h = Math.imul(hash ^ (hash >>> 16), 0x45d9f3b)
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b)
  return h ^ (h >>> 16)
}

function illegalResult<State, Input, Output>(
  model: Model<State, Input, Output>,
  key: string,
  ops: readonly ModelOperation<Input, Output>[],
  outcome: { readonly prefix: readonly number[]; readonly events: Int32Array },
): LinearizabilityResult {
  const placed = new Set(outcome.prefix)
  // The earliest return among unplaced operations is the one the search kept hitting: whatever
  // was linearized, this operation had to come next and was illegal in that state (had it been
  // legal, the prefix would have been longer).
  let blocked: number | undefined
  for (const node of outcome.events) {
    if ((node & 1) === 1 && !placed.has(node >>> 1)) {
      blocked = node >>> 1
      break
    }
  }
  assert(blocked !== undefined, 'an illegal history has an operation that could not be placed')
  let state = model.init()
  for (const i of outcome.prefix) state = model.step(state, ops[i]!.input, ops[i]!.output).next
  const describeState = model.describeState ?? ((s: State) => JSON.stringify(s) ?? String(s))
  const describe = (i: number): string => {
    const op = ops[i]!
    const text = model.describeOperation?.(op.input, op.output) ?? describeGeneric(op.input, op.output)
    return `#${op.id}${op.client === undefined ? '' : ` client ${op.client}`} ${text} ${describeTimes(op)}`
  }
  const tailLength = 5
  const tail = outcome.prefix.slice(-tailLength).map(describe)
  const blockedOp = ops[blocked]!
  const detail = [
    `key ${JSON.stringify(key)}: not linearizable.`,
    `Longest partial linearization: ${outcome.prefix.length} of ${ops.length} operations, ending in state ${describeState(state)}.`,
    tail.length === 0
      ? 'It is empty: no operation can be linearized first.'
      : `Its last ${tail.length === outcome.prefix.length ? '' : `${tail.length} `}operations: ${tail.join('; ')}.`,
    `First operation that could not be placed: ${describe(blocked)}, illegal in state ${describeState(state)}.`,
  ].join('\n')
  return {
    result: 'illegal',
    key,
    detail,
    longestPrefix: outcome.prefix.map((i) => ops[i]!.id),
    blockedOpId: blockedOp.id,
  }
}

function describeGeneric(input: unknown, output: unknown): string {
  const text = (value: unknown): string =>
    value === undefined ? '?' : (JSON.stringify(value) ?? String(value))
  return `${text(input)} -> ${text(output)}`
}
