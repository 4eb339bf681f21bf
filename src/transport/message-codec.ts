import type {
  AppendMessage,
  ClusterConfig,
  ConfChange,
  Entry,
  InstallSnapshotMessage,
  Message,
  MessageType,
  NodeId,
} from '../raft/message.js'
import { assert, assertNever } from '../util/assert.js'
import { ByteReader, ByteWriter } from '../util/byte-io.js'
import { MessageDecodeError } from './errors.js'

/**
 * Raft `Message` <-> bytes, pure. This is the gateway of style.md §2.4: everything a peer sends is validated
 * here (lengths, safe integers, enum values, booleans, and the structure the core relies on, such as an
 * append's entries being consecutive) and bad input becomes a `MessageDecodeError`, so the core never sees a
 * malformed message. The encoder checks the same rules with assertions (a bad outgoing message is a bug), so
 * whatever encodes also decodes, to an equal message.
 *
 * Format, big-endian; terms, indexes and node ids are u64 on the wire and safe integers in memory:
 *
 *     message:  [u8 type][u64 from][u64 to][u64 term] body
 *     append (1):            [u64 prevIndex][u64 prevTerm][u64 commit][u32 entryCount] entry*
 *     appendResponse (2):    [u64 index][u8 reject][u64 rejectHint][u64 hintTerm]
 *     vote (3), preVote (5): [u64 lastIndex][u64 lastTerm][u8 transfer]
 *     voteResponse (4), preVoteResponse (6): [u8 reject]
 *     heartbeat (7):         [u64 commit][u64 readRound]
 *     heartbeatResponse (8): [u64 readRound]
 *     installSnapshot (9):   [u64 index][u64 term][u32 n][u64 voter]*n [u32 m][u64 nonVoter]*m
 *                            [u64 dataBytes][data]
 *     timeoutNow (10):       nothing
 *     entry:  [u8 kind][u64 index][u64 term] then normal (1): [u32 dataBytes][data];
 *             confChange (2): [u8 change: 1 addVoter, 2 addNonVoter, 3 promote, 4 remove][u64 nodeId];
 *             noop (3): nothing
 * Booleans are exactly 0 or 1. Nothing may follow the message.
 */

const messageTags = {
  append: 1,
  appendResponse: 2,
  vote: 3,
  voteResponse: 4,
  preVote: 5,
  preVoteResponse: 6,
  heartbeat: 7,
  heartbeatResponse: 8,
  installSnapshot: 9,
  timeoutNow: 10,
} as const satisfies Record<MessageType, number>

const messageTypes: readonly (MessageType | undefined)[] = (() => {
  const types: (MessageType | undefined)[] = []
  for (const [type, tag] of Object.entries(messageTags)) types[tag] = type as MessageType
  return types
})()

const entryTags = { normal: 1, confChange: 2, noop: 3 } as const
const changeTags = { addVoter: 1, addNonVoter: 2, promote: 3, remove: 4 } as const
const changeTypes = [undefined, 'addVoter', 'addNonVoter', 'promote', 'remove'] as const

const messageHeaderBytes = 25
const entryHeaderBytes = 17

export interface DecodeMessageOptions {
  /**
   * When true, `data` fields (entry data, snapshot data) are views of the input instead of copies. Pass it
   * only for a buffer that nothing else writes to or reuses, such as a reassembled multi-part message; the
   * default copies, so a message never pins a socket chunk.
   */
  readonly shareData?: boolean
}

/** The exact size of `encodeMessage(message)`, without encoding (used to size queues and choose chunking). */
export function encodedMessageBytes(message: Message): number {
  switch (message.type) {
    case 'append': {
      let bytes = messageHeaderBytes + 28
      for (const entry of message.entries) bytes += encodedEntryBytes(entry)
      return bytes
    }
    case 'appendResponse':
      return messageHeaderBytes + 25
    case 'vote':
    case 'preVote':
      return messageHeaderBytes + 17
    case 'voteResponse':
    case 'preVoteResponse':
      return messageHeaderBytes + 1
    case 'heartbeat':
      return messageHeaderBytes + 16
    case 'heartbeatResponse':
      return messageHeaderBytes + 8
    case 'installSnapshot': {
      const { config } = message.snapshot.meta
      const members = config.voters.length + config.nonVoters.length
      return messageHeaderBytes + 16 + 8 + members * 8 + 8 + message.snapshot.data.byteLength
    }
    case 'timeoutNow':
      return messageHeaderBytes
    default:
      return assertNever(message, 'message type')
  }
}

