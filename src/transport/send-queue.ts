import { assert } from '../util/assert.js'

/**
 * A bounded FIFO with drop-oldest eviction, pure. When a push takes the queue over `messagesMax` or
 * `bytesMax`, the oldest items are evicted until it fits again; the item just pushed is never evicted, so
 * one item larger than `bytesMax` (a big snapshot) is still held, alone. Memory is thus bounded by
 * `max(bytesMax, largest single item)`, and the items are references the caller already holds.
 *
 * Why the oldest: for Raft the newest message is the most useful one. A queue backs up when a peer is slow
 * or its connection is being re-established; the messages at its head are then the stalest (older terms,
 * appends that the leader will resend from its progress anyway, heartbeats superseded by later ones), while
 * the newest carry the current term and commit index. Raft tolerates the loss of either end.
 */
export class SendQueue<T> {
  readonly #messagesMax: number
  readonly #bytesMax: number
  #items: { readonly item: T; readonly bytes: number }[] = []
  #head = 0
  #bytes = 0

  constructor(options: { readonly messagesMax: number; readonly bytesMax: number }) {
    assert(options.messagesMax >= 1, `messagesMax ${options.messagesMax} must be at least 1`)
    assert(options.bytesMax >= 0, `bytesMax ${options.bytesMax} must not be negative`)
    this.#messagesMax = options.messagesMax
    this.#bytesMax = options.bytesMax
  }

  get length(): number {
    return this.#items.length - this.#head
  }

  get bytes(): number {
    return this.#bytes
  }

  /** Appends `item` of `bytes`; returns the evicted items, oldest first (usually none). */
  push(item: T, bytes: number): T[] {
    this.#items.push({ item, bytes })
    this.#bytes += bytes
    const evicted: T[] = []
    while (this.length > 1 && (this.length > this.#messagesMax || this.#bytes > this.#bytesMax)) {
      evicted.push(this.shift()!.item)
    }
    return evicted
  }

  /** The oldest item and its size, without removing it. */
  peek(): { readonly item: T; readonly bytes: number } | undefined {
    return this.#items[this.#head]
  }

  shift(): { readonly item: T; readonly bytes: number } | undefined {
    const slot = this.#items[this.#head]
    if (slot === undefined) return undefined
    this.#head += 1
    this.#bytes -= slot.bytes
    // Compact now and then, so shifting stays O(1) amortized without unbounded growth.
    if (this.#head === this.#items.length) {
      this.#items = []
      this.#head = 0
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return slot
  }

  /** Removes and returns everything, oldest first. */
  clear(): T[] {
    const items = this.#items.slice(this.#head).map((slot) => slot.item)
    this.#items = []
    this.#head = 0
    this.#bytes = 0
    return items
  }
}
