import type { Snapshot } from '../raft/message.js'
import { decodeSnapshotMeta, encodeSnapshotMeta } from './entry-codec.js'
import { CorruptLogError, DecodeError } from './errors.js'
import { decodeRecords, encodeRecords } from './record-codec.js'

/**
 * A snapshot file (`snapshot-<generation>.snap`) is two records: the encoded `SnapshotMeta`, then the data.
 * It is written to a temporary name, fsynced and renamed, and referenced by a hard-state record only after
 * that, so every byte of it is covered by an fsync: any damage is corruption, never a torn tail.
 */

const snapshotBytesMax = 0xffff_ffff

export function encodeSnapshotFile(snapshot: Snapshot): Uint8Array {
  return encodeRecords([encodeSnapshotMeta(snapshot.meta), snapshot.data])
}

export function decodeSnapshotFile(
  bytes: Uint8Array,
  file: string,
  options: { readonly verifyChecksums: boolean },
): Snapshot {
  const decoded = decodeRecords(bytes, {
    payloadBytesMax: snapshotBytesMax,
    verifyChecksums: options.verifyChecksums,
  })
  const [metaRecord, dataRecord, extra] = decoded.records
  if (decoded.stop.kind !== 'end') {
    throw new CorruptLogError({
      file,
      offset: decoded.stop.offset,
      reason: `bad record (${decoded.stop.kind})`,
    })
  }
  if (metaRecord === undefined || dataRecord === undefined) {
    throw new CorruptLogError({ file, offset: bytes.byteLength, reason: 'snapshot file ends early' })
  }
  if (extra !== undefined) {
    throw new CorruptLogError({
      file,
      offset: extra.offset,
      reason: 'unexpected record after the snapshot data',
    })
  }
  try {
    const meta = decodeSnapshotMeta(metaRecord.payload)
    return { meta, data: new Uint8Array(dataRecord.payload) }
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error
    throw new CorruptLogError({ file, offset: metaRecord.offset, reason: error.message }, error)
  }
}
