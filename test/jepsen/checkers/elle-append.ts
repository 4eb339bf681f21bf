/**
 * An Elle-style checker for list-append histories (Kingsbury & Alvaro, "Elle: inferring isolation
 * anomalies from experimental observations", VLDB 2020), over transactions of micro-operations
 * `['append', key, value]` and `['r', key, list]` with values unique per key.
 *
 * Because every append adds a unique value and a read returns the whole list, each read reveals a prefix
 * of the key's version order; the longest read is the order itself, and every other read must be a prefix
 * of it. From the order it derives the dependency graph of Adya's formalism: ww (Ti appended the element
 * right before Tj's), wr (Tj read a list ending in Ti's element), rw (Ti read a list that Tj's element
 * extended: an anti-dependency), plus real-time edges (Ti returned before Tj was invoked) when the level
 * promises strict serializability. Cycles are found per strongly connected component (Tarjan) and named
 * by their edges, as Elle does: G0 (only ww), G1c (ww and wr), G-single (exactly one rw), G2 (several
 * rw); `-realtime` when the cycle needs a real-time edge. It also reports the non-cyclic anomalies:
 * G1a (a value from a failed transaction was read), G1b (an intermediate value of another transaction
 * was read), internal (a read inconsistent with the transaction's own earlier reads and appends), garbage
 * reads (values nobody appended), duplicate elements, incompatible orders (a read that is not a prefix of
 * the longest one), future reads (a value read before its appender began) and lost appends (an
 * acknowledged append missing from a read that must include it).
 */

export type MicroOp =
  | readonly ['append', number, number]
  /** The list read; `null` when the outcome is unknown (failed or indeterminate transactions). */
  | readonly ['r', number, readonly number[] | null]

export interface AppendTxn {
  readonly id: number
  readonly client: number
  /** Jepsen's: `ok` committed, `fail` definitely did not, `info` unknown. */
  readonly type: 'ok' | 'fail' | 'info'
  readonly call: number
  /** `Infinity` for `info`. */
  readonly ret: number
  readonly ops: readonly MicroOp[]
  /** A read made after the cluster healed and every client stopped: it must hold every acknowledged append. */
  readonly final?: boolean
}

export type AnomalyType =
  | 'G0'
  | 'G1a'
  | 'G1b'
  | 'G1c'
  | 'G-single'
  | 'G2'
  | 'G0-realtime'
  | 'G1c-realtime'
  | 'G-single-realtime'
  | 'G2-realtime'
  | 'internal'
  | 'garbage-read'
  | 'duplicate-elements'
  | 'incompatible-order'
  | 'future-read'
  | 'lost-append'

export interface Anomaly {
  readonly type: AnomalyType
  readonly detail: string
  /** The transactions involved (for a cycle, in cycle order). */
  readonly txns: readonly number[]
}

export interface ElleOptions {
  /** Add real-time edges (strict serializability: `linearizable` and `strong`). */
  readonly realtime?: boolean
  /** Examples kept per anomaly type (all are counted). Default 8. */
  readonly examplesPerType?: number
  /** Path searches per SCC and cycle class, bounding the work on a badly broken history. Default 200. */
  readonly searchesPerClass?: number
}

export interface ElleResult {
  readonly ok: boolean
  readonly counts: Readonly<Partial<Record<AnomalyType, number>>>
  /** Examples, at most `examplesPerType` per type. */
  readonly anomalies: readonly Anomaly[]
  readonly stats: {
    readonly txns: number
    readonly ok: number
    readonly fail: number
    readonly info: number
    readonly keys: number
    readonly longestList: number
    readonly edges: number
    readonly cyclicComponents: number
  }
}

const WW = 1
const WR = 2
const RW = 4
const RT = 8
const edgeNames: Record<number, string> = { [WW]: 'ww', [WR]: 'wr', [RW]: 'rw', [RT]: 'rt' }

interface Edge {
  mask: number
  /** The key that produced each data edge type, for reports. */
  readonly keys: Map<number, number>
}

interface Writer {
  readonly txn: AppendTxn
  /** This value's position among the txn's appends to the key, and how many it made. */
  readonly position: number
  readonly count: number
}

interface ExternalRead {
  readonly txn: AppendTxn
  readonly key: number
  /** The state the transaction saw before its own appends. */
  readonly list: readonly number[]
}

