import type { HardState } from '../raft/message.js'
import { diskReader, diskWriter, readHardState, writeHardState } from './entry-codec.js'
import { CorruptLogError, DecodeError } from './errors.js'
import { decodeRecords, encodeRecord, recordHeaderBytes } from './record-codec.js'

/**
 * The hard-state file (`hardstate`) is the store's root: the last valid record in it says which generation of
 * snapshot and log files is current, how many bytes of that log are known durable, and the hard state. Writing
 * and fsyncing one record is the commit point of every save except a one-sync append (same term and vote, log
 * only extended), which is committed by the log's own sync; recovery then finds those records past
 * `logSyncedBytes`, and the record's commit index may be older than the log.
 *
 * The file is a sequence of fixed-size slots, appended one per save. A slot holds the same record twice:
 *
 * ```
 * slot (144 bytes) = record copy A (72 bytes) + record copy B (72 bytes)
 * record           = [u32 length = 64][u32 crc32][payload, 64 bytes]
 * payload          = [u32 version = 1][u32 flags: bit 0 = has snapshot file]
 *                    [u64 term][u64 vote][u64 commit]
 *                    [u64 generation][u64 logSyncedBytes][u64 snapshotIndex][u64 snapshotTerm]
 * ```
 *
 * Fixed-size slots let recovery look past a bad slot: a bad slot followed by a good one is corruption (the bad
 * one had been synced), while a bad last slot is a torn write. The two copies make a single flipped bit in the
 * last, acknowledged slot harmless (the other copy is intact) instead of silently rolling the hard state back.
 */

export const hardStateFileName = 'hardstate'
const version = 1
const payloadBytes = 64
const recordBytes = recordHeaderBytes + payloadBytes
export const hardStateSlotBytes = 2 * recordBytes

export interface HardStateRecord {
  readonly hardState: HardState
  /** Names the current `log-<generation>.log` and (with `hasSnapshotFile`) `snapshot-<generation>.snap`. */
  readonly generation: number
  /**
   * The current log's length that was synced before this record was written: a record boundary. Everything
   * before it is trusted (damage there is corruption); one-sync appends may follow it.
   */
  readonly logSyncedBytes: number
  /** False only for the empty initial snapshot (index 0), which has no file. */
  readonly hasSnapshotFile: boolean
  readonly snapshotIndex: number
  readonly snapshotTerm: number
}

export function encodeHardStateSlot(record: HardStateRecord): Uint8Array {
  const writer = diskWriter(payloadBytes)
  writer.u32(version)
  writer.u32(record.hasSnapshotFile ? 1 : 0)
  writeHardState(writer, record.hardState)
  writer.u64(record.generation, 'generation')
  writer.u64(record.logSyncedBytes, 'log synced bytes')
  writer.u64(record.snapshotIndex, 'snapshot index')
  writer.u64(record.snapshotTerm, 'snapshot term')
  const copy = encodeRecord(writer.done())
  const slot = new Uint8Array(hardStateSlotBytes)
  slot.set(copy, 0)
  slot.set(copy, recordBytes)
  return slot
}

function decodePayload(payload: Uint8Array): HardStateRecord {
  const reader = diskReader(payload, 'hard-state record')
  const recordVersion = reader.u32('version')
  if (recordVersion !== version) reader.fail(`unsupported version ${recordVersion}`)
  const flags = reader.u32('flags')
  if ((flags & ~1) !== 0) reader.fail(`unknown flags ${flags}`)
  const hardState = readHardState(reader)
  const generation = reader.u64('generation', 1)
  const logSyncedBytes = reader.u64('log synced bytes')
  const snapshotIndex = reader.u64('snapshot index')
  const snapshotTerm = reader.u64('snapshot term')
  reader.end('the hard-state record')
  return { hardState, generation, logSyncedBytes, hasSnapshotFile: flags === 1, snapshotIndex, snapshotTerm }
}

function sameRecord(a: HardStateRecord, b: HardStateRecord): boolean {
  return (
    a.hardState.term === b.hardState.term &&
    a.hardState.vote === b.hardState.vote &&
    a.hardState.commit === b.hardState.commit &&
    a.generation === b.generation &&
    a.logSyncedBytes === b.logSyncedBytes &&
    a.hasSnapshotFile === b.hasSnapshotFile &&
    a.snapshotIndex === b.snapshotIndex &&
    a.snapshotTerm === b.snapshotTerm
  )
}

export interface RecoveredHardStateFile {
  readonly record: HardStateRecord
  /** Where the next slot goes. */
  readonly appendOffset: number
  /**
   * Set when the file needs repair before use: the last readable slot has only one good copy, or torn bytes
   * follow it. The store rewrites the current record at this offset and truncates the file after it.
   */
  readonly repairOffset: number | undefined
}

/**
 * Recovers the hard-state file: the last readable slot wins. Throws `CorruptLogError` when no slot is readable,
 * when an unreadable slot precedes a readable one (it had been synced: a later slot was written after it),
 * when more than one slot's worth of unreadable bytes follows the last readable slot, or when the two copies
 * of one slot both pass their checksums but differ.
 */
export function recoverHardStateFile(
  bytes: Uint8Array,
  file: string,
  options: { readonly verifyChecksums: boolean },
): RecoveredHardStateFile {
  const copyAt = (offset: number): HardStateRecord | undefined => {
    if (offset + recordBytes > bytes.byteLength) return undefined
    const decoded = decodeRecords(bytes.subarray(offset, offset + recordBytes), {
      payloadBytesMax: payloadBytes,
      verifyChecksums: options.verifyChecksums,
    })
    const record = decoded.records[0]
    if (decoded.stop.kind !== 'end' || record === undefined) return undefined
    try {
      return decodePayload(record.payload)
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error
      // The checksum matched, so this is not damage but a record this code cannot read: stop.
      throw new CorruptLogError({ file, offset, reason: error.message }, error)
    }
  }
  const slotCount = Math.ceil(bytes.byteLength / hardStateSlotBytes)
  let last: { index: number; record: HardStateRecord; bothCopies: boolean } | undefined
  let firstBad: number | undefined
  for (let index = 0; index < slotCount; index++) {
    const offset = index * hardStateSlotBytes
    const a = copyAt(offset)
    const b = copyAt(offset + recordBytes)
    if (a !== undefined && b !== undefined && !sameRecord(a, b)) {
      throw new CorruptLogError({ file, offset, reason: 'the two copies of a hard-state record differ' })
    }
    const record = a ?? b
    if (record === undefined) {
      firstBad ??= offset
      continue
    }
    if (firstBad !== undefined) {
      throw new CorruptLogError({
        file,
        offset: firstBad,
        reason: 'unreadable hard-state record before a readable one',
      })
    }
    last = { index, record, bothCopies: a !== undefined && b !== undefined }
  }
  if (last === undefined)
    throw new CorruptLogError({ file, offset: 0, reason: 'no readable hard-state record' })
  const lastOffset = last.index * hardStateSlotBytes
  const appendOffset = lastOffset + hardStateSlotBytes
  if (bytes.byteLength - appendOffset > hardStateSlotBytes) {
    // Only one record is ever in flight, so a torn tail is at most one slot long. More unreadable bytes mean
    // the last records were damaged after being synced: using an older one would roll the hard state back.
    throw new CorruptLogError({
      file,
      offset: appendOffset,
      reason: 'more than one unreadable record at the end',
    })
  }
  let repairOffset: number | undefined
  if (!last.bothCopies) repairOffset = lastOffset
  else if (bytes.byteLength > appendOffset) repairOffset = appendOffset
  return { record: last.record, appendOffset, repairOffset }
}
