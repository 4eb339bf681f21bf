// Goal: the frame decoder yields the same frames however a byte stream is cut into chunks, and a length above
// the limit is a FrameTooLargeError; method: fast-check over frame lists and arbitrary cut points.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { FrameTooLargeError } from '../../../src/transport/errors.js'
import {
  type Frame,
  FrameDecoder,
  encodeFrame,
  frameHeaderBytes,
} from '../../../src/transport/frame-codec.js'

const frameBytesMax = 512

const frameArbitrary = fc.record({
  type: fc.integer({ min: 0, max: 255 }),
  payload: fc.oneof(fc.uint8Array({ maxLength: 16 }), fc.uint8Array({ maxLength: frameBytesMax })),
})

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}

/** Cuts `stream` at the given points (taken modulo its length), in order, keeping empty chunks too. */
function cut(stream: Uint8Array, points: readonly number[]): Uint8Array[] {
  const sorted = points.map((point) => point % (stream.byteLength + 1)).sort((a, b) => a - b)
  const chunks: Uint8Array[] = []
  let start = 0
  for (const point of sorted) {
    chunks.push(stream.subarray(start, point))
    start = point
  }
  chunks.push(stream.subarray(start))
  return chunks
}

/** Frames as plain data (the payload copied), so results from different chunkings compare equal. */
function decodeAll(
  decoder: FrameDecoder,
  chunks: readonly Uint8Array[],
): { type: number; payload: number[] }[] {
  const frames: { type: number; payload: number[] }[] = []
  const onFrame = (frame: Frame): void => {
    frames.push({ type: frame.type, payload: [...frame.payload] })
  }
  for (const chunk of chunks) decoder.push(chunk, onFrame)
  return frames
}

describe('FrameDecoder', () => {
  test('any split of a stream yields the frames that were encoded, in order', () => {
    fc.assert(
      fc.property(
        fc.array(frameArbitrary, { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (frames, points) => {
          const stream = concat(frames.map((frame) => encodeFrame(frame.type, frame.payload)))
          const decoder = new FrameDecoder({ frameBytesMax })
          const decoded = decodeAll(decoder, cut(stream, points))
          assert.deepEqual(
            decoded,
            frames.map((frame) => ({ type: frame.type, payload: [...frame.payload] })),
          )
          assert.equal(decoder.bufferedBytes, 0)
        },
      ),
      { numRuns: 300 },
    )
  })

  test('one byte at a time yields the same frames as the whole stream at once', () => {
    fc.assert(
      fc.property(fc.array(frameArbitrary, { maxLength: 8 }), (frames) => {
        const stream = concat(frames.map((frame) => encodeFrame(frame.type, frame.payload)))
        const bytewise = [...stream].map((byte) => Uint8Array.of(byte))
        assert.deepEqual(
          decodeAll(new FrameDecoder({ frameBytesMax }), bytewise),
          decodeAll(new FrameDecoder({ frameBytesMax }), [stream]),
        )
      }),
      { numRuns: 50 },
    )
  })

  test('a partial frame is held until its last byte arrives, then emitted', () => {
    const decoder = new FrameDecoder({ frameBytesMax })
    const frame = encodeFrame(7, Uint8Array.of(1, 2, 3))
    const seen: Frame[] = []
    decoder.push(frame.subarray(0, 6), (f) => seen.push(f))
    assert.equal(seen.length, 0)
    assert.equal(decoder.bufferedBytes, 1)
    decoder.push(frame.subarray(6), (f) => seen.push(f))
    assert.equal(seen.length, 1)
    assert.equal(seen[0]!.type, 7)
    assert.deepEqual([...seen[0]!.payload], [1, 2, 3])
  })

  test('an oversize length is a FrameTooLargeError after the frames before it, under any split', () => {
    fc.assert(
      fc.property(
        fc.array(frameArbitrary, { maxLength: 6 }),
        fc.integer({ min: frameBytesMax + 1, max: 0xffff_ffff }),
        fc.uint8Array({ maxLength: 64 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (before, length, trailing, points) => {
          const header = new Uint8Array(frameHeaderBytes)
          new DataView(header.buffer).setUint32(0, length)
          const stream = concat([...before.map((f) => encodeFrame(f.type, f.payload)), header, trailing])
          const decoder = new FrameDecoder({ frameBytesMax })
          const frames: Frame[] = []
          let failure: unknown
          try {
            for (const chunk of cut(stream, points)) decoder.push(chunk, (frame) => frames.push(frame))
          } catch (error) {
            failure = error
          }
          assert.ok(
            failure instanceof FrameTooLargeError,
            `expected FrameTooLargeError, got ${String(failure)}`,
          )
          assert.equal(failure.code, 'TQ_ERR_TRANSPORT_FRAME_TOO_LARGE')
          assert.equal(failure.frameBytes, length)
          assert.equal(failure.frameBytesMax, frameBytesMax)
          assert.equal(frames.length, before.length)
          // The stream cannot be resynchronized: the decoder stays failed.
          assert.throws(() => decoder.push(Uint8Array.of(0), () => {}), FrameTooLargeError)
        },
      ),
      { numRuns: 200 },
    )
  })

  test('a frame of exactly the limit is accepted', () => {
    const decoder = new FrameDecoder({ frameBytesMax })
    const frames: Frame[] = []
    decoder.push(encodeFrame(1, new Uint8Array(frameBytesMax)), (frame) => frames.push(frame))
    assert.equal(frames.length, 1)
    assert.equal(frames[0]!.payload.byteLength, frameBytesMax)
  })
})
