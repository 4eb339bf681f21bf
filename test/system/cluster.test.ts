// The quick start on real tqlited processes: a node bootstraps and leads, two join (by HTTP URL and by Raft
// address), writes through the leader and a follower reach every node, the leader is killed with -9 and a
// new one takes writes with nothing acknowledged lost, the killed node catches up (through a snapshot after
// compaction), a full restart of the in-memory cluster brings every row back, non-deterministic SQL reads
// the same everywhere, and a long query on the leader causes no election.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Cluster, type NodeProcess, execute, getJson, query, ready, waitFor } from './harness.js'

let cluster: Cluster

before(async () => {
  // Snapshots every 20 entries, so a node that misses a few dozen writes must catch up from a snapshot.
  cluster = await Cluster.create(['-raft-snap', '20', '-raft-snap-spacing', '0s'])
})

after(async () => {
  await cluster.destroy()
})

async function rowCount(node: NodeProcess, level: string): Promise<number> {
  const result = await query(node, 'SELECT COUNT(*) FROM t', level)
  return Number(result.results[0]?.values?.[0]?.[0])
}

/** Waits until a `none` read on `node` sees `expected` rows (replication is asynchronous on followers). */
async function waitForRows(node: NodeProcess, expected: number): Promise<void> {
  await waitFor(
    async () => ((await rowCount(node, 'none').catch(() => -1)) === expected ? true : undefined),
    30_000,
    `node ${node.id} to hold ${expected} rows`,
  )
}

const acknowledged: number[] = []

async function insert(node: NodeProcess, value: number): Promise<void> {
  const result = await execute(node, [['INSERT INTO t(v) VALUES(?)', value]])
  assert.equal(result.results[0]?.error, undefined, `insert ${value} failed: ${JSON.stringify(result)}`)
  acknowledged.push(value)
}

test('node 1 bootstraps and leads; node 2 joins by HTTP URL and node 3 by Raft address', async () => {
  const n1 = await cluster.add(1)
  await ready(n1)
  assert.equal(await cluster.leader(), 1)
  await cluster.add(2, `http://${n1.httpAddr}`)
  await cluster.add(3, n1.raftAddr)
  const nodes = await waitFor(
    async () => {
      const doc = (await getJson(n1, '/nodes')) as Record<string, { voter: boolean }>
      return Object.values(doc).filter((n) => n.voter).length === 3 ? doc : undefined
    },
    60_000,
    'three voters',
  )
  assert.deepEqual(Object.keys(nodes).sort(), ['1', '2', '3'])
})

test('writes through the leader and through a follower are readable on every node', async () => {
  const leader = cluster.get(await cluster.leader())
  const follower = [...cluster.nodes.values()].find((n) => n.id !== leader.id)!
  const created = await execute(leader, [
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER, r INTEGER, d TEXT)',
  ])
  assert.deepEqual(created.results, [{}])
  await insert(leader, 1)
  await insert(follower, 2)
  for (const node of cluster.nodes.values()) await waitForRows(node, 2)
})

test('random() and datetime("now") are identical on every node', async () => {
  const leader = cluster.get(await cluster.leader())
  await execute(leader, ["UPDATE t SET r = random(), d = datetime('now')"])
  const sql = 'SELECT id, r, d FROM t ORDER BY id'
  const expected = await query(leader, sql, 'strong')
  assert.ok(expected.results[0]?.values?.length === 2)
  for (const node of cluster.nodes.values()) {
    await waitFor(
      async () => {
        const seen = await query(node, sql, 'none')
        return JSON.stringify(seen.results) === JSON.stringify(expected.results) ? true : undefined
      },
      30_000,
      `node ${node.id} to read the leader's random() and datetime('now') values`,
    )
  }
})

test('kill -9 of the leader: a new leader accepts writes and no acknowledged write is lost', async () => {
  const oldLeader = await cluster.leader()
  await cluster.kill(oldLeader)
  const newLeader = cluster.get(await cluster.leader(60_000, [oldLeader]))
  assert.notEqual(newLeader.id, oldLeader)
  for (let v = 3; v <= 60; v++) await insert(newLeader, v)
  assert.equal(await rowCount(newLeader, 'linearizable'), acknowledged.length)
})

test('the killed node restarts and catches up, through a snapshot after compaction', async () => {
  const killed = [...cluster.nodes.values()].find((n) => !n.process)!
  cluster.start(killed.id)
  await waitForRows(killed, acknowledged.length)
  assert.match(killed.log, /restoring snapshot/, 'the node caught up without installing a snapshot')
  // A node keeps its snapshot's data on disk only: the leader read it back to send it.
  const leader = cluster.get(await cluster.leader())
  assert.match(leader.log, /snapshot file read/, 'the leader sent a snapshot without reading its file')
})

