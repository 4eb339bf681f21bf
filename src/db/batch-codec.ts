import { Packr, RESERVE_START_SPACE } from 'msgpackr'
import type { Batch } from './types.js'

/**
 * A batch in msgpack, as it travels inside a Raft entry. The state machine hands these bytes to the db worker
 * unopened and the worker decodes and checks them there: decoding a 1,000-statement bulk insert on the main
 * thread and structured-cloning it to the worker was about an eighth of the leader's main thread (profile of
 * bulk inserts at c=16: `postMessage` 10.6%, msgpack decoding 1.5%), on every replica.
 */
export class PackedBatch {
  constructor(readonly bytes: Uint8Array) {}
}

// int64AsType 'auto': integers beyond ±2^53 come back as BigInt, so SQL parameters stay exact.
// msgpackr 2.1 accepts 'auto' at run time (verified) though its typings list only the three fixed modes.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'auto' as 'bigint' })

export function packBatch(batch: Batch): PackedBatch {
  return new PackedBatch(packr.pack(batch))
}

/**
 * The packed batch after `room` free bytes (at most 255), in one buffer: a caller that puts a header in front
 * of a batch writes it there instead of copying the batch after it.
 */
export function packBatchWithRoom(batch: Batch, room: number): Uint8Array {
  return packr.pack(batch, RESERVE_START_SPACE | room)
}

/** The batch as it was packed; its shape is checked by `toWireBatch`, as any batch is. */
export function unpackBatch(bytes: Uint8Array): Batch {
  return packr.unpack(bytes) as Batch
}
