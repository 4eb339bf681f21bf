// A discrete-event queue ordered by (virtual time, insertion sequence): ties resolve in insertion order, so
// the simulation is deterministic for a given seed.

export interface SimEvent {
  readonly time: number
  readonly seq: number
  readonly run: () => void
}

export class EventQueue {
  #heap: SimEvent[] = []
  #seq = 0
  now = 0

  get size(): number {
    return this.#heap.length
  }

  at(time: number, run: () => void): void {
    const event = { time: Math.max(time, this.now), seq: this.#seq++, run }
    const heap = this.#heap
    heap.push(event)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(heap[i]!, heap[parent]!)) break
      ;[heap[i], heap[parent]] = [heap[parent]!, heap[i]!]
      i = parent
    }
  }

  after(delay: number, run: () => void): void {
    this.at(this.now + delay, run)
  }

  /** Removes and returns the earliest event, advancing `now` to its time. */
  pop(): SimEvent | undefined {
    const heap = this.#heap
    if (heap.length === 0) return undefined
    const top = heap[0]!
    const last = heap.pop()!
    if (heap.length > 0) {
      heap[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r
        if (m === i) break
        ;[heap[i], heap[m]] = [heap[m]!, heap[i]!]
        i = m
      }
    }
    this.now = top.time
    return top
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq)
}
