import { assert } from './assert.js'

/**
 * Readers and writers for TQLite's binary formats: the transport's wire formats (big-endian, network order)
 * and `src/storage`'s file formats (little-endian). The byte order is part of each format, so every writer
 * and reader names it. Integers that are terms, indexes or node ids are u64 in the bytes and must be
 * non-negative safe integers in memory: a larger value is a decode failure, never a silently rounded number.
 */

/** `big`: the transport's wire formats; `little`: the storage file formats. */
export type ByteOrder = 'big' | 'little'

const twoTo32 = 0x1_0000_0000
/** The high 32 bits of Number.MAX_SAFE_INTEGER. */
const safeHighMax = 0x1f_ffff

export const textEncoder = new TextEncoder()
/** `fatal`: invalid UTF-8 is a decode failure rather than silently replaced characters. */
const textDecoder = new TextDecoder('utf-8', { fatal: true })

/** Writes a structure whose size was computed up front; `done()` checks the size was exact. */
export class ByteWriter {
  readonly bytes: Uint8Array
  readonly #view: DataView
  readonly #littleEndian: boolean
  #offset = 0

  /** With `into` (exactly `size` bytes), writes there instead of into a fresh buffer. */
  constructor(size: number, order: ByteOrder, into?: Uint8Array) {
    assert(
      into === undefined || into.byteLength === size,
      `a writer of ${size} bytes over ${into?.byteLength}`,
    )
    this.bytes = into ?? new Uint8Array(size)
    this.#view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength)
    this.#littleEndian = order === 'little'
  }

  /** Bytes written so far. */
  get offset(): number {
    return this.#offset
  }

  u8(value: number): void {
    this.#view.setUint8(this.#offset, value)
    this.#offset += 1
  }

  u16(value: number): void {
    this.#view.setUint16(this.#offset, value, this.#littleEndian)
    this.#offset += 2
  }

  u32(value: number): void {
    this.#view.setUint32(this.#offset, value, this.#littleEndian)
    this.#offset += 4
  }

  u64(value: number, field: string): void {
    assert(Number.isSafeInteger(value) && value >= 0, `${field} ${value} is not a non-negative safe integer`)
    const high = Math.floor(value / twoTo32)
    const low = value % twoTo32
    const little = this.#littleEndian
    this.#view.setUint32(this.#offset, little ? low : high, little)
    this.#view.setUint32(this.#offset + 4, little ? high : low, little)
    this.#offset += 8
  }

  bool(value: boolean): void {
    this.u8(value ? 1 : 0)
  }

  raw(data: Uint8Array): void {
    this.bytes.set(data, this.#offset)
    this.#offset += data.byteLength
  }

  done(): Uint8Array {
    assert(this.#offset === this.bytes.byteLength, `wrote ${this.#offset} of ${this.bytes.byteLength} bytes`)
    return this.bytes
  }
}

/**
 * Reads with bounds checks. Every failure calls `fail`, which throws the caller's typed error, so a reader
 * can serve the message codec (`MessageDecodeError`), the protocol frames (`ProtocolError`) and the storage
 * codecs (`DecodeError`) alike.
 */
export class ByteReader {
  readonly #bytes: Uint8Array
  readonly #view: DataView
  readonly #littleEndian: boolean
  readonly #fail: (reason: string) => never
  #offset = 0

  constructor(bytes: Uint8Array, order: ByteOrder, fail: (reason: string) => never) {
    this.#bytes = bytes
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.#littleEndian = order === 'little'
    this.#fail = fail
  }

  get remaining(): number {
    return this.#bytes.byteLength - this.#offset
  }

  fail(reason: string): never {
    return this.#fail(reason)
  }

  #need(count: number, field: string): void {
    if (this.remaining < count) {
      this.#fail(`truncated: ${field} needs ${count} bytes at offset ${this.#offset}, ${this.remaining} left`)
    }
  }

  u8(field: string): number {
    this.#need(1, field)
    const value = this.#view.getUint8(this.#offset)
    this.#offset += 1
    return value
  }

  u16(field: string): number {
    this.#need(2, field)
    const value = this.#view.getUint16(this.#offset, this.#littleEndian)
    this.#offset += 2
    return value
  }

  u32(field: string): number {
    this.#need(4, field)
    const value = this.#view.getUint32(this.#offset, this.#littleEndian)
    this.#offset += 4
    return value
  }

  /** A u64 that must be a safe integer and at least `min`. */
  u64(field: string, min = 0): number {
    this.#need(8, field)
    const little = this.#littleEndian
    const first = this.#view.getUint32(this.#offset, little)
    const second = this.#view.getUint32(this.#offset + 4, little)
    this.#offset += 8
    const high = little ? second : first
    const low = little ? first : second
    if (high > safeHighMax) this.#fail(`${field} exceeds the safe integer range`)
    const value = high * twoTo32 + low
    if (value < min) this.#fail(`${field} ${value} is below ${min}`)
    return value
  }

  /** A boolean must be exactly 0 or 1: any other byte is damage, not "true". */
  bool(field: string): boolean {
    const value = this.u8(field)
    if (value > 1) this.#fail(`${field} is ${value}, not a boolean`)
    return value === 1
  }

  /**
   * `count` bytes, as a view of the input (no copy). Always a plain `Uint8Array`, even when the input is a
   * Node `Buffer` (as socket chunks are): a `Buffer` handed onwards would make `.slice()` a view, not a copy.
   */
  view(count: number, field: string): Uint8Array {
    this.#need(count, field)
    const out = new Uint8Array(this.#bytes.buffer, this.#bytes.byteOffset + this.#offset, count)
    this.#offset += count
    return out
  }

  /** `count` bytes copied into a fresh plain `Uint8Array`, so the result does not pin the input's memory. */
  copy(count: number, field: string): Uint8Array {
    // The view first: it checks the bounds before anything of an announced size is allocated.
    const view = this.view(count, field)
    const out = new Uint8Array(count)
    out.set(view)
    return out
  }

  utf8(count: number, field: string): string {
    const bytes = this.view(count, field)
    try {
      return textDecoder.decode(bytes)
    } catch {
      return this.#fail(`${field} is not valid UTF-8`)
    }
  }

  /** The rest of the input as a view. */
  rest(): Uint8Array {
    return this.view(this.remaining, 'rest')
  }

  end(what: string): void {
    if (this.remaining !== 0) this.#fail(`${this.remaining} unexpected bytes after ${what}`)
  }
}
