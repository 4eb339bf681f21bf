// Proves the linearizability checker both accepts legal histories and rejects broken ones, using hand-written histories, seeded simulated registers with chosen linearization points, and injected faults.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { CasOperation, ReadOperation, RegisterOperation, WriteOperation } from './history.js'
import { describeOperation, HistoryRecorder } from './history.js'
import type { LinearizabilityResult, Model, ModelOperation } from './linearizability.js'
import { checkLinearizable, checkOperations } from './linearizability.js'

const INF = Number.POSITIVE_INFINITY

/** Seeded PRNG so generated histories are the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed | 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

let nextId = 1000
function read(client: number, call: number, ret: number, output: string | null, key = 'x'): ReadOperation {
  return { id: nextId++, client, key, f: 'read', input: null, output, call, ret }
}
function write(client: number, call: number, ret: number, value: string, key = 'x'): WriteOperation {
  return {
    id: nextId++,
    client,
    key,
    f: 'write',
    input: value,
    output: ret === INF ? undefined : null,
    call,
    ret,
  }
}
function cas(
  client: number,
  call: number,
  ret: number,
  expected: string | null,
  next: string,
  ok: boolean | undefined,
  key = 'x',
): CasOperation {
  const output = ok === undefined ? undefined : { ok }
  return { id: nextId++, client, key, f: 'cas', input: { expected, next }, output, call, ret }
}

function assertOk(result: LinearizabilityResult): void {
  assert.deepEqual(
    result,
    { result: 'ok' },
    result.result === 'illegal' ? result.detail : JSON.stringify(result),
  )
}

function assertIllegal(
  result: LinearizabilityResult,
  key = 'x',
): Extract<LinearizabilityResult, { result: 'illegal' }> {
  assert.equal(result.result, 'illegal', JSON.stringify(result))
  assert.ok(result.result === 'illegal')
  assert.equal(result.key, key)
  return result
}

describe('hand-written register histories', () => {
  test('the empty history and a read of the initial null are linearizable', () => {
    assertOk(checkLinearizable([]))
    assertOk(checkLinearizable([read(0, 0, 1, null)]))
  })

  test('porcupine README example 1: overlapping write and reads in a legal order', () => {
    // C0 write(100) [0,100]; C1 read -> 100 [25,75]; C2 read -> null [30,60]:
    // read null at 30, write at 61, read 100 at 70.
    assertOk(checkLinearizable([write(0, 0, 100, '100'), read(1, 25, 75, '100'), read(2, 30, 60, null)]))
  })

  test('porcupine README example 2: a read sees the new value, a later read the old one', () => {
    const result = checkLinearizable([write(0, 0, 100, '200'), read(1, 10, 30, '200'), read(2, 40, 90, null)])
    assertIllegal(result)
  })

  test('stale read after a completed overwrite is illegal', () => {
    const stale = read(2, 40, 50, 'a')
    const result = assertIllegal(checkLinearizable([write(0, 0, 10, 'a'), write(1, 20, 30, 'b'), stale]))
    assert.equal(result.blockedOpId, stale.id)
    assert.equal(result.longestPrefix.length, 2)
    assert.match(result.detail, /key "x"/)
    assert.match(result.detail, /2 of 3 operations, ending in state "b"/)
    assert.match(result.detail, new RegExp(`#${stale.id} client 2 read\\(\\) -> "a" \\[40, 50\\]`))
  })

  test('reading a value that was never written is illegal', () => {
    const result = assertIllegal(checkLinearizable([write(0, 0, 10, 'a'), read(1, 5, 15, 'zzz')]))
    assert.match(result.detail, /read\(\) -> "zzz"/)
    assertIllegal(checkLinearizable([read(0, 0, 1, 'ghost')]))
  })

  test('reading a write that had not been invoked yet is illegal', () => {
    assertIllegal(checkLinearizable([read(0, 0, 10, 'a'), write(1, 20, 30, 'a')]))
  })

  test('many concurrent writes: a read may see any of them, but later reads cannot go back', () => {
    const writes = [write(0, 0, 100, 'a'), write(1, 0, 100, 'b'), write(2, 0, 100, 'c')]
    assertOk(
      checkLinearizable([...writes, read(3, 10, 20, 'b'), read(3, 30, 40, 'c'), read(4, 110, 120, 'c')]),
    )
    assertIllegal(
      checkLinearizable([...writes, read(3, 10, 20, 'b'), read(3, 30, 40, 'c'), read(4, 50, 60, 'b')]),
    )
  })

  test('equal times: a return at t and a call at t count as concurrent', () => {
    // The read is called at the write's return time, so it may be linearized before the write.
    assertOk(checkLinearizable([write(0, 0, 10, 'a'), read(1, 10, 20, null)]))
    assertIllegal(checkLinearizable([write(0, 0, 10, 'a'), read(1, 11, 20, null)]))
    // Zero-length operations are legal too.
    assertOk(checkLinearizable([write(0, 5, 5, 'a'), read(1, 5, 5, 'a'), read(1, 5, 5, null)]))
  })

  test('keys are independent and the illegal key is reported', () => {
    const ops = [write(0, 0, 10, 'a', 'x'), read(1, 20, 30, 'a', 'x'), read(1, 40, 50, 'a', 'y')]
    assertIllegal(checkLinearizable(ops), 'y')
    assertOk(checkLinearizable([write(0, 0, 10, 'a', 'x'), read(1, 20, 30, null, 'y')]))
  })

  test('an illegal first operation gives an empty partial linearization', () => {
    const result = assertIllegal(checkLinearizable([read(0, 0, 10, 'a')]))
    assert.deepEqual(result.longestPrefix, [])
    assert.match(result.detail, /0 of 1 operations/)
  })

  test('malformed histories are rejected loudly', () => {
    assert.throws(() => checkLinearizable([{ ...read(0, 0, 1, null), ret: INF }]), /indeterminate/)
    assert.throws(() => checkLinearizable([write(0, 10, 5, 'a')]), /before its call/)
    const op = write(0, 0, 5, 'a')
    assert.throws(() => checkLinearizable([op, op]), /duplicate/)
    assert.throws(
      () => checkLinearizable([{ ...write(0, 0, 5, 'a'), output: undefined }]),
      /undefined exactly/,
    )
  })
})

describe('compare-and-set', () => {
  test('a successful cas from null, then a read of its value', () => {
    assertOk(checkLinearizable([cas(0, 0, 10, null, 'a', true), read(1, 20, 30, 'a')]))
  })

  test('a successful cas whose compare cannot match is illegal', () => {
    assertIllegal(checkLinearizable([cas(0, 0, 10, 'b', 'a', true)]))
    assertIllegal(checkLinearizable([write(0, 0, 10, 'a'), cas(1, 20, 30, null, 'b', true)]))
  })

  test('a failed cas is legal only when the compare does not match', () => {
    assertOk(checkLinearizable([write(0, 0, 10, 'a'), cas(1, 20, 30, 'z', 'b', false), read(2, 40, 50, 'a')]))
    assertIllegal(checkLinearizable([write(0, 0, 10, 'a'), cas(1, 20, 30, 'a', 'b', false)]))
    // A failed cas does not change the value.
    assertIllegal(checkLinearizable([cas(1, 20, 30, 'z', 'b', false), read(2, 40, 50, 'b')]))
  })

  test('two concurrent cas with the same expected value cannot both succeed', () => {
    assertOk(checkLinearizable([cas(0, 0, 10, null, 'a', true), cas(1, 0, 10, null, 'b', false)]))
    assertIllegal(checkLinearizable([cas(0, 0, 10, null, 'a', true), cas(1, 0, 10, null, 'b', true)]))
    // ...unless the second expects the first one's value.
    assertOk(
      checkLinearizable([
        cas(0, 0, 10, null, 'a', true),
        cas(1, 0, 10, 'a', 'b', true),
        read(2, 20, 30, 'b'),
      ]),
    )
  })

  test('an indeterminate cas applies iff its compare matches where it is linearized', () => {
    // Observed later: it took effect between the two reads.
    assertOk(
      checkLinearizable([cas(0, 0, INF, null, 'a', undefined), read(1, 10, 20, null), read(1, 30, 40, 'a')]),
    )
    // Never observed: as if it never happened.
    assertOk(checkLinearizable([cas(0, 0, INF, null, 'a', undefined), read(1, 10, 20, null)]))
    // Its compare cannot match after the write of b, which is never overwritten, so it cannot apply.
    assertIllegal(
      checkLinearizable([write(1, 0, 5, 'b'), cas(0, 10, INF, null, 'a', undefined), read(2, 20, 30, 'a')]),
    )
    // It may apply with a matching compare even when a later write overwrites it.
    assertOk(
      checkLinearizable([
        write(1, 0, 5, 'b'),
        cas(0, 10, INF, 'b', 'a', undefined),
        read(2, 20, 30, 'a'),
        write(1, 40, 50, 'c'),
        read(2, 60, 70, 'c'),
      ]),
    )
  })
})

describe('indeterminate writes', () => {
  test('whose value is read later: ok', () => {
    assertOk(checkLinearizable([write(0, 0, INF, 'a'), read(1, 50, 60, 'a')]))
  })

  test('whose value is never read: ok, as if it never happened', () => {
    assertOk(checkLinearizable([write(0, 0, INF, 'a'), read(1, 50, 60, null), read(1, 70, 80, null)]))
    assertOk(checkLinearizable([write(0, 0, 10, 'b'), write(1, 5, INF, 'a'), read(2, 50, 60, 'b')]))
  })

  test('whose value is read before its call: illegal', () => {
    assertIllegal(checkLinearizable([read(1, 0, 10, 'a'), write(0, 20, INF, 'a')]))
  })

  test('once observed, it cannot be un-observed', () => {
    assertIllegal(
      checkLinearizable([
        write(2, 0, 5, 'b'),
        write(0, 10, INF, 'a'),
        read(1, 20, 30, 'a'),
        read(1, 40, 50, 'b'),
      ]),
    )
  })
})

describe('HistoryRecorder', () => {
  test('records completed, failed, indeterminate and pending operations', () => {
    const recorder = new HistoryRecorder()
    const w1 = recorder.invoke(0, 'x', 'write', 'a', 0)
    const r1 = recorder.invoke(1, 'x', 'read', null, 1)
    const c1 = recorder.invoke(2, 'x', 'cas', { expected: 'a', next: 'b' }, 2)
    const w2 = recorder.invoke(3, 'x', 'write', 'lost', 3)
    const r2 = recorder.invoke(4, 'x', 'read', null, 4)
    const w3 = recorder.invoke(5, 'x', 'write', 'maybe', 5)
    const r3 = recorder.invoke(6, 'x', 'read', null, 6)
    recorder.invoke(7, 'x', 'write', 'pending', 7)
    recorder.invoke(8, 'x', 'read', null, 8)
    recorder.complete(w1, null, 10)
    recorder.complete(r1, 'a', 11)
    recorder.complete(c1, { ok: true }, 12)
    recorder.fail(w2)
    recorder.fail(r2)
    recorder.indeterminate(w3)
    recorder.indeterminate(r3)

    const history = recorder.history()
    assert.deepEqual(
      history.map((op) => [op.id, op.f, op.output, op.ret]),
      [
        [0, 'write', null, 10],
        [1, 'read', 'a', 11],
        [2, 'cas', { ok: true }, 12],
        [5, 'write', undefined, INF],
        [7, 'write', undefined, INF],
      ],
    )
    assert.equal(describeOperation(history[2]!), '#2 client 2 key "x" cas("a" -> "b") -> ok [2, 12]')
    assert.equal(describeOperation(history[3]!), '#5 client 5 key "x" write("maybe") -> ? [5, ∞]')
    assertOk(checkLinearizable(history))
  })

  test('rejects misuse', () => {
    const recorder = new HistoryRecorder()
    const r = recorder.invoke(0, 'x', 'read', null, 10)
    assert.throws(() => recorder.complete(r, { ok: true }, 20), /read returns/)
    assert.throws(() => recorder.complete(r, 'a', 5), /before its call/)
    recorder.complete(r, 'a', 20)
    assert.throws(() => recorder.fail(r), /already ended/)
    assert.throws(() => recorder.complete(99, null, 30), /unknown operation/)
    const w = recorder.invoke(0, 'x', 'write', 'b', 30)
    assert.throws(() => recorder.complete(w, 'b', 40), /write returns null/)
  })
})

interface GeneratedHistory {
  readonly ops: RegisterOperation[]
  readonly keys: readonly string[]
}

interface GenerateOptions {
  readonly seed: number
  readonly keys: number
  readonly clients: number
  readonly opsPerKey: number
  readonly indeterminateRate?: number
}

/**
 * A register simulated per key: each client issues operations back to back, each operation
 * takes effect at a random point inside [call, ret], and outputs are computed by applying the
 * operations in that order. An indeterminate write or cas takes effect at its point or never.
 */