function encodedEntryBytes(entry: Entry): number {
  switch (entry.kind) {
    case 'normal':
      return entryHeaderBytes + 4 + entry.data.byteLength
    case 'confChange':
      return entryHeaderBytes + 9
    case 'noop':
      return entryHeaderBytes
    default:
      return assertNever(entry, 'entry kind')
  }
}

/** Encodes a message. Asserts it is valid (an invalid outgoing message is a bug in the caller). */
export function encodeMessage(message: Message): Uint8Array {
  return encode(message, true)
}

/**
 * The encoding of `message` as segments whose concatenation is `encodeMessage(message)`, for a large message
 * sent in parts: an `installSnapshot` becomes its head and the snapshot data itself (by reference, not
 * copied, since the data ends the encoding); any other message is one encoded segment.
 */
export function encodeMessageSegments(message: Message): readonly Uint8Array[] {
  if (message.type === 'installSnapshot') return [encode(message, false), message.snapshot.data]
  if (message.type === 'append' && message.entries.some(isReferenced)) return encodeAppendSegments(message)
  return [encode(message, true)]
}

/**
 * An entry with at least this much data is referenced by the segments of its append, not copied: a bulk
 * INSERT's 140 KB entry was copied twice per follower on the leader's main thread (into the message, then
 * into its frame), allocations included 7% of that thread under bulk INSERTs (`--cpu-prof`).
 */
export const referencedEntryBytesMin = 4096

type NormalEntry = Extract<Entry, { readonly kind: 'normal' }>

function isReferenced(entry: Entry): entry is NormalEntry {
  return entry.kind === 'normal' && entry.data.byteLength >= referencedEntryBytesMin
}

/** An append as segments: the encoded bytes between large entries' data, and those data themselves. */
function encodeAppendSegments(message: AppendMessage): Uint8Array[] {
  const invalid = validateMessage(message)
  assert(invalid === undefined, `encoding an invalid ${message.type} message: ${invalid}`)
  let referenced = 0
  for (const entry of message.entries) if (isReferenced(entry)) referenced += entry.data.byteLength
  const writer = new ByteWriter(encodedMessageBytes(message) - referenced, 'big')
  writeMessageHead(writer, message)
  writeAppendFields(writer, message)
  const segments: Uint8Array[] = []
  let cut = 0
  for (const entry of message.entries) {
    if (!isReferenced(entry)) {
      writeEntry(writer, entry)
      continue
    }
    const { data } = entry
    writeEntryHead(writer, entry)
    writer.u32(data.byteLength)
    segments.push(writer.bytes.subarray(cut, writer.offset), data)
    cut = writer.offset
  }
  const bytes = writer.done()
  if (cut < bytes.byteLength) segments.push(bytes.subarray(cut))
  return segments
}

/** Encodes `message`; without `withSnapshotData`, stops before an installSnapshot's data bytes. */
function encode(message: Message, withSnapshotData: boolean): Uint8Array {
  const invalid = validateMessage(message)
  assert(invalid === undefined, `encoding an invalid ${message.type} message: ${invalid}`)
  const omitted =
    !withSnapshotData && message.type === 'installSnapshot' ? message.snapshot.data.byteLength : 0
  const writer = new ByteWriter(encodedMessageBytes(message) - omitted, 'big')
  writeMessageHead(writer, message)
  switch (message.type) {
    case 'append':
      writeAppendFields(writer, message)
      for (const entry of message.entries) writeEntry(writer, entry)
      break
    case 'appendResponse':
      writer.u64(message.index, 'index')
      writer.bool(message.reject)
      writer.u64(message.rejectHint, 'rejectHint')
      writer.u64(message.hintTerm, 'hintTerm')
      break
    case 'vote':
    case 'preVote':
      writer.u64(message.lastIndex, 'lastIndex')
      writer.u64(message.lastTerm, 'lastTerm')
      writer.bool(message.transfer)
      break
    case 'voteResponse':
    case 'preVoteResponse':
      writer.bool(message.reject)
      break
    case 'heartbeat':
      writer.u64(message.commit, 'commit')
      writer.u64(message.readRound, 'readRound')
      break
    case 'heartbeatResponse':
      writer.u64(message.readRound, 'readRound')
      break
    case 'installSnapshot':
      writeSnapshot(writer, message, withSnapshotData)
      break
    case 'timeoutNow':
      break
    default:
      assertNever(message, 'message type')
  }
  return writer.done()
}

