// Committed log entries for the state machine tests, encoded as the store proposes them.
import type { Entry } from '../../../src/raft/index.js'
import { encodeCommand } from '../../../src/store/command-codec.js'

/** An execute of one INSERT at `index` (term 1); a session with `clientId`, a mixed request with `mixed`. */
export function executeEntry(
  index: number,
  extra: { clientId?: string; seq?: number; mixed?: boolean } = {},
): Entry {
  const data = encodeCommand({
    kind: 'execute',
    statements: ['INSERT INTO t VALUES (1)'],
    transaction: false,
    seed: new Uint8Array(16),
    nowMs: 0,
    clientId: extra.clientId ?? '',
    seq: extra.seq ?? 0,
    ...(extra.mixed ? { mixed: true } : {}),
  })
  return { index, term: 1, kind: 'normal', data }
}
