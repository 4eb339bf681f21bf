// Goal: the record, entry, hard-state and snapshot-meta codecs round-trip and reject damage with typed errors;
// method: fast-check round-trips plus hand-built damaged inputs.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { Entry, HardState, SnapshotMeta } from '../../src/raft/message.js'
import {
  decodeEntry,
  decodeHardState,
  decodeSnapshotMeta,
  encodeEntry,
  encodeEntryInto,
  encodeHardState,
  entryBytes,
  encodeSnapshotMeta,
} from '../../src/storage/entry-codec.js'
import { DecodeError } from '../../src/storage/errors.js'
import {
  decodeRecords,
  encodeRecord,
  encodeRecords,
  encodeRecordsInPlace,
  recordHeaderBytes,
} from '../../src/storage/record-codec.js'

const plain = { noNullPrototype: true } as const
const safe = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })
const positive = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })
const entryArbitrary: fc.Arbitrary<Entry> = fc.oneof(
  fc.record(
    {
      kind: fc.constant('normal' as const),
      index: positive,
      term: safe,
      data: fc.uint8Array({ maxLength: 64 }),
    },
    plain,
  ),
  fc.record(
    {
      kind: fc.constant('confChange' as const),
      index: positive,
      term: safe,
      change: fc.record(
        {
          type: fc.constantFrom(
            'addVoter' as const,
            'addNonVoter' as const,
            'promote' as const,
            'remove' as const,
          ),
          nodeId: positive,
        },
        plain,
      ),
    },
    plain,
  ),
  fc.record({ kind: fc.constant('noop' as const), index: positive, term: safe }, plain),
)
const hardStateArbitrary: fc.Arbitrary<HardState> = fc.record({ term: safe, vote: safe, commit: safe }, plain)
const metaArbitrary: fc.Arbitrary<SnapshotMeta> = fc.record(
  {
    index: safe,
    term: safe,
    config: fc.record(
      { voters: fc.array(positive, { maxLength: 5 }), nonVoters: fc.array(positive, { maxLength: 5 }) },
      plain,
    ),
  },
  plain,
)

describe('record codec', () => {
  test('round-trips any payloads and reports a clean end', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }), (payloads) => {
        const bytes = encodeRecords(payloads)
        const decoded = decodeRecords(bytes)
        assert.deepStrictEqual(
          decoded.records.map((record) => new Uint8Array(record.payload)),
          payloads.map((payload) => new Uint8Array(payload)),
        )
        assert.equal(decoded.validBytes, bytes.byteLength)
        assert.deepStrictEqual(decoded.stop, { kind: 'end', offset: bytes.byteLength })
      }),
    )
  })

  test('a cut-short buffer stops as incomplete at the last whole record', () => {
    const bytes = encodeRecords([new Uint8Array([1, 2, 3]), new Uint8Array([4, 5, 6, 7])])
    const firstEnd = recordHeaderBytes + 3
    for (let k = firstEnd + 1; k < bytes.byteLength; k++) {
      const decoded = decodeRecords(bytes.subarray(0, k))
      assert.equal(decoded.records.length, 1)
      assert.deepStrictEqual(decoded.stop, { kind: 'incomplete', offset: firstEnd })
    }
  })

  test('the checksum covers the length field and the payload', () => {
    const bytes = encodeRecord(new Uint8Array([9, 9, 9, 9, 9, 9]))
    for (let bit = 0; bit < bytes.byteLength * 8; bit++) {
      const damaged = new Uint8Array(bytes)
      damaged[bit >> 3]! ^= 1 << (bit & 7)
      const decoded = decodeRecords(damaged, { payloadBytesMax: 1024 })
      assert.equal(decoded.records.length, 0, `bit ${bit}`)
      assert.equal(decoded.stop.offset, 0)
      assert.notEqual(decoded.stop.kind, 'end')
    }
  })

  test('a length beyond the bound is damage, and zeros are not a record', () => {
    const huge = new Uint8Array(16)
    new DataView(huge.buffer).setUint32(0, 0xffff_fff0, true)
    assert.equal(decodeRecords(huge).stop.kind, 'length')
    assert.equal(decodeRecords(new Uint8Array(16)).stop.kind, 'checksum')
  })

  test('with checksums off (test-only), damage goes unnoticed', () => {
    const bytes = encodeRecord(new Uint8Array([1, 2, 3]))
    bytes[recordHeaderBytes]! ^= 0xff
    assert.equal(decodeRecords(bytes).stop.kind, 'checksum')
    assert.equal(decodeRecords(bytes, { verifyChecksums: false }).records.length, 1)
  })
})

