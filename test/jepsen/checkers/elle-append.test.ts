// Proves the list-append checker accepts serializable (and strictly serializable) histories and names the
// anomalies of hand-written broken ones: G0, G1a, G1b, G1c, G-single, G2, their real-time forms, internal
// inconsistencies, duplicates, incompatible orders, garbage and future reads, and lost appends.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  type AppendTxn,
  type ElleResult,
  type MicroOp,
  checkAppend,
  describeElle,
  stronglyConnected,
} from './elle-append.js'

const INF = Number.POSITIVE_INFINITY
let nextId = 1

function txn(
  call: number,
  ret: number,
  ops: MicroOp[],
  type: AppendTxn['type'] = 'ok',
  extra: Partial<AppendTxn> = {},
): AppendTxn {
  return { id: nextId++, client: 0, type, call, ret: type === 'info' ? INF : ret, ops, ...extra }
}
const a = (key: number, value: number): MicroOp => ['append', key, value]
const r = (key: number, list: number[] | null): MicroOp => ['r', key, list]

function assertOk(result: ElleResult): void {
  assert.equal(result.ok, true, describeElle(result))
}
function assertAnomaly(result: ElleResult, type: string): void {
  assert.equal(result.ok, false, 'expected an anomaly')
  assert.ok(type in result.counts, `expected ${type}, got: ${describeElle(result)}`)
}

describe('legal histories', () => {
  test('empty, and sequential appends with reads', () => {
    assertOk(checkAppend([]))
    const history = [
      txn(0, 1, [a(1, 1)]),
      txn(2, 3, [r(1, [1]), a(1, 2)]),
      txn(4, 5, [r(1, [1, 2]), a(2, 1), r(2, [1])]),
      txn(6, 7, [r(1, [1, 2]), r(2, [1])], 'ok', { final: true }),
    ]
    assertOk(checkAppend(history, { realtime: true }))
    const result = checkAppend(history, { realtime: true })
    assert.equal(result.stats.longestList, 2)
    assert.equal(result.stats.keys, 2)
  })

  test('concurrent transactions may serialize either way; unknown and failed ones that nobody read', () => {
    assertOk(
      checkAppend(
        [
          txn(0, 10, [a(1, 1), r(2, [])]),
          txn(0, 10, [a(2, 1), r(1, [1])]),
          txn(0, 10, [a(1, 2)], 'info'),
          txn(0, 10, [a(1, 3)], 'fail'),
          txn(20, 30, [r(1, [1]), r(2, [1])]),
        ],
        { realtime: true },
      ),
    )
  })

  test('an indeterminate append that was read is committed and ordered', () => {
    assertOk(
      checkAppend(
        [txn(0, 0, [a(1, 1)], 'info'), txn(5, 6, [r(1, [1]), a(1, 2)]), txn(7, 8, [r(1, [1, 2])])],
        { realtime: true },
      ),
    )
  })

  test('a stale read-only transaction is serializable, but not strictly serializable', () => {
    const history = [
      txn(0, 1, [a(1, 1)]),
      txn(2, 3, [a(1, 2)]),
      txn(4, 5, [r(1, [1])]),
      txn(6, 7, [r(1, [1, 2])], 'ok', { final: true }),
    ]
    assertOk(checkAppend(history))
    assertAnomaly(checkAppend(history, { realtime: true }), 'G-single-realtime')
  })

  test('own appends are visible to later reads in the transaction', () => {
    assertOk(checkAppend([txn(0, 1, [a(1, 1), r(1, [1]), a(1, 2), r(1, [1, 2])]), txn(2, 3, [r(1, [1, 2])])]))
  })
})

describe('cycles', () => {
  test('G0: write cycle across two keys', () => {
    // T1 appends 1 to x and y, T2 appends 2 to x and y; x shows T1 then T2, y shows T2 then T1.
    const history = [
      txn(0, 10, [a(1, 1), a(2, 1)]),
      txn(0, 10, [a(1, 2), a(2, 2)]),
      txn(20, 30, [r(1, [1, 2]), r(2, [2, 1])]),
    ]
    const result = checkAppend(history)
    assertAnomaly(result, 'G0')
    assert.match(describeElle(result), /G0 cycle: T\d+ -ww [12]-> T\d+ -ww [12]-> T\d+/)
  })

  test('G1c: circular information flow (each reads the other)', () => {
    const history = [txn(0, 10, [a(1, 1), r(2, [1])]), txn(0, 10, [a(2, 1), r(1, [1])])]
    assertAnomaly(checkAppend(history), 'G1c')
  })

  test('G-single: read skew (one anti-dependency)', () => {
    // T1 writes x and y; T2 sees T1's y but not T1's x.
    const history = [
      txn(0, 10, [a(1, 1), a(2, 1)]),
      txn(0, 10, [r(1, []), r(2, [1])]),
      txn(20, 30, [r(1, [1]), r(2, [1])]),
    ]
    const result = checkAppend(history)
    assertAnomaly(result, 'G-single')
    assert.equal(result.counts.G2, undefined)
    assert.match(describeElle(result), /-rw 1->/)
  })

  test('G2: write skew (two anti-dependencies)', () => {
    const history = [
      txn(0, 10, [r(1, []), a(2, 1)]),
      txn(0, 10, [r(2, []), a(1, 1)]),
      txn(20, 30, [r(1, [1]), r(2, [1])]),
    ]
    const result = checkAppend(history)
    assertAnomaly(result, 'G2')
    assert.equal(result.counts['G-single'], undefined)
  })

  test('realtime: a later transaction that misses an acknowledged append', () => {
    // T2 starts after T1 committed, yet appends before T1's value.
    const history = [txn(0, 1, [a(1, 1)]), txn(5, 6, [a(1, 2)]), txn(10, 11, [r(1, [2, 1])])]
    assertOk(checkAppend(history))
    assertAnomaly(checkAppend(history, { realtime: true }), 'G0-realtime')
  })

  test('Tarjan finds components in a long chain without recursion', () => {
    const graph = new Map<number, Map<number, unknown>>()
    for (let i = 0; i < 100_000; i++) graph.set(i, new Map([[i + 1, null]]))
    graph.set(100_000, new Map([[0, null]]))
    const components = stronglyConnected(graph)
    assert.equal(components.length, 1)
    assert.equal(components[0]!.length, 100_001)
  })
})