export function checkAppend(history: readonly AppendTxn[], options: ElleOptions = {}): ElleResult {
  const examplesPerType = options.examplesPerType ?? 8
  const searchesPerClass = options.searchesPerClass ?? 200
  const counts: Partial<Record<AnomalyType, number>> = {}
  const anomalies: Anomaly[] = []
  const report = (type: AnomalyType, detail: string, txns: readonly number[]): void => {
    counts[type] = (counts[type] ?? 0) + 1
    if ((counts[type] ?? 0) <= examplesPerType) anomalies.push({ type, detail, txns })
  }

  const byId = new Map<number, AppendTxn>()
  for (const txn of history) {
    if (byId.has(txn.id)) throw new RangeError(`duplicate transaction id ${txn.id}`)
    if (txn.type === 'info' ? txn.ret !== Number.POSITIVE_INFINITY : !(txn.ret >= txn.call)) {
      throw new RangeError(`transaction ${txn.id}: bad times [${txn.call}, ${txn.ret}] for ${txn.type}`)
    }
    byId.set(txn.id, txn)
  }

  // Writers of every (key, value).
  const writers = new Map<number, Map<number, Writer>>()
  for (const txn of history) {
    const perKey = new Map<number, number[]>()
    for (const op of txn.ops) {
      if (op[0] !== 'append') continue
      const list = perKey.get(op[1]) ?? []
      list.push(op[2])
      perKey.set(op[1], list)
    }
    for (const [key, values] of perKey) {
      const byValue = writers.get(key) ?? new Map<number, Writer>()
      writers.set(key, byValue)
      values.forEach((value, position) => {
        if (byValue.has(value)) throw new RangeError(`value ${value} appended twice to key ${key}`)
        byValue.set(value, { txn, position, count: values.length })
      })
    }
  }
  const writerOf = (key: number, value: number): Writer | undefined => writers.get(key)?.get(value)

  // Reads of committed transactions: every list (for the version order) and the external views (for edges).
  const readsByKey = new Map<number, { txn: AppendTxn; list: readonly number[] }[]>()
  const externalReads: ExternalRead[] = []
  for (const txn of history) {
    if (txn.type !== 'ok') continue
    const known = new Map<number, number[]>()
    const own = new Map<number, number[]>()
    for (const op of txn.ops) {
      const key = op[1]
      if (op[0] === 'append') {
        known.get(key)?.push(op[2])
        own.set(key, [...(own.get(key) ?? []), op[2]])
        continue
      }
      const list = op[2]
      if (list === null) continue
      const reads = readsByKey.get(key) ?? []
      reads.push({ txn, list })
      readsByKey.set(key, reads)
      const before = known.get(key)
      const mine = own.get(key) ?? []
      if (before !== undefined) {
        if (!sameList(before, list)) {
          report(
            'internal',
            `T${txn.id} read key ${key} as ${show(list)} after its own reads and appends gave ${show(before)}`,
            [txn.id],
          )
        }
      } else if (!endsWith(list, mine)) {
        report(
          'internal',
          `T${txn.id} read key ${key} as ${show(list)}, which does not end with its own appends ${show(mine)}`,
          [txn.id],
        )
      } else {
        externalReads.push({ txn, key, list: list.slice(0, list.length - mine.length) })
      }
      known.set(key, [...list])
    }
  }

  // Duplicates, garbage and aborted reads, once per key and value.
  const seenBad = new Set<string>()
  for (const [key, reads] of readsByKey) {
    for (const { txn, list } of reads) {
      const seen = new Set<number>()
      for (const value of list) {
        if (seen.has(value)) {
          report('duplicate-elements', `T${txn.id} read key ${key} with ${value} twice: ${show(list)}`, [
            txn.id,
          ])
          break
        }
        seen.add(value)
      }
      for (const value of list) {
        const tag = `${key}/${value}`
        if (seenBad.has(tag)) continue
        const writer = writerOf(key, value)
        if (writer === undefined) {
          seenBad.add(tag)
          report('garbage-read', `T${txn.id} read ${value} in key ${key}, which nobody appended`, [txn.id])
        } else if (writer.txn.type === 'fail') {
          seenBad.add(tag)
          report(
            'G1a',
            `T${txn.id} read ${value} in key ${key}, appended by T${writer.txn.id}, which failed`,
            [writer.txn.id, txn.id],
          )
        }
      }
    }
  }

  // Version orders: the longest read of each key; every read must be a prefix of it.
  const orders = new Map<number, readonly number[]>()
  const inconsistent = new Set<number>()
  let longestList = 0
  for (const [key, reads] of readsByKey) {
    let longest = reads[0]!
    for (const read of reads) if (read.list.length > longest.list.length) longest = read
    orders.set(key, longest.list)
    longestList = Math.max(longestList, longest.list.length)
    for (const read of reads) {
      if (!startsWith(longest.list, read.list)) {
        inconsistent.add(key)
        report(
          'incompatible-order',
          `key ${key}: T${read.txn.id} read ${show(read.list)}, not a prefix of T${longest.txn.id}'s ${show(longest.list)}`,
          [read.txn.id, longest.txn.id],
        )
        break
      }
    }
  }

  // G1b: a read ending in a value its writer later overwrote in the same transaction.
  for (const read of externalReads) {
    const last = read.list[read.list.length - 1]
    if (last === undefined) continue
    const writer = writerOf(read.key, last)
    if (writer && writer.txn !== read.txn && writer.position < writer.count - 1) {
      report(
        'G1b',
        `T${read.txn.id} read key ${read.key} as ${show(read.list)}, ending in an intermediate append of T${writer.txn.id}`,
        [writer.txn.id, read.txn.id],
      )
    }
  }

  // Lost appends: acknowledged, yet missing from the longest read even though that read includes an
  // element appended by a transaction invoked after the acknowledgement (every write goes through the one
  // log, at any read level), or from a final read.
  const finalReads = new Map<number, { txn: AppendTxn; list: readonly number[] }>()
  for (const [key, reads] of readsByKey) {
    for (const read of reads) if (read.txn.final) finalReads.set(key, read)
  }
  for (const [key, byValue] of writers) {
    const order = orders.get(key) ?? []
    const present = new Set(order)
    let latestCall = Number.NEGATIVE_INFINITY
    for (const value of order) latestCall = Math.max(latestCall, writerOf(key, value)?.txn.call ?? latestCall)
    const final = finalReads.get(key)
    const finalValues = final ? new Set(final.list) : undefined
    for (const [value, writer] of byValue) {
      if (writer.txn.type !== 'ok') continue
      if (finalValues !== undefined && !finalValues.has(value) && final!.txn.call > writer.txn.ret) {
        report(
          'lost-append',
          `T${writer.txn.id} appended ${value} to key ${key} (acknowledged at ${writer.txn.ret}); the final read T${final!.txn.id} ${show(final!.list)} lacks it`,
          [writer.txn.id, final!.txn.id],
        )
      } else if (!present.has(value) && latestCall > writer.txn.ret) {
        report(
          'lost-append',
          `T${writer.txn.id} appended ${value} to key ${key} (acknowledged at ${writer.txn.ret}); the longest read ${show(order)} has later appends but lacks it`,
          [writer.txn.id],
        )
      }
    }
  }

  // The dependency graph over committed (ok) and possibly committed (info) transactions.
  const graph = new Map<number, Map<number, Edge>>()
  let edgeCount = 0
  const inGraph = (txn: AppendTxn): boolean => txn.type !== 'fail'
  const addEdge = (from: AppendTxn, to: AppendTxn, type: number, key?: number): void => {
    if (from === to || !inGraph(from) || !inGraph(to)) return
    const out = graph.get(from.id) ?? new Map<number, Edge>()
    graph.set(from.id, out)
    let edge = out.get(to.id)
    if (!edge) {
      edge = { mask: 0, keys: new Map() }
      out.set(to.id, edge)
      edgeCount++
    }
    edge.mask |= type
    if (key !== undefined && !edge.keys.has(type)) edge.keys.set(type, key)
  }
  for (const [key, order] of orders) {
    if (inconsistent.has(key)) continue
    let previous: AppendTxn | undefined
    for (const value of order) {
      const writer = writerOf(key, value)?.txn
      if (writer === undefined || writer.type === 'fail') continue
      if (previous !== undefined) addEdge(previous, writer, WW, key)
      previous = writer
    }
  }
  for (const read of externalReads) {
    const last = read.list[read.list.length - 1]
    if (last !== undefined) {
      const writer = writerOf(read.key, last)?.txn
      if (writer !== undefined && writer !== read.txn) {
        addEdge(writer, read.txn, WR, read.key)
        if (writer.call > read.txn.ret) {
          report(
            'future-read',
            `T${read.txn.id} [${read.txn.call}, ${read.txn.ret}] read ${last} in key ${read.key}, appended by T${writer.id}, invoked later at ${writer.call}`,
            [writer.id, read.txn.id],
          )
        }
      }
    }
    if (inconsistent.has(read.key)) continue
    const order = orders.get(read.key) ?? []
    const next = order[read.list.length]
    if (next !== undefined) {
      const writer = writerOf(read.key, next)?.txn
      if (writer !== undefined) addEdge(read.txn, writer, RW, read.key)
    }
  }
  if (options.realtime) {
    // Transitively reduced real-time order: each transaction gets edges from the frontier of those that
    // had completed when it was invoked, and replaces them in the frontier when it completes.
    type Event = { time: number; kind: 0 | 1; txn: AppendTxn }
    const events: Event[] = []
    for (const txn of history) {
      if (!inGraph(txn)) continue
      events.push({ time: txn.call, kind: 1, txn })
      if (txn.ret !== Number.POSITIVE_INFINITY) events.push({ time: txn.ret, kind: 0, txn })
    }
    // At equal times a call comes first: a return at t and a call at t are concurrent.
    events.sort((a, b) => a.time - b.time || b.kind - a.kind)
    let frontier = new Set<AppendTxn>()
    const predecessors = new Map<AppendTxn, AppendTxn[]>()
    for (const event of events) {
      if (event.kind === 1) {
        predecessors.set(event.txn, [...frontier])
        for (const before of frontier) addEdge(before, event.txn, RT)
      } else {
        const covered = new Set(predecessors.get(event.txn) ?? [])
        frontier = new Set([...frontier].filter((txn) => !covered.has(txn)))
        frontier.add(event.txn)
      }
    }
  }

  // Cycles, one strongly connected component at a time.
  const components = stronglyConnected(graph).filter((component) => component.length > 1)
  for (const component of components) {
    classifyComponent(component, graph, byId, searchesPerClass, report)
  }

  const total = (type: 'ok' | 'fail' | 'info'): number => history.filter((txn) => txn.type === type).length
  return {
    ok: Object.keys(counts).length === 0,
    counts,
    anomalies,
    stats: {
      txns: history.length,
      ok: total('ok'),
      fail: total('fail'),
      info: total('info'),
      keys: writers.size,
      longestList,
      edges: edgeCount,
      cyclicComponents: components.length,
    },
  }
}