describe('entry codec', () => {
  test('round-trips every kind of entry', () => {
    fc.assert(
      fc.property(entryArbitrary, (entry) => {
        const decoded = decodeEntry(encodeEntry(entry))
        assert.deepStrictEqual(
          decoded,
          entry.kind === 'normal' ? { ...entry, data: new Uint8Array(entry.data) } : entry,
        )
      }),
    )
  })

  test('entries written in place into their records give the bytes of encoding each and then framing it', () => {
    fc.assert(
      fc.property(fc.array(entryArbitrary, { maxLength: 8 }), (entries) => {
        const inPlace = encodeRecordsInPlace(entries.map(entryBytes), (i, payload) => {
          encodeEntryInto(entries[i]!, payload)
        })
        assert.deepStrictEqual(inPlace, encodeRecords(entries.map(encodeEntry)))
        const { records, stop } = decodeRecords(inPlace)
        assert.equal(stop.kind, 'end')
        assert.equal(records.length, entries.length)
      }),
    )
  })

  test('an entry written in place must fill exactly the bytes it is given', () => {
    const entry: Entry = { kind: 'normal', index: 3, term: 2, data: new Uint8Array([1, 2, 3]) }
    assert.throws(() => encodeEntryInto(entry, new Uint8Array(entryBytes(entry) + 1)), /a writer of/)
  })

  test('round-trips hard states and snapshot metadata', () => {
    fc.assert(
      fc.property(hardStateArbitrary, (hs) =>
        assert.deepStrictEqual(decodeHardState(encodeHardState(hs)), hs),
      ),
    )
    fc.assert(
      fc.property(metaArbitrary, (meta) =>
        assert.deepStrictEqual(decodeSnapshotMeta(encodeSnapshotMeta(meta)), meta),
      ),
    )
  })

  test('decoded data never aliases the input buffer', () => {
    const bytes = encodeEntry({ kind: 'normal', index: 1, term: 1, data: new Uint8Array([1, 2]) })
    const entry = decodeEntry(bytes)
    bytes[bytes.byteLength - 1] = 99
    assert.deepStrictEqual(entry, { kind: 'normal', index: 1, term: 1, data: new Uint8Array([1, 2]) })
  })

  test('rejects malformed input with DecodeError', () => {
    const noop = encodeEntry({ kind: 'noop', index: 3, term: 2 })
    const cases: [string, Uint8Array][] = [
      ['empty', new Uint8Array(0)],
      ['short header', noop.subarray(0, 10)],
      ['unknown kind', Uint8Array.of(7, ...noop.subarray(1))],
      ['trailing bytes on noop', Uint8Array.of(...noop, 0)],
      ['index 0', encodeIndexZero()],
      ['unsafe integer', unsafeTerm(noop)],
      ['unknown conf change', badChange()],
      ['conf change node 0', nodeZero()],
    ]
    for (const [name, bytes] of cases) {
      assert.throws(
        () => decodeEntry(bytes),
        (error: unknown) => {
          assert.ok(error instanceof DecodeError, name)
          assert.equal(error.code, 'TQ_ERR_STORAGE_DECODE')
          return true
        },
      )
    }
    assert.throws(() => decodeHardState(new Uint8Array(23)), DecodeError)
    assert.throws(() => decodeHardState(new Uint8Array(25)), DecodeError)
    const meta = encodeSnapshotMeta({ index: 1, term: 1, config: { voters: [1], nonVoters: [] } })
    assert.throws(() => decodeSnapshotMeta(meta.subarray(0, meta.byteLength - 1)), DecodeError)
    const hugeCount = new Uint8Array(meta)
    new DataView(hugeCount.buffer).setUint32(16, 1_000_000, true)
    assert.throws(() => decodeSnapshotMeta(hugeCount), DecodeError)
  })
})

function encodeIndexZero(): Uint8Array {
  const bytes = encodeEntry({ kind: 'noop', index: 1, term: 1 })
  bytes[1] = 0
  return bytes
}

function unsafeTerm(noop: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(noop)
  new DataView(bytes.buffer).setUint32(13, 0x0020_0000, true)
  return bytes
}

function badChange(): Uint8Array {
  const bytes = encodeEntry({ kind: 'confChange', index: 1, term: 1, change: { type: 'remove', nodeId: 2 } })
  bytes[17] = 9
  return bytes
}

function nodeZero(): Uint8Array {
  const bytes = encodeEntry({ kind: 'confChange', index: 1, term: 1, change: { type: 'remove', nodeId: 2 } })
  bytes[18] = 0
  return bytes
}
