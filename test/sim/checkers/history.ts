import { assert, assertNever } from '../../../src/util/assert.js'

/**
 * History format for the register / key-value workloads (docs/testing.md §4.e).
 *
 * One operation per client request. `call` and `ret` are the times at which the client sent the
 * request and received the answer, on one clock shared by all clients. An operation whose outcome
 * is unknown (timeout, connection lost, "unknown outcome") is *indeterminate*: `ret` is `Infinity`
 * and `output` is `undefined`, because it may take effect at any time after its call, or never.
 * Only writes and CAS may be indeterminate; a read with no answer tells nothing and is dropped, as
 * are operations that definitely failed (for example "not leader" before proposing).
 *
 * Every write and CAS is expected to use a unique value, so that an indeterminate write can be
 * resolved when its value is observed.
 */

export type RegisterFunction = 'read' | 'write' | 'cas'

/** A compare-and-set: succeeds iff the register holds `expected` (`null` = never written). */
export interface CasInput {
  readonly expected: string | null
  readonly next: string
}

export interface CasOutput {
  readonly ok: boolean
}

interface OperationTimes {
  readonly id: number
  readonly client: number
  readonly key: string
  readonly call: number
  /** `Infinity` for an indeterminate operation. */
  readonly ret: number
}

export interface ReadOperation extends OperationTimes {
  readonly f: 'read'
  readonly input: null
  /** The value read; `null` when the key was never written. */
  readonly output: string | null
}

export interface WriteOperation extends OperationTimes {
  readonly f: 'write'
  readonly input: string
  /** `null` when acknowledged, `undefined` when indeterminate. */
  readonly output: null | undefined
}

export interface CasOperation extends OperationTimes {
  readonly f: 'cas'
  readonly input: CasInput
  /** `undefined` when indeterminate. */
  readonly output: CasOutput | undefined
}

export type RegisterOperation = ReadOperation | WriteOperation | CasOperation

/** The request part of an operation, discriminated on `f`; a `RegisterOperation` is one too. */
export type RegisterCall =
  | { readonly f: 'read'; readonly input: null }
  | { readonly f: 'write'; readonly input: string }
  | { readonly f: 'cas'; readonly input: CasInput }

export type RegisterOutput = string | null | CasOutput | undefined

export interface RegisterInputs {
  read: null
  write: string
  cas: CasInput
}

export function isIndeterminate(op: { readonly ret: number }): boolean {
  return op.ret === Number.POSITIVE_INFINITY
}

export function describeValue(value: string | null | undefined): string {
  if (value === undefined) return '?'
  return value === null ? 'null' : JSON.stringify(value)
}

/** Short text for reports, e.g. `cas("a" -> "b") -> ok`; does not include times or ids. */
export function describeRegisterCall(call: RegisterCall, output: RegisterOutput): string {
  switch (call.f) {
    case 'read':
      return `read() -> ${typeof output === 'object' && output !== null ? '?' : describeValue(output)}`
    case 'write':
      return `write(${describeValue(call.input)})${output === undefined ? ' -> ?' : ''}`
    case 'cas': {
      const result = typeof output === 'object' && output !== null ? (output.ok ? 'ok' : 'failed') : '?'
      return `cas(${describeValue(call.input.expected)} -> ${describeValue(call.input.next)}) -> ${result}`
    }
    default:
      return assertNever(call, 'register call')
  }
}

export function describeTimes(op: { readonly call: number; readonly ret: number }): string {
  return `[${op.call}, ${isIndeterminate(op) ? '∞' : op.ret}]`
}

/** Full text for reports, e.g. `#12 client 3 key "k1" read() -> "a" [40, 52]`. */
export function describeOperation(op: RegisterOperation): string {
  return `#${op.id} client ${op.client} key ${JSON.stringify(op.key)} ${describeRegisterCall(op, op.output)} ${describeTimes(op)}`
}

type RecordedStatus = 'pending' | 'completed' | 'failed' | 'indeterminate'

interface RecordedOperation {
  readonly client: number
  readonly key: string
  readonly request: RegisterCall
  readonly call: number
  status: RecordedStatus
  ret: number
  output: string | null | CasOutput
}

/**
 * Collects operations as a workload runs. Each invoked operation ends with exactly one of
 * `complete`, `fail` or `indeterminate`; one still pending when `history()` is called is treated
 * as indeterminate, because its client never learnt the outcome.
 */
export class HistoryRecorder {
  readonly #operations: RecordedOperation[] = []

