// Runs each Jepsen-style workload for a few seconds against a real three-node cluster without faults, at
// `linearizable`, and expects its checker to find nothing; also checks how outcomes are classified.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Cluster, getJson, ready, waitFor } from '../../system/harness.js'
import { classifyResponse } from './client.js'
import { type Level, type Workload, type WorkloadName, createWorkload } from './index.js'
import { RegisterWorkload } from './register.js'
import { parseList } from './append.js'

describe('outcome classification', () => {
  test('responses', () => {
    assert.deepEqual(classifyResponse(200, '{"results":[{"rows_affected":1}]}'), {
      kind: 'ok',
      results: [{ rows_affected: 1 }],
    })
    assert.equal(classifyResponse(503, 'leader not found').kind, 'fail')
    assert.equal(classifyResponse(400, 'invalid request').kind, 'fail')
    assert.equal(classifyResponse(500, 'forwarded execute failed').kind, 'info')
    const unknown = '{"results":[],"error":"timed out","code":"TQ_ERR_UNKNOWN_OUTCOME"}'
    assert.equal(classifyResponse(200, unknown).kind, 'info')
    const dropped = '{"results":[],"error":"replaced","code":"TQ_ERR_PROPOSAL_DROPPED"}'
    assert.equal(classifyResponse(200, dropped).kind, 'fail')
    assert.equal(classifyResponse(200, '{"results":[],"error":"leader not found"}').kind, 'fail')
    assert.equal(classifyResponse(200, 'not json').kind, 'info')
  })

  test('stored lists', () => {
    assert.deepEqual(parseList('1,2,3'), [1, 2, 3])
    assert.deepEqual(parseList(null), [])
    assert.deepEqual(parseList(7), [7])
    assert.equal(parseList('1,x'), undefined)
  })
})

describe('workloads on a fault-free three-node cluster', { concurrency: false }, () => {
  let cluster: Cluster
  let endpoints: string[]

  before(async () => {
    cluster = await Cluster.create()
    const n1 = await cluster.add(1)
    await ready(n1)
    await cluster.add(2, `http://${n1.httpAddr}`)
    await cluster.add(3, `http://${n1.httpAddr}`)
    await waitFor(
      async () => {
        const doc = (await getJson(n1, '/nodes').catch(() => ({}))) as Record<string, { voter: boolean }>
        return Object.values(doc).filter((node) => node.voter).length === 3 ? true : undefined
      },
      60_000,
      'three voters',
    )
    endpoints = [...cluster.nodes.values()].map((node) => `http://${node.httpAddr}`)
  })

  after(async () => {
    await cluster?.destroy()
  })

  async function runFor(
    name: WorkloadName,
    level: Level,
    seconds: number,
    workload: Workload = createWorkload(name, level),
  ): Promise<Record<string, number>> {
    assert.equal(workload.name, name)
    await workload.setup(endpoints)
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), seconds * 1000)
    await workload.run({ endpoints, clients: 6, level, seed: 42, signal: controller.signal })
    clearTimeout(timer)
    await workload.final(endpoints)
    const report = workload.check()
    console.log(`${name} at ${level}: ${JSON.stringify(report.summary)}`)
    assert.equal(report.ok, true, report.anomalies.join('\n'))
    assert.ok(workload.history().length > 20, 'ran some operations')
    return report.summary
  }

  for (const name of ['register', 'set', 'bank', 'append'] as const) {
    test(`${name} at linearizable`, { timeout: 30_000 }, async () => {
      const summary = await runFor(name, 'linearizable', 5)
      assert.ok((summary.ok ?? 0) > 20, 'most operations succeed without faults')
    })
  }

  test('register at none: follower reads, checked for what none still promises', {
    timeout: 30_000,
  }, async () => {
    // Its own table: the keys of the linearizable run above hold values this run never wrote.
    const workload = new RegisterWorkload('none', { table: 'registers_none' })
    const summary = await runFor('register', 'none', 3, workload)
    assert.equal(summary.unknownValueReads, 0)
    assert.equal(summary.futureReads, 0)
  })
})