/** Finds one cycle of the most specific class present in `component` and reports it. */
function classifyComponent(
  component: readonly number[],
  graph: ReadonlyMap<number, ReadonlyMap<number, Edge>>,
  byId: ReadonlyMap<number, AppendTxn>,
  searchesPerClass: number,
  report: (type: AnomalyType, detail: string, txns: readonly number[]) => void,
): void {
  const members = new Set(component)
  const edgesOf = (type: number): [number, number][] => {
    const found: [number, number][] = []
    for (const from of component) {
      for (const [to, edge] of graph.get(from) ?? []) {
        if (members.has(to) && edge.mask & type) found.push([from, to])
      }
    }
    return found
  }
  /** A cycle through the edge from→to taken as `type`, closing with a path over `allowed` edges. */
  const cycleThrough = (type: number, allowed: number): Step[] | undefined => {
    for (const [from, to] of edgesOf(type).slice(0, searchesPerClass)) {
      const path = shortestPath(graph, members, to, from, allowed)
      // A real-time edge that is also a data dependency is named by the dependency.
      const first = type === RT ? weakest(graph.get(from)!.get(to)!.mask) : type
      if (path) return [{ from, to, type: first }, ...path]
    }
    return undefined
  }
  const emit = (name: AnomalyType, cycle: Step[]): void => {
    report(
      name,
      describeCycle(name, cycle, graph, byId),
      cycle.map((step) => step.from),
    )
  }
  const g0 = cycleThrough(WW, WW)
  if (g0) emit('G0', g0)
  const g1c = cycleThrough(WR, WW | WR)
  if (g1c) emit('G1c', g1c)
  const single = cycleThrough(RW, WW | WR)
  if (single) emit('G-single', single)
  const g2 = single ? undefined : cycleThrough(RW, WW | WR | RW)
  if (g2) emit('G2', g2)
  if (g0 || g1c || single || g2) return
  const realtime = cycleThrough(RT, WW | WR | RW | RT)
  if (!realtime) return
  const rw = realtime.filter((step) => step.type === RW).length
  const wr = realtime.filter((step) => step.type === WR).length
  const name: AnomalyType =
    rw === 0 && wr === 0
      ? 'G0-realtime'
      : rw === 0
        ? 'G1c-realtime'
        : rw === 1
          ? 'G-single-realtime'
          : 'G2-realtime'
  emit(name, realtime)
}