function generateHistory(options: GenerateOptions): GeneratedHistory {
  const random = mulberry32(options.seed)
  const randomInt = (below: number): number => Math.floor(random() * below)
  const indeterminateRate = options.indeterminateRate ?? 0.05
  const ops: RegisterOperation[] = []
  const keys: string[] = []
  let id = 0
  let valueCounter = 0
  for (let k = 0; k < options.keys; k++) {
    const key = `k${k}`
    keys.push(key)
    const cursor = Array.from({ length: options.clients }, () => randomInt(10))
    type Planned = {
      id: number
      client: number
      call: number
      ret: number
      point: number
      kind: 'read' | 'write' | 'cas'
      indeterminate: boolean
      applied: boolean
      value: string
    }
    const planned: Planned[] = []
    for (let i = 0; i < options.opsPerKey; i++) {
      const c = randomInt(options.clients)
      const call = cursor[c]! + randomInt(4)
      const ret = call + randomInt(20)
      cursor[c] = ret
      const roll = random()
      const kind = roll < 0.5 ? 'read' : roll < 0.8 ? 'write' : 'cas'
      const indeterminate = kind !== 'read' && random() < indeterminateRate
      planned.push({
        id: id++,
        client: k * options.clients + c,
        call,
        ret,
        point: call + random() * (ret - call),
        kind,
        indeterminate,
        applied: !indeterminate || random() < 0.5,
        value: `${key}-v${valueCounter++}`,
      })
    }
    const byPoint = [...planned].sort((a, b) => a.point - b.point || a.id - b.id)
    let state: string | null = null
    const written: string[] = []
    const outputs = new Map<number, RegisterOperation>()
    for (const p of byPoint) {
      const base = { id: p.id, client: p.client, key, call: p.call, ret: p.indeterminate ? INF : p.ret }
      if (p.kind === 'read') {
        outputs.set(p.id, { ...base, f: 'read', input: null, output: state })
      } else if (p.kind === 'write') {
        if (p.applied) {
          state = p.value
          written.push(p.value)
        }
        outputs.set(p.id, { ...base, f: 'write', input: p.value, output: p.indeterminate ? undefined : null })
      } else {
        const expected =
          random() < 0.6 || written.length === 0 ? state : (written[randomInt(written.length)] ?? null)
        const ok = state === expected
        if (p.applied && ok) {
          state = p.value
          written.push(p.value)
        }
        const output = p.indeterminate ? undefined : { ok }
        outputs.set(p.id, { ...base, f: 'cas', input: { expected, next: p.value }, output })
      }
    }
    for (const p of planned) ops.push(outputs.get(p.id)!)
  }
  return { ops, keys }
}

