import { crc32 } from 'node:zlib'

/**
 * Checksummed records, the unit of every storage file:
 *
 * ```
 * [u32 length, little-endian][u32 crc32, little-endian][payload: `length` bytes]
 * ```
 *
 * The CRC-32 (zlib's polynomial) covers the 4 length bytes followed by the payload, so a flipped bit in the
 * length is caught as well as one in the payload. Encoding and checking are paired (style.md §2.6).
 */

export const recordHeaderBytes = 8
/** Default bound on a payload; a larger length field is treated as damage, not as a huge record. */
export const payloadBytesMaxDefault = 64 * 1024 * 1024

export function recordChecksum(lengthBytes: Uint8Array, payload: Uint8Array): number {
  return crc32(payload, crc32(lengthBytes))
}

/** Encodes `payloads` as consecutive records in one buffer (one write for a whole batch). */
export function encodeRecords(payloads: readonly Uint8Array[]): Uint8Array {
  return encodeRecordsInPlace(
    payloads.map((payload) => payload.byteLength),
    (i, out) => out.set(payloads[i]!),
  )
}

/**
 * Encodes consecutive records whose payloads are written in place: `write(i, payload)` must fill the view it
 * gets, exactly `sizes[i]` bytes. Saves `encodeRecords`' copy of each payload (a bulk request's entry is 140 KB,
 * written on every node); the output is not zeroed first, since every byte of it is written.
 */
export function encodeRecordsInPlace(
  sizes: readonly number[],
  write: (i: number, payload: Uint8Array) => void,
): Uint8Array {
  let total = 0
  for (const size of sizes) total += recordHeaderBytes + size
  const out = new Uint8Array(Buffer.allocUnsafeSlow(total).buffer, 0, total)
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  let offset = 0
  for (let i = 0; i < sizes.length; i++) {
    const size = sizes[i]!
    const payload = out.subarray(offset + recordHeaderBytes, offset + recordHeaderBytes + size)
    write(i, payload)
    view.setUint32(offset, size, true)
    view.setUint32(offset + 4, recordChecksum(out.subarray(offset, offset + 4), payload), true)
    offset += recordHeaderBytes + size
  }
  return out
}

export function encodeRecord(payload: Uint8Array): Uint8Array {
  return encodeRecords([payload])
}

/** One whole record: its payload (a view into the decoded buffer) and where it sits. */
export interface DecodedRecord {
  readonly offset: number
  /** Offset just after the record. */
  readonly end: number
  readonly payload: Uint8Array
}

/**
 * Why decoding stopped.
 * - `end`: the buffer ends exactly after a whole record.
 * - `incomplete`: the bytes left are fewer than a header, or than the length field announces. This is what a
 *   write cut short by a crash looks like.
 * - `checksum`: a complete record whose CRC does not match: a bit flip, or a torn write whose file size was
 *   extended before its data reached the disk.
 * - `length`: the length field exceeds `payloadBytesMax`: damage.
 *
 * The classification is only a hint: a file can end torn in any of these ways. Whether a failure is a torn tail
 * (truncate it) or corruption (stop) is decided by the caller from the durably recorded synced length.
 */
export type DecodeStop =
  | { readonly kind: 'end'; readonly offset: number }
  | { readonly kind: 'incomplete' | 'checksum' | 'length'; readonly offset: number }

export interface DecodedRecords {
  readonly records: readonly DecodedRecord[]
  /** End of the last whole, valid record: the length of the valid prefix. */
  readonly validBytes: number
  readonly stop: DecodeStop
}

export interface DecodeRecordsOptions {
  readonly payloadBytesMax?: number
  /** Only for tests that show the checks catch a broken recovery; never false in production. */
  readonly verifyChecksums?: boolean
}

/** Decodes the longest valid prefix of whole records from `bytes`. Never throws on bad input. */
export function decodeRecords(bytes: Uint8Array, options: DecodeRecordsOptions = {}): DecodedRecords {
  const payloadBytesMax = options.payloadBytesMax ?? payloadBytesMaxDefault
  const verifyChecksums = options.verifyChecksums ?? true
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const records: DecodedRecord[] = []
  let offset = 0
  const stop = (kind: DecodeStop['kind']): DecodedRecords => ({
    records,
    validBytes: offset,
    stop: { kind, offset },
  })
  for (;;) {
    if (offset === bytes.byteLength) return stop('end')
    if (bytes.byteLength - offset < recordHeaderBytes) return stop('incomplete')
    const length = view.getUint32(offset, true)
    if (length > payloadBytesMax) return stop('length')
    const end = offset + recordHeaderBytes + length
    if (end > bytes.byteLength) return stop('incomplete')
    const payload = bytes.subarray(offset + recordHeaderBytes, end)
    if (verifyChecksums) {
      const expected = view.getUint32(offset + 4, true)
      if (recordChecksum(bytes.subarray(offset, offset + 4), payload) !== expected) return stop('checksum')
    }
    records.push({ offset, end, payload })
    offset = end
  }
}