function writeMessageHead(writer: ByteWriter, message: Message): void {
  writer.u8(messageTags[message.type])
  writer.u64(message.from, 'from')
  writer.u64(message.to, 'to')
  writer.u64(message.term, 'term')
}

function writeAppendFields(writer: ByteWriter, message: AppendMessage): void {
  writer.u64(message.prevIndex, 'prevIndex')
  writer.u64(message.prevTerm, 'prevTerm')
  writer.u64(message.commit, 'commit')
  writer.u32(message.entries.length)
}

function writeEntryHead(writer: ByteWriter, entry: Entry): void {
  writer.u8(entryTags[entry.kind])
  writer.u64(entry.index, 'entry index')
  writer.u64(entry.term, 'entry term')
}

function writeEntry(writer: ByteWriter, entry: Entry): void {
  writeEntryHead(writer, entry)
  switch (entry.kind) {
    case 'normal':
      writer.u32(entry.data.byteLength)
      writer.raw(entry.data)
      break
    case 'confChange':
      writer.u8(changeTags[entry.change.type])
      writer.u64(entry.change.nodeId, 'conf change node id')
      break
    case 'noop':
      break
    default:
      assertNever(entry, 'entry kind')
  }
}

function writeSnapshot(writer: ByteWriter, message: InstallSnapshotMessage, withData: boolean): void {
  const { meta, data } = message.snapshot
  writer.u64(meta.index, 'snapshot index')
  writer.u64(meta.term, 'snapshot term')
  writer.u32(meta.config.voters.length)
  for (const id of meta.config.voters) writer.u64(id, 'voter')
  writer.u32(meta.config.nonVoters.length)
  for (const id of meta.config.nonVoters) writer.u64(id, 'non-voter')
  writer.u64(data.byteLength, 'snapshot data length')
  if (withData) writer.raw(data)
}

/** Decodes and validates a message; throws `MessageDecodeError` (and nothing else) for any bad input. */
export function decodeMessage(bytes: Uint8Array, options?: DecodeMessageOptions): Message {
  const reader: ByteReader = new ByteReader(bytes, 'big', (reason) => {
    throw new MessageDecodeError(reason)
  })
  const tag = reader.u8('message type')
  const type = messageTypes[tag]
  if (type === undefined) reader.fail(`unknown message type ${tag}`)
  const base = { from: reader.u64('from', 1), to: reader.u64('to', 1), term: reader.u64('term') }
  const message = readBody(reader, type, base, options?.shareData === true)
  reader.end(`the ${type} message`)
  const invalid = validateMessage(message)
  if (invalid !== undefined) throw new MessageDecodeError(`invalid ${type} message: ${invalid}`)
  return message
}

type MessageBase = { readonly from: NodeId; readonly to: NodeId; readonly term: number }

function readBody(reader: ByteReader, type: MessageType, base: MessageBase, shareData: boolean): Message {
  switch (type) {
    case 'append': {
      const prevIndex = reader.u64('prevIndex')
      const prevTerm = reader.u64('prevTerm')
      const commit = reader.u64('commit')
      const entries = readEntries(reader, shareData)
      return { type, ...base, prevIndex, prevTerm, commit, entries }
    }
    case 'appendResponse': {
      const index = reader.u64('index')
      const reject = reader.bool('reject')
      const rejectHint = reader.u64('rejectHint')
      const hintTerm = reader.u64('hintTerm')
      return { type, ...base, index, reject, rejectHint, hintTerm }
    }
    case 'vote':
    case 'preVote': {
      const lastIndex = reader.u64('lastIndex')
      const lastTerm = reader.u64('lastTerm')
      const transfer = reader.bool('transfer')
      return { type, ...base, lastIndex, lastTerm, transfer }
    }
    case 'voteResponse':
    case 'preVoteResponse':
      return { type, ...base, reject: reader.bool('reject') }
    case 'heartbeat': {
      const commit = reader.u64('commit')
      const readRound = reader.u64('readRound')
      return { type, ...base, commit, readRound }
    }
    case 'heartbeatResponse':
      return { type, ...base, readRound: reader.u64('readRound') }
    case 'installSnapshot':
      return { type, ...base, snapshot: readSnapshot(reader, shareData) }
    case 'timeoutNow':
      return { type, ...base }
    default:
      return assertNever(type, 'message type')
  }
}

