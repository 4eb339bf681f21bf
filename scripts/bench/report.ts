// The results: medians, the table (Markdown, printed and written into docs/benchmarks.md), the targets of
// issue 6, and a hand-written SVG chart of throughput and p99 against concurrency.
import { readFileSync, writeFileSync } from 'node:fs'
import type { CpuShare } from './cpu-share.js'
import type { WakeLimits, WakeResult } from './limits.js'
import type { Crash } from './procs.js'
import type { MachineInfo } from './setup.js'
import type { WrkResult } from './wrk.js'

export interface RunSet {
  readonly runs: readonly WrkResult[]
  /** Medians over the runs; undefined when any run had an error (a run with errors is no throughput). */
  readonly median: { opsPerSec: number; p50Ms: number; p99Ms: number; maxMs: number } | undefined
  readonly errorRuns: number
  readonly errorCount: number
  /** The machine's CPU while the measured runs ran (not the warm-up); absent without /proc. */
  readonly cpu?: CpuShare
}

export interface LoopSummary {
  readonly runs: readonly { opsPerSec: number; p50Ms: number; p99Ms: number; ops: number }[]
  readonly opsPerSec: number
  readonly p50Ms: number
  readonly p99Ms: number
}

export interface WorkloadResult {
  readonly byConcurrency?: Record<string, RunSet>
  readonly rowsPerRequest?: number
  readonly unsupported?: string
}

export interface SystemResults {
  workloads: Partial<Record<string, WorkloadResult>>
  rss: { idle: number[]; load: number[] }
  failoverMs: number[]
  restart?: {
    rows: number
    bytes: number
    targetBytes: number
    loadS: number
    settleS: number
    /** null: some node did not answer within budgetS. */
    seconds: number | null
    budgetS: number
    perNodeS: (number | null)[]
    rssHolding: number[]
    /**
     * The same restart again in 4 KiB pages (`GLIBC_TUNABLES=glibc.malloc.hugetlb=0`, which `bin/tqlited`
     * leaves as it is), to show what the launcher's default of transparent huge pages is worth.
     */
    smallPages?: { seconds: number | null; perNodeS: (number | null)[] }
  }
  /** The machine's wake-up costs just before this system's first point (see `wakeLoops`). */
  wake?: WakeLimits
  notes: string[]
}

export interface BenchResults {
  startedAt: string
  finishedAt: string
  seconds: number
  mode: 'quick' | 'full'
  settings: Record<string, unknown> & { concurrencies: number[]; runs: number }
  machine: MachineInfo
  limits: {
    fdatasync?: LoopSummary
    sqliteSingle?: LoopSummary
    sqliteTx1000?: LoopSummary
    sqliteVersion?: string | undefined
    /** The machine's wake-up costs at the start of the run. */
    wake?: WakeLimits
    http: Record<string, RunSet>
  }
  tqlite: SystemResults | undefined
  etcd: SystemResults | undefined
  crashes: Crash[]
  problems: string[]
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export function summarizeRuns(runs: readonly WrkResult[], _rowsPerRequest: number): RunSet {
  const errorRuns = runs.filter((r) => r.errorCount > 0).length
  const errorCount = runs.reduce((sum, r) => sum + r.errorCount, 0)
  return {
    runs,
    errorRuns,
    errorCount,
    median:
      errorRuns > 0 || runs.length === 0
        ? undefined
        : {
            opsPerSec: median(runs.map((r) => r.opsPerSec)),
            p50Ms: median(runs.map((r) => r.p50Ms)),
            p99Ms: median(runs.map((r) => r.p99Ms)),
            maxMs: Math.max(...runs.map((r) => r.maxMs)),
          },
  }
}

/** What went wrong in a set of runs, e.g. "12 non-2xx, 3 timeouts in 2/3 runs". */
export function describeErrors(set: RunSet): string {
  const totals = new Map<string, number>()
  const names: Record<string, string> = {
    connect: 'connect errors',
    read: 'read errors',
    write: 'write errors',
    timeout: 'timeouts (10 s)',
    non2xx: 'non-2xx',
    body: '2xx with "error"',
    noResponse: 'runs with no response at all',
  }
  for (const run of set.runs)
    for (const [kind, count] of Object.entries(run.errors))
      if (count > 0) totals.set(kind, (totals.get(kind) ?? 0) + count)
  const parts = [...totals].map(([kind, count]) => `${count} ${names[kind] ?? kind}`)
  const sample = set.runs.find((run) => run.errorSample)?.errorSample
  const first = sample ? `; first: \`${sample.replace(/[`|\n\r]/g, ' ').slice(0, 120)}\`` : ''
  return `${parts.join(', ')} in ${set.errorRuns}/${set.runs.length} runs${first}`
}

