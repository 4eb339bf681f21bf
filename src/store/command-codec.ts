import { Packr } from 'msgpackr'
import { PackedBatch, packBatch, packBatchWithRoom } from '../db/batch-codec.js'
import type { Batch } from '../db/types.js'

/**
 * What the store puts in a Raft entry. Executes and strong reads carry the leader-fixed seed and time so
 * every replica computes the same `random()` and `'now'`; `clientId`/`seq` let the state machine apply a
 * duplicate of one client request once (Raft thesis §6.3). `nodeMeta` replicates a member's addresses.
 * Statements are written as a `PackedBatch` and decoded as one: they go to the db worker unopened.
 */
export type Command =
  | {
      readonly kind: 'execute'
      readonly statements: Batch | PackedBatch
      readonly transaction: boolean
      readonly seed: Uint8Array
      readonly nowMs: number
      readonly clientId: string
      readonly seq: number
      /** `/db/request`: statements that return rows are answered with their rows (query shape). */
      readonly mixed?: boolean
      /** Only changes the answer (column names `table.column`), never the database. */
      readonly qualifyColumns?: boolean
    }
  | {
      readonly kind: 'query'
      readonly statements: Batch | PackedBatch
      readonly transaction: boolean
      readonly seed: Uint8Array
      readonly nowMs: number
      readonly qualifyColumns?: boolean
    }
  | {
      readonly kind: 'nodeMeta'
      readonly nodeId: number
      readonly raftAddress: string
      readonly httpAddress: string
    }
  | {
      /** Replaces the whole database with a SQLite image (`/db/load`, `/boot`). */
      readonly kind: 'load'
      readonly image: Uint8Array
    }

// int64AsType 'auto': integers beyond ±2^53 come back as BigInt, so SQL parameters stay exact.
// msgpackr 2.1 accepts 'auto' at run time (verified) though its typings list only the three fixed modes.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'auto' as 'bigint' })

/**
 * First byte of an execute or query command laid out as `tag, u32 LE header length, header, statements`: the
 * header is the command without its statements (msgpack), the statements are the packed batch. 0xc1 is the one
 * byte msgpack never uses, so a command packed whole (any other kind, or an entry written before this layout)
 * is told apart by its first byte.
 */
const splitTag = 0xc1
const splitPrefixBytes = 5
/** Room reserved in front of a packed batch for the tag, length and header (msgpackr allows up to 255). */
const headerRoom = 255

/**
 * The statements are packed once, with room in front for the header, and the command is that buffer: packing
 * the batch and then the command holding it as bytes copied a bulk INSERT's 140 KB again, into a buffer
 * msgpackr had to grow (encodeCommand was 17% of the leader's main thread under bulk INSERTs, `--cpu-prof`).
 */
export function encodeCommand(command: Command): Uint8Array {
  if (command.kind !== 'execute' && command.kind !== 'query') return packr.pack(command)
  const { statements, ...header } = command
  const head = packr.pack(header)
  if (!(statements instanceof PackedBatch) && splitPrefixBytes + head.byteLength <= headerRoom) {
    const packed = packBatchWithRoom(statements, headerRoom)
    const offset = headerRoom - splitPrefixBytes - head.byteLength
    writePrefix(packed, offset, head)
    return packed.subarray(offset)
  }
  const batch = statements instanceof PackedBatch ? statements.bytes : packBatch(statements).bytes
  // A Buffer, as msgpackr's own are, so byte fields decode as Buffers either way; never a view of the pool.
  const out = Buffer.allocUnsafeSlow(splitPrefixBytes + head.byteLength + batch.byteLength)
  writePrefix(out, 0, head)
  out.set(batch, splitPrefixBytes + head.byteLength)
  return out
}

function writePrefix(target: Uint8Array, offset: number, head: Uint8Array): void {
  target[offset] = splitTag
  new DataView(target.buffer, target.byteOffset + offset + 1, 4).setUint32(0, head.byteLength, true)
  target.set(head, offset + splitPrefixBytes)
}

export class CommandDecodeError extends Error {
  override name = 'CommandDecodeError'
  readonly code = 'TQ_ERR_STORE_BAD_COMMAND'
}

/** Decodes a committed command. A log entry that does not decode is a bug (it was encoded by a leader). */
export function decodeCommand(data: Uint8Array): Command {
  if (data[0] === splitTag) return decodeSplit(data)
  const value: unknown = packr.unpack(data)
  if (typeof value !== 'object' || value === null || !('kind' in value)) {
    throw new CommandDecodeError('log entry is not a TQLite command')
  }
  const kind = (value as { kind: unknown }).kind
  if (kind !== 'execute' && kind !== 'query' && kind !== 'nodeMeta' && kind !== 'load') {
    throw new CommandDecodeError(`unknown command kind ${String(kind)}`)
  }
  if (kind === 'execute' || kind === 'query') {
    // Entries written before statements were packed hold the batch itself.
    const { statements } = value as { statements?: unknown }
    if (statements instanceof Uint8Array)
      return { ...value, statements: new PackedBatch(statements) } as Command
  }
  return value as Command
}

function decodeSplit(data: Uint8Array): Command {
  if (data.byteLength < splitPrefixBytes)
    throw new CommandDecodeError('log entry ends inside its header length')
  const headEnd = splitPrefixBytes + new DataView(data.buffer, data.byteOffset + 1, 4).getUint32(0, true)
  if (headEnd > data.byteLength) throw new CommandDecodeError('log entry ends inside its header')
  const header: unknown = packr.unpack(data.subarray(splitPrefixBytes, headEnd))
  const kind = typeof header === 'object' && header !== null ? (header as { kind?: unknown }).kind : undefined
  if (kind !== 'execute' && kind !== 'query') {
    throw new CommandDecodeError(`unknown command kind ${String(kind)} before packed statements`)
  }
  // A view: the entry's bytes are not copied (the db layer copies a batch it hands over). The header is a
  // fresh plain object (mapsAsObjects), so it takes the statements itself rather than being spread into a copy.
  ;(header as { statements?: PackedBatch }).statements = new PackedBatch(data.subarray(headEnd))
  return header as Command
}

/** Generic msgpack encoding for the store's RPC bodies and snapshots (same settings as commands). */
export function pack(value: unknown): Uint8Array {
  return packr.pack(value)
}

export function unpack<T>(data: Uint8Array): T {
  return packr.unpack(data) as T
}