/** The value an operation definitely installed when it completed, if any. */
function installedValue(op: RegisterOperation): string | undefined {
  if (op.ret === INF) return undefined
  if (op.f === 'write') return op.input
  if (op.f === 'cas' && op.output?.ok === true) return op.input.next
  return undefined
}

/**
 * Turns one read into a definitely stale read: it returns the value of an operation w1 that was
 * overwritten by w2, where w1 returned before w2 was called and w2 returned before the read was
 * called. Values are unique, so no linearization lets the read see w1's value.
 */
function injectStaleRead(ops: RegisterOperation[], random: () => number): { key: string; readId: number } {
  // Per key: w1 is the writer that returned first, and w2 the first to return among those called
  // after w1 returned; any read called after w2 returned can be made stale with w1's value.
  const perKey = new Map<string, { w1: RegisterOperation; w2Ret: number }>()
  for (const op of ops) {
    const w1 = perKey.get(op.key)?.w1
    if (installedValue(op) !== undefined && (w1 === undefined || op.ret < w1.ret)) {
      perKey.set(op.key, { w1: op, w2Ret: INF })
    }
  }
  for (const op of ops) {
    const entry = perKey.get(op.key)
    if (entry !== undefined && installedValue(op) !== undefined && op.call > entry.w1.ret) {
      entry.w2Ret = Math.min(entry.w2Ret, op.ret)
    }
  }
  const candidates: { index: number; stale: string }[] = []
  ops.forEach((op, index) => {
    const entry = perKey.get(op.key)
    if (op.f !== 'read' || entry === undefined || entry.w2Ret >= op.call) return
    const stale = installedValue(entry.w1)!
    if (stale !== op.output) candidates.push({ index, stale })
  })
  assert.ok(candidates.length > 0, 'the generated history has a read that can be made stale')
  const chosen = candidates[Math.floor(random() * candidates.length)]!
  const original = ops[chosen.index]!
  assert.ok(original.f === 'read')
  ops[chosen.index] = { ...original, output: chosen.stale }
  return { key: original.key, readId: original.id }
}