export function summarizeLoops(runs: LoopSummary['runs']): LoopSummary {
  return {
    runs,
    opsPerSec: median(runs.map((r) => r.opsPerSec)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
  }
}

// ---------------------------------------------------------------------------------------------------------
// Tables

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US')
const fmtMs = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2))
const fmtRatio = (a: number | undefined, b: number | undefined) =>
  a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}×` : '–'
const mb = (bytes: number) => `${Math.round(bytes / 2 ** 20)}`

interface Cell {
  ops?: number
  p50?: number
  p99?: number
  text?: string
}

/** One measured point as a cell: rows/s for bulk, or the error count when a run failed. */
function cell(system: SystemResults | undefined, key: string, c: number): Cell {
  if (!system) return { text: 'not run' }
  const workload = system.workloads[key]
  if (!workload) return { text: 'n/a' }
  if (workload.unsupported) return { text: 'unsupported' }
  const set = workload.byConcurrency?.[c]
  if (!set) return { text: 'not run' }
  if (!set.median) return { text: `**ERRORS**: ${describeErrors(set)}` }
  const rows = Math.max(1, workload.rowsPerRequest ?? 1)
  return { ops: set.median.opsPerSec * rows, p50: set.median.p50Ms, p99: set.median.p99Ms }
}

function httpLimit(results: BenchResults, c: number): Cell {
  const set = results.limits.http[c]
  if (!set?.median) return { text: set ? 'ERRORS' : 'not run' }
  return { ops: set.median.opsPerSec, p50: set.median.p50Ms, p99: set.median.p99Ms }
}

const rowsSpec: { label: string; tq: string; etcd: string; etcdLabel: string; limit: 'http' | 'tx1000' }[] = [
  { label: 'INSERT, 1 row per request', tq: 'insert', etcd: 'insert', etcdLabel: 'put', limit: 'http' },
  {
    label: 'SELECT by id, level none',
    tq: 'read-none',
    etcd: 'read-serializable',
    etcdLabel: 'range serializable',
    limit: 'http',
  },
  {
    label: 'SELECT by id, level weak',
    tq: 'read-weak',
    etcd: 'read-serializable',
    etcdLabel: 'range serializable',
    limit: 'http',
  },
  {
    label: 'SELECT by id, linearizable',
    tq: 'read-linearizable',
    etcd: 'read-linearizable',
    etcdLabel: 'range linearizable',
    limit: 'http',
  },
  {
    label: 'bulk INSERT, 1,000 rows per request (rows/s)',
    tq: 'bulk',
    etcd: 'bulk',
    etcdLabel: 'txn of 1,000 puts',
    limit: 'tx1000',
  },
  { label: 'queued INSERT (`?queue`)', tq: 'queue', etcd: '', etcdLabel: 'n/a', limit: 'http' },
]

function show(c: Cell): [string, string, string] {
  if (c.text !== undefined) return [c.text, '', '']
  return [fmtInt(c.ops!), fmtMs(c.p50!), fmtMs(c.p99!)]
}

export function renderMainTable(results: BenchResults): string {
  const lines = [
    '| workload | c | TQLite ops/s | p50 ms | p99 ms | etcd ops/s | p50 ms | p99 ms | TQLite/etcd | limit ops/s | TQLite/limit |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  const tx = results.limits.sqliteTx1000
  for (const spec of rowsSpec) {
    for (const c of results.settings.concurrencies) {
      const tq = cell(results.tqlite, spec.tq, c)
      const et: Cell = spec.etcd ? cell(results.etcd, spec.etcd, c) : { text: 'n/a' }
      const limit: Cell =
        spec.limit === 'http'
          ? httpLimit(results, c)
          : tx
            ? { ops: tx.opsPerSec * 1000 }
            : { text: 'not run' }
      const label = c === results.settings.concurrencies[0] ? `${spec.label} — etcd: ${spec.etcdLabel}` : ''
      lines.push(
        `| ${label} | ${c} | ${show(tq).join(' | ')} | ${show(et).join(' | ')} | ${fmtRatio(tq.ops, et.ops)} | ${
          limit.ops !== undefined ? fmtInt(limit.ops) : limit.text
        } | ${fmtRatio(tq.ops, limit.ops)} |`,
      )
    }
  }
  return lines.join('\n')
}

function failoverText(system: SystemResults | undefined): string {
  if (!system) return 'not run'
  if (system.failoverMs.length === 0) return 'no write accepted'
  return `${fmtInt(median(system.failoverMs))} ms (trials: ${system.failoverMs.map(fmtInt).join(', ')})`
}

function restartText(system: SystemResults | undefined): string {
  const r = system?.restart
  if (!r) return 'not run'
  const secs = (s: number | null) => (s === null ? `> ${r.budgetS}` : s.toFixed(2))
  const short =
    r.bytes < r.targetBytes * 0.95
      ? `, load stopped short of ${mb(r.targetBytes)} MiB at its time budget`
      : ''
  const small = r.smallPages
    ? `; again in 4 KiB pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=0): ${secs(r.smallPages.seconds)} s, per node ${r.smallPages.perNodeS.map(secs).join(' / ')} s`
    : ''
  return `${secs(r.seconds)} s for ${mb(r.bytes)} MiB (${fmtInt(r.rows)} rows${short}; per node ${r.perNodeS.map(secs).join(' / ')} s; loading took ${r.loadS.toFixed(1)} s${small})`
}

function rssText(values: readonly number[] | undefined): string {
  return values && values.length > 0 ? values.map(mb).join(' / ') : '–'
}

export function renderOtherTable(results: BenchResults): string {
  const { tqlite, etcd } = results
  const ratio = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}×` : '–'
  const tqFail = tqlite && tqlite.failoverMs.length > 0 ? median(tqlite.failoverMs) : undefined
  const etFail = etcd && etcd.failoverMs.length > 0 ? median(etcd.failoverMs) : undefined
  return [
    '| measure | TQLite | etcd | TQLite/etcd |',
    '| --- | --- | --- | ---: |',
    `| leader kill -9 → first accepted write (median) | ${failoverText(tqlite)} | ${failoverText(etcd)} | ${ratio(tqFail, etFail)} |`,
    `| restart of all 3 nodes → /readyz and a count answers | ${restartText(tqlite)} | ${restartText(etcd)} | ${ratio(tqlite?.restart?.seconds ?? undefined, etcd?.restart?.seconds ?? undefined)} |`,
    `| RSS per node, idle (MiB) | ${rssText(tqlite?.rss.idle)} | ${rssText(etcd?.rss.idle)} | |`,
    `| RSS per node, peak under the wrk workloads (MiB) | ${rssText(tqlite?.rss.load)} | ${rssText(etcd?.rss.load)} | |`,
    `| RSS per node, holding the restart data set (MiB) | ${rssText(tqlite?.restart?.rssHolding)} | ${rssText(etcd?.restart?.rssHolding)} | |`,
  ].join('\n')
}

