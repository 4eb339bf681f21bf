// `npm run bench [-- --quick] [-- --write-docs]`: a side-by-side benchmark of a 3-node TQLite cluster, a
// 3-node etcd cluster and the raw limits of this machine, all on loopback, driven by wrk (issue 6).
// It starts every process itself and stops all of them at the end, also on an error or Ctrl-C.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bareHttpScript, fdatasyncLoop, sqliteLoops, type WakeLimits, wakeLoops } from './limits.js'
import {
  crashes,
  freePort,
  installCleanupHandlers,
  killEverything,
  registerTempDir,
  removeTempDirs,
  sleep,
  startProcess,
  stopProcess,
  waitFor,
} from './procs.js'
import {
  type BenchResults,
  type LoopSummary,
  type RunSet,
  type SystemResults,
  describeErrors,
  renderSvg,
  renderTables,
  summarizeLoops,
  summarizeRuns,
  writeDocs,
} from './report.js'
import { ensureBuilt, ensureTools, machineInfo } from './setup.js'
import { type SystemUnderTest, EtcdCluster, type TqliteCluster as TqType, TqliteCluster } from './systems.js'
import { type WrkResult, runWrk, writeRequestsFile } from './wrk.js'
import { cpuShare, readCpuTimes } from './cpu-share.js'

const root = new URL('../../', import.meta.url).pathname.replace(/\/$/, '')

interface Options {
  quick: boolean
  writeDocs: boolean
  build: boolean
  etcd: boolean
  tqlite: boolean
  keep: boolean
  /** Re-render this saved run instead of running. */
  report: string | undefined
  runs: number
  durationS: number
  warmupS: number
  /** Seconds of INSERTs at c=16 after the prefill, before a system's first point (see `--settle`). */
  settleS: number
  concurrencies: number[]
  failoverTrials: number
  restartBytes: number
  etcdRestartBytes: number
  /** The whole run should end within this many seconds; the TQLite restart test gets what is left. */
  deadlineS: number
  threads: number
  /** Run only these parts (`--only`); undefined runs everything. */
  only: ReadonlySet<BenchPart> | undefined
}

const benchParts = ['limits', 'workloads', 'failover', 'restart'] as const
type BenchPart = (typeof benchParts)[number]