  /** Records the call and returns the operation id (ids count up from 0 in call order). */
  invoke<F extends RegisterFunction>(
    client: number,
    key: string,
    f: F,
    input: RegisterInputs[F],
    time: number,
  ): number {
    assert(Number.isFinite(time), `invoke: call time must be finite, got ${time}`)
    this.#operations.push({
      client,
      key,
      request: makeCall(f, input),
      call: time,
      status: 'pending',
      ret: Number.POSITIVE_INFINITY,
      output: null,
    })
    return this.#operations.length - 1
  }

  /** The operation returned `output` at `time`: the value for a read, `null` for a write. */
  complete(id: number, output: string | null | CasOutput, time: number): void {
    const op = this.#pending(id)
    assert(Number.isFinite(time), `complete #${id}: return time must be finite, got ${time}`)
    assert(time >= op.call, `complete #${id}: returned at ${time} before its call at ${op.call}`)
    switch (op.request.f) {
      case 'read':
        assert(
          typeof output === 'string' || output === null,
          `complete #${id}: a read returns a value or null`,
        )
        break
      case 'write':
        assert(output === null, `complete #${id}: a write returns null`)
        break
      case 'cas':
        assert(
          typeof output === 'object' && output !== null && typeof output.ok === 'boolean',
          `complete #${id}: a cas returns { ok }`,
        )
        break
      default:
        assertNever(op.request, 'register call')
    }
    op.status = 'completed'
    op.ret = time
    op.output = output
  }

  /** The operation definitely did not take effect (e.g. rejected before proposing): it is dropped. */
  fail(id: number): void {
    this.#pending(id).status = 'failed'
  }

  /** The outcome is unknown: it may have taken effect at any time after its call, or never. */
  indeterminate(id: number): void {
    this.#pending(id).status = 'indeterminate'
  }

  /** The operations to check, in call order (by id); ids of dropped operations are skipped. */
  history(): RegisterOperation[] {
    const ops: RegisterOperation[] = []
    this.#operations.forEach((recorded, id) => {
      if (recorded.status === 'failed') return
      const op = toOperation(id, recorded)
      if (op !== undefined) ops.push(op)
    })
    return ops
  }

  #pending(id: number): RecordedOperation {
    const op = this.#operations[id]
    assert(op !== undefined, `unknown operation id ${id}`)
    assert(op.status === 'pending', `operation #${id} already ended as ${op.status}`)
    return op
  }
}

function makeCall<F extends RegisterFunction>(f: F, input: RegisterInputs[F]): RegisterCall {
  // The generic parameter does not narrow `input`, so each branch checks it at run time; this
  // also catches harness bugs in untyped callers.
  switch (f) {
    case 'read':
      assert(input === null, 'a read takes null as input')
      return { f, input }
    case 'write':
      assert(typeof input === 'string', 'a write takes a string value')
      return { f: 'write', input }
    case 'cas':
      assert(typeof input === 'object' && input !== null, 'a cas takes { expected, next }')
      assert(typeof input.next === 'string', 'cas: next must be a string')
      assert(
        typeof input.expected === 'string' || input.expected === null,
        'cas: expected must be a string or null',
      )
      return { f: 'cas', input: { expected: input.expected, next: input.next } }
    default:
      throw new TypeError(`unknown register function ${String(f)}`)
  }
}

function toOperation(id: number, recorded: RecordedOperation): RegisterOperation | undefined {
  const { client, key, call, request } = recorded
  const known = recorded.status === 'completed'
  const ret = known ? recorded.ret : Number.POSITIVE_INFINITY
  const output = recorded.output
  switch (request.f) {
    case 'read':
      // A read without an answer constrains nothing; keeping it would only slow the search.
      if (!known) return undefined
      assert(typeof output === 'string' || output === null, `read #${id} has a non-value output`)
      return { id, client, key, call, ret, f: 'read', input: null, output }
    case 'write':
      return {
        id,
        client,
        key,
        call,
        ret,
        f: 'write',
        input: request.input,
        output: known ? null : undefined,
      }
    case 'cas':
      assert(!known || (typeof output === 'object' && output !== null), `cas #${id} has no { ok } output`)
      return {
        id,
        client,
        key,
        call,
        ret,
        f: 'cas',
        input: request.input,
        output: known && typeof output === 'object' && output !== null ? { ok: output.ok } : undefined,
      }
    default:
      return assertNever(request, 'register call')
  }
}
