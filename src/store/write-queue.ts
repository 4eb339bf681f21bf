import { randomUUID } from 'node:crypto'
import type { Batch, Statement } from '../db/types.js'
import type { Logger } from '../util/logger.js'

export interface WriteQueueOptions {
  /** Requests waiting to be sent; `enqueue` waits for room beyond this (rqlite's `-write-queue-capacity`). */
  readonly capacity: number
  /** Requests merged into one execute (`-write-queue-batch-size`). */
  readonly batchSize: number
  /** How long the first request of a batch waits for others (`-write-queue-timeout`). */
  readonly timeoutMs: number
  /** Runs each merged batch in one transaction (`-write-queue-tx`). */
  readonly transaction: boolean
  /**
   * Writes one merged batch through the normal path (locally on the leader, or forwarded to it). The session
   * is the same on every retry of a batch, so the state machine applies it once however often it is sent.
   */
  readonly send: (
    statements: Batch,
    transaction: boolean,
    session: { clientId: string; seq: number },
  ) => Promise<void>
  readonly logger: Logger
  readonly retryDelayMs?: number
  /** The first sequence number is this plus one (rqlite starts at the node's start time in Unix nanoseconds). */
  readonly firstSequence?: bigint
}

interface Queued {
  readonly statements: Batch
  readonly sequence: bigint
  readonly flushed: { resolve: () => void; reject: (error: Error) => void }
}

export class WriteQueueClosedError extends Error {
  readonly code = 'TQ_ERR_QUEUE_CLOSED'
  constructor() {
    super('the write queue is closed')
  }
}

/**
 * rqlite's queued writes (`/db/execute?queue`): requests are accepted at once with a sequence number, merged
 * into batches and written in the background, retried until written. A client that wants to know when its
 * write is durable waits on `flushed` (`?wait`); an empty request is a barrier behind everything before it.
 */
export class WriteQueue {
  readonly #options: WriteQueueOptions
  readonly #pending: Queued[] = []
  readonly #roomWaiters: (() => void)[] = []
  readonly #clientId = randomUUID()
  #seq = 0
  #nextSequence: bigint
  #lastWritten = 0n
  #closed = false
  #wake: (() => void) | undefined
  readonly #loop: Promise<void>
  #batchesWritten = 0
  #statementsWritten = 0
  #sendFailures = 0

  constructor(options: WriteQueueOptions) {
    this.#options = options
    this.#nextSequence = (options.firstSequence ?? BigInt(Date.now()) * 1_000_000n) + 1n
    this.#loop = this.#run()
  }

  /** The sequence number of the last request written (0 before any). */
  get lastWritten(): bigint {
    return this.#lastWritten
  }

  get stats(): Record<string, number> {
    return {
      queued: this.#pending.length,
      batches_written: this.#batchesWritten,
      statements_written: this.#statementsWritten,
      send_failures: this.#sendFailures,
    }
  }

  /**
   * Queues `statements`; resolves once queued with the request's sequence number and a promise that settles
   * when its batch has been written.
   */
  async enqueue(statements: Batch): Promise<{ sequence: bigint; flushed: Promise<void> }> {
    while (this.#pending.length >= this.#options.capacity && !this.#closed) {
      await new Promise<void>((resolve) => this.#roomWaiters.push(resolve))
    }
    if (this.#closed) throw new WriteQueueClosedError()
    const sequence = this.#nextSequence++
    let flushed!: Queued['flushed']
    const done = new Promise<void>((resolve, reject) => {
      flushed = { resolve, reject }
    })
    // A barrier nobody waits on must not become an unhandled rejection at close.
    done.catch(() => {})
    this.#pending.push({ statements, sequence, flushed })
    this.#wake?.()
    return { sequence, flushed: done }
  }

  /** Stops writing; requests not yet written fail with `WriteQueueClosedError`. */
  async close(): Promise<void> {
    this.#closed = true
    this.#wake?.()
    for (const wake of this.#roomWaiters.splice(0)) wake()
    await this.#loop
    for (const request of this.#pending.splice(0)) request.flushed.reject(new WriteQueueClosedError())
  }

  async #run(): Promise<void> {
    const { batchSize, timeoutMs, logger } = this.#options
    while (!this.#closed) {
      if (this.#pending.length === 0) await this.#sleep()
      if (this.#closed) break
      // The first request waits up to the timeout for the batch to fill.
      if (this.#pending.length < batchSize)
        await this.#sleep(timeoutMs, () => this.#pending.length >= batchSize)
      if (this.#closed) break
      const batch = this.#pending.slice(0, batchSize)
      const statements: Statement[] = batch.flatMap((request) => request.statements)
      const session = { clientId: this.#clientId, seq: ++this.#seq }
      let attempt = 0
      while (statements.length > 0 && !this.#closed) {
        try {
          await this.#options.send(statements, this.#options.transaction, session)
          break
        } catch (error) {
          attempt++
          this.#sendFailures++
          logger.warn('queued write failed; retrying', {
            attempt,
            requests: batch.length,
            firstSequence: String(batch[0]!.sequence),
            error: String(error),
          })
          await this.#sleep(this.#options.retryDelayMs ?? 1_000, () => false)
        }
      }
      if (this.#closed) break
      this.#pending.splice(0, batch.length)
      for (const wake of this.#roomWaiters.splice(0)) wake()
      this.#lastWritten = batch.at(-1)!.sequence
      if (statements.length > 0) {
        this.#batchesWritten++
        this.#statementsWritten += statements.length
      }
      for (const request of batch) request.flushed.resolve()
    }
  }

  /** Waits until woken (a new request, close) or `ms` passes; with `until`, wakes only once it holds. */
  async #sleep(ms?: number, until?: () => boolean): Promise<void> {
    const deadline = ms === undefined ? undefined : Date.now() + ms
    for (;;) {
      await new Promise<void>((resolve) => {
        const timer =
          deadline === undefined ? undefined : setTimeout(resolve, Math.max(0, deadline - Date.now()))
        this.#wake = () => {
          if (timer) clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = undefined
      if (this.#closed || until === undefined || until()) return
      if (deadline !== undefined && Date.now() >= deadline) return
    }
  }
}
