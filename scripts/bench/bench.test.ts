// Tests of the bench's parsing and reporting (no speed is asserted). Not part of `npm test`, which runs
// test/ only: run with `node --import tsx --test scripts/bench/bench.test.ts`.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  type BenchResults,
  describeErrors,
  docsBegin,
  docsEnd,
  median,
  renderLimitsTable,
  replaceDocsSection,
  summarizeRuns,
} from './report.js'
import { cpuShare, parseCpuTimes } from './cpu-share.js'
import { ephemeralPorts, freePort } from './procs.js'
import { parseWrkOutput } from './wrk.js'

const line = (fields: Record<string, number>) =>
  `Running 3s test @ http://127.0.0.1:1\n  1 threads and 16 connections\nWRK_RESULT ${JSON.stringify({
    requests: 3000,
    duration_us: 3_000_000,
    bytes: 1,
    p50_us: 1500,
    p90_us: 4000,
    p99_us: 12_000,
    max_us: 30_000,
    mean_us: 2000.5,
    connect_errors: 0,
    read_errors: 0,
    write_errors: 0,
    status_errors: 0,
    timeouts: 0,
    non2xx: 0,
    body_errors: 0,
    ...fields,
  })}\nRequests/sec: 1000.00\n`

test('a clean wrk run gives requests/s and latencies in ms', () => {
  const r = parseWrkOutput(line({}))
  assert.equal(r.opsPerSec, 1000)
  assert.equal(r.p50Ms, 1.5)
  assert.equal(r.p99Ms, 12)
  assert.equal(r.errorCount, 0)
})

test('errors of every kind are counted, and a run with errors has no throughput', () => {
  const r = parseWrkOutput(line({ non2xx: 5, body_errors: 2, timeouts: 1, read_errors: 3 }))
  assert.equal(r.errorCount, 11)
  assert.equal(r.opsPerSec, 0)
  // wrk's own status count (>= 400) is covered by the script's non-2xx count.
  assert.equal(parseWrkOutput(line({ status_errors: 4, non2xx: 4 })).errorCount, 4)
})

test('a run in which no response came back is an error', () => {
  const r = parseWrkOutput(line({ requests: 0 }))
  assert.equal(r.errors.noResponse, 1)
  assert.equal(r.opsPerSec, 0)
})

test('missing or malformed WRK_RESULT lines are rejected', () => {
  assert.throws(() => parseWrkOutput('Requests/sec: 10\n'), /no WRK_RESULT/)
  assert.throws(() => parseWrkOutput('WRK_RESULT {"requests":"x"}\n'), /bad/)
})

test('medians, and a set with any failed run reports its errors instead', () => {
  assert.equal(median([3, 1, 2]), 2)
  assert.equal(median([4, 1, 2, 3]), 2.5)
  const ok = summarizeRuns([parseWrkOutput(line({})), parseWrkOutput(line({ requests: 6000 }))], 1)
  assert.equal(ok.median?.opsPerSec, 1500)
  const bad = summarizeRuns([parseWrkOutput(line({})), parseWrkOutput(line({ non2xx: 7 }))], 1)
  assert.equal(bad.median, undefined)
  assert.equal(describeErrors(bad), '7 non-2xx in 1/2 runs')
  const sampled = parseWrkOutput(
    line({ non2xx: 1 }).replace('"body_errors":0', '"body_errors":0,"error_sample":"503 busy"'),
  )
  assert.equal(sampled.errorSample, '503 busy')
  assert.equal(describeErrors(summarizeRuns([sampled], 1)), '1 non-2xx in 1/1 runs; first: `503 busy`')
})

test('the docs section between the markers is replaced, the rest kept', () => {
  const doc = `# B\n\nintro\n${docsBegin}\nold\n${docsEnd}\nafter\n`
  const out = replaceDocsSection(doc, 'new table')
  assert.equal(out, `# B\n\nintro\n${docsBegin}\nnew table\n${docsEnd}\nafter\n`)
  assert.throws(() => replaceDocsSection('# no markers', 'x'), /markers/)
})

test('wake-up costs are listed for each moment they were measured at, with the sender CPU when known', () => {
  const wake = (p50Ms: number, cpuUsPerOp: number | undefined) => ({
    threadPool: { ops: 100, opsPerSec: 20_000, p50Ms, p99Ms: 0.2, cpuUsPerOp },
    worker: { ops: 100, opsPerSec: 15_000, p50Ms: 0.06, p99Ms: 0.3, cpuUsPerOp: 31.25 },
  })
  const results = {
    settings: { runs: 1, concurrencies: [] },
    limits: { http: {}, wake: wake(0.046, 21.5) },
    tqlite: {
      workloads: {},
      rss: { idle: [], load: [] },
      failoverMs: [],
      notes: [],
      wake: wake(0.09, undefined),
    },
    etcd: undefined,
  } as unknown as BenchResults
  const rows = renderLimitsTable(results).split('\n').slice(2)
  assert.deepEqual(rows, [
    "| round trip through libuv's thread pool (128-byte write, no sync), at the start (21.5 µs of the sender's CPU each) | 20,000 | 0.05 | 0.20 |",
    "| round trip to a worker thread (postMessage and answer), at the start (31.3 µs of the sender's CPU each) | 15,000 | 0.06 | 0.30 |",
    "| round trip through libuv's thread pool (128-byte write, no sync), before TQLite's workloads | 20,000 | 0.09 | 0.20 |",
    "| round trip to a worker thread (postMessage and answer), before TQLite's workloads (31.3 µs of the sender's CPU each) | 15,000 | 0.06 | 0.30 |",
  ])
})

test('the machine share of a point: busy and steal over all cores, from two /proc/stat readings', () => {
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const before = parseCpuTimes('cpu  1000 0 500 2000 100 0 50 10 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n')
  const after = parseCpuTimes('cpu  1600 0 800 2300 100 0 100 110 0 0\n')
  // 600 user + 300 system + 50 softirq = 950 busy, 300 idle, 100 steal of 1,350.
  const share = cpuShare(before, after)
  assert.ok(share)
  assert.equal(share.busyPct.toFixed(2), ((100 * 950) / 1350).toFixed(2))
  assert.equal(share.stealPct.toFixed(2), ((100 * 100) / 1350).toFixed(2))
  assert.equal(parseCpuTimes('intr 1 2 3'), undefined)
  assert.equal(cpuShare(before, undefined), undefined)
  assert.equal(cpuShare(before, before), undefined)
})

test('ports for the nodes lie below the ephemeral range, each handed out once', async () => {
  assert.deepEqual(ephemeralPorts('32768\t60999\n'), [32768, 60999])
  assert.deepEqual(ephemeralPorts('40000 50000'), [40000, 50000])
  assert.deepEqual(ephemeralPorts('garbage'), [32768, 60999])
  const [low] = ephemeralPorts()
  const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()))
  for (const port of ports) assert.ok(port >= 10_000 && port < low, `port ${port} not below ${low}`)
  assert.equal(new Set(ports).size, ports.length, 'a port was handed out twice')
})