export function renderLimitsTable(results: BenchResults): string {
  const { fdatasync, sqliteSingle, sqliteTx1000 } = results.limits
  const lines = ['| limit | ops/s | p50 ms | p99 ms |', '| --- | ---: | ---: | ---: |']
  if (fdatasync)
    lines.push(
      `| fdatasync of a 128-byte append (data file system) | ${fmtInt(fdatasync.opsPerSec)} | ${fmtMs(fdatasync.p50Ms)} | ${fmtMs(fdatasync.p99Ms)} |`,
    )
  if (sqliteSingle)
    lines.push(
      `| better-sqlite3 in process, INSERT (autocommit, in memory) | ${fmtInt(sqliteSingle.opsPerSec)} | ${fmtMs(sqliteSingle.p50Ms)} | ${fmtMs(sqliteSingle.p99Ms)} |`,
    )
  if (sqliteTx1000)
    lines.push(
      `| better-sqlite3 in process, 1,000-row transactions (rows/s; latency per transaction) | ${fmtInt(sqliteTx1000.opsPerSec * 1000)} | ${fmtMs(sqliteTx1000.p50Ms)} | ${fmtMs(sqliteTx1000.p99Ms)} |`,
    )
  for (const c of results.settings.concurrencies) {
    const [ops, p50, p99] = show(httpLimit(results, c))
    lines.push(`| bare node:http under wrk, c=${c} | ${ops} | ${p50} | ${p99} |`)
  }
  const moments: [string, WakeLimits | undefined][] = [
    ['at the start', results.limits.wake],
    ["before TQLite's workloads", results.tqlite?.wake],
    ["before etcd's workloads", results.etcd?.wake],
  ]
  const wakeRow = (what: string, when: string, r: WakeResult) =>
    `| ${what}, ${when}${r.cpuUsPerOp === undefined ? '' : ` (${r.cpuUsPerOp.toFixed(1)} µs of the sender's CPU each)`} | ${fmtInt(r.opsPerSec)} | ${fmtMs(r.p50Ms)} | ${fmtMs(r.p99Ms)} |`
  for (const [when, wake] of moments) {
    if (wake === undefined) continue
    lines.push(
      wakeRow("round trip through libuv's thread pool (128-byte write, no sync)", when, wake.threadPool),
    )
    lines.push(wakeRow('round trip to a worker thread (postMessage and answer)', when, wake.worker))
  }
  return lines.join('\n')
}

interface Target {
  readonly what: string
  readonly goal: string
  readonly measured: () => { value: number | undefined; text: string }
  readonly met: (value: number) => boolean
  /** False when the run measured something smaller than the target speaks of (quick mode). */
  readonly applies?: () => boolean
}

function targets(results: BenchResults): Target[] {
  const tq = results.tqlite
  const point = (key: string, c: number) => {
    const x = cell(tq, key, c)
    return x.ops === undefined
      ? { value: undefined, text: x.text ?? 'not run', p99: undefined }
      : { value: x.ops, text: `${fmtInt(x.ops)}/s (p99 ${fmtMs(x.p99!)} ms)`, p99: x.p99 }
  }
  const bestBulk = () => {
    const values = results.settings.concurrencies.map((c) => cell(tq, 'bulk', c).ops ?? 0)
    const best = Math.max(...values)
    const c = results.settings.concurrencies[values.indexOf(best)]
    return best > 0
      ? { value: best, text: `${fmtInt(best)} rows/s (best, at c=${c})` }
      : { value: undefined, text: 'no figure' }
  }
  const insert64 = point('insert', 64)
  return [
    {
      what: 'INSERT per request, c=1',
      goal: '≥ 600/s',
      measured: () => point('insert', 1),
      met: (v) => v >= 600,
    },
    {
      what: 'INSERT per request, c=16',
      goal: '≥ 4,000/s',
      measured: () => point('insert', 16),
      met: (v) => v >= 4000,
    },
    {
      what: 'INSERT per request, c=64',
      goal: '≥ 7,000/s with p99 ≤ 30 ms',
      measured: () => insert64,
      met: (v) => v >= 7000 && (insert64.p99 ?? Number.POSITIVE_INFINITY) <= 30,
    },
    {
      what: 'SELECT level none, c=64',
      goal: '≥ 22,000/s',
      measured: () => point('read-none', 64),
      met: (v) => v >= 22000,
    },
    {
      what: 'SELECT level weak, c=64',
      goal: '≥ 22,000/s',
      measured: () => point('read-weak', 64),
      met: (v) => v >= 22000,
    },
    {
      what: 'SELECT linearizable, c=64',
      goal: '≥ 12,000/s',
      measured: () => point('read-linearizable', 64),
      met: (v) => v >= 12000,
    },
    { what: 'bulk INSERT', goal: '≥ 150,000 rows/s', measured: bestBulk, met: (v) => v >= 150000 },
    {
      what: 'leader kill → accepted write (median)',
      goal: '≤ 1.5 s',
      measured: () =>
        tq && tq.failoverMs.length > 0
          ? { value: median(tq.failoverMs), text: `${fmtInt(median(tq.failoverMs))} ms` }
          : { value: undefined, text: 'no figure' },
      met: (v) => v <= 1500,
    },
    {
      what: 'restart with a 1 GB in-memory database',
      goal: '≤ 10 s',
      measured: () =>
        tq?.restart
          ? {
              value: tq.restart.seconds ?? Number.POSITIVE_INFINITY,
              text: `${tq.restart.seconds === null ? `> ${tq.restart.budgetS}` : tq.restart.seconds.toFixed(2)} s (${mb(tq.restart.bytes)} MiB${
                tq.restart.smallPages
                  ? `; ${tq.restart.smallPages.seconds === null ? `> ${tq.restart.budgetS}` : tq.restart.smallPages.seconds.toFixed(2)} s in 4 KiB pages`
                  : ''
              })`,
            }
          : { value: undefined, text: 'no figure' },
      met: (v) => v <= 10,
      applies: () => (tq?.restart?.bytes ?? 0) >= 1e9,
    },
  ]
}

export function renderTargetsTable(results: BenchResults): string {
  const lines = ['| target (issue 6) | goal | measured | met |', '| --- | --- | --- | --- |']
  for (const t of targets(results)) {
    const m = t.measured()
    const met =
      m.value === undefined ? '–' : t.applies?.() === false ? 'n/a (smaller)' : t.met(m.value) ? 'yes' : 'no'
    lines.push(`| ${t.what} | ${t.goal} | ${m.text} | ${met} |`)
  }
  return lines.join('\n')
}

export function renderTables(results: BenchResults): string {
  const m = results.machine
  const parts = [
    `Run ${results.startedAt} (${results.mode} mode, ${results.settings.runs} run(s) per point, medians), ` +
      `${results.seconds} s. Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}, ` +
      `${m.etcd}, ${m.wrk}, SQLite ${results.limits.sqliteVersion ?? '?'}, TQLite ${m.tqlite}; ` +
      `load average at start ${m.loadAverageAtStart.join(' ')}.`,
    '',
    renderMainTable(results),
    '',
    renderOtherTable(results),
    '',
    renderLimitsTable(results),
    '',
    renderTargetsTable(results),
  ]
  const notes = [
    ...(results.tqlite?.notes ?? []).map((n) => `TQLite: ${n}`),
    ...(results.etcd?.notes ?? []).map((n) => `etcd: ${n}`),
    ...results.crashes.map((c) => `process exited unexpectedly: ${c.name} (${c.how}) at ${c.at}`),
    ...results.problems,
  ]
  if (notes.length > 0) parts.push('', ...notes.map((n) => `- ${n}`))
  return parts.join('\n')
}

// ---------------------------------------------------------------------------------------------------------
// docs/benchmarks.md

export const docsBegin = '<!-- bench:results:begin (generated by `npm run bench -- --write-docs`) -->'
export const docsEnd = '<!-- bench:results:end -->'

export function replaceDocsSection(markdown: string, section: string): string {
  const begin = markdown.indexOf(docsBegin)
  const end = markdown.indexOf(docsEnd)
  if (begin < 0 || end < begin) throw new Error('docs/benchmarks.md has no bench:results markers')
  return `${markdown.slice(0, begin + docsBegin.length)}\n${section}\n${markdown.slice(end)}`
}

export function writeDocs(path: string, results: BenchResults): void {
  const section = [
    '',
    renderTables(results),
    '',
    '![Throughput and p99 against concurrency](benchmarks-chart.svg)',
    '',
  ].join('\n')
  writeFileSync(path, replaceDocsSection(readFileSync(path, 'utf8'), section))
}

// ---------------------------------------------------------------------------------------------------------
// SVG chart

interface Series {
  readonly label: string
  readonly color: string
  readonly dashed: boolean
  readonly points: readonly { c: number; ops: number | undefined; p99: number | undefined }[]
}

function series(results: BenchResults): { writes: Series[]; reads: Series[] } {
  const cs = results.settings.concurrencies
  const of = (system: SystemResults | undefined, key: string) =>
    cs.map((c) => {
      const x = cell(system, key, c)
      return { c, ops: x.ops, p99: x.p99 }
    })
  const keep = (list: Series[]) => list.filter((s) => s.points.some((p) => p.ops !== undefined))
  return {
    writes: keep([
      { label: 'TQLite INSERT', color: '#1f77b4', dashed: false, points: of(results.tqlite, 'insert') },
      { label: 'TQLite queued INSERT', color: '#9467bd', dashed: false, points: of(results.tqlite, 'queue') },
      { label: 'etcd put', color: '#1f77b4', dashed: true, points: of(results.etcd, 'insert') },
    ]),
    reads: keep([
      {
        label: 'TQLite SELECT none',
        color: '#2ca02c',
        dashed: false,
        points: of(results.tqlite, 'read-none'),
      },
      {
        label: 'TQLite SELECT weak',
        color: '#17becf',
        dashed: false,
        points: of(results.tqlite, 'read-weak'),
      },
      {
        label: 'TQLite SELECT linearizable',
        color: '#d62728',
        dashed: false,
        points: of(results.tqlite, 'read-linearizable'),
      },
      {
        label: 'etcd range serializable',
        color: '#2ca02c',
        dashed: true,
        points: of(results.etcd, 'read-serializable'),
      },
      {
        label: 'etcd range linearizable',
        color: '#d62728',
        dashed: true,
        points: of(results.etcd, 'read-linearizable'),
      },
    ]),
  }
}

function niceMax(value: number): number {
  if (!(value > 0)) return 1
  const exp = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * exp) return step * exp
  return 10 * exp
}

