import { assert } from '../util/assert.js'
import { ByteReader, ByteWriter } from '../util/byte-io.js'
import { ProtocolError } from './errors.js'
import { encodeFrameHeader, frameHeaderBytes } from './frame-codec.js'
import { FrameType } from './protocol.js'

/**
 * Large messages in parts, pure. An encoded message longer than the chunk size (an `installSnapshot` with a
 * big database image, or an unusually large append) is sent as consecutive `messagePart` frames, each with
 * the payload `[u64 totalBytes][u64 offset][bytes]`, so no frame exceeds the chunk size plus 16 bytes and a
 * connection can interleave small messages (heartbeats) between the parts. The receiver reassembles one
 * message at a time per connection into a buffer of exactly `totalBytes`, bounded by `messageBytesMax`.
 */

export const partHeaderBytes = 16

/** An encoded message as segments (message-codec.ts `encodeMessageSegments`), being sent part by part. */
export class PartSource {
  readonly #segments: readonly Uint8Array[]
  readonly totalBytes: number
  #offset = 0

  constructor(segments: readonly Uint8Array[]) {
    this.#segments = segments
    this.totalBytes = segments.reduce((sum, segment) => sum + segment.byteLength, 0)
    assert(this.totalBytes > 0, 'an empty message has no parts')
  }

  /** Bytes of the message already handed out in parts. */
  get offset(): number {
    return this.#offset
  }

  get done(): boolean {
    return this.#offset === this.totalBytes
  }

  /**
   * The next part as a frame in pieces for a gather write: a 21-byte header (frame header and part header)
   * followed by views of the segments, so the message bytes are never copied on the way to the socket.
   */
  nextPart(chunkBytes: number): Uint8Array[] {
    assert(chunkBytes >= 1, `chunk size ${chunkBytes} must be positive`)
    assert(!this.done, 'no part left')
    const start = this.#offset
    const end = Math.min(this.totalBytes, start + chunkBytes)
    const header = new ByteWriter(frameHeaderBytes + partHeaderBytes, 'big')
    header.raw(encodeFrameHeader(FrameType.messagePart, partHeaderBytes + end - start))
    header.u64(this.totalBytes, 'total bytes')
    header.u64(start, 'part offset')
    const pieces = [header.done()]
    let segmentStart = 0
    for (const segment of this.#segments) {
      const segmentEnd = segmentStart + segment.byteLength
      const from = Math.max(start, segmentStart)
      const to = Math.min(end, segmentEnd)
      if (from < to) pieces.push(segment.subarray(from - segmentStart, to - segmentStart))
      segmentStart = segmentEnd
    }
    this.#offset = end
    return pieces
  }
}

/**
 * Reassembles the parts of one message at a time. Parts must arrive in order with the same total; a part
 * at offset 0 starts a message, and only when none is in progress. Any deviation is a `ProtocolError`.
 */
export class MessageAssembler {
  readonly #messageBytesMax: number
  #buffer: Uint8Array | undefined
  #filled = 0

  constructor(options: { readonly messageBytesMax: number }) {
    this.#messageBytesMax = options.messageBytesMax
  }

  /** Bytes held for the message in progress (its full announced size), 0 when none. */
  get bufferedBytes(): number {
    return this.#buffer?.byteLength ?? 0
  }

  /**
   * Adds a part (a `messagePart` frame's payload); returns the whole encoded message when this part completes
   * it, else `undefined`. The returned buffer belongs to the caller alone.
   */
  push(payload: Uint8Array): Uint8Array | undefined {
    const read = new ByteReader(payload, 'big', (reason) => {
      throw new ProtocolError(`message part: ${reason}`)
    })
    const total = read.u64('total bytes', 1)
    const offset = read.u64('offset')
    const bytes = read.rest()
    if (bytes.byteLength === 0) throw new ProtocolError('empty message part')
    if (offset === 0) this.#start(total)
    const buffer = this.#buffer
    if (buffer === undefined) throw new ProtocolError(`message part at offset ${offset} without a first part`)
    if (total !== buffer.byteLength) {
      throw new ProtocolError(`message part announces ${total} bytes, the message has ${buffer.byteLength}`)
    }
    if (offset !== this.#filled) {
      throw new ProtocolError(`message part at offset ${offset}, ${this.#filled} expected`)
    }
    if (offset + bytes.byteLength > total) throw new ProtocolError(`message part overruns ${total} bytes`)
    buffer.set(bytes, offset)
    this.#filled += bytes.byteLength
    if (this.#filled < total) return undefined
    this.#buffer = undefined
    this.#filled = 0
    return buffer
  }

  #start(total: number): void {
    if (this.#buffer !== undefined) {
      throw new ProtocolError(
        `a new message started with ${this.#filled} of ${this.#buffer.byteLength} bytes pending`,
      )
    }
    if (total > this.#messageBytesMax) {
      throw new ProtocolError(`message of ${total} bytes exceeds the limit of ${this.#messageBytesMax}`)
    }
    this.#buffer = new Uint8Array(total)
    this.#filled = 0
  }
}
