import type { ClusterConfig, ConfChange, Entry, HardState, SnapshotMeta } from '../raft/message.js'
import { assert, assertNever } from '../util/assert.js'
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

/** Writes fixed-size structures; the size is computed up front and checked at `done()`. */
export class Writer {
  readonly bytes: Uint8Array
  readonly #view: DataView
  #offset = 0

  constructor(size: number) {
    this.bytes = new Uint8Array(size)
    this.#view = new DataView(this.bytes.buffer)
  }
  u8(value: number): void {
    this.#view.setUint8(this.#offset, value)
    this.#offset += 1
  }
  u32(value: number): void {
    this.#view.setUint32(this.#offset, value, true)
    this.#offset += 4
  }
  u64(value: number, what: string): void {
    assert(Number.isSafeInteger(value) && value >= 0, `${what} ${value} is not a non-negative safe integer`)
    this.#view.setUint32(this.#offset, value % 0x1_0000_0000, true)
    this.#view.setUint32(this.#offset + 4, Math.floor(value / 0x1_0000_0000), true)
    this.#offset += 8
  }
  raw(data: Uint8Array): void {
    this.bytes.set(data, this.#offset)
    this.#offset += data.byteLength
  }
  done(): Uint8Array {
    assert(
      this.#offset === this.bytes.byteLength,
      `encoded ${this.#offset} of ${this.bytes.byteLength} bytes`,
    )
    return this.bytes
  }
}

/** Reads with bounds checks; every failure is a `DecodeError` naming `what` is being decoded. */
export class Reader {
  readonly #bytes: Uint8Array
  readonly #view: DataView
  readonly #what: string
  #offset = 0

  constructor(bytes: Uint8Array, what: string) {
    this.#bytes = bytes
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.#what = what
  }
  get remaining(): number {
    return this.#bytes.byteLength - this.#offset
  }
  fail(reason: string): never {
    throw new DecodeError(this.#what, reason)
  }
  #need(count: number): void {
    if (this.remaining < count)
      this.fail(`needs ${count} more bytes at ${this.#offset}, has ${this.remaining}`)
  }
  u8(): number {
    this.#need(1)
    const value = this.#view.getUint8(this.#offset)
    this.#offset += 1
    return value
  }
  u32(): number {
    this.#need(4)
    const value = this.#view.getUint32(this.#offset, true)
    this.#offset += 4
    return value
  }
  /** A u64 that must be a safe integer, at least `min`. */
  u64(field: string, min = 0): number {
    this.#need(8)
    const low = this.#view.getUint32(this.#offset, true)
    const high = this.#view.getUint32(this.#offset + 4, true)
    this.#offset += 8
    if (high > 0x1f_ffff) this.fail(`${field} exceeds the safe integer range`)
    const value = high * 0x1_0000_0000 + low
    if (value < min) this.fail(`${field} ${value} is below ${min}`)
    return value
  }
  /** The rest of the input, copied into a fresh Uint8Array (never a view of the file buffer). */
  rest(): Uint8Array {
    const out = new Uint8Array(this.#bytes.subarray(this.#offset))
    this.#offset = this.#bytes.byteLength
    return out
  }
  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} unexpected trailing bytes`)
  }
}

export function encodeEntry(entry: Entry): Uint8Array {
  assert(entry.index >= 1, `entry index ${entry.index} must be at least 1`)
  const size =
    entryHeaderBytes + (entry.kind === 'normal' ? entry.data.byteLength : entry.kind === 'confChange' ? 9 : 0)
  const writer = new Writer(size)
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
  const reader = new Reader(bytes, 'entry')
  const tag = reader.u8()
  const index = reader.u64('index', 1)
  const term = reader.u64('term')
  switch (tag) {
    case kindTags.normal:
      return { kind: 'normal', index, term, data: reader.rest() }
    case kindTags.confChange: {
      const change = decodeConfChange(reader)
      reader.end()
      return { kind: 'confChange', index, term, change }
    }
    case kindTags.noop:
      reader.end()
      return { kind: 'noop', index, term }
    default:
      return reader.fail(`unknown entry kind ${tag}`)
  }
}

function decodeConfChange(reader: Reader): ConfChange {
  const tag = reader.u8()
  const type = changeTypes[tag - 1]
  if (type === undefined) reader.fail(`unknown conf change type ${tag}`)
  const nodeId = reader.u64('conf change node id', 1)
  return { type, nodeId }
}

export const hardStateBytes = 24

export function encodeHardState(hardState: HardState): Uint8Array {
  const writer = new Writer(hardStateBytes)
  writeHardState(writer, hardState)
  return writer.done()
}

/** Writes the 24 bytes of a hard state into a larger structure. */
export function writeHardState(writer: Writer, hardState: HardState): void {
  writer.u64(hardState.term, 'hard state term')
  writer.u64(hardState.vote, 'hard state vote')
  writer.u64(hardState.commit, 'hard state commit')
}

export function decodeHardState(bytes: Uint8Array): HardState {
  const reader = new Reader(bytes, 'hard state')
  const hardState = readHardState(reader)
  reader.end()
  return hardState
}

/** Reads the 24 bytes of a hard state from a larger structure. */
export function readHardState(reader: Reader): HardState {
  const term = reader.u64('term')
  const vote = reader.u64('vote')
  const commit = reader.u64('commit')
  return { term, vote, commit }
}

export function encodeSnapshotMeta(meta: SnapshotMeta): Uint8Array {
  const { voters, nonVoters } = meta.config
  const writer = new Writer(16 + 4 + 8 * voters.length + 4 + 8 * nonVoters.length)
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
  const reader = new Reader(bytes, 'snapshot meta')
  const index = reader.u64('index')
  const term = reader.u64('term')
  const voters = readNodeIds(reader)
  const nonVoters = readNodeIds(reader)
  reader.end()
  const config: ClusterConfig = { voters, nonVoters }
  return { index, term, config }
}

function readNodeIds(reader: Reader): number[] {
  const count = reader.u32()
  if (count * 8 > reader.remaining) reader.fail(`node id count ${count} exceeds the remaining bytes`)
  const ids: number[] = []
  for (let i = 0; i < count; i++) ids.push(reader.u64('node id', 1))
  return ids
}