/** The weakest dependency type in `mask`: ww before wr before rw before rt. */
function weakest(mask: number): number {
  return mask & WW || mask & WR || mask & RW || RT
}

interface Step {
  readonly from: number
  readonly to: number
  readonly type: number
}

/** BFS from `start` to `goal` over edges with a type in `allowed`, inside `members`. */
function shortestPath(
  graph: ReadonlyMap<number, ReadonlyMap<number, Edge>>,
  members: ReadonlySet<number>,
  start: number,
  goal: number,
  allowed: number,
): Step[] | undefined {
  const via = new Map<number, Step | null>([[start, null]])
  const queue = [start]
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head]!
    if (node === goal) {
      const steps: Step[] = []
      for (let step = via.get(node); step; step = via.get(step.from)) steps.unshift(step)
      return steps
    }
    for (const [next, edge] of graph.get(node) ?? []) {
      if (!members.has(next) || via.has(next)) continue
      const usable = edge.mask & allowed
      if (usable === 0) continue
      // The weakest usable dependency names the cycle most specifically: ww before wr before rw before rt.
      const type = weakest(usable)
      via.set(next, { from: node, to: next, type })
      queue.push(next)
    }
  }
  return undefined
}

function describeCycle(
  name: AnomalyType,
  cycle: readonly Step[],
  graph: ReadonlyMap<number, ReadonlyMap<number, Edge>>,
  byId: ReadonlyMap<number, AppendTxn>,
): string {
  const parts = cycle.map((step) => {
    const key = graph.get(step.from)?.get(step.to)?.keys.get(step.type)
    return `-${edgeNames[step.type]}${key === undefined ? '' : ` ${key}`}->`
  })
  const text = cycle.map((step, i) => `T${step.from} ${parts[i]} `).join('') + `T${cycle[0]!.from}`
  const txns = cycle.map((step) => describeTxn(byId.get(step.from)!)).join('; ')
  return `${name} cycle: ${text} (${txns})`
}

