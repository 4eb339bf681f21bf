// Runs wrk with scripts/bench/wrk.lua and parses the `WRK_RESULT {json}` line its done() prints.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startProcess, stopProcess } from './procs.js'

export const luaScript = new URL('./wrk.lua', import.meta.url).pathname

export interface WrkResult {
  readonly requests: number
  readonly durationS: number
  /** Requests per second over the run (0 when the run had errors: a run with errors is no throughput). */
  readonly opsPerSec: number
  readonly p50Ms: number
  readonly p90Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  readonly meanMs: number
  /** Socket errors, timeouts, non-2xx answers and 2xx answers whose body holds "error". */
  readonly errors: {
    connect: number
    read: number
    write: number
    timeout: number
    non2xx: number
    body: number
    /** 1 when not one response came back during the run (a stall, or requests slower than the run). */
    noResponse: number
  }
  readonly errorCount: number
  /** The first failed answer ("STATUS body…"), or ''. */
  readonly errorSample: string
}

interface RawResult {
  requests: number
  duration_us: number
  p50_us: number
  p90_us: number
  p99_us: number
  max_us: number
  mean_us: number
  connect_errors: number
  read_errors: number
  write_errors: number
  status_errors: number
  timeouts: number
  non2xx: number
  body_errors: number
  error_sample?: string
}

/** Parses wrk's output; throws when the WRK_RESULT line is missing or malformed. */
export function parseWrkOutput(stdout: string): WrkResult {
  const line = stdout.split('\n').find((l) => l.startsWith('WRK_RESULT '))
  if (!line) throw new Error(`wrk printed no WRK_RESULT line:\n${stdout.slice(-2000)}`)
  const raw = JSON.parse(line.slice('WRK_RESULT '.length)) as Partial<RawResult>
  const num = (key: keyof RawResult): number => {
    const value = raw[key]
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`WRK_RESULT: bad ${key}`)
    return value
  }
  const errors = {
    connect: num('connect_errors'),
    read: num('read_errors'),
    write: num('write_errors'),
    timeout: num('timeouts'),
    // wrk's own `status` counts >= 400 only; the script counts every answer outside 2xx.
    non2xx: Math.max(num('non2xx'), num('status_errors')),
    body: num('body_errors'),
    noResponse: num('requests') === 0 ? 1 : 0,
  }
  const errorCount = Object.values(errors).reduce((a, b) => a + b, 0)
  const requests = num('requests')
  const durationS = num('duration_us') / 1e6
  return {
    requests,
    durationS,
    opsPerSec: errorCount === 0 && durationS > 0 ? requests / durationS : 0,
    p50Ms: num('p50_us') / 1000,
    p90Ms: num('p90_us') / 1000,
    p99Ms: num('p99_us') / 1000,
    maxMs: num('max_us') / 1000,
    meanMs: num('mean_us') / 1000,
    errors,
    errorCount,
    errorSample: typeof raw.error_sample === 'string' ? raw.error_sample : '',
  }
}

export interface WrkRequest {
  readonly method: 'GET' | 'POST' | 'PUT'
  readonly path: string
  readonly body?: string
}

/** Writes requests in the TAB-separated form wrk.lua reads. */
export function writeRequestsFile(dir: string, name: string, requests: readonly WrkRequest[]): string {
  const file = join(dir, `${name}.requests`)
  const lines = requests.map((r) => {
    if (/[\t\n]/.test(r.path + (r.body ?? ''))) throw new Error('a request may not contain TAB or newline')
    return `${r.method}\t${r.path}\t${r.body ?? ''}`
  })
  writeFileSync(file, `${lines.join('\n')}\n`)
  return file
}

export interface WrkRun {
  readonly baseUrl: string
  readonly requestsFile: string
  readonly connections: number
  readonly durationS: number
  readonly threads?: number
}

export async function runWrk(run: WrkRun): Promise<WrkResult> {
  const threads = Math.max(1, Math.min(run.threads ?? 1, run.connections))
  const args = [
    `-t${threads}`,
    `-c${run.connections}`,
    `-d${run.durationS}s`,
    '--timeout',
    '10s',
    '-s',
    luaScript,
    run.baseUrl,
    '--',
    run.requestsFile,
  ]
  const wrk = startProcess('wrk', 'wrk', args, { oneShot: true })
  let out = ''
  wrk.child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString()
  })
  // wrk stops by itself after -d; the guard only catches a hung wrk.
  const guard = setTimeout(() => void stopProcess(wrk), (run.durationS + 30) * 1000)
  const how = await wrk.exited
  clearTimeout(guard)
  if (how !== 'exit code 0') throw new Error(`wrk failed (${how}):\n${wrk.tail}`)
  return parseWrkOutput(out)
}