function parseArgs(argv: readonly string[]): Options {
  const quick = argv.includes('--quick')
  const options: Options = {
    quick,
    writeDocs: argv.includes('--write-docs'),
    build: !argv.includes('--no-build'),
    etcd: !argv.includes('--no-etcd'),
    tqlite: !argv.includes('--no-tqlite'),
    keep: argv.includes('--keep'),
    report: undefined,
    runs: quick ? 1 : 3,
    durationS: quick ? 1 : 3,
    warmupS: quick ? 0 : 1,
    settleS: quick ? 0 : 10,
    concurrencies: [1, 16, 64],
    failoverTrials: quick ? 2 : 5,
    // 1 GB of rows (a 1.02 GB database file): an in-memory database holds at most 1 GiB (docs/api.md).
    restartBytes: quick ? 20e6 : 1e9,
    // Loading etcd through its gateway runs at a few MB/s here: a smaller data set keeps the run short.
    etcdRestartBytes: quick ? 20e6 : 128 * 1024 ** 2,
    deadlineS: quick ? 110 : 13.5 * 60,
    threads: 1,
    only: undefined,
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const value = () => {
      const v = Number(argv[++i])
      if (!Number.isFinite(v) || v < 0) throw new Error(`${arg} needs a number`)
      return v
    }
    if (arg === '--report') {
      options.report = argv[++i]
      if (!options.report) throw new Error('--report needs a JSON file from bench-results/')
    } else if (arg === '--runs') options.runs = Math.max(1, Math.round(value()))
    else if (arg === '--duration') options.durationS = Math.max(1, Math.round(value()))
    else if (arg === '--warmup') options.warmupS = Math.round(value())
    else if (arg === '--settle') options.settleS = Math.round(value())
    else if (arg === '--trials') options.failoverTrials = Math.max(1, Math.round(value()))
    else if (arg === '--restart-mb') options.restartBytes = value() * 1e6
    else if (arg === '--etcd-restart-mb') options.etcdRestartBytes = value() * 1e6
    else if (arg === '--threads') options.threads = Math.max(1, Math.round(value()))
    else if (arg === '--only') {
      const parts = (argv[++i] ?? '').split(',')
      for (const part of parts)
        if (!(benchParts as readonly string[]).includes(part))
          throw new Error(`--only takes a comma-separated list of ${benchParts.join(', ')}`)
      options.only = new Set(parts as BenchPart[])
    } else if (arg === '-h' || arg === '--help') {
      console.log(`Usage: npm run bench -- [options]
  --quick            one short run per point, small restart database (< 2 minutes)
  --write-docs       rewrite the results section of docs/benchmarks.md and docs/benchmarks-chart.svg
  --no-build         use dist/ as it is
  --no-etcd          skip the etcd cluster
  --no-tqlite        skip the TQLite cluster
  --keep             keep the work folder (data directories and node logs) instead of removing it
  --report FILE      run nothing: print the tables of a saved run (bench-results/*.json); with --write-docs,
                     put it into docs/benchmarks.md and docs/benchmarks-chart.svg
  --runs N           runs per point (median reported; default 3, quick 1)
  --duration S       seconds per wrk run (default 3, quick 1)
  --warmup S         seconds of unreported warm-up per point (default 1, quick 0)
  --settle S         seconds of unreported INSERTs at c=16 before a system's first point (default 10, quick 0):
                     a fresh TQLite node reaches its steady rate only after about 10 s (V8 compiling its paths)
  --trials N         leader-kill trials (default 5, quick 2)
  --restart-mb N     size of the TQLite restart database in MB (default 1000, quick 20)
  --etcd-restart-mb N  the same for etcd (default 128 MiB, quick 20)
  --threads N        wrk threads (default 1: the cores are left to the servers)
  --only PARTS       run only some of limits,workloads,failover,restart (to iterate on one; a partial run
                     is never written into docs/benchmarks.md)`)
      process.exit(0)
    } else if (!['--quick', '--write-docs', '--no-build', '--no-etcd', '--no-tqlite', '--keep'].includes(arg))
      throw new Error(`unknown option ${arg} (see --help)`)
  }
  if (options.only && options.writeDocs) throw new Error('--only makes a partial run: it cannot --write-docs')
  return options
}

function runs(options: Options, part: BenchPart): boolean {
  return options.only === undefined || options.only.has(part)
}

const started = Date.now()
let workDir: string | undefined

