// One Jepsen-style run: start a cluster on loopback aliases behind the fault proxy, set the workload up, run
// it while nemeses inject faults, heal, do the final reads, check the history and the replicas'
// convergence, and leave a report folder (history.json, report.json, nemesis.log, node<N>.log).
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Prng } from '../sim/prng.js'
import { type Convergence, JepsenCluster } from './cluster.js'
import {
  NemesisLog,
  type NemesisName,
  createNemesis,
  cycle,
  nemesisNames,
  requirements,
  unavailable,
} from './nemesis.js'
import type { Level, Workload, WorkloadReport } from './workloads/workload.js'

export type WorkloadName = 'register' | 'set' | 'bank' | 'append'
export const workloadNames: readonly WorkloadName[] = ['register', 'set', 'bank', 'append']
export const levelNames: readonly Level[] = ['none', 'weak', 'linearizable', 'strong']

export type CreateWorkload = (name: WorkloadName, level: Level) => Workload

/** The workloads' factory (test/jepsen/workloads/index.ts), loaded when a run needs it. */
export async function loadWorkloads(): Promise<CreateWorkload> {
  const path = './workloads/index.js'
  const module = (await import(path)) as { createWorkload: CreateWorkload }
  return module.createWorkload
}

export interface RunOptions {
  readonly workload: WorkloadName
  readonly nemeses: readonly NemesisName[]
  readonly seconds: number
  readonly nodes: number
  readonly level: Level
  readonly clients: number
  readonly seed: number
  /** The report folder; a fresh one under the temp folder by default. */
  readonly dir?: string
  /** Keep the nodes' data directories (removed by default; logs are always kept). */
  readonly keepData?: boolean
  readonly faultMs?: readonly [number, number]
  readonly quietMs?: readonly [number, number]
}

export interface OpCounts {
  ok: number
  fail: number
  info: number
}

export interface RunReport {
  readonly ok: boolean
  readonly dir: string
  readonly options: Omit<RunOptions, 'dir'>
  readonly startedAt: string
  readonly seconds: number
  readonly ops: OpCounts
  readonly faults: Record<string, number>
  readonly skippedNemeses: Record<string, string>
  readonly workload: WorkloadReport | undefined
  readonly convergence: Convergence | undefined
  readonly error: string | undefined
}

export function parseNemeses(text: string): NemesisName[] {
  if (text === '' || text === 'none') return []
  const names = text.split(',').map((s) => s.trim())
  for (const name of names) {
    if (!(nemesisNames as readonly string[]).includes(name))
      throw new Error(`unknown nemesis ${name}: choose from ${nemesisNames.join(', ')}`)
  }
  return names as NemesisName[]
}