function readEntries(reader: ByteReader, shareData: boolean): Entry[] {
  const count = reader.u32('entry count')
  // Checked before allocating anything: a huge count in a small frame is damage, not a reason to allocate.
  if (count * entryHeaderBytes > reader.remaining) {
    reader.fail(`entry count ${count} does not fit in the ${reader.remaining} remaining bytes`)
  }
  const entries: Entry[] = []
  for (let i = 0; i < count; i++) entries.push(readEntry(reader, shareData))
  return entries
}

function readEntry(reader: ByteReader, shareData: boolean): Entry {
  const tag = reader.u8('entry kind')
  const index = reader.u64('entry index', 1)
  const term = reader.u64('entry term')
  switch (tag) {
    case entryTags.normal: {
      const length = reader.u32('entry data length')
      const data = shareData ? reader.view(length, 'entry data') : reader.copy(length, 'entry data')
      return { kind: 'normal', index, term, data }
    }
    case entryTags.confChange:
      return { kind: 'confChange', index, term, change: readConfChange(reader) }
    case entryTags.noop:
      return { kind: 'noop', index, term }
    default:
      return reader.fail(`unknown entry kind ${tag}`)
  }
}

function readConfChange(reader: ByteReader): ConfChange {
  const tag = reader.u8('conf change type')
  const type = changeTypes[tag]
  if (type === undefined) reader.fail(`unknown conf change type ${tag}`)
  return { type, nodeId: reader.u64('conf change node id', 1) }
}

function readSnapshot(reader: ByteReader, shareData: boolean): InstallSnapshotMessage['snapshot'] {
  const index = reader.u64('snapshot index')
  const term = reader.u64('snapshot term')
  const voters = readNodeIds(reader, 'voter')
  const nonVoters = readNodeIds(reader, 'non-voter')
  const length = reader.u64('snapshot data length')
  const data = shareData ? reader.view(length, 'snapshot data') : reader.copy(length, 'snapshot data')
  return { meta: { index, term, config: { voters, nonVoters } }, data }
}

function readNodeIds(reader: ByteReader, what: string): NodeId[] {
  const count = reader.u32(`${what} count`)
  if (count * 8 > reader.remaining) reader.fail(`${what} count ${count} does not fit`)
  const ids: NodeId[] = []
  for (let i = 0; i < count; i++) ids.push(reader.u64(what, 1))
  return ids
}

/**
 * The structural rules every message must satisfy, beyond field types; `undefined` when it does, otherwise
 * the first broken rule. Shared by the encoder (an assertion) and the decoder (a `MessageDecodeError`).
 */
export function validateMessage(message: Message): string | undefined {
  if (!isNodeId(message.from)) return `from ${message.from} is not a node id`
  if (!isNodeId(message.to)) return `to ${message.to} is not a node id`
  if (message.from === message.to) return `a node does not send to itself (${message.from})`
  if (!isCount(message.term)) return `term ${message.term} is not a non-negative safe integer`
  switch (message.type) {
    case 'append':
      return validateAppend(message)
    case 'installSnapshot':
      return validateSnapshot(message)
    default:
      return undefined
  }
}

/** The core slices an append's entries by index arithmetic and relies on log matching for terms. */
function validateAppend(message: AppendMessage): string | undefined {
  let expectedIndex = message.prevIndex + 1
  let previousTerm = message.prevTerm
  if (previousTerm > message.term) return `prevTerm ${previousTerm} is above the message term ${message.term}`
  for (const entry of message.entries) {
    if (entry.index !== expectedIndex) return `entry index ${entry.index} where ${expectedIndex} was expected`
    if (entry.term < previousTerm) return `entry ${entry.index} has term ${entry.term}, below ${previousTerm}`
    if (entry.term > message.term) return `entry ${entry.index} has term ${entry.term}, above ${message.term}`
    expectedIndex += 1
    previousTerm = entry.term
  }
  return undefined
}

function validateSnapshot(message: InstallSnapshotMessage): string | undefined {
  const { meta } = message.snapshot
  if (meta.index < 1) return `snapshot index ${meta.index} is not positive`
  if (meta.term > message.term) return `snapshot term ${meta.term} is above the message term ${message.term}`
  return validateConfig(meta.config)
}

function validateConfig(config: ClusterConfig): string | undefined {
  const seen = new Set<NodeId>()
  for (const id of [...config.voters, ...config.nonVoters]) {
    if (!isNodeId(id)) return `member ${id} is not a node id`
    if (seen.has(id)) return `node ${id} appears twice in the configuration`
    seen.add(id)
  }
  return undefined
}

function isNodeId(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 1
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0
}