/** Copies every node log of the work folder to bench-results/, so a failure can be looked into. */
function saveLogs(): void {
  if (!workDir) return
  const target = join(root, 'bench-results', `logs-${new Date(started).toISOString().replace(/[:.]/g, '-')}`)
  // The node logs sit one level down (tqlite/node1.log, etcd/etcd1.log); the data directories are skipped.
  const copy = (from: string, to: string, depth: number) => {
    for (const entry of readdirSync(from, { withFileTypes: true })) {
      if (entry.isDirectory() && depth === 0) copy(join(from, entry.name), join(to, entry.name), 1)
      else if (entry.isFile() && entry.name.endsWith('.log')) {
        mkdirSync(to, { recursive: true })
        cpSync(join(from, entry.name), join(to, entry.name))
      }
    }
  }
  try {
    copy(workDir, target, 0)
    console.error(`bench: node logs copied to ${target}`)
  } catch (error) {
    console.error(`bench: could not copy the node logs: ${String(error)}`)
  }
}
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s`
const log = (message: string) => console.log(`[${elapsed()}] ${message}`)

/** Samples the RSS of every node while `during` runs; returns the maximum per node. */
async function sampleRss<T>(sut: SystemUnderTest, peak: number[], during: () => Promise<T>): Promise<T> {
  const sample = () => {
    sut.rss().forEach((bytes, i) => {
      peak[i] = Math.max(peak[i] ?? 0, bytes)
    })
  }
  const timer = setInterval(sample, 200)
  try {
    return await during()
  } finally {
    clearInterval(timer)
    sample()
  }
}

async function measurePoint(
  options: Options,
  url: string,
  requestsFile: string,
  connections: number,
  label: string,
  rowsPerRequest: number,
): Promise<RunSet> {
  if (options.warmupS > 0)
    await runWrk({
      baseUrl: url,
      requestsFile,
      connections,
      durationS: options.warmupS,
      threads: options.threads,
    })
  const runs: WrkResult[] = []
  const cpuBefore = readCpuTimes()
  // A bulk request takes long at c=64 (64,000 rows in flight): a run must outlast a few of them.
  const durationS =
    rowsPerRequest > 1
      ? Math.max(connections >= 64 ? (options.quick ? 2 : 6) : options.quick ? 1 : 3, options.durationS)
      : options.durationS
  for (let i = 0; i < options.runs; i++)
    runs.push(
      await runWrk({
        baseUrl: url,
        requestsFile,
        connections,
        durationS,
        threads: options.threads,
      }),
    )
  const cpu = cpuShare(cpuBefore, readCpuTimes())
  const set = { ...summarizeRuns(runs, rowsPerRequest), ...(cpu === undefined ? {} : { cpu }) }
  const machine =
    cpu === undefined ? '' : `  (cores busy ${cpu.busyPct.toFixed(0)}%, steal ${cpu.stealPct.toFixed(1)}%)`
  const shown =
    set.median === undefined
      ? `ERRORS: ${describeErrors(set)}`
      : `${Math.round(set.median.opsPerSec * Math.max(1, rowsPerRequest))} ${rowsPerRequest > 1 ? 'rows' : 'ops'}/s  p50 ${set.median.p50Ms.toFixed(2)} ms  p99 ${set.median.p99Ms.toFixed(2)} ms`
  log(`  ${label.padEnd(28)} c=${String(connections).padEnd(3)} ${shown}${machine}`)
  return set
}

/** The machine's wake-up costs now (see `wakeLoops`), logged as they are measured. */
async function measureWake(dir: string, options: Options): Promise<WakeLimits> {
  const wake = await wakeLoops(dir, Math.min(1, options.durationS / 2))
  const cpu = (us: number | undefined) => (us === undefined ? '' : `, ${us.toFixed(1)} µs CPU`)
  log(
    `  wake-ups: thread pool round trip p50 ${(wake.threadPool.p50Ms * 1000).toFixed(0)} µs${cpu(wake.threadPool.cpuUsPerOp)}; ` +
      `worker round trip p50 ${(wake.worker.p50Ms * 1000).toFixed(0)} µs${cpu(wake.worker.cpuUsPerOp)}`,
  )
  return wake
}

async function failover(sut: SystemUnderTest, trials: number): Promise<number[]> {
  const times: number[] = []
  for (let trial = 0; trial < trials; trial++) {
    await sut.waitHealthy(60_000)
    await sleep(500)
    const leader = await sut.leader()
    const survivors = sut.nodes.filter((n) => n !== leader)
    const controller = new AbortController()
    const t0 = performance.now()
    const killed = sut.kill(leader)
    let inFlight = 0
    const accepted = await new Promise<number | undefined>((resolve) => {
      const deadline = setTimeout(() => resolve(undefined), 30_000)
      const tick = setInterval(() => {
        for (const node of survivors) {
          // Attempts that hang (a follower waiting for a leader) must not hold back new ones.
          if (inFlight >= 512) return
          inFlight++
          sut
            .tryWrite(node, AbortSignal.any([controller.signal, AbortSignal.timeout(2000)]))
            .then(
              (ok) => {
                if (ok) {
                  clearTimeout(deadline)
                  resolve(performance.now() - t0)
                }
              },
              () => {},
            )
            .finally(() => {
              inFlight--
            })
        }
      }, 10)
      controller.signal.addEventListener('abort', () => clearInterval(tick))
    })
    controller.abort()
    await killed
    if (accepted === undefined) log(`  trial ${trial + 1}: no write accepted within 30 s`)
    else {
      times.push(accepted)
      log(
        `  trial ${trial + 1}: killed node ${leader.id} (leader), first write accepted after ${accepted.toFixed(0)} ms`,
      )
    }
    await sut.restart(leader)
  }
  await sut.waitHealthy(60_000)
  return times
}

/** Adds the distinct problems (numbers aside) to `notes`, each once with how often it happened. */
function noteProblems(notes: string[], problems: readonly string[]): void {
  const seen = new Map<string, { first: string; count: number }>()
  for (const problem of problems) {
    const key = problem.replace(/\d+/g, 'N')
    const entry = seen.get(key)
    if (entry) entry.count++
    else seen.set(key, { first: problem, count: 1 })
  }
  for (const { first, count } of seen.values()) {
    notes.push(count > 1 ? `${first} (${count} times)` : first)
    log(`  problem: ${first}${count > 1 ? ` (${count} times)` : ''}`)
  }
}

async function restartTest(
  sut: SystemUnderTest,
  bytes: number,
  budget: { loadS: number; settleS: number; restartS: number },
): Promise<NonNullable<SystemResults['restart']>> {
  const loadStarted = performance.now()
  const load = await sut.loadBig(bytes, Date.now() + budget.loadS * 1000)
  const loadS = (performance.now() - loadStarted) / 1000
  const short = load.bytes < bytes * 0.95
  log(
    `  loaded ${load.rows} rows, ${(load.bytes / 1e6).toFixed(0)} MB in ${loadS.toFixed(1)} s` +
      (short
        ? ` (stopped at the ${budget.loadS} s load budget, short of ${(bytes / 1e6).toFixed(0)} MB)`
        : ''),
  )
  const settleStarted = performance.now()
  let inSnapshot = true
  await sut.settleBig(load, budget.settleS * 1000).catch((error: unknown) => {
    inSnapshot = false
    sut.problems.push(`restart test: ${String(error)}; the restart then replays the log instead`)
  })
  const settleS = (performance.now() - settleStarted) / 1000
  if (settleS > 1)
    log(`  data ${inSnapshot ? '' : 'NOT '}in a snapshot on every node after ${settleS.toFixed(1)} s`)
  const rssHolding = sut.rss()
  const secs = (s: number | null) => (s === null ? `> ${budget.restartS}` : s.toFixed(2))
  const timeRestart = async (): Promise<{ seconds: number | null; perNodeS: (number | null)[] }> => {
    await sut.stopAll()
    const t0 = performance.now()
    for (const node of sut.nodes) await sut.restart(node)
    const perNodeS = await Promise.all(
      sut.nodes.map(async (node) => {
        const ok = await waitFor(
          async () => ((await sut.countBig(node, load)) ? true : undefined),
          budget.restartS * 1000,
          'the restart',
          50,
        ).catch(() => false)
        return ok ? (performance.now() - t0) / 1000 : null
      }),
    )
    return { seconds: perNodeS.includes(null) ? null : Math.max(...(perNodeS as number[])), perNodeS }
  }
  const { seconds, perNodeS: perNode } = await timeRestart()
  log(`  restart of all 3 nodes: ${perNode.map(secs).join(' / ')} s (all answer after ${secs(seconds)} s)`)
  // bin/tqlited starts nodes with glibc's hugetlb tunable (src/storage/DESIGN.md); the same restart in
  // 4 KiB pages, on the same data, shows what that default is worth. The target counts the default.
  let smallPages: { seconds: number | null; perNodeS: (number | null)[] } | undefined
  if (sut instanceof TqliteCluster && seconds !== null) {
    sut.env = { ...process.env, GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' }
    smallPages = await timeRestart()
    sut.env = undefined
    log(
      `  again in 4 KiB pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=0): ${smallPages.perNodeS.map(secs).join(' / ')} s (all answer after ${secs(smallPages.seconds)} s)`,
    )
  }
  return {
    ...(smallPages ? { smallPages } : {}),
    rows: load.rows,
    bytes: load.bytes,
    targetBytes: bytes,
    loadS,
    settleS,
    seconds,
    budgetS: budget.restartS,
    perNodeS: perNode,
    rssHolding,
  }
}

async function benchSystem(
  sut: SystemUnderTest,
  options: Options,
  dir: string,
  prefillRows: number,
): Promise<SystemResults> {
  const results: SystemResults = {
    workloads: {},
    rss: { idle: [], load: [] },
    failoverMs: [],
    notes: [],
  }
  log(`${sut.system}: starting a 3-node cluster`)
  const startT = performance.now()
  await sut.start()
  log(`${sut.system}: healthy after ${((performance.now() - startT) / 1000).toFixed(1)} s`)
  await sleep(1000)
  results.rss.idle = sut.rss()
  await sut.prefill(prefillRows)
  const leader = await sut.leader()
  log(`${sut.system}: prefilled ${prefillRows} rows; leader is node ${leader.id}; wrk targets the leader`)
  let queueNote: string | undefined
  if (sut instanceof TqliteCluster) {
    queueNote = await (sut as TqType).queueUnsupported()
    if (queueNote) {
      log(`${sut.system}: queued writes unsupported: ${queueNote}`)
      results.notes.push(`queued writes: unsupported (${queueNote})`)
    }
  }
  const workloads = runs(options, 'workloads') ? sut.workloads(prefillRows) : []
  const first = workloads[0]
  if (first !== undefined && options.settleS > 0) {
    // The same for every system: unreported load until a freshly started process runs at its steady rate
    // (docs/benchmarks.md, "Method").
    log(`${sut.system}: settling with ${options.settleS} s of ${first.key} at c=16 (not reported)`)
    await runWrk({
      baseUrl: leader.url,
      requestsFile: writeRequestsFile(dir, `${sut.system}-settle`, first.requests),
      connections: 16,
      durationS: options.settleS,
      threads: options.threads,
    })
  }
  if (first !== undefined) results.wake = await measureWake(dir, options)
  const peak: number[] = []
  for (const workload of workloads) {
    if (workload.key === 'queue' && queueNote) {
      results.workloads.queue = { unsupported: queueNote }
      continue
    }
    const file = writeRequestsFile(dir, `${sut.system}-${workload.key}`, workload.requests)
    const byC: Record<string, RunSet> = {}
    for (const c of options.concurrencies) {
      const target = await sut.leader()
      byC[c] = await sampleRss(sut, peak, () =>
        measurePoint(options, target.url, file, c, `${sut.system} ${workload.key}`, workload.rowsPerRequest),
      )
    }
    results.workloads[workload.key] = { byConcurrency: byC, rowsPerRequest: workload.rowsPerRequest }
  }
  results.rss.load = peak
  if (runs(options, 'failover')) {
    log(`${sut.system}: leader kill -9 → first accepted write, ${options.failoverTrials} trials`)
    results.failoverMs = await failover(sut, options.failoverTrials)
  }
  await sut.stopAll()
  noteProblems(results.notes, sut.problems)
  return results
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2))
  if (options.report) {
    const saved = JSON.parse(readFileSync(options.report, 'utf8')) as BenchResults
    render(saved, options)
    return
  }
  installCleanupHandlers()
  console.log(
    `bench: ${options.quick ? 'quick' : 'full'} mode: ${options.runs} run(s) of ${options.durationS} s per point` +
      ` (+${options.warmupS} s warm-up; ${options.settleS} s of settling load per system first), concurrency ${options.concurrencies.join('/')}, wrk -t${options.threads}`,
  )
  ensureTools()
  ensureBuilt(root, options.build)
  const dir = mkdtempSync(join(tmpdir(), 'tqlite-bench-'))
  workDir = dir
  if (options.keep) console.log(`bench: work folder ${dir} (kept)`)
  else registerTempDir(dir)
  const machine = machineInfo(root)
  log(`machine: ${machine.cpu}, ${machine.cores} cores, load average ${machine.loadAverageAtStart.join(' ')}`)
  const prefillRows = 10_000
  const results: BenchResults = {
    startedAt: new Date(started).toISOString(),
    finishedAt: '',
    seconds: 0,
    mode: options.quick ? 'quick' : 'full',
    settings: {
      runs: options.runs,
      durationS: options.durationS,
      warmupS: options.warmupS,
      settleS: options.settleS,
      concurrencies: options.concurrencies,
      wrkThreads: options.threads,
      failoverTrials: options.failoverTrials,
      prefillRows,
      valueBytes: 100,
    },
    machine,
    limits: { http: {} },
    tqlite: undefined,
    etcd: undefined,
    crashes,
    problems: [],
  }

  if (runs(options, 'limits')) {
    // 1. The raw limits.
    log('limits: fdatasync loop, better-sqlite3 in process, wake-ups, bare node:http under wrk')
    const loops = (f: () => LoopSummary['runs'][number]) =>
      summarizeLoops(Array.from({ length: options.runs }, f))
    results.limits.fdatasync = loops(() => fdatasyncLoop(dir, options.durationS / 2))
    const sqliteRuns = Array.from({ length: options.runs }, () => sqliteLoops(options.durationS / 2))
    results.limits.sqliteSingle = summarizeLoops(sqliteRuns.map((r) => r.single))
    results.limits.sqliteTx1000 = summarizeLoops(sqliteRuns.map((r) => r.tx1000))
    results.limits.sqliteVersion = sqliteRuns[0]?.version
    results.limits.wake = await measureWake(dir, options)
    log(
      `  fdatasync ${Math.round(results.limits.fdatasync.opsPerSec)}/s (p50 ${results.limits.fdatasync.p50Ms.toFixed(3)} ms); ` +
        `better-sqlite3 ${Math.round(results.limits.sqliteSingle.opsPerSec)} INSERT/s, ` +
        `${Math.round(results.limits.sqliteTx1000.opsPerSec * 1000)} rows/s in 1,000-row transactions`,
    )
    const httpPort = await freePort()
    const bare = startProcess('bare node:http', process.execPath, [bareHttpScript, String(httpPort)])
    await waitFor(
      async () =>
        (await fetch(`http://127.0.0.1:${httpPort}/`).catch(() => undefined))?.ok ? true : undefined,
      10_000,
      'the bare node:http server',
    )
    const insertLike = writeRequestsFile(dir, 'bare-http', [
      {
        method: 'POST',
        path: '/db/execute',
        body: JSON.stringify([['INSERT INTO bench(v) VALUES(?)', 'x'.repeat(100)]]),
      },
    ])
    for (const c of options.concurrencies)
      results.limits.http[c] = await measurePoint(
        options,
        `http://127.0.0.1:${httpPort}`,
        insertLike,
        c,
        'node:http',
        1,
      )
    await stopProcess(bare)
  }

  // 2. TQLite, then 3. etcd: the workloads, leader kills and RSS.
  if (options.tqlite) {
    const tqDir = join(dir, 'tqlite')
    mkdirSync(tqDir)
    results.tqlite = await benchSystem(new TqliteCluster(root, tqDir), options, dir, prefillRows)
  }
  if (options.etcd) {
    const etcd = new EtcdCluster(join(dir, 'etcd'))
    results.etcd = await benchSystem(etcd, options, dir, prefillRows)
    results.etcd.notes.push(`HTTP/JSON gateway at ${etcd.gateway}/`)
    if (runs(options, 'restart')) {
      log(`etcd: restart test (${(options.etcdRestartBytes / 1e6).toFixed(0)} MB)`)
      const etcdRestart = new EtcdCluster(join(dir, 'etcd-restart'))
      await etcdRestart.start()
      results.etcd.restart = await restartTest(etcdRestart, options.etcdRestartBytes, {
        loadS: options.quick ? 20 : 60,
        settleS: 10,
        restartS: 60,
      })
      noteProblems(results.etcd.notes, etcdRestart.problems)
      await etcdRestart.stopAll()
    }
  }

  // 4. The TQLite restart test last: it gets what is left of the time budget, so the whole run stays under
  // 15 minutes (quick: 2) however slow loading, snapshotting or restarting a large database is.
  if (results.tqlite && runs(options, 'restart')) {
    const left = Math.max(60, (options.deadlineS * 1000 - (Date.now() - started)) / 1000)
    const budget = {
      loadS: Math.round(Math.min(180, left * 0.3)),
      settleS: Math.round(left * 0.3),
      restartS: Math.round(left * 0.4),
    }
    log(
      `tqlite: restart test (${(options.restartBytes / 1e6).toFixed(0)} MB in memory, held in one snapshot;` +
        ` ${left.toFixed(0)} s left for it)`,
    )
    const tqRestartDir = join(dir, 'tqlite-restart')
    mkdirSync(tqRestartDir)
    const tqRestart = new TqliteCluster(root, tqRestartDir, ['-raft-snap', '64', '-raft-snap-int', '1h'])
    await tqRestart.start()
    results.tqlite.restart = await restartTest(tqRestart, options.restartBytes, budget)
    noteProblems(results.tqlite.notes, tqRestart.problems)
    await tqRestart.stopAll()
  }

  results.finishedAt = new Date().toISOString()
  results.seconds = Math.round((Date.now() - started) / 1000)
  finish(results, options)
}

