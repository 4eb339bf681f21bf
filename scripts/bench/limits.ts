// The raw limits of this machine, measured in the same run: an fdatasync loop, better-sqlite3 in process
// (single INSERTs and 1,000-row transactions, in memory as tqlited's default), and a bare node:http server.
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'

export interface LoopResult {
  readonly opsPerSec: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly ops: number
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/** Runs `op` back to back for `seconds`, timing each call. */
function timeLoop(seconds: number, op: () => void): LoopResult {
  const samples: number[] = []
  const start = process.hrtime.bigint()
  const end = start + BigInt(Math.round(seconds * 1e9))
  let now = start
  while (now < end) {
    op()
    const after = process.hrtime.bigint()
    samples.push(Number(after - now) / 1e6)
    now = after
  }
  const elapsedS = Number(now - start) / 1e9
  const sorted = Float64Array.from(samples).sort()
  return {
    ops: samples.length,
    opsPerSec: samples.length / elapsedS,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
  }
}

/** Appends 128 bytes and fdatasyncs, in a loop, in `dir` (the file system the nodes' data lives on). */
export function fdatasyncLoop(dir: string, seconds: number): LoopResult {
  const fd = openSync(join(dir, 'fdatasync.bench'), 'a')
  const record = Buffer.alloc(128, 1)
  try {
    return timeLoop(seconds, () => {
      writeSync(fd, record)
      fdatasyncSync(fd)
    })
  } finally {
    closeSync(fd)
  }
}

export interface SqliteLimits {
  readonly single: LoopResult
  /** Per transaction of 1,000 rows; opsPerSec is transactions/s (rows/s = 1000 × it). */
  readonly tx1000: LoopResult
  readonly version: string
}

export function sqliteLoops(seconds: number): SqliteLimits {
  const db = new Database(':memory:')
  try {
    db.exec('CREATE TABLE bench (id INTEGER PRIMARY KEY, v TEXT)')
    const insert = db.prepare('INSERT INTO bench(v) VALUES(?)')
    const value = 'x'.repeat(100)
    const single = timeLoop(seconds, () => {
      insert.run(value)
    })
    const tx = db.transaction(() => {
      for (let i = 0; i < 1000; i++) insert.run(value)
    })
    const tx1000 = timeLoop(seconds, () => tx())
    const version = String(db.prepare('SELECT sqlite_version()').pluck().get())
    return { single, tx1000, version }
  } finally {
    db.close()
  }
}

export const bareHttpScript = new URL('./bare-http.mjs', import.meta.url).pathname
