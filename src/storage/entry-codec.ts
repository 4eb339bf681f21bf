import type { ClusterConfig, ConfChange, Entry, HardState, SnapshotMeta } from '../raft/message.js'
import { assert, assertNever } from '../util/assert.js'
import { ByteReader, ByteWriter } from '../util/byte-io.js'
import { DecodeError } from './errors.js'

/**
 * Compact binary encodings of the Raft data that `src/storage` persists. All integers are little-endian;
 * terms, indexes and node ids are unsigned 64-bit on disk and must be safe integers in memory (a larger value
 * read from disk is a `DecodeError`, never a silently rounded number).
 *
 * Entry: `[u8 kind][u64 index][u64 term]` then, by kind,
 * - normal (1): the data, to the end of the payload;
 * - confChange (2): `[u8 type][u64 nodeId]` with type 1 addVoter, 2 addNonVoter, 3 promote, 4 remove;
 * - noop (3): nothing.
 * HardState: `[u64 term][u64 vote][u64 commit]`.
 * SnapshotMeta: `[u64 index][u64 term][u32 voterCount][u64 voter]*[u32 nonVoterCount][u64 nonVoter]*`.
 *
 * Encoders assert their input (a bad value is a bug in the caller); decoders validate and throw `DecodeError`.
 */

const kindTags = { normal: 1, confChange: 2, noop: 3 } as const
const changeTags = { addVoter: 1, addNonVoter: 2, promote: 3, remove: 4 } as const
const changeTypes = ['addVoter', 'addNonVoter', 'promote', 'remove'] as const
const entryHeaderBytes = 17

/**
 * A writer for a storage structure of `size` bytes (little-endian), into `into` when given; `done()` checks the
 * size was exact.
 */
export function diskWriter(size: number, into?: Uint8Array): ByteWriter {
  return new ByteWriter(size, 'little', into)
}

/** A little-endian reader whose every failure is a `DecodeError` naming `what` is being decoded. */
export function diskReader(bytes: Uint8Array, what: string): ByteReader {
  return new ByteReader(bytes, 'little', (reason) => {
    throw new DecodeError(what, reason)
  })
}

/** The size of `encodeEntry(entry)`. */
export function entryBytes(entry: Entry): number {
  return (
    entryHeaderBytes + (entry.kind === 'normal' ? entry.data.byteLength : entry.kind === 'confChange' ? 9 : 0)
  )
}

export function encodeEntry(entry: Entry): Uint8Array {
  return encodeEntryInto(entry, undefined)
}

/** Encodes `entry` into `into` (exactly `entryBytes(entry)` long), or a fresh buffer without it. */
export function encodeEntryInto(entry: Entry, into: Uint8Array | undefined): Uint8Array {
  assert(entry.index >= 1, `entry index ${entry.index} must be at least 1`)
  const writer = diskWriter(entryBytes(entry), into)
  writer.u8(kindTags[entry.kind])
  writer.u64(entry.index, 'entry index')
  writer.u64(entry.term, 'entry term')
  switch (entry.kind) {
    case 'normal':
      writer.raw(entry.data)
      break
    case 'confChange':
      writer.u8(changeTags[entry.change.type])
      assert(entry.change.nodeId >= 1, `conf change node id ${entry.change.nodeId} must be positive`)
      writer.u64(entry.change.nodeId, 'conf change node id')
      break
    case 'noop':
      break
    default:
      assertNever(entry, 'entry kind')
  }
  return writer.done()
}

export function decodeEntry(bytes: Uint8Array): Entry {
  const reader = diskReader(bytes, 'entry')
  const tag = reader.u8('entry kind')
  const index = reader.u64('index', 1)
  const term = reader.u64('term')
  switch (tag) {
    case kindTags.normal:
      // A copy, never a view of the file buffer.
      return { kind: 'normal', index, term, data: reader.copy(reader.remaining, 'entry data') }
    case kindTags.confChange: {
      const change = decodeConfChange(reader)
      reader.end('the conf change entry')
      return { kind: 'confChange', index, term, change }
    }
    case kindTags.noop:
      reader.end('the noop entry')
      return { kind: 'noop', index, term }
    default:
      return reader.fail(`unknown entry kind ${tag}`)
  }
}

function decodeConfChange(reader: ByteReader): ConfChange {
  const tag = reader.u8('conf change type')
  const type = changeTypes[tag - 1]
  if (type === undefined) reader.fail(`unknown conf change type ${tag}`)
  const nodeId = reader.u64('conf change node id', 1)
  return { type, nodeId }
}

export const hardStateBytes = 24

export function encodeHardState(hardState: HardState): Uint8Array {
  const writer = diskWriter(hardStateBytes)
  writeHardState(writer, hardState)
  return writer.done()
}

/** Writes the 24 bytes of a hard state into a larger structure. */
export function writeHardState(writer: ByteWriter, hardState: HardState): void {
  writer.u64(hardState.term, 'hard state term')
  writer.u64(hardState.vote, 'hard state vote')
  writer.u64(hardState.commit, 'hard state commit')
}

export function decodeHardState(bytes: Uint8Array): HardState {
  const reader = diskReader(bytes, 'hard state')
  const hardState = readHardState(reader)
  reader.end('the hard state')
  return hardState
}

/** Reads the 24 bytes of a hard state from a larger structure. */
export function readHardState(reader: ByteReader): HardState {
  const term = reader.u64('term')
  const vote = reader.u64('vote')
  const commit = reader.u64('commit')
  return { term, vote, commit }
}

export function encodeSnapshotMeta(meta: SnapshotMeta): Uint8Array {
  const { voters, nonVoters } = meta.config
  const writer = diskWriter(16 + 4 + 8 * voters.length + 4 + 8 * nonVoters.length)
  writer.u64(meta.index, 'snapshot index')
  writer.u64(meta.term, 'snapshot term')
  for (const ids of [voters, nonVoters]) {
    writer.u32(ids.length)
    for (const id of ids) {
      assert(id >= 1, `node id ${id} must be positive`)
      writer.u64(id, 'node id')
    }
  }
  return writer.done()
}

export function decodeSnapshotMeta(bytes: Uint8Array): SnapshotMeta {
  const reader = diskReader(bytes, 'snapshot meta')
  const index = reader.u64('index')
  const term = reader.u64('term')
  const voters = readNodeIds(reader)
  const nonVoters = readNodeIds(reader)
  reader.end('the snapshot meta')
  const config: ClusterConfig = { voters, nonVoters }
  return { index, term, config }
}

function readNodeIds(reader: ByteReader): number[] {
  const count = reader.u32('node id count')
  if (count * 8 > reader.remaining) reader.fail(`node id count ${count} exceeds the remaining bytes`)
  const ids: number[] = []
  for (let i = 0; i < count; i++) ids.push(reader.u64('node id', 1))
  return ids
}
