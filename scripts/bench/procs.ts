// Every process the bench starts goes through here, so that all of them are stopped at the end, also on an
// error, an uncaught exception or Ctrl-C. Children are killed by their own pid, never by name.
import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'

export interface Managed {
  readonly name: string
  readonly child: ChildProcess
  readonly pid: number
  /** Resolves with the exit code or signal once the process has exited. */
  readonly exited: Promise<string>
  /** The last few kilobytes of its stdout and stderr. */
  tail: string
  /** Set before the bench kills it: any other exit is a crash. */
  stopping: boolean
}

export interface Crash {
  readonly name: string
  readonly how: string
  readonly tail: string
  readonly at: string
}

const live = new Set<Managed>()
const tempDirs = new Set<string>()
export const crashes: Crash[] = []

/** Starts a process; its output goes to `logFile` (appended) and to an in-memory tail. */
export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  options: { logFile?: string; cwd?: string; oneShot?: boolean; env?: NodeJS.ProcessEnv } = {},
): Managed {
  const child = spawn(command, args, {
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.env ? { env: options.env } : {}),
  })
  if (child.pid === undefined) throw new Error(`could not start ${name}: ${command}`)
  const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined
  let resolveExit: (how: string) => void = () => {}
  const exited = new Promise<string>((resolve) => {
    resolveExit = resolve
  })
  // A one-shot command (wrk) is expected to exit by itself: its exit is no crash.
  const managed: Managed = {
    name,
    child,
    pid: child.pid,
    exited,
    tail: '',
    stopping: options.oneShot === true,
  }
  const onData = (chunk: Buffer) => {
    log?.write(chunk)
    managed.tail = (managed.tail + chunk.toString()).slice(-8192)
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  child.on('error', (error) => onData(Buffer.from(`spawn error: ${error.message}\n`)))
  child.on('exit', (code, signal) => {
    live.delete(managed)
    log?.end()
    const how = signal ? `signal ${signal}` : `exit code ${code}`
    if (!managed.stopping) {
      crashes.push({ name, how, tail: managed.tail.slice(-2000), at: new Date().toISOString() })
      process.stderr.write(`\n!! ${name} (pid ${managed.pid}) exited unexpectedly: ${how}\n`)
    }
    resolveExit(how)
  })
  live.add(managed)
  return managed
}

/** kill -9 (default) or another signal, and waits for the exit. */
export async function stopProcess(managed: Managed, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  managed.stopping = true
  if (managed.child.exitCode === null && managed.child.signalCode === null) managed.child.kill(signal)
  await managed.exited
}

export function isRunning(managed: Managed | undefined): boolean {
  return managed !== undefined && managed.child.exitCode === null && managed.child.signalCode === null
}

export function registerTempDir(dir: string): void {
  tempDirs.add(dir)
}

/** Synchronous: usable from an 'exit' handler. */
export function killEverything(): void {
  for (const managed of live) {
    managed.stopping = true
    try {
      process.kill(managed.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  live.clear()
}

export function removeTempDirs(): void {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  tempDirs.clear()
}

let installed = false
export function installCleanupHandlers(): void {
  if (installed) return
  installed = true
  process.on('exit', () => {
    killEverything()
    removeTempDirs()
  })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping every process it started\n`)
      killEverything()
      removeTempDirs()
      process.exit(130)
    })
  }
}

export function liveProcesses(): readonly Managed[] {
  return [...live]
}

/**
 * A free port below the kernel's ephemeral range. A port the kernel picked (`listen(0)`) and we closed lies
 * in that range, where the kernel may hand it to any outgoing connection before the process we start binds
 * it: a run failed so, an etcd node exiting with "bind: address already in use". Below the range only a
 * listener can take it. Never the same port twice in one bench.
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralPorts()
  const floor = 10_000
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = floor + Math.floor(Math.random() * (low - floor))
    if (handedOut.has(port)) continue
    handedOut.add(port)
    if (await canListen(port)) return port
    handedOut.delete(port)
  }
  throw new Error(`no free port found between ${floor} and ${low}`)
}

const handedOut = new Set<number>()

/** `[low, high]` of `/proc/sys/net/ipv4/ip_local_port_range` (Linux's default when it cannot be read). */
export function ephemeralPorts(text?: string): [number, number] {
  let content = text
  try {
    content ??= readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
  } catch {
    return [32768, 60999]
  }
  const [low, high] = content.trim().split(/\s+/).map(Number)
  return low !== undefined && high !== undefined && low > 10_000 && high >= low ? [low, high] : [32768, 60999]
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** Reads VmRSS from /proc/PID/status, in bytes (0 when the process is gone). */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
    return match ? Number(match[1]) * 1024 : 0
  } catch {
    return 0
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `probe` until it returns a value, or throws after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(intervalMs)
  }
}
