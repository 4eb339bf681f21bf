// Goal: the pure pieces behind the connections behave as DESIGN.md says: message parts reassemble exactly and
// reject disorder, the send queue drops the oldest beyond its bounds, back-off grows with jitter up to its cap;
// method: fast-check against simple models.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { backoffDelayMs } from '../../../src/transport/backoff.js'
import { ProtocolError } from '../../../src/transport/errors.js'
import { type Frame, FrameDecoder, frameHeaderBytes } from '../../../src/transport/frame-codec.js'
import { MessageAssembler, PartSource, partHeaderBytes } from '../../../src/transport/message-parts.js'
import { FrameType } from '../../../src/transport/protocol.js'
import { SendQueue } from '../../../src/transport/send-queue.js'

/** Concatenates byte arrays. */
function concat(pieces: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((sum, piece) => sum + piece.byteLength, 0))
  let offset = 0
  for (const piece of pieces) {
    out.set(piece, offset)
    offset += piece.byteLength
  }
  return out
}

/** Cuts `bytes` into segments at the given points (modulo its length). */
function segmentsOf(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % bytes.byteLength))].sort((a, b) => a - b)
  const segments: Uint8Array[] = []
  let start = 0
  for (const point of [...points, bytes.byteLength]) {
    segments.push(bytes.subarray(start, point))
    start = point
  }
  return segments
}

/** Sends `segments` as parts and returns the part payloads as the receiver's frame decoder sees them. */
function partPayloads(segments: readonly Uint8Array[], chunkBytes: number): Uint8Array[] {
  const decoder = new FrameDecoder({ frameBytesMax: chunkBytes + partHeaderBytes })
  const payloads: Uint8Array[] = []
  const source = new PartSource(segments)
  while (!source.done) {
    decoder.push(concat(source.nextPart(chunkBytes)), (decoded: Frame) => {
      assert.equal(decoded.type, FrameType.messagePart)
      payloads.push(decoded.payload)
    })
  }
  return payloads
}

describe('message parts', () => {
  test('any message, in any segments, split at any chunk size reassembles exactly, once', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 3000 }),
        fc.array(fc.nat(), { maxLength: 3 }),
        fc.integer({ min: 1, max: 700 }),
        (bytes, cuts, chunk) => {
          const assembler = new MessageAssembler({ messageBytesMax: 3000 })
          const payloads = partPayloads(segmentsOf(bytes, cuts), chunk)
          assert.equal(payloads.length, Math.ceil(bytes.byteLength / chunk))
          const results = payloads.map((payload) => assembler.push(payload))
          assert.deepEqual(results.slice(0, -1), new Array(payloads.length - 1).fill(undefined))
          assert.deepEqual(results.at(-1), bytes)
          assert.equal(assembler.bufferedBytes, 0)
        },
      ),
      { numRuns: 200 },
    )
  })

  test('parts are views of the message, not copies', () => {
    const data = new Uint8Array(100).fill(3)
    const pieces = new PartSource([Uint8Array.of(1, 2), data]).nextPart(50)
    assert.equal(pieces.length, 3)
    assert.equal(pieces[0]!.byteLength, frameHeaderBytes + partHeaderBytes)
    assert.equal(pieces[2]!.buffer, data.buffer)
  })

  test('parts out of order, a second start, a part without a start or an oversize total are protocol errors', () => {
    const payloads = partPayloads([new Uint8Array(100).fill(7)], 30)
    const cases: [string, Uint8Array[], number][] = [
      ['skipped part', [payloads[0]!, payloads[2]!], 1_000],
      ['second start', [payloads[0]!, payloads[0]!], 1_000],
      ['no start', [payloads[1]!], 1_000],
      ['too large', [payloads[0]!], 99],
    ]
    for (const [what, sequence, messageBytesMax] of cases) {
      const assembler = new MessageAssembler({ messageBytesMax })
      assert.throws(
        () => {
          for (const payload of sequence) assembler.push(payload)
        },
        ProtocolError,
        what,
      )
    }
  })
})

describe('SendQueue', () => {
  test('keeps the newest items within both bounds, never evicting the item just pushed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 0, max: 100 }),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 60 }), fc.constant(-1)), { maxLength: 60 }),
        (messagesMax, bytesMax, operations) => {
          const queue = new SendQueue<number>({ messagesMax, bytesMax })
          let model: { id: number; bytes: number }[] = []
          operations.forEach((bytes, id) => {
            if (bytes === -1) {
              assert.equal(queue.shift()?.item, model.shift()?.id)
              return
            }
            model.push({ id, bytes })
            const evicted: number[] = []
            const total = (): number => model.reduce((sum, item) => sum + item.bytes, 0)
            while (model.length > 1 && (model.length > messagesMax || total() > bytesMax)) {
              evicted.push(model.shift()!.id)
            }
            assert.deepEqual(queue.push(id, bytes), evicted)
            assert.equal(queue.length, model.length)
            assert.equal(queue.bytes, total())
            assert.equal(queue.peek()?.item, model[0]?.id)
          })
          assert.deepEqual(
            queue.clear(),
            model.map((item) => item.id),
          )
          model = []
          assert.equal(queue.length, 0)
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('backoffDelayMs', () => {
  test('doubles from the initial delay to the cap, with jitter in the upper half of each step', () => {
    const options = { initialMs: 50, maxMs: 2000 }
    const steps = [50, 100, 200, 400, 800, 1600, 2000, 2000]
    steps.forEach((step, i) => {
      assert.equal(
        backoffDelayMs(i + 1, options, () => 0),
        step / 2,
      )
      assert.ok(backoffDelayMs(i + 1, options, () => 0.999_999) <= step)
    })
    assert.equal(
      backoffDelayMs(1000, options, () => 0.5),
      1500,
    )
  })
})
