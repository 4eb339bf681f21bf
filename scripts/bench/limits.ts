// The raw limits of this machine, measured in the same run: an fdatasync loop, better-sqlite3 in process
// (single INSERTs and 1,000-row transactions, in memory as tqlited's default), a bare node:http server, and
// what waking another thread costs (a round trip through libuv's thread pool, and one to a worker thread).
import { closeSync, fdatasyncSync, openSync, readFileSync, write, writeSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
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

/** Times back-to-back calls (`step` after each, `finish` at the end), for the sync and async loops alike. */
class LoopClock {
  readonly #samples: number[] = []
  readonly #start = process.hrtime.bigint()
  readonly #end: bigint
  #now = this.#start

  constructor(seconds: number) {
    this.#end = this.#start + BigInt(Math.round(seconds * 1e9))
  }

  get running(): boolean {
    return this.#now < this.#end
  }

  step(): void {
    const after = process.hrtime.bigint()
    this.#samples.push(Number(after - this.#now) / 1e6)
    this.#now = after
  }

  finish(): LoopResult {
    const sorted = Float64Array.from(this.#samples).sort()
    return {
      ops: this.#samples.length,
      opsPerSec: this.#samples.length / (Number(this.#now - this.#start) / 1e9),
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
    }
  }
}

/** Runs `op` back to back for `seconds`, timing each call. */
function timeLoop(seconds: number, op: () => void): LoopResult {
  const clock = new LoopClock(seconds)
  while (clock.running) {
    op()
    clock.step()
  }
  return clock.finish()
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

/** A round trip that wakes another thread, and what it cost the thread that started it. */
export interface WakeResult extends LoopResult {
  /** CPU time of the measuring thread per round trip, in µs (undefined where /proc is not there to read). */
  readonly cpuUsPerOp: number | undefined
}

export interface WakeLimits {
  /** A 128-byte `fs.write` (no sync) on libuv's thread pool, one at a time: how every log write starts. */
  readonly threadPool: WakeResult
  /** A message to a worker thread and its answer, one at a time: how every apply and read reaches SQLite. */
  readonly worker: WakeResult
}

/** CPU time (user + system) of the calling thread in µs, from /proc; undefined elsewhere. */
function threadCpuUs(): number | undefined {
  try {
    // Fields after the command name: utime and stime are the 12th and 13th, in clock ticks (100 per second).
    const fields = readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10_000
  } catch {
    return undefined
  }
}

/** Runs the async `op` back to back for `seconds`, timing each call and this thread's CPU time. */
async function timeAsyncLoop(seconds: number, op: () => Promise<void>): Promise<WakeResult> {
  const cpuBefore = threadCpuUs()
  const clock = new LoopClock(seconds)
  while (clock.running) {
    await op()
    clock.step()
  }
  const cpuAfter = threadCpuUs()
  const result = clock.finish()
  return {
    ...result,
    cpuUsPerOp:
      cpuBefore === undefined || cpuAfter === undefined ? undefined : (cpuAfter - cpuBefore) / result.ops,
  }
}

/**
 * What a wake-up of another thread costs on this machine, now. Every batch a node handles crosses threads
 * several times (the log write on the thread pool, the apply in the SQLite worker, the followers' processes),
 * and on a virtual machine such a wake-up can cost tens of µs of CPU that vary from minute to minute; the
 * bench measures it before each system's workloads so that runs can be told apart by it.
 */
export async function wakeLoops(dir: string, seconds: number): Promise<WakeLimits> {
  const fd = openSync(join(dir, 'wake.bench'), 'w')
  const record = Buffer.alloc(128, 1)
  let threadPool: WakeResult
  try {
    threadPool = await timeAsyncLoop(
      seconds,
      () =>
        new Promise<void>((resolve, reject) =>
          write(fd, record, 0, record.byteLength, 0, (error) => (error ? reject(error) : resolve())),
        ),
    )
  } finally {
    closeSync(fd)
  }
  const worker = new Worker(
    'const { parentPort } = require("node:worker_threads"); parentPort.on("message", (m) => parentPort.postMessage(m))',
    { eval: true },
  )
  try {
    const roundTrip = () =>
      new Promise<void>((resolve) => {
        worker.once('message', () => resolve())
        worker.postMessage(0)
      })
    await roundTrip()
    const workerResult = await timeAsyncLoop(seconds, roundTrip)
    return { threadPool, worker: workerResult }
  } finally {
    await worker.terminate()
  }
}

export const bareHttpScript = new URL('./bare-http.mjs', import.meta.url).pathname
