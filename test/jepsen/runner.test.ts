// Goal: one run of the runner (runner.ts) drives a real cluster through nemesis faults, heals it, checks
// convergence and leaves a complete report folder; a workload that reports an anomaly makes the run fail.
// Method: a trivial in-file workload (unique inserts, every acknowledged one must be read back) so this
// test depends only on the interface in workloads/workload.ts, with short faults.
import assert from 'node:assert/strict'
import { readFile, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { request } from './cluster.js'
import { type CreateWorkload, runOnce } from './runner.js'
import type { Level, Workload, WorkloadReport } from './workloads/workload.js'

interface Op {
  client: number
  value: number
  type: 'ok' | 'fail' | 'info'
}

class InsertWorkload implements Workload {
  readonly name = 'inserts'
  readonly ops: Op[] = []
  read: number[] | undefined
  constructor(readonly plantAnomaly: boolean) {}

  async setup(endpoints: readonly string[]): Promise<void> {
    for (let attempt = 0; attempt < 60; attempt++) {
      const answer = await request(`${endpoints[0]}/db/execute`, {
        body: ['CREATE TABLE IF NOT EXISTS s (v INTEGER PRIMARY KEY)'],
      })
      if (answer.status === 200 && !answer.body.includes('error')) return
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    throw new Error('setup failed')
  }

  async run(options: {
    endpoints: readonly string[]
    clients: number
    level: Level
    seed: number
    signal: AbortSignal
  }): Promise<void> {
    let next = 1
    const client = async (id: number): Promise<void> => {
      while (!options.signal.aborted) {
        const value = next++
        const endpoint = options.endpoints[(id + value) % options.endpoints.length]!
        const answer = await request(`${endpoint}/db/execute`, {
          body: [['INSERT INTO s VALUES (?)', value]],
          timeoutMs: 3000,
        })
        const ok = answer.status === 200 && !answer.body.includes('error')
        this.ops.push({ client: id, value, type: ok ? 'ok' : answer.status === 0 ? 'info' : 'fail' })
        if (!ok) await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
    await Promise.all(Array.from({ length: options.clients }, (_, i) => client(i)))
  }

  async final(endpoints: readonly string[]): Promise<void> {
    for (let attempt = 0; attempt < 60 && this.read === undefined; attempt++) {
      const answer = await request(`${endpoints[0]}/db/query?level=strong&q=SELECT%20v%20FROM%20s`)
      if (answer.status === 200 && !answer.body.includes('error')) {
        const parsed = JSON.parse(answer.body) as { results: { values?: number[][] }[] }
        this.read = (parsed.results[0]?.values ?? []).map((row) => row[0]!)
      } else await new Promise((resolve) => setTimeout(resolve, 1000))
    }
  }

  check(): WorkloadReport {
    const seen = new Set(this.read ?? [])
    const lost = this.ops.filter((op) => op.type === 'ok' && !seen.has(op.value)).map((op) => op.value)
    const anomalies = lost.map((v) => `acknowledged insert ${v} lost`)
    if (this.read === undefined) anomalies.push('final read failed')
    if (this.plantAnomaly) anomalies.push('planted anomaly')
    return {
      ok: anomalies.length === 0,
      summary: { acknowledged: this.ops.filter((op) => op.type === 'ok').length, read: seen.size },
      anomalies,
    }
  }

  history(): unknown[] {
    return this.ops
  }
}

test('a run with partitions and kills heals, converges and writes its report folder', async () => {
  const create: CreateWorkload = () => new InsertWorkload(false)
  const lines: string[] = []
  const report = await runOnce(
    {
      workload: 'set',
      nemeses: ['partition', 'kill'],
      seconds: 12,
      nodes: 3,
      level: 'linearizable',
      clients: 4,
      seed: 7,
      faultMs: [2500, 3500],
      quietMs: [500, 1000],
    },
    create,
    (line) => lines.push(line),
  )
  try {
    assert.equal(report.error, undefined, report.error)
    assert.ok(report.convergence?.converged, report.convergence?.detail)
    assert.ok(report.ok, lines.join('\n'))
    assert.ok(report.ops.ok > 0, JSON.stringify(report.ops))
    const faults = Object.values(report.faults).reduce((a, b) => a + b, 0)
    assert.ok(faults >= 2, JSON.stringify(report.faults))
    const files = await readdir(report.dir)
    for (const name of ['history.json', 'report.json', 'nemesis.log', 'node1.log', 'node2.log', 'node3.log'])
      assert.ok(files.includes(name), `${name} missing from ${files.join(', ')}`)
    assert.ok(!files.includes('node1'), 'data directories are removed after the run')
    const nemesisLog = await readFile(join(report.dir, 'nemesis.log'), 'utf8')
    assert.match(nemesisLog, /(partition:|kill: kill -9)/)
    assert.match(nemesisLog, /convergence: yes/)
    const written = JSON.parse(await readFile(join(report.dir, 'report.json'), 'utf8')) as { ok: boolean }
    assert.equal(written.ok, true)
    assert.ok(lines.some((line) => line.includes('converged: yes')))
    console.log(lines.map((line) => `# ${line}`).join('\n'))
  } finally {
    await rm(report.dir, { recursive: true, force: true })
  }
})

test('an anomaly reported by the workload fails the run', async () => {
  const report = await runOnce(
    { workload: 'set', nemeses: [], seconds: 2, nodes: 3, level: 'strong', clients: 2, seed: 1 },
    () => new InsertWorkload(true),
    () => {},
  )
  await rm(report.dir, { recursive: true, force: true })
  assert.equal(report.convergence?.converged, true, report.convergence?.detail)
  assert.equal(report.ok, false)
  assert.deepEqual(report.workload?.anomalies, ['planted anomaly'])
})
