import { assert } from '../util/assert.js'
import { FrameTooLargeError } from './errors.js'

/**
 * The transport's framing, pure and without I/O (in the manner of pglite's pg-protocol `Parser`):
 *
 *     [u32 length, big-endian][u8 type][payload: length bytes]
 *
 * `length` counts the payload only (not the type byte, not itself), so every value is valid and the only
 * check is the receiver's bound, `frameBytesMax`. A header announcing more is a `FrameTooLargeError`: the
 * stream cannot be resynchronized after it and the connection must close.
 */

export const frameHeaderBytes = 5

/** The largest payload the u32 length can describe. */
export const frameLengthLimit = 0xffff_ffff

export interface Frame {
  readonly type: number
  /**
   * The payload. It may be a view into the chunk that was pushed or into a buffer the decoder allocated for
   * this frame alone; the decoder never writes into memory after emitting a view of it, so the view stays
   * valid. It may be a Node `Buffer` (whose `slice` does not copy): decode it, do not hand it onwards.
   */
  readonly payload: Uint8Array
}

/** Encodes one frame: header and payload in one fresh array, ready for a single socket write. */
export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  assert(Number.isInteger(type) && type >= 0 && type <= 0xff, `frame type ${type} is not a u8`)
  assert(payload.byteLength <= frameLengthLimit, `frame payload of ${payload.byteLength} bytes exceeds u32`)
  const frame = new Uint8Array(frameHeaderBytes + payload.byteLength)
  writeHeader(frame, type, payload.byteLength)
  frame.set(payload, frameHeaderBytes)
  return frame
}

/**
 * The 5 header bytes of a frame whose payload (`payloadBytes` long) the caller writes separately, so a large
 * payload already in memory goes to the socket without being copied (a gather write).
 */
export function encodeFrameHeader(type: number, payloadBytes: number): Uint8Array {
  assert(Number.isInteger(type) && type >= 0 && type <= 0xff, `frame type ${type} is not a u8`)
  assert(payloadBytes <= frameLengthLimit, `frame payload of ${payloadBytes} bytes exceeds u32`)
  const header = new Uint8Array(frameHeaderBytes)
  writeHeader(header, type, payloadBytes)
  return header
}

/** The bytes a frame with a payload of `payloadBytes` takes on the wire. */
export function frameBytes(payloadBytes: number): number {
  return frameHeaderBytes + payloadBytes
}

function writeHeader(target: Uint8Array, type: number, length: number): void {
  target[0] = length >>> 24
  target[1] = (length >>> 16) & 0xff
  target[2] = (length >>> 8) & 0xff
  target[3] = length & 0xff
  target[4] = type
}

function readLength(source: Uint8Array, offset: number): number {
  // `>>> 0` keeps the result unsigned when the top bit is set.
  return (
    ((source[offset]! << 24) |
      (source[offset + 1]! << 16) |
      (source[offset + 2]! << 8) |
      source[offset + 3]!) >>>
    0
  )
}

/**
 * Turns a byte stream, fed in whatever chunks the socket yields, into whole frames. Partial state lives in
 * private fields between calls. A whole frame inside one chunk is emitted as a view of that chunk (no copy);
 * a frame split across chunks is copied once, into a buffer of exactly its size allocated when its header is
 * complete. So the decoder holds at most one partial frame of at most `frameBytesMax` bytes.
 *
 * After a `FrameTooLargeError` the decoder is failed: every later `push` throws the same error.
 */
export class FrameDecoder {
  readonly #frameBytesMax: number
  readonly #header = new Uint8Array(frameHeaderBytes)
  #headerFilled = 0
  #type = 0
  #body: Uint8Array | undefined
  #bodyFilled = 0
  #failure: FrameTooLargeError | undefined

  constructor(options: { readonly frameBytesMax: number }) {
    assert(
      Number.isSafeInteger(options.frameBytesMax) &&
        options.frameBytesMax >= 0 &&
        options.frameBytesMax <= frameLengthLimit,
      `frameBytesMax ${options.frameBytesMax} must be an integer in [0, 2^32)`,
    )
    this.#frameBytesMax = options.frameBytesMax
  }

  /** Bytes of the current partial frame held between pushes (header and body). */
  get bufferedBytes(): number {
    return this.#headerFilled + this.#bodyFilled
  }

  /**
   * Consumes `chunk` and calls `onFrame` for each frame it completes, in order. The chunk must not be
   * modified afterwards (emitted payloads may be views of it). Throws `FrameTooLargeError`; an exception
   * thrown by `onFrame` propagates and the rest of the chunk is discarded.
   */
  push(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    if (this.#failure) throw this.#failure
    let offset = 0
    while (offset < chunk.byteLength) {
      if (this.#body !== undefined) {
        offset = this.#fillBody(chunk, offset, onFrame)
      } else if (this.#headerFilled === 0 && chunk.byteLength - offset >= frameHeaderBytes) {
        offset = this.#fastPath(chunk, offset, onFrame)
      } else {
        offset = this.#fillHeader(chunk, offset, onFrame)
      }
    }
  }

  /** A whole header in the chunk: emit the frame as a view, or start buffering its body. */
  #fastPath(chunk: Uint8Array, offset: number, onFrame: (frame: Frame) => void): number {
    const length = this.#checkedLength(chunk, offset)
    const type = chunk[offset + 4]!
    const start = offset + frameHeaderBytes
    const available = chunk.byteLength - start
    if (available >= length) {
      onFrame({ type, payload: chunk.subarray(start, start + length) })
      return start + length
    }
    this.#startBody(type, length)
    this.#body!.set(chunk.subarray(start), 0)
    this.#bodyFilled = available
    return chunk.byteLength
  }

  #fillHeader(chunk: Uint8Array, offset: number, onFrame: (frame: Frame) => void): number {
    const take = Math.min(frameHeaderBytes - this.#headerFilled, chunk.byteLength - offset)
    this.#header.set(chunk.subarray(offset, offset + take), this.#headerFilled)
    this.#headerFilled += take
    if (this.#headerFilled < frameHeaderBytes) return offset + take
    const length = this.#checkedLength(this.#header, 0)
    this.#headerFilled = 0
    if (length === 0) onFrame({ type: this.#header[4]!, payload: new Uint8Array(0) })
    else this.#startBody(this.#header[4]!, length)
    return offset + take
  }

  #fillBody(chunk: Uint8Array, offset: number, onFrame: (frame: Frame) => void): number {
    const body = this.#body!
    const take = Math.min(body.byteLength - this.#bodyFilled, chunk.byteLength - offset)
    body.set(chunk.subarray(offset, offset + take), this.#bodyFilled)
    this.#bodyFilled += take
    if (this.#bodyFilled === body.byteLength) {
      // Reset before the callback, so the decoder is consistent even if the callback throws.
      this.#body = undefined
      this.#bodyFilled = 0
      onFrame({ type: this.#type, payload: body })
    }
    return offset + take
  }

  #startBody(type: number, length: number): void {
    this.#type = type
    // Not zero-filled: every byte is written before the frame is emitted, and a partial body is never
    // exposed. This reuses freed memory instead of faulting in fresh zeroed pages for every large frame.
    this.#body = Buffer.allocUnsafe(length)
    this.#bodyFilled = 0
  }

  #checkedLength(source: Uint8Array, offset: number): number {
    const length = readLength(source, offset)
    if (length > this.#frameBytesMax) {
      this.#failure = new FrameTooLargeError(length, this.#frameBytesMax)
      throw this.#failure
    }
    return length
  }
}