function finish(results: BenchResults, options: Options): void {
  const outDir = join(root, 'bench-results')
  mkdirSync(outDir, { recursive: true })
  // The folder ignores itself, so results never end up in a commit by accident.
  writeFileSync(join(outDir, '.gitignore'), '*\n')
  const stamp = results.startedAt.replace(/[:.]/g, '-')
  const jsonFile = join(outDir, `${stamp}.json`)
  writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`)
  writeFileSync(join(outDir, `${stamp}.svg`), renderSvg(results))
  render(results, options)
  console.log(`bench: results in ${jsonFile} (and .svg); ${results.seconds} s in all`)
  if (crashes.length > 0) {
    console.log(`bench: ${crashes.length} process(es) exited unexpectedly:`)
    for (const crash of crashes) console.log(`--- ${crash.name}: ${crash.how} at ${crash.at}\n${crash.tail}`)
  }
}

/** Prints the tables; with --write-docs, writes them and the chart into docs/. */
function render(results: BenchResults, options: Options): void {
  console.log(`\n${renderTables(results)}`)
  if (options.writeDocs) {
    const svg = renderSvg(results)
    writeFileSync(join(root, 'docs/benchmarks-chart.svg'), svg)
    writeDocs(join(root, 'docs/benchmarks.md'), results)
    console.log('bench: rewrote the results section of docs/benchmarks.md and docs/benchmarks-chart.svg')
  }
}

main()
  .then(() => {
    killEverything()
    if (crashes.length > 0) saveLogs()
    removeTempDirs()
    process.exit(crashes.length > 0 ? 1 : 0)
  })
  .catch((error: unknown) => {
    console.error(
      `\nbench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    )
    killEverything()
    saveLogs()
    removeTempDirs()
    process.exit(1)
  })