describe('generated histories', () => {
  test('simulated registers with chosen linearization points are linearizable', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { ops } = generateHistory({ seed, keys: 5, clients: 5, opsPerKey: 300, indeterminateRate: 0.1 })
      assertOk(checkLinearizable(ops))
    }
  })

  test('one injected stale read is found, in the right key', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { ops } = generateHistory({ seed, keys: 5, clients: 5, opsPerKey: 300, indeterminateRate: 0.1 })
      const injected = injectStaleRead(ops, mulberry32(seed * 7919))
      const result = assertIllegal(checkLinearizable(ops), injected.key)
      assert.match(result.detail, /First operation that could not be placed/)
    }
  })

  test('a recorded history with a changed read output is caught', () => {
    const { ops } = generateHistory({ seed: 42, keys: 3, clients: 4, opsPerKey: 200 })
    const recorder = new HistoryRecorder()
    const sorted = [...ops].sort((a, b) => a.call - b.call || a.id - b.id)
    const ids = new Map<number, number>()
    for (const op of sorted) ids.set(op.id, recorder.invoke(op.client, op.key, op.f, op.input, op.call))
    for (const op of sorted) {
      const id = ids.get(op.id)!
      if (op.ret === INF) recorder.indeterminate(id)
      else recorder.complete(id, op.output ?? null, op.ret)
    }
    const recorded = recorder.history()
    assertOk(checkLinearizable(recorded))
    const injected = injectStaleRead(recorded, mulberry32(5))
    assertIllegal(checkLinearizable(recorded), injected.key)
  })

  test('10 000 operations on one key are searched without deep recursion', () => {
    const { ops } = generateHistory({
      seed: 7,
      keys: 1,
      clients: 5,
      opsPerKey: 10_000,
      indeterminateRate: 0.02,
    })
    assertOk(checkLinearizable(ops))
  })

  test('performance sanity: 100 keys x 200 operations with 5 clients', () => {
    const { ops } = generateHistory({ seed: 3, keys: 100, clients: 5, opsPerKey: 200 })
    assert.equal(ops.length, 20_000)
    assertOk(checkLinearizable(ops))
  })
})

