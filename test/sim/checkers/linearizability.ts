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

export interface CheckOptions {
  /** Wall time for the whole check, over all keys (default 30 000 ms). */
  readonly timeBudgetMs?: number
  /** Keys with more operations are not searched and make the result `unknown` (default: no limit). */
  readonly maxOpsPerKey?: number
  /** Milliseconds; injected so tests can exhaust the budget deterministically. */
  readonly clock?: () => number
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
 * first appearance; an illegal key wins over an unknown one, and the search stops at the first
 * illegal key or when the time budget runs out.
 */
export function checkOperations<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly ModelOperation<Input, Output>[],
  options: CheckOptions = {},
): LinearizabilityResult {
  const clock = options.clock ?? (() => performance.now())
  const deadline = clock() + (options.timeBudgetMs ?? 30_000)
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
    const outcome = searchKey(model, keyOps, deadline, clock)
    switch (outcome.kind) {
      case 'ok':
        break
      case 'illegal':
        return illegalResult(model, key, keyOps, outcome)
      case 'timeout':
        return {
          result: 'unknown',
          key,
          reason:
            `time budget of ${options.timeBudgetMs ?? 30_000} ms exhausted while searching ${keyOps.length} ` +
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

type SearchOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'illegal'; readonly prefix: readonly number[]; readonly events: Int32Array }
  | { readonly kind: 'timeout'; readonly deepest: number }

/** Steps between clock reads: cheap enough to bound overshoot, rare enough not to cost time. */
const clockCheckInterval = 4096

/**
 * The search over one key's operations, indexed 0..n-1. List node 2i is the call of operation i
 * and 2i + 1 its return; node 2n is the head sentinel; -1 ends the list.
 */
function searchKey<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly ModelOperation<Input, Output>[],
  deadline: number,
  clock: () => number,
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

  const zobrist = zobristKeys(n)
  const linearized = new Uint32Array(Math.ceil(n / 32))
  let linearizedHash = 0
  const toggle = (i: number): void => {
    linearized[i >>> 5]! ^= 1 << (i & 31)
    linearizedHash ^= zobrist[i]!
  }
  const cache = new VisitedSet<State>(
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
        toggle(i)
        if (cache.addIfAbsent(linearized, linearizedHash, result.next)) {
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
        toggle(i)
      }
      entry = next[entry]!
    } else {
      // A return whose call is not linearized: every candidate before it has been tried here.
      const i = stackOps.pop()
      if (i === undefined) return { kind: 'illegal', prefix: longest, events }
      state = stackStates.pop()!
      agreeing = Math.min(agreeing, stackOps.length)
      toggle(i)
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

interface VisitedEntry<State> {
  readonly linearized: Uint32Array
  readonly state: State
}

/** Hash set of (linearized set, state) compared for real equality, not only by hash. */
class VisitedSet<State> {
  readonly #buckets = new Map<number, VisitedEntry<State>[]>()

  constructor(
    readonly equal: (a: State, b: State) => boolean,
    readonly hash: (state: State) => number,
  ) {}

  /** Adds a copy of the pair and returns true, or returns false if it was already present. */
  addIfAbsent(linearized: Uint32Array, linearizedHash: number, state: State): boolean {
    const hash = linearizedHash ^ Math.imul(this.hash(state) | 0, 0x9e3779b1)
    const bucket = this.#buckets.get(hash)
    if (bucket !== undefined) {
      for (const visited of bucket) {
        if (this.equal(visited.state, state) && sameBits(visited.linearized, linearized)) return false
      }
    }
    const entry = { linearized: linearized.slice(), state }
    if (bucket === undefined) this.#buckets.set(hash, [entry])
    else bucket.push(entry)
    return true
  }
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let w = 0; w < a.length; w++) if (a[w] !== b[w]) return false
  return true
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
