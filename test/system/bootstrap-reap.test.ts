// -bootstrap-expect, reaping and -on-disk on real tqlited processes: three fresh nodes that list each other's
// Raft addresses find each other and bootstrap one cluster together, keeping SQLite in files; a voter that
// dies for good is removed by the leader after -raft-reap-node-timeout, and the remaining two keep
// accepting writes; a restarted node rebuilds its database file from the log.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { Cluster, execute, freePort, getJson, query, waitFor } from './harness.js'

let cluster: Cluster

after(async () => {
  await cluster?.destroy()
})

test('three nodes bootstrap together with -bootstrap-expect 3; a dead voter is reaped', async () => {
  cluster = await Cluster.create(['-bootstrap-expect', '3', '-raft-reap-node-timeout', '3s', '-on-disk'])
  const ports = []
  for (let i = 0; i < 3; i++) ports.push({ http: await freePort(), raft: await freePort() })
  const joinList = ports.map((p) => `127.0.0.1:${p.raft}`).join(',')
  for (let i = 0; i < 3; i++) await cluster.add(i + 1, joinList, ports[i])

  const leaderId = await cluster.leader(60_000)
  const leader = cluster.get(leaderId)
  const voters = async () =>
    Object.values((await getJson(leader, '/nodes')) as Record<string, { voter: boolean }>).filter(
      (n) => n.voter,
    ).length
  await waitFor(async () => ((await voters()) === 3 ? true : undefined), 30_000, 'three voters in /nodes')
  await execute(leader, ['CREATE TABLE t (v INTEGER)', 'INSERT INTO t VALUES (1)'])

  const victim = [...cluster.nodes.keys()].find((id) => id !== leaderId)!
  await cluster.kill(victim)
  await waitFor(
    async () => ((await voters()) === 2 ? true : undefined),
    30_000,
    'the dead voter to be reaped',
  )
  // /nodes shows the new configuration once the leader appends the removal; the reaper logs once it is
  // committed and applied, a moment later (CI once read the log in between).
  await waitFor(
    async () => (/reaped unreachable nodes/.test(leader.log) ? true : undefined),
    10_000,
    'the leader to log the reaping',
  )
  const status = (await getJson(leader, '/status?key=store.raft')) as { num_peers: number }
  assert.equal(status.num_peers, 1)
  await execute(leader, ['INSERT INTO t VALUES (2)'])
  const rows = await query(leader, 'SELECT COUNT(*) FROM t', 'linearizable')
  assert.equal(rows.results[0]?.values?.[0]?.[0], 2)
  assert.ok(existsSync(join(leader.dataDir, 'db.sqlite')), 'no database file with -on-disk')

  // The other survivor restarts and rebuilds its database file from the snapshot and the log.
  const survivor = [...cluster.nodes.keys()].find((id) => id !== leaderId && id !== victim)!
  await cluster.kill(survivor)
  cluster.start(survivor)
  await waitFor(
    async () => {
      const seen = await query(cluster.get(survivor), 'SELECT COUNT(*) FROM t', 'none').catch(() => undefined)
      return seen?.results[0]?.values?.[0]?.[0] === 2 ? true : undefined
    },
    30_000,
    'the restarted node to hold both rows',
  )
})
