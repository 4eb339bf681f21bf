/** Structured logger: a constant message plus named fields, one JSON object per line on stderr. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
  child(fields: Record<string, unknown>): Logger
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export function createLogger(
  options: { level?: LogLevel; base?: Record<string, unknown>; write?: (line: string) => void } = {},
): Logger {
  const min = rank[options.level ?? 'info']
  const base = options.base ?? {}
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`))
  const log = (level: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (rank[level] < min) return
    write(
      JSON.stringify(
        { time: new Date().toISOString(), level, msg: message, ...base, ...fields },
        (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
      ),
    )
  }
  return {
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
    child: (fields) => createLogger({ ...options, base: { ...base, ...fields } }),
  }
}