/** Tries every order that respects real time; the definition itself, for tiny histories. */
function bruteForceLinearizable(ops: readonly RegisterOperation[]): boolean {
  const n = ops.length
  const step = (state: string | null, op: RegisterOperation): string | null | false => {
    if (op.f === 'read') return op.output === state ? state : false
    if (op.f === 'write') return op.input
    const matches = state === op.input.expected
    if (op.output !== undefined && op.output.ok !== matches) return false
    return matches ? op.input.next : state
  }
  const search = (placed: number, state: string | null): boolean => {
    if (placed === (1 << n) - 1) return true
    for (let i = 0; i < n; i++) {
      if ((placed & (1 << i)) !== 0) continue
      const op = ops[i]!
      // Every unplaced operation that returned before this one was called must come first.
      const blocked = ops.some((other, j) => j !== i && (placed & (1 << j)) === 0 && other.ret < op.call)
      if (blocked) continue
      const next = step(state, op)
      if (next !== false && search(placed | (1 << i), next)) return true
    }
    return false
  }
  return search(0, null)
}

describe('agreement with brute force', () => {
  test('small random histories, legal or not, get the same verdict as trying every order', () => {
    const random = mulberry32(2024)
    const randomInt = (below: number): number => Math.floor(random() * below)
    const values = ['a', 'b', 'c']
    const value = (): string => values[randomInt(values.length)]!
    let illegal = 0
    for (let round = 0; round < 3000; round++) {
      const ops: RegisterOperation[] = []
      const count = 1 + randomInt(7)
      for (let id = 0; id < count; id++) {
        const call = randomInt(10)
        const indeterminate = random() < 0.15
        const ret = indeterminate ? INF : call + randomInt(6)
        const roll = random()
        if (roll < 0.45 && !indeterminate) {
          ops.push({
            id,
            client: id,
            key: 'x',
            f: 'read',
            input: null,
            output: random() < 0.2 ? null : value(),
            call,
            ret,
          })
        } else if (roll < 0.75) {
          ops.push({
            id,
            client: id,
            key: 'x',
            f: 'write',
            input: value(),
            output: indeterminate ? undefined : null,
            call,
            ret,
          })
        } else {
          const input = { expected: random() < 0.2 ? null : value(), next: value() }
          const output = indeterminate ? undefined : { ok: random() < 0.5 }
          ops.push({ id, client: id, key: 'x', f: 'cas', input, output, call, ret })
        }
      }
      const expected = bruteForceLinearizable(ops)
      if (!expected) illegal++
      assert.equal(checkLinearizable(ops).result, expected ? 'ok' : 'illegal', JSON.stringify(ops))
      // With all memo hashes equal, only real equality tells memo entries apart.
      const collided = checkLinearizable(ops, { memoHashMask: 0 })
      assert.equal(collided.result, expected ? 'ok' : 'illegal', `memoHashMask 0: ${JSON.stringify(ops)}`)
    }
    // Both verdicts must be well represented for the agreement to mean anything.
    assert.ok(illegal > 500 && illegal < 2500, `illegal: ${illegal}`)
  })
})

