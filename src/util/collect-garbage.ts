/**
 * Below this a dead buffer is left to V8's own pace: collecting costs a full GC (a few ms here).
 */
const bigBufferBytes = 64 * 1024 * 1024

let scheduled = false

/**
 * Collects garbage once this turn's work is done, after a buffer of `bytes` was let go, when that buffer is
 * big and V8 lets us (`gc` exists when node runs with `--expose-gc`, which `bin/tqlited` passes; V8 flags are
 * process-wide, so the SQLite worker has it too).
 *
 * Why: a buffer the size of the database (a snapshot's image, SQLite's serialization of it) goes back to the
 * system only when V8 collects the object holding it, and V8 collects when JavaScript allocates. A node that
 * had written a 1 GiB snapshot and then had little to do kept the dead GiB for minutes: its RSS stayed near
 * three times its database. Called where such a buffer has just been let go.
 */
export function collectGarbageAfter(bytes: number): void {
  const collect = globalThis.gc
  if (collect === undefined || bytes < bigBufferBytes || scheduled) return
  scheduled = true
  // After the current turn's promise jobs: the callers' own references die with their frames by then.
  setImmediate(() => {
    scheduled = false
    collect()
  })
}
