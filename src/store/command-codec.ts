import { Packr } from 'msgpackr'
import { PackedBatch, packBatch } from '../db/batch-codec.js'
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

export function encodeCommand(command: Command): Uint8Array {
  if (command.kind !== 'execute' && command.kind !== 'query') return packr.pack(command)
  const { statements } = command
  return packr.pack({
    ...command,
    statements: statements instanceof PackedBatch ? statements.bytes : packBatch(statements).bytes,
  })
}

export class CommandDecodeError extends Error {
  override name = 'CommandDecodeError'
  readonly code = 'TQ_ERR_STORE_BAD_COMMAND'
}

/** Decodes a committed command. A log entry that does not decode is a bug (it was encoded by a leader). */
export function decodeCommand(data: Uint8Array): Command {
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

/** Generic msgpack encoding for the store's RPC bodies and snapshots (same settings as commands). */
export function pack(value: unknown): Uint8Array {
  return packr.pack(value)
}

export function unpack<T>(data: Uint8Array): T {
  return packr.unpack(data) as T
}