/** A plain memoised search over sets of placed operations, independent of the checker's data structures. */
function referenceLinearizable(ops: readonly RegisterOperation[]): boolean {
  const visited = new Set<string>()
  const step = (state: string | null, op: RegisterOperation): string | null | false => {
    if (op.f === 'read') return op.output === state ? state : false
    if (op.f === 'write') return op.input
    const matches = state === op.input.expected
    if (op.output !== undefined && op.output.ok !== matches) return false
    return matches ? op.input.next : state
  }
  const stack: { placed: bigint; state: string | null }[] = [{ placed: 0n, state: null }]
  const all = (1n << BigInt(ops.length)) - 1n
  while (stack.length > 0) {
    const { placed, state } = stack.pop()!
    if (placed === all) return true
    const pending = ops.filter((_, i) => (placed & (1n << BigInt(i))) === 0n)
    const earliestReturn = Math.min(...pending.map((op) => op.ret))
    ops.forEach((op, i) => {
      const bit = 1n << BigInt(i)
      if ((placed & bit) !== 0n || op.call > earliestReturn) return
      const next = step(state, op)
      if (next === false) return
      const key = `${placed | bit}:${next}`
      if (visited.has(key)) return
      visited.add(key)
      stack.push({ placed: placed | bit, state: next })
    })
  }
  return false
}

