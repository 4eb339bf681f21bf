import type { Socket } from 'node:net'
import { TransportError } from './errors.js'
import { type Frame, FrameDecoder } from './frame-codec.js'
import type { TransportStats } from './stats.js'

/** What the owner of a framed socket does with its input; `onFrame` may be replaced once the handshake is done. */
export interface FramedSocketHandlers {
  /**
   * Called for each whole frame, in order. Throwing a `TransportError` closes the connection with that error;
   * any other exception is a bug and propagates (style.md §2.4: never caught to continue).
   */
  onFrame(frame: Frame): void
  /** Called once, when the connection closes for any reason: the error that closed it, if any. */
  onClose(error: Error | undefined): void
}

/** Socket options shared by both ends of every connection. */
export const keepAliveInitialDelayMs = 5000

/** How long `end()` waits for the other side to close before destroying the socket. */
const endLingerMs = 1000

/**
 * A TCP socket that speaks frames: decodes input with a `FrameDecoder` (a `FrameTooLargeError` closes the
 * connection), writes whole frames, coalesces the writes of one event-loop turn (cork until the next tick,
 * so a batch of Raft messages leaves in one `writev`), and reports its end exactly once.
 */
export class FramedSocket {
  readonly socket: Socket
  /** `ip:port` of the other end, for logs. */
  readonly remote: string
  readonly #decoder: FrameDecoder
  readonly #stats: TransportStats
  #handlers: FramedSocketHandlers
  #closed = false
  #ending = false
  #corked = false
  #lastError: Error | undefined
  #drainWaiters: (() => void)[] = []

  constructor(
    socket: Socket,
    options: {
      readonly frameBytesMax: number
      readonly stats: TransportStats
      readonly handlers: FramedSocketHandlers
    },
  ) {
    this.socket = socket
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`
    this.#decoder = new FrameDecoder({ frameBytesMax: options.frameBytesMax })
    this.#stats = options.stats
    this.#handlers = options.handlers
    socket.setNoDelay(true)
    socket.setKeepAlive(true, keepAliveInitialDelayMs)
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('drain', () => this.#releaseDrainWaiters())
    socket.on('error', (error) => {
      this.#lastError = error
    })
    socket.on('close', () => this.#finish(this.#lastError))
  }

  get closed(): boolean {
    return this.#closed
  }

  setHandlers(handlers: FramedSocketHandlers): void {
    this.#handlers = handlers
  }

  /**
   * Queues a frame for writing, whole or in pieces (a gather write: the pieces are not copied and must not
   * change afterwards). Returns false when the socket's buffer is over its high-water mark: the caller should
   * then `await drained()` before writing more. Writing to a closed socket does nothing.
   */
  write(...pieces: readonly Uint8Array[]): boolean {
    if (this.#closed || this.#ending) return false
    if (!this.#corked) {
      this.#corked = true
      this.socket.cork()
      process.nextTick(() => {
        this.#corked = false
        this.socket.uncork()
      })
    }
    let belowHighWaterMark = true
    for (const piece of pieces) {
      this.#stats.bytesSent += piece.byteLength
      belowHighWaterMark = this.socket.write(piece)
    }
    return belowHighWaterMark
  }

  /**
   * Resolves true once the write buffer has drained (or the socket closed), false if it made no progress for
   * `stallMs`: a peer that stopped reading, or a dead link that TCP has not yet given up on.
   */
  drained(stallMs: number): Promise<boolean> {
    if (this.#closed || !this.socket.writableNeedDrain) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), stallMs)
      this.#drainWaiters.push(() => {
        clearTimeout(timer)
        resolve(true)
      })
    })
  }

  /** Writes a last frame, then closes gracefully; later input is ignored. Used to send a handshake rejection. */
  end(frame: Uint8Array): void {
    if (this.#closed || this.#ending) return
    this.#stats.bytesSent += frame.byteLength
    this.#ending = true
    this.socket.end(frame)
    setTimeout(() => this.socket.destroy(), endLingerMs).unref()
  }

  /** Closes at once (discarding unsent data) and reports `error` as the reason to `onClose`. */
  close(error?: Error): void {
    if (this.#closed) return
    this.socket.destroy()
    this.#finish(error)
  }

  #onData(chunk: Buffer): void {
    this.#stats.bytesReceived += chunk.byteLength
    if (this.#closed || this.#ending) return
    // Decode first, then hand out frames, so a decoder error and an owner's exception cannot be confused.
    const frames: Frame[] = []
    let failure: unknown
    try {
      this.#decoder.push(chunk, (frame) => frames.push(frame))
    } catch (error) {
      failure = error
    }
    for (const frame of frames) {
      if (this.#closed || this.#ending) return
      try {
        this.#handlers.onFrame(frame)
      } catch (error) {
        if (!(error instanceof TransportError)) throw error
        this.close(error)
        return
      }
    }
    if (failure !== undefined) {
      if (!(failure instanceof TransportError)) throw failure
      this.close(failure)
    }
  }

  #releaseDrainWaiters(): void {
    const waiters = this.#drainWaiters
    this.#drainWaiters = []
    for (const release of waiters) release()
  }

  #finish(error: Error | undefined): void {
    if (this.#closed) return
    this.#closed = true
    this.#releaseDrainWaiters()
    this.#handlers.onClose(error)
  }
}