export function describeTxn(txn: AppendTxn): string {
  const ops = txn.ops
    .map((op) => (op[0] === 'append' ? `a ${op[1]} ${op[2]}` : `r ${op[1]} ${op[2] ? show(op[2]) : '?'}`))
    .join(', ')
  const ret = txn.ret === Number.POSITIVE_INFINITY ? '∞' : txn.ret
  return `T${txn.id} ${txn.type} c${txn.client} [${txn.call}, ${ret}] [${ops}]`
}

/** Tarjan's algorithm, iterative so that long dependency chains cannot overflow the stack. */
export function stronglyConnected(graph: ReadonlyMap<number, ReadonlyMap<number, unknown>>): number[][] {
  const index = new Map<number, number>()
  const low = new Map<number, number>()
  const onStack = new Set<number>()
  const stack: number[] = []
  const components: number[][] = []
  let counter = 0
  const nodes = new Set<number>()
  for (const [from, out] of graph) {
    nodes.add(from)
    for (const to of out.keys()) nodes.add(to)
  }
  for (const root of nodes) {
    if (index.has(root)) continue
    const work: { node: number; successors: Iterator<number> }[] = []
    const visit = (node: number): void => {
      index.set(node, counter)
      low.set(node, counter)
      counter++
      stack.push(node)
      onStack.add(node)
      work.push({ node, successors: (graph.get(node)?.keys() ?? [].values()) as Iterator<number> })
    }
    visit(root)
    while (work.length > 0) {
      const frame = work[work.length - 1]!
      const next = frame.successors.next()
      if (!next.done) {
        const to = next.value
        if (!index.has(to)) visit(to)
        else if (onStack.has(to)) low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!))
        continue
      }
      work.pop()
      const parent = work[work.length - 1]
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!))
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: number[] = []
        for (;;) {
          const member = stack.pop()!
          onStack.delete(member)
          component.push(member)
          if (member === frame.node) break
        }
        components.push(component)
      }
    }
  }
  return components
}

/** One line per anomaly example, for reports. */
export function describeElle(result: ElleResult): string {
  if (result.ok) {
    return `append ok: ${result.stats.ok} committed, ${result.stats.info} unknown, ${result.stats.fail} failed transactions`
  }
  const counts = Object.entries(result.counts)
    .map(([type, count]) => `${type} x${count}`)
    .join(', ')
  return [counts, ...result.anomalies.map((anomaly) => `${anomaly.type}: ${anomaly.detail}`)].join('\n')
}

function show(list: readonly number[]): string {
  return `[${list.join(' ')}]`
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i])
}

function startsWith(list: readonly number[], prefix: readonly number[]): boolean {
  return prefix.length <= list.length && prefix.every((value, i) => value === list[i])
}

function endsWith(list: readonly number[], suffix: readonly number[]): boolean {
  const offset = list.length - suffix.length
  return offset >= 0 && suffix.every((value, i) => value === list[offset + i])
}