const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** One panel: a line per series of `value` against concurrency (evenly spaced categories). */
function panel(
  out: string[],
  box: { x: number; y: number; w: number; h: number },
  title: string,
  cs: readonly number[],
  list: readonly Series[],
  value: (p: Series['points'][number]) => number | undefined,
): void {
  const values = list.flatMap((s) => s.points.map(value)).filter((v): v is number => v !== undefined)
  const yMax = niceMax(Math.max(0, ...values))
  const xAt = (i: number) => box.x + (cs.length === 1 ? box.w / 2 : (i * box.w) / (cs.length - 1))
  const yAt = (v: number) => box.y + box.h - (v / yMax) * box.h
  out.push(
    `<text x="${box.x + box.w / 2}" y="${box.y - 10}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
  )
  for (let k = 0; k <= 5; k++) {
    const v = (yMax * k) / 5
    const y = yAt(v).toFixed(1)
    const label = v >= 1000 ? `${+(v / 1000).toFixed(2)}k` : `${+v.toFixed(2)}`
    out.push(`<line x1="${box.x}" y1="${y}" x2="${box.x + box.w}" y2="${y}" stroke="#ddd"/>`)
    out.push(`<text x="${box.x - 6}" y="${+y + 4}" text-anchor="end">${label}</text>`)
  }
  cs.forEach((c, i) => {
    out.push(`<line x1="${xAt(i)}" y1="${box.y}" x2="${xAt(i)}" y2="${box.y + box.h}" stroke="#eee"/>`)
    out.push(`<text x="${xAt(i)}" y="${box.y + box.h + 16}" text-anchor="middle">${c}</text>`)
  })
  out.push(
    `<text x="${box.x + box.w / 2}" y="${box.y + box.h + 32}" text-anchor="middle">concurrent connections</text>`,
  )
  out.push(`<rect x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" fill="none" stroke="#333"/>`)
  for (const s of list) {
    const pts = s.points
      .map((p, i) => ({ i, v: value(p) }))
      .filter((p): p is { i: number; v: number } => p.v !== undefined)
    if (pts.length === 0) continue
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : ''
    const coords = pts.map((p) => `${xAt(p.i).toFixed(1)},${yAt(p.v).toFixed(1)}`).join(' ')
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${coords}"/>`)
    for (const p of pts)
      out.push(
        `<circle cx="${xAt(p.i).toFixed(1)}" cy="${yAt(p.v).toFixed(1)}" r="3" fill="${s.dashed ? 'white' : s.color}" stroke="${s.color}"><title>${esc(s.label)} c=${cs[p.i]}: ${p.v.toFixed(1)}</title></circle>`,
      )
  }
}

function legend(out: string[], x: number, y: number, list: readonly Series[]): void {
  list.forEach((s, i) => {
    const ly = y + i * 22
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : ''
    out.push(
      `<line x1="${x}" y1="${ly}" x2="${x + 30}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`,
    )
    out.push(`<text x="${x + 38}" y="${ly + 4}">${esc(s.label)}</text>`)
  })
}

/** Two rows (single-row writes, point reads), each with throughput and p99 against concurrency. */
export function renderSvg(results: BenchResults): string {
  const { writes, reads } = series(results)
  const cs = results.settings.concurrencies
  const width = 1040
  const rowH = 340
  const top = 64
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${top + 2 * rowH}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">3-node clusters on loopback, wrk, medians (${esc(results.mode)} run ${esc(results.startedAt.slice(0, 16))}Z, ${results.machine.cores} cores)</text>`,
  ]
  const rows: [string, Series[]][] = [
    ['Single-row writes', writes],
    ['Point reads', reads],
  ]
  rows.forEach(([name, list], r) => {
    const y = top + 10 + r * rowH
    panel(out, { x: 70, y, w: 330, h: 250 }, `${name}: requests/s`, cs, list, (p) => p.ops)
    panel(out, { x: 480, y, w: 330, h: 250 }, `${name}: p99 latency (ms)`, cs, list, (p) => p.p99)
    legend(out, 840, y + 20, list)
  })
  out.push('</svg>')
  return `${out.join('\n')}\n`
}
