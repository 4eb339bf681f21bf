// Goal: the message codec round-trips every message type and entry kind exactly, and turns any damaged or
// garbage input into MessageDecodeError and nothing else; method: fast-check arbitraries, every truncation,
// byte mutations, and hand-patched encodings that break one rule each.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { Entry, Message } from '../../../src/raft/message.js'
import { MessageDecodeError } from '../../../src/transport/errors.js'
import {
  decodeMessage,
  encodeMessage,
  encodeMessageSegments,
  encodedMessageBytes,
  referencedEntryBytesMin,
  validateMessage,
} from '../../../src/transport/message-codec.js'
import { AssertionError } from '../../../src/util/assert.js'
import { anyMessage, messageOfType } from './message-arbitraries.js'

/** Decodes, requiring that any failure is a MessageDecodeError. */
function decodeOrDecodeError(bytes: Uint8Array): Message | MessageDecodeError {
  try {
    return decodeMessage(bytes)
  } catch (error) {
    if (error instanceof MessageDecodeError) return error
    throw new Error(`decodeMessage threw ${String(error)}, not a MessageDecodeError`, { cause: error })
  }
}

/** An append from node 1 to node 2 in term 7 of `entries`, following index 9 of term 5. */
function appendAfter9(entries: Entry[]): Message {
  return { type: 'append', from: 1, to: 2, term: 7, prevIndex: 9, prevTerm: 5, commit: 9, entries }
}

describe('message codec round trip', () => {
  for (const [type, arbitrary] of Object.entries(messageOfType)) {
    test(`${type} messages decode to an equal message, copied or shared`, () => {
      fc.assert(
        fc.property(arbitrary, (message) => {
          assert.equal(validateMessage(message), undefined)
          const bytes = encodeMessage(message)
          assert.equal(bytes.byteLength, encodedMessageBytes(message))
          assert.deepStrictEqual(decodeMessage(bytes), message)
          assert.deepStrictEqual(decodeMessage(bytes, { shareData: true }), message)
          assert.deepStrictEqual(Buffer.concat(encodeMessageSegments(message)), Buffer.from(bytes))
        }),
        { numRuns: 200 },
      )
    })
  }

  test("an append's large entries are referenced by its segments, and the segments make the same bytes", () => {
    const big = (n: number, fill: number) => new Uint8Array(referencedEntryBytesMin + n).fill(fill)
    const first = big(0, 1)
    const last = big(100, 3)
    const message = appendAfter9([
      { kind: 'normal', index: 10, term: 7, data: first },
      { kind: 'normal', index: 11, term: 7, data: new Uint8Array(referencedEntryBytesMin - 1).fill(2) },
      { kind: 'noop', index: 12, term: 7 },
      { kind: 'normal', index: 13, term: 7, data: last },
    ])
    const segments = encodeMessageSegments(message)
    assert.deepStrictEqual(Buffer.concat(segments), Buffer.from(encodeMessage(message)))
    // Views of the entries' own bytes, not copies; the entry just below the threshold is copied.
    assert.deepStrictEqual(
      segments.filter((segment) => segment === first || segment === last),
      [first, last],
    )
    assert.equal(segments.length, 4, 'head, first data, the middle entries and the last head, last data')
    assert.deepStrictEqual(decodeMessage(Buffer.concat(segments)), message)
  })

  test('every entry kind and binary data of every byte value survive', () => {
    const data = Uint8Array.from({ length: 256 }, (_, i) => i)
    const message = appendAfter9([
      { kind: 'normal', index: 10, term: 5, data },
      { kind: 'normal', index: 11, term: 6, data: new Uint8Array(0) },
      { kind: 'confChange', index: 12, term: 6, change: { type: 'addNonVoter', nodeId: 4 } },
      { kind: 'noop', index: 13, term: 7 },
    ])
    const decoded = decodeMessage(encodeMessage(message))
    assert.deepStrictEqual(decoded, message)
    // A copy, not a view of the wire bytes.
    assert.ok(decoded.type === 'append' && decoded.entries[0]!.kind === 'normal')
    assert.notEqual(decoded.entries[0]!.data.buffer, data.buffer)
  })

  test('decoding a Node Buffer (as sockets yield) gives plain Uint8Array data that does not share its memory', () => {
    const message: Message = {
      type: 'append',
      ...{ from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0, commit: 0 },
      entries: [{ kind: 'normal', index: 1, term: 1, data: Uint8Array.of(1, 2, 3) }],
    }
    const wire = Buffer.from(encodeMessage(message))
    const decoded = decodeMessage(wire)
    assert.ok(decoded.type === 'append' && decoded.entries[0]?.kind === 'normal')
    const { data } = decoded.entries[0]
    assert.equal(Object.getPrototypeOf(data), Uint8Array.prototype)
    assert.notEqual(data.buffer, wire.buffer)
    const shared = decodeMessage(wire, { shareData: true })
    assert.ok(shared.type === 'append' && shared.entries[0]?.kind === 'normal')
    assert.equal(Object.getPrototypeOf(shared.entries[0].data), Uint8Array.prototype)
    assert.deepStrictEqual(decoded, message)
  })
})