describe('non-cyclic anomalies', () => {
  test("G1a: reading a failed transaction's append", () => {
    assertAnomaly(checkAppend([txn(0, 1, [a(1, 1)], 'fail'), txn(2, 3, [r(1, [1])])]), 'G1a')
  })

  test('G1b: reading an intermediate append', () => {
    const history = [txn(0, 10, [a(1, 1), a(1, 2)]), txn(0, 10, [r(1, [1])]), txn(20, 30, [r(1, [1, 2])])]
    assertAnomaly(checkAppend(history), 'G1b')
  })

  test('duplicate elements', () => {
    assertAnomaly(checkAppend([txn(0, 1, [a(1, 1)]), txn(2, 3, [r(1, [1, 1])])]), 'duplicate-elements')
  })

  test('incompatible orders', () => {
    const history = [
      txn(0, 1, [a(1, 1)]),
      txn(0, 1, [a(1, 2)]),
      txn(2, 3, [r(1, [1, 2])]),
      txn(2, 3, [r(1, [2])]),
    ]
    assertAnomaly(checkAppend(history), 'incompatible-order')
  })

  test('garbage read', () => {
    assertAnomaly(checkAppend([txn(0, 1, [r(1, [42])])]), 'garbage-read')
  })

  test('future read: a value read before its append was invoked', () => {
    const result = checkAppend([txn(0, 1, [r(1, [1])]), txn(5, 6, [a(1, 1)])])
    assertAnomaly(result, 'future-read')
  })

  test("internal: a read that ignores the transaction's own append", () => {
    assertAnomaly(checkAppend([txn(0, 1, [a(1, 1), r(1, [])])]), 'internal')
    assertAnomaly(checkAppend([txn(0, 1, [a(1, 1)]), txn(2, 3, [r(1, [1]), r(1, [])])]), 'internal')
  })

  test('lost append: missing from the final read', () => {
    const history = [
      txn(0, 1, [a(1, 1)]),
      txn(2, 3, [a(1, 2)]),
      txn(10, 11, [r(1, [2])], 'ok', { final: true }),
    ]
    const result = checkAppend(history)
    assertAnomaly(result, 'lost-append')
    assert.match(describeElle(result), /appended 1 to key 1/)
  })

  test('lost append: missing from a longer read with later appends, at any level', () => {
    const history = [
      txn(0, 1, [a(1, 1)]),
      txn(2, 3, [a(1, 2)]),
      txn(4, 5, [a(1, 3)]),
      txn(6, 7, [r(1, [2, 3])]),
    ]
    assertAnomaly(checkAppend(history), 'lost-append')
    // Not lost: the append that is missing might just come later, concurrent with the read.
    assertOk(checkAppend([txn(0, 10, [a(1, 1)]), txn(0, 10, [a(1, 2)]), txn(2, 3, [r(1, [2])])]))
  })

  test('malformed histories are rejected loudly', () => {
    assert.throws(() => checkAppend([txn(0, 1, [a(1, 1)]), txn(0, 1, [a(1, 1)])]), /appended twice/)
    const t = txn(0, 1, [])
    assert.throws(() => checkAppend([t, t]), /duplicate transaction id/)
    assert.throws(() => checkAppend([{ ...txn(5, 1, []) }]), /bad times/)
  })
})

describe('seeded random serial histories are always accepted', () => {
  test('a strictly serial execution with overlapping invocations', () => {
    let seed = 7
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    const state = new Map<number, number[]>()
    const history: AppendTxn[] = []
    let value = 0
    for (let i = 0; i < 500; i++) {
      // Each transaction takes effect at time 10*i; its call and return are spread around that point.
      const point = 10 * i
      const ops: MicroOp[] = []
      for (let j = 0; j < 1 + random(4); j++) {
        const key = random(5)
        if (random(2) === 0) {
          ops.push(['append', key, ++value])
          state.set(key, [...(state.get(key) ?? []), value])
        } else ops.push(['r', key, [...(state.get(key) ?? [])]])
      }
      const kind = random(20)
      history.push({
        id: i,
        client: random(5),
        type: kind === 0 ? 'info' : 'ok',
        call: point - random(9),
        ret: kind === 0 ? INF : point + random(9),
        ops: kind === 0 ? ops.map((op) => (op[0] === 'r' ? (['r', op[1], null] as const) : op)) : ops,
      })
    }
    const result = checkAppend(history, { realtime: true })
    assertOk(result)
    assert.ok(result.stats.edges > 500)
  })
})
