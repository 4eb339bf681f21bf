import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { crc32 } from 'node:zlib'
import type { Snapshot } from '../raft/message.js'
import { assert } from '../util/assert.js'
import { decodeSnapshotMeta, encodeSnapshotMeta } from './entry-codec.js'
import { CorruptLogError, DecodeError } from './errors.js'
import { type DecodeStop, encodeRecord, recordHeaderBytes } from './record-codec.js'

/**
 * A snapshot file (`snapshot-<generation>.snap`) is two records: the encoded `SnapshotMeta`, then the data.
 * It is written to a temporary name, fsynced and renamed, and referenced by a hard-state record only after
 * that, so every byte of it is covered by an fsync: any damage is corruption, never a torn tail.
 *
 * The data of a big database is hundreds of MiB, so neither side touches it in one synchronous step: the
 * CRC is computed chunk by chunk (`zlib.crc32(chunk, crc)`) with a turn of the event loop between chunks,
 * the encoder returns a list of pieces (views of the data, never a copy) to write one after another, and the
 * decoder returns the data as a view of the file's buffer. The bytes on disk are the same as
 * `encodeRecords([meta, data])` would give.
 */

const snapshotBytesMax = 0xffff_ffff
/** Bytes checksummed (and written) per event-loop turn: a few milliseconds of work each. */
export const snapshotChunkBytesDefault = 8 * 1024 * 1024

export interface SnapshotChunkOptions {
  /** Bytes per chunk (CRC step, write); default `snapshotChunkBytesDefault`. */
  readonly chunkBytes?: number
}

/**
 * The file's bytes as pieces to write in order: the meta record, the data record's 8-byte header, then the
 * data in chunks of at most `chunkBytes` (views of `snapshot.data`).
 */
export async function encodeSnapshotFile(
  snapshot: Snapshot,
  options: SnapshotChunkOptions = {},
): Promise<Uint8Array[]> {
  const chunkBytes = chunkBytesOf(options)
  const { data } = snapshot
  assert(data.byteLength <= snapshotBytesMax, `snapshot data of ${data.byteLength} bytes is too large`)
  const header = new Uint8Array(recordHeaderBytes)
  const view = new DataView(header.buffer)
  view.setUint32(0, data.byteLength, true)
  view.setUint32(4, await checksumInChunks(header.subarray(0, 4), data, chunkBytes), true)
  const pieces = [encodeRecord(encodeSnapshotMeta(snapshot.meta)), header]
  for (let offset = 0; offset < data.byteLength; offset += chunkBytes) {
    pieces.push(data.subarray(offset, Math.min(offset + chunkBytes, data.byteLength)))
  }
  return pieces
}

export async function decodeSnapshotFile(
  bytes: Uint8Array,
  file: string,
  options: { readonly verifyChecksums: boolean } & SnapshotChunkOptions,
): Promise<Snapshot> {
  const chunkBytes = chunkBytesOf(options)
  const read = (offset: number) => readRecord(bytes, offset, options.verifyChecksums, chunkBytes)
  const corrupt = (offset: number, reason: string) => new CorruptLogError({ file, offset, reason })
  const metaRecord = await read(0)
  if (metaRecord.kind === 'end') throw corrupt(bytes.byteLength, 'snapshot file ends early')
  if (metaRecord.kind !== 'record') throw corrupt(0, `bad record (${metaRecord.kind})`)
  const dataRecord = await read(metaRecord.end)
  if (dataRecord.kind === 'end') throw corrupt(bytes.byteLength, 'snapshot file ends early')
  if (dataRecord.kind !== 'record') throw corrupt(metaRecord.end, `bad record (${dataRecord.kind})`)
  if (dataRecord.end !== bytes.byteLength) {
    throw corrupt(dataRecord.end, 'unexpected bytes after the snapshot data')
  }
  try {
    const meta = decodeSnapshotMeta(metaRecord.payload)
    // A view: the file's buffer belongs to the caller (read for this), so the data is not copied again.
    return { meta, data: dataRecord.payload }
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error
    throw new CorruptLogError({ file, offset: 0, reason: error.message }, error)
  }
}

type ReadRecord =
  | { readonly kind: 'record'; readonly payload: Uint8Array; readonly end: number }
  | { readonly kind: DecodeStop['kind'] }

/** One record at `offset`, classified as `decodeRecords` does, with the CRC computed in chunks. */
async function readRecord(
  bytes: Uint8Array,
  offset: number,
  verifyChecksums: boolean,
  chunkBytes: number,
): Promise<ReadRecord> {
  if (offset === bytes.byteLength) return { kind: 'end' }
  if (bytes.byteLength - offset < recordHeaderBytes) return { kind: 'incomplete' }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, recordHeaderBytes)
  const length = view.getUint32(0, true)
  if (length > snapshotBytesMax) return { kind: 'length' }
  const end = offset + recordHeaderBytes + length
  if (end > bytes.byteLength) return { kind: 'incomplete' }
  const payload = bytes.subarray(offset + recordHeaderBytes, end)
  if (verifyChecksums) {
    const crc = await checksumInChunks(bytes.subarray(offset, offset + 4), payload, chunkBytes)
    if (crc !== view.getUint32(4, true)) return { kind: 'checksum' }
  }
  return { kind: 'record', payload, end }
}

/**
 * `recordChecksum(lengthBytes, payload)`, one chunk per event-loop turn, so that checksumming a large
 * payload never holds the main thread for longer than one chunk.
 */
export async function checksumInChunks(
  lengthBytes: Uint8Array,
  payload: Uint8Array,
  chunkBytes: number,
): Promise<number> {
  let crc = crc32(lengthBytes)
  for (let offset = 0; offset < payload.byteLength; offset += chunkBytes) {
    if (offset > 0) await yieldToEventLoop()
    crc = crc32(payload.subarray(offset, Math.min(offset + chunkBytes, payload.byteLength)), crc)
  }
  return crc
}

function chunkBytesOf(options: SnapshotChunkOptions): number {
  const chunkBytes = options.chunkBytes ?? snapshotChunkBytesDefault
  assert(Number.isSafeInteger(chunkBytes) && chunkBytes >= 1, 'chunkBytes must be a positive integer')
  return chunkBytes
}