describe('message codec on bad input', () => {
  test('garbage never throws anything but MessageDecodeError', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          // A valid type byte first, so the body decoders get exercised too.
          fc
            .tuple(fc.integer({ min: 1, max: 10 }), fc.uint8Array({ maxLength: 200 }))
            .map(([type, rest]) => Uint8Array.of(type, ...rest)),
        ),
        (bytes) => {
          decodeOrDecodeError(bytes)
        },
      ),
      { numRuns: 2000 },
    )
  })

  test('every strict prefix of a valid encoding is a MessageDecodeError', () => {
    fc.assert(
      fc.property(anyMessage, (message) => {
        const bytes = encodeMessage(message)
        for (let length = 0; length < bytes.byteLength; length++) {
          assert.ok(decodeOrDecodeError(bytes.subarray(0, length)) instanceof MessageDecodeError)
        }
      }),
      { numRuns: 150 },
    )
  })

  test('mutated and extended encodings either decode to a valid message or fail with MessageDecodeError', () => {
    fc.assert(
      fc.property(anyMessage, fc.nat(), fc.integer({ min: 0, max: 255 }), (message, at, value) => {
        const bytes = encodeMessage(message)
        const mutated = bytes.slice()
        mutated[at % mutated.byteLength] = value
        const result = decodeOrDecodeError(mutated)
        if (!(result instanceof MessageDecodeError)) assert.equal(validateMessage(result), undefined)
        assert.ok(decodeOrDecodeError(Uint8Array.of(...bytes, value)) instanceof MessageDecodeError)
      }),
      { numRuns: 1000 },
    )
  })

  const heartbeatBytes = (): Uint8Array =>
    encodeMessage({ type: 'heartbeat', from: 1, to: 2, term: 3, commit: 4, readRound: 0 })

  /** Patches the u64 at `offset` (given as high and low 32-bit halves). */
  function patchU64(bytes: Uint8Array, offset: number, high: number, low: number): Uint8Array {
    const copy = bytes.slice()
    const view = new DataView(copy.buffer)
    view.setUint32(offset, high)
    view.setUint32(offset + 4, low)
    return copy
  }

  const rejections: [string, () => Uint8Array, RegExp][] = [
    [
      'an unknown message type',
      () => Uint8Array.of(99, ...heartbeatBytes().subarray(1)),
      /unknown message type 99/,
    ],
    ['node id 0 as sender', () => patchU64(heartbeatBytes(), 1, 0, 0), /from 0 is below 1/],
    [
      'a term beyond the safe integer range',
      () => patchU64(heartbeatBytes(), 17, 0x20_0000, 0),
      /term exceeds/,
    ],
    [
      'a message to its own sender',
      () => patchU64(heartbeatBytes(), 9, 0, 1),
      /a node does not send to itself/,
    ],
    [
      'a boolean that is neither 0 nor 1',
      () => {
        const bytes = encodeMessage({ type: 'voteResponse', from: 1, to: 2, term: 3, reject: true })
        bytes[25] = 2
        return bytes
      },
      /reject is 2, not a boolean/,
    ],
    [
      'an unknown entry kind',
      () => {
        const bytes = encodeMessage({
          type: 'append',
          ...{ from: 1, to: 2, term: 3, prevIndex: 0, prevTerm: 0, commit: 0 },
          entries: [{ kind: 'noop', index: 1, term: 3 }],
        })
        bytes[53] = 9
        return bytes
      },
      /unknown entry kind 9/,
    ],
    [
      'an unknown conf change type',
      () => {
        const bytes = encodeMessage({
          type: 'append',
          ...{ from: 1, to: 2, term: 3, prevIndex: 0, prevTerm: 0, commit: 0 },
          entries: [{ kind: 'confChange', index: 1, term: 3, change: { type: 'remove', nodeId: 2 } }],
        })
        bytes[70] = 0
        return bytes
      },
      /unknown conf change type 0/,
    ],
    [
      'entries that are not consecutive',
      () => {
        const bytes = encodeMessage({
          type: 'append',
          ...{ from: 1, to: 2, term: 3, prevIndex: 4, prevTerm: 1, commit: 0 },
          entries: [
            { kind: 'noop', index: 5, term: 3 },
            { kind: 'noop', index: 6, term: 3 },
          ],
        })
        // The second entry starts at 53 + 17: patch its index (after the kind byte) to 8.
        return patchU64(bytes, 71, 0, 8)
      },
      /entry index 8 where 6 was expected/,
    ],
    [
      'an entry term above the message term',
      () => {
        const bytes = encodeMessage({
          type: 'append',
          ...{ from: 1, to: 2, term: 3, prevIndex: 0, prevTerm: 0, commit: 0 },
          entries: [{ kind: 'noop', index: 1, term: 3 }],
        })
        return patchU64(bytes, 62, 0, 4)
      },
      /has term 4, above 3/,
    ],
    [
      'an entry count larger than the bytes that follow',
      () => {
        const bytes = encodeMessage({
          type: 'append',
          ...{ from: 1, to: 2, term: 3, prevIndex: 0, prevTerm: 0, commit: 0 },
          entries: [],
        })
        new DataView(bytes.buffer).setUint32(49, 0xffff_ffff)
        return bytes
      },
      /entry count 4294967295 does not fit/,
    ],
    [
      'a snapshot configuration naming a node twice',
      () => {
        const bytes = encodeMessage({
          type: 'installSnapshot',
          ...{ from: 1, to: 2, term: 3 },
          snapshot: {
            meta: { index: 5, term: 2, config: { voters: [1, 2], nonVoters: [] } },
            data: Uint8Array.of(1),
          },
        })
        // voters start at 25 + 16 + 4: make the second voter equal the first.
        return patchU64(bytes, 53, 0, 1)
      },
      /node 1 appears twice/,
    ],
    [
      'snapshot data longer than the input',
      () => {
        const bytes = encodeMessage({
          type: 'installSnapshot',
          ...{ from: 1, to: 2, term: 3 },
          snapshot: {
            meta: { index: 5, term: 2, config: { voters: [1], nonVoters: [] } },
            data: Uint8Array.of(1),
          },
        })
        return patchU64(bytes, 57, 0, 1000)
      },
      /snapshot data needs 1000 bytes/,
    ],
  ]

  for (const [what, make, pattern] of rejections) {
    test(`rejects ${what}`, () => {
      const result = decodeOrDecodeError(make())
      assert.ok(result instanceof MessageDecodeError, `decoded ${JSON.stringify(result)}`)
      assert.equal(result.code, 'TQ_ERR_TRANSPORT_MESSAGE_DECODE')
      assert.match(result.message, pattern)
    })
  }

  test('the encoder refuses an invalid message with an assertion (a bug in the sender)', () => {
    assert.throws(
      () => encodeMessage({ type: 'heartbeat', from: 1, to: 2, term: 1.5, commit: 0, readRound: 0 }),
      AssertionError,
    )
    assert.throws(
      () =>
        encodeMessage({
          type: 'append',
          ...{ from: 1, to: 2, term: 3, prevIndex: 0, prevTerm: 0, commit: 0 },
          entries: [{ kind: 'noop', index: 2, term: 3 }],
        }),
      AssertionError,
    )
  })
})
