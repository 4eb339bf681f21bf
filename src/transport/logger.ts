/**
 * The structured logger the transport writes to (style.md §2.7): a fixed lower-case message and named
 * fields. Injected; the default is silent. Shaped like `RaftLogger` plus `error`, so one adapter serves both.
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
}

export const silentLogger: Logger = Object.freeze({ debug() {}, info() {}, warn() {}, error() {} })