test('a 10-second query on the leader causes no election', async () => {
  const leaderId = await cluster.leader()
  const leader = cluster.get(leaderId)
  const termBefore = ((await getJson(leader, '/status?key=store.raft')) as { term: number }).term
  const started = Date.now()
  // A pure-C recursive CTE: SQLite runs it on the db worker thread while the main thread keeps heartbeating.
  const long = await query(
    leader,
    'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000000) SELECT COUNT(*) FROM c',
    'none',
  )
  const seconds = (Date.now() - started) / 1000
  console.log(`# the long query ran for ${seconds.toFixed(1)}s on the leader's db worker`)
  assert.ok(long.results[0]?.values, JSON.stringify(long))
  assert.ok(
    seconds >= 3,
    `the query took only ${seconds}s; it should keep the worker busy for several seconds`,
  )
  const termAfter = ((await getJson(leader, '/status?key=store.raft')) as { term: number }).term
  assert.equal(termAfter, termBefore, 'an election happened during the long query')
  assert.equal(await cluster.leader(), leaderId)
})

test('SIGTERM on the leader hands leadership over before the process exits', async () => {
  const leaderId = await cluster.leader()
  const code = await cluster.terminate(leaderId)
  assert.equal(code, 0)
  assert.match(cluster.get(leaderId).log, /leadership handed over/)
  const next = cluster.get(await cluster.leader(10_000, [leaderId]))
  await insert(next, 61)
  cluster.start(leaderId)
  await waitForRows(cluster.get(leaderId), acknowledged.length)
})

test('POST /leader hands leadership to the named node; GET /leader and /nodes?ver=2 report it', async () => {
  const leaderId = await cluster.leader()
  const follower = [...cluster.nodes.values()].find((n) => n.id !== leaderId)!
  const target = [...cluster.nodes.keys()].find((id) => id !== leaderId)!
  // Sent to a follower on purpose: the request is forwarded to the leader.
  const response = await fetch(`http://${follower.httpAddr}/leader?wait`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ id: String(target) }),
  })
  assert.equal(response.status, 200, await response.text())
  assert.equal(await cluster.leader(10_000), target)
  const leader = (await getJson(follower, '/leader')) as { id: string; leader: boolean; reachable: boolean }
  assert.equal(leader.id, String(target))
  assert.equal(leader.leader, true)
  const nodes = (await getJson(follower, '/nodes?ver=2')) as { nodes: { id: string; reachable: boolean }[] }
  assert.deepEqual(
    nodes.nodes.map((n) => [n.id, n.reachable]),
    [
      ['1', true],
      ['2', true],
      ['3', true],
    ],
  )
})

test('a backup taken through a follower loads into another cluster, and SQL text loads too', async () => {
  const leaderId = await cluster.leader()
  const follower = [...cluster.nodes.values()].find((n) => n.id !== leaderId)!
  const response = await fetch(`http://${follower.httpAddr}/db/backup`)
  assert.equal(response.status, 200)
  const image = Buffer.from(await response.arrayBuffer())
  assert.equal(image.subarray(0, 16).toString('latin1'), 'SQLite format 3\0')

  const other = await Cluster.create()
  try {
    const node = await other.add(1)
    await ready(node)
    const loaded = await fetch(`http://${node.httpAddr}/db/load`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: image,
    })
    assert.equal(loaded.status, 200, await loaded.text())
    const values = await query(node, 'SELECT v FROM t ORDER BY v', 'strong')
    assert.deepEqual(
      values.results[0]?.values?.map((row) => row[0]),
      [...acknowledged].sort((a, b) => a - b),
    )
    const sql = await fetch(`http://${node.httpAddr}/db/load`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: "CREATE TABLE extra (x TEXT); INSERT INTO extra VALUES ('dump');",
    })
    assert.equal(sql.status, 200, await sql.text())
    const extra = await query(node, 'SELECT x FROM extra', 'strong')
    assert.deepEqual(extra.results[0]?.values, [['dump']])
  } finally {
    await other.destroy()
  }
})

test('a full restart of the in-memory cluster brings every row back', async () => {
  await cluster.stopAll()
  for (const id of cluster.nodes.keys()) cluster.start(id)
  const leader = cluster.get(await cluster.leader(60_000))
  assert.equal(await rowCount(leader, 'linearizable'), acknowledged.length)
  const values = await query(leader, 'SELECT v FROM t ORDER BY v', 'strong')
  assert.deepEqual(
    values.results[0]?.values?.map((row) => row[0]),
    [...acknowledged].sort((a, b) => a - b),
  )
})