describe('agreement with a reference search', () => {
  test('medium histories spanning several bitset words, with and without a changed read', () => {
    const random = mulberry32(77)
    let illegal = 0
    for (let round = 0; round < 100; round++) {
      const opsPerKey = 40 + Math.floor(random() * 100)
      const { ops } = generateHistory({
        seed: 1000 + round,
        keys: 1,
        clients: 3,
        opsPerKey,
        indeterminateRate: 0.1,
      })
      if (random() < 0.6) {
        // Any value written anywhere, or null: sometimes still legal, often not.
        const reads = ops.flatMap((op, i) => (op.f === 'read' ? [i] : []))
        const writes = ops.flatMap((op) =>
          op.f === 'write' ? [op.input] : op.f === 'cas' ? [op.input.next] : [],
        )
        const index = reads[Math.floor(random() * reads.length)]
        const original = index === undefined ? undefined : ops[index]
        if (index !== undefined && original?.f === 'read') {
          ops[index] = {
            ...original,
            output: random() < 0.1 ? null : (writes[Math.floor(random() * writes.length)] ?? null),
          }
        }
      }
      const expected = referenceLinearizable(ops)
      if (!expected) illegal++
      assert.equal(checkLinearizable(ops).result, expected ? 'ok' : 'illegal', `round ${round}`)
      const collided = checkLinearizable(ops, { memoHashMask: 0xf })
      assert.equal(collided.result, expected ? 'ok' : 'illegal', `round ${round}, memoHashMask 0xf`)
    }
    assert.ok(illegal > 15 && illegal < 85, `illegal: ${illegal}`)
  })
})

describe('budgets', () => {
  test('a zero budget on a big, highly concurrent, broken history gives unknown, not a verdict', () => {
    const { ops } = generateHistory({
      seed: 11,
      keys: 1,
      clients: 20,
      opsPerKey: 5_000,
      indeterminateRate: 0.1,
    })
    injectStaleRead(ops, mulberry32(3))
    const result = checkLinearizable(ops, { timeBudgetMs: 0 })
    assert.equal(result.result, 'unknown', JSON.stringify(result))
    assert.ok(result.result === 'unknown')
    assert.equal(result.key, 'k0')
    assert.match(result.reason, /time budget of 0 ms exhausted/)
  })

  test('the injected clock decides when the budget is exhausted', () => {
    const { ops } = generateHistory({ seed: 12, keys: 3, clients: 5, opsPerKey: 2_000 })
    let now = 0
    const clock = (): number => {
      now += 1
      return now
    }
    const result = checkLinearizable(ops, { timeBudgetMs: 2, clock })
    assert.equal(result.result, 'unknown')
    // A generous budget on the same clock completes.
    now = 0
    assertOk(checkLinearizable(ops, { timeBudgetMs: 1_000_000, clock }))
  })

  test('maxOpsPerKey skips big keys as unknown, but an illegal key still wins', () => {
    const big = generateHistory({ seed: 13, keys: 1, clients: 3, opsPerKey: 100 }).ops
    const result = checkLinearizable(big, { maxOpsPerKey: 50 })
    assert.equal(result.result, 'unknown')
    assert.ok(result.result === 'unknown')
    assert.match(result.reason, /maxOpsPerKey/)
    assertIllegal(checkLinearizable([...big, read(0, 0, 1, 'ghost', 'other')], { maxOpsPerKey: 50 }), 'other')
  })
})

describe('generic models', () => {
  // A counter with add(n) and read() -> value shows that the search is not tied to registers.
  type CounterInput = { readonly f: 'add'; readonly n: number } | { readonly f: 'read' }
  const counter: Model<number, CounterInput, number | undefined> = {
    init: () => 0,
    step: (state, input, output) =>
      input.f === 'add' ? { ok: true, next: state + input.n } : { ok: output === state, next: state },
    equal: (a, b) => a === b,
    hash: (state) => state | 0,
  }
  const op = (
    id: number,
    call: number,
    ret: number,
    input: CounterInput,
    output?: number,
  ): ModelOperation<CounterInput, number | undefined> => ({ id, key: 'c', call, ret, input, output })

  test('accepts a legal and rejects an illegal counter history', () => {
    const adds = [op(0, 0, 10, { f: 'add', n: 1 }), op(1, 0, 10, { f: 'add', n: 2 })]
    assertOk(
      checkOperations(counter, [...adds, op(2, 5, 8, { f: 'read' }, 2), op(3, 20, 30, { f: 'read' }, 3)]),
    )
    const result = checkOperations(counter, [...adds, op(2, 20, 30, { f: 'read' }, 2)])
    assertIllegal(result, 'c')
    assert.ok(result.result === 'illegal')
    assert.match(result.detail, /ending in state 3/)
  })
})
