// How the machine's CPU time was spent while a point ran, from /proc/stat: how busy the cores were, and how much
// of their time the hypervisor gave to other guests (steal). This VM's figures swing by a factor of two or
// three within minutes (docs/benchmarks.md); a point that ran while the host took the cores shows it here.
import { readFileSync } from 'node:fs'

/** The aggregate `cpu` line of /proc/stat, in clock ticks. */
export interface CpuTimes {
  readonly busy: number
  readonly idle: number
  readonly steal: number
}

export interface CpuShare {
  /** Percent of all cores' time spent running anything (user, system, interrupts). */
  readonly busyPct: number
  /** Percent of all cores' time the hypervisor ran something else. */
  readonly stealPct: number
}

type Tuple8 = [number, number, number, number, number, number, number, number]

/** Parses /proc/stat's first line; undefined when the text is not one (no /proc). */
export function parseCpuTimes(stat: string): CpuTimes | undefined {
  const fields = stat.split('\n', 1)[0]!.trim().split(/\s+/)
  if (fields[0] !== 'cpu' || fields.length < 9) return undefined
  const ticks = fields.slice(1, 9).map(Number)
  if (!ticks.every(Number.isFinite)) return undefined
  const [user, nice, system, idle, iowait, irq, softirq, steal] = ticks as Tuple8
  return { busy: user + nice + system + irq + softirq, idle: idle + iowait, steal }
}

export function readCpuTimes(): CpuTimes | undefined {
  try {
    return parseCpuTimes(readFileSync('/proc/stat', 'utf8'))
  } catch {
    return undefined
  }
}

/** The share between two readings; undefined when either is missing or no time passed. */
export function cpuShare(before: CpuTimes | undefined, after: CpuTimes | undefined): CpuShare | undefined {
  if (before === undefined || after === undefined) return undefined
  const busy = after.busy - before.busy
  const steal = after.steal - before.steal
  const total = busy + steal + (after.idle - before.idle)
  if (total <= 0) return undefined
  return { busyPct: (100 * busy) / total, stealPct: (100 * steal) / total }
}