export function countOps(history: readonly unknown[]): OpCounts {
  const counts: OpCounts = { ok: 0, fail: 0, info: 0 }
  for (const entry of history) {
    if (typeof entry !== 'object' || entry === null || !('type' in entry)) continue
    const type = (entry as { type: unknown }).type
    if (type === 'ok' || type === 'fail' || type === 'info') counts[type] += 1
  }
  return counts
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Runs once and writes the report folder. Never throws for a failing system: a crash of the harness itself
 * is recorded in `error` (and makes the run not ok).
 */
export async function runOnce(
  options: RunOptions,
  createWorkload: CreateWorkload,
  print: (line: string) => void = (line) => console.log(line),
): Promise<RunReport> {
  const started = Date.now()
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), `tqlite-jepsen-${options.workload}-`)))
  const nemesisLines: string[] = []
  const log = new NemesisLog((line) => nemesisLines.push(line))
  const rng = new Prng(options.seed, 'nemesis')
  const skippedNemeses: Record<string, string> = {}
  const usable: NemesisName[] = []
  for (const name of options.nemeses) {
    const reason = await unavailable(name)
    if (reason === undefined) usable.push(name)
    else {
      skippedNemeses[name] = reason
      print(`jepsen: skipping nemesis ${name}: ${reason}`)
    }
  }
  const needs = requirements(usable)
  let cluster: JepsenCluster | undefined
  let workload: Workload | undefined
  let workloadReport: WorkloadReport | undefined
  let convergence: Convergence | undefined
  let error: string | undefined
  let history: unknown[] = []
  try {
    print(
      `jepsen: ${options.workload} at ${options.level}, nemesis ${usable.join(',') || 'none'}, ` +
        `${options.nodes} nodes, ${options.clients} clients, ${options.seconds}s, seed ${options.seed}: ${dir}`,
    )
    cluster = await JepsenCluster.start({
      nodes: options.nodes,
      dir,
      flags: needs.flags,
      faketime: needs.faketime,
      ...(needs.tmpfsBytes !== undefined ? { tmpfsBytes: needs.tmpfsBytes } : {}),
      log: (line) => log.event('harness', line),
    })
    workload = createWorkload(options.workload, options.level)
    await workload.setup(cluster.endpoints)
    log.event('harness', 'workload set up; starting clients and nemeses')
    const clients = new AbortController()
    const running = workload.run({
      endpoints: cluster.endpoints,
      clients: options.clients,
      level: options.level,
      seed: options.seed,
      signal: clients.signal,
    })
    const faults = new AbortController()
    const nemeses = usable.map((name) => createNemesis(name, { cluster: cluster!, rng: rng.fork(name), log }))
    const cycling = cycle(nemeses, {
      rng,
      log,
      signal: faults.signal,
      ...(options.faultMs ? { faultMs: options.faultMs } : {}),
      ...(options.quietMs ? { quietMs: options.quietMs } : {}),
    })
    await sleep(options.seconds * 1000)
    faults.abort()
    await cycling
    await cluster.healAll()
    log.event('harness', 'healed; clients keep going for 3 s')
    await cluster.leader({ timeoutMs: 60_000 }).catch((e: unknown) => log.event('harness', String(e)))
    await sleep(3000)
    clients.abort()
    await running
    log.event('harness', 'clients stopped; final reads')
    await workload.final(cluster.endpoints)
    convergence = await cluster.converge(60_000)
    log.event('harness', `convergence: ${convergence.converged ? 'yes' : 'NO'}: ${convergence.detail}`)
    workloadReport = workload.check()
  } catch (caught) {
    error = caught instanceof Error ? (caught.stack ?? caught.message) : String(caught)
    log.event('harness', `run failed: ${error}`)
  } finally {
    if (workload) {
      try {
        history = workload.history()
      } catch {}
    }
    if (cluster) {
      await cluster.destroy({ keepDir: true })
      if (!options.keepData)
        for (const id of cluster.ids) await rm(join(dir, `node${id}`), { recursive: true, force: true })
    }
  }
  const { dir: _dir, ...rest } = options
  const report: RunReport = {
    ok: error === undefined && workloadReport?.ok === true && convergence?.converged === true,
    dir,
    options: rest,
    startedAt: new Date(started).toISOString(),
    seconds: Math.round((Date.now() - started) / 100) / 10,
    ops: countOps(history),
    faults: { ...log.faults },
    skippedNemeses,
    workload: workloadReport,
    convergence,
    error,
  }
  await writeFile(join(dir, 'history.json'), `${JSON.stringify(history, null, 1)}\n`)
  await writeFile(join(dir, 'nemesis.log'), `${nemesisLines.join('\n')}\n`)
  await writeFile(join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`)
  for (const line of summary(report)) print(line)
  return report
}

export function summary(report: RunReport): string[] {
  const faults = Object.entries(report.faults)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ')
  const anomalies = report.workload?.anomalies ?? []
  const lines = [
    `jepsen: ${report.ok ? 'PASS' : 'FAIL'} ${report.options.workload} at ${report.options.level} in ${report.seconds}s`,
    `  ops: ${report.ops.ok} ok, ${report.ops.fail} fail, ${report.ops.info} info`,
    `  faults: ${faults || 'none'}`,
    `  anomalies: ${anomalies.length}${anomalies.length > 0 ? '' : ''}`,
    ...anomalies.slice(0, 10).map((a) => `    - ${a}`),
    ...(anomalies.length > 10 ? [`    ... ${anomalies.length - 10} more in report.json`] : []),
    `  checker summary: ${JSON.stringify(report.workload?.summary ?? {})}`,
    `  converged: ${report.convergence?.converged ? 'yes' : 'no'} (${report.convergence?.detail ?? 'not checked'})`,
    ...(report.error ? [`  error: ${report.error.split('\n')[0]}`] : []),
    `  report: ${report.dir}`,
  ]
  return lines
}
