// The rest of rqlite's HTTP API on real tqlited processes: queued writes, /db/request, /db/sql, disallowed
// PRAGMAs, raft_index, X-Rqlite-Served-By, /snapshot, /debug/vars, /status fields, /readyz variants, body
// limits, /boot, and SQL-text backups, through the leader and through a follower.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Cluster, type NodeProcess, getJson, ready, waitFor } from './harness.js'

let cluster: Cluster
let single: Cluster
let leader: NodeProcess
let follower: NodeProcess
let alone: NodeProcess

before(async () => {
  cluster = await Cluster.create(['-write-queue-timeout', '20ms'])
  const n1 = await cluster.add(1)
  await ready(n1)
  await cluster.add(2, `http://${n1.httpAddr}`)
  await cluster.add(3, `http://${n1.httpAddr}`)
  await waitFor(
    async () => {
      const doc = (await getJson(n1, '/nodes').catch(() => ({}))) as Record<string, { reachable: boolean }>
      return Object.values(doc).filter((n) => n.reachable).length === 3 ? true : undefined
    },
    60_000,
    'three reachable voters',
  )
  leader = cluster.get(await cluster.leader())
  follower = [...cluster.nodes.values()].find((node) => node.id !== leader.id)!
  single = await Cluster.create(['-http-max-body', '200000'])
  alone = await single.add(1)
  await ready(alone)
})

after(async () => {
  await cluster?.destroy()
  await single?.destroy()
})

async function post(
  node: NodeProcess,
  path: string,
  body: unknown,
  contentType = 'application/json',
): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(`http://${node.httpAddr}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': contentType },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  })
  return { status: response.status, text: await response.text(), headers: response.headers }
}

async function get(
  node: NodeProcess,
  path: string,
): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(`http://${node.httpAddr}${path}`)
  return { status: response.status, text: await response.text(), headers: response.headers }
}

test('queued writes: a sequence number at once, written in the background, wait and barriers', async () => {
  await post(leader, '/db/execute', ['CREATE TABLE q (id INTEGER PRIMARY KEY, v TEXT)'])
  const before = BigInt(Date.now()) * 1_000_000n
  const first = await post(follower, '/db/execute?queue', [['INSERT INTO q(v) VALUES(?)', 'a']])
  assert.equal(first.status, 200)
  const match = /^\{"results":\[\],"sequence_number":(\d+)\}$/.exec(first.text)
  assert.ok(match, first.text)
  // Sequence numbers start at the node's start time in Unix nanoseconds (well past 2^53: exact digits).
  const sequence = BigInt(match[1]!)
  assert.ok(sequence < before && sequence > before - 3_600_000_000_000n, `${sequence} vs ${before}`)
  const second = await post(follower, '/db/execute?queue&wait', [['INSERT INTO q(v) VALUES(?)', 'b']])
  assert.equal(second.status, 200, second.text)
  assert.equal(BigInt(/"sequence_number":(\d+)/.exec(second.text)![1]!), sequence + 1n)
  // After `wait`, both are written: a linearizable read on the leader sees them.
  const rows = await get(leader, '/db/query?level=linearizable&q=SELECT%20v%20FROM%20q%20ORDER%20BY%20id')
  assert.equal(JSON.parse(rows.text).results[0].values.join(','), 'a,b')
  const barrier = await post(follower, '/db/execute?queue&wait', [])
  assert.equal(barrier.status, 200)
  const empty = await post(follower, '/db/execute?queue', [])
  assert.equal(empty.status, 400)
  assert.equal(empty.text, 'no statements\n')
  // Read from the raw text: JSON.parse would round the 64-bit number.
  const status = (await get(follower, '/status?key=http.queue._default')).text
  assert.equal(JSON.parse(status).batch_size, 128)
  assert.ok(BigInt(/"sequence_number":(\d+)/.exec(status)?.[1] ?? '0') >= sequence + 1n, status)
})

test('/db/request mixes writes and reads in one log entry, and serves pure reads at their level', async () => {
  await post(leader, '/db/execute', ['CREATE TABLE r (id INTEGER PRIMARY KEY, name TEXT)'])
  const mixed = await post(follower, '/db/request?associative&raft_index', [
    ['INSERT INTO r(name) VALUES(?)', 'fiona'],
    'SELECT * FROM r',
    'SELECT * FROM nope',
  ])
  assert.equal(mixed.status, 200)
  assert.match(
    mixed.text,
    /^\{"results":\[\{"last_insert_id":1,"rows_affected":1,"rows":null\},\{"types":\{"id":"integer","name":"text"\},"rows":\[\{"id":1,"name":"fiona"\}\]\},\{"error":"no such table: nope"\}\],"raft_index":\d+\}$/,
  )
  // Forwarded to the leader: the header names the leader's Raft address.
  assert.equal(mixed.headers.get('x-rqlite-served-by'), leader.raftAddr)
  // A pure read at `none` is served by the follower itself, without the log.
  await waitFor(
    async () => {
      const local = await post(follower, '/db/request?level=none&raft_index', ['SELECT COUNT(*) FROM r'])
      return local.text.includes('[[1]]') ? local : undefined
    },
    10_000,
    'the follower to apply the insert',
  ).then((local) => {
    assert.equal(local.headers.get('x-rqlite-served-by'), follower.httpAddr)
    assert.doesNotMatch(local.text, /raft_index/)
  })
  // A write the parse-based guess calls a read (WITH … INSERT) still goes through the log.
  const hidden = await post(leader, '/db/request', [
    "WITH x(n) AS (VALUES('declan')) INSERT INTO r(name) SELECT n FROM x",
  ])
  assert.equal(hidden.text, '{"results":[{"last_insert_id":2,"rows_affected":1}]}')
  const text = await post(leader, '/db/request', 'SELECT 1', 'text/plain')
  assert.equal(text.status, 400)
})

test('disallowed PRAGMAs are refused whole; reading them is fine', async () => {
  for (const sql of [
    'PRAGMA journal_mode=WAL',
    '  pragma main.synchronous = OFF',
    'PRAGMA wal_checkpoint(TRUNCATE)',
    'SELECT 1; PRAGMA query_only(1)',
  ]) {
    const refused = await post(follower, '/db/execute', [sql])
    assert.equal(
      refused.text,
      '{"results":[],"error":"disallowed pragma","code":"TQ_ERR_DISALLOWED_PRAGMA"}',
      sql,
    )
  }
  const read = await get(leader, '/db/query?q=PRAGMA%20synchronous')
  assert.match(read.text, /"columns":\["synchronous"\]/, read.text)
})

test('/db/sql shows statements unchanged (applied with fixed seed and time) and reports ones that fail', async () => {
  const shown = await get(follower, `/db/sql?q=${encodeURIComponent('INSERT INTO r(name) VALUES(random())')}`)
  assert.equal(
    shown.text,
    '{"results":[{"original":"INSERT INTO r(name) VALUES(random())","rewritten":"INSERT INTO r(name) VALUES(random())"}]}',
  )
  const bad = await post(follower, '/db/sql', ['SELEC nonsense', 'SELECT * FROM missing'])
  const results = JSON.parse(bad.text).results
  assert.match(results[0].error, /syntax error/)
  assert.equal(results[1].error, 'no such table: missing')
  // Nothing ran.
  const count = await get(leader, '/db/query?level=strong&q=SELECT%20COUNT(*)%20FROM%20r')
  assert.match(count.text, /"values":\[\[2\]\]/)
})

test('raft_index is reported for writes and strong reads only', async () => {
  const write = await post(leader, '/db/execute?raft_index', [['INSERT INTO r(name) VALUES(?)', 'x']])
  const index = Number(/"raft_index":(\d+)/.exec(write.text)?.[1])
  assert.ok(index > 0, write.text)
  const strong = await get(leader, '/db/query?level=strong&raft_index&q=SELECT%201')
  assert.ok(Number(/"raft_index":(\d+)/.exec(strong.text)?.[1]) > index, strong.text)
  const weak = await get(leader, '/db/query?raft_index&q=SELECT%201')
  assert.doesNotMatch(weak.text, /raft_index/)
})

test('/snapshot compacts the log (204 when nothing is new); /debug/vars counts it', async () => {
  const taken = await fetch(`http://${leader.httpAddr}/snapshot`, { method: 'POST' })
  assert.equal(taken.status, 200)
  const again = await fetch(`http://${leader.httpAddr}/snapshot`, { method: 'POST' })
  assert.equal(again.status, 204)
  const raft = JSON.parse((await get(leader, '/status?key=store.raft')).text)
  assert.equal(raft.last_snapshot_index, raft.applied_index)
  const vars = JSON.parse((await get(leader, '/debug/vars')).text)
  assert.ok(vars.store.num_snapshots >= 1)
  assert.ok(vars.cluster.num_join_req >= 2)
  assert.ok(Array.isArray(vars.cmdline))
  assert.deepEqual(JSON.parse((await get(leader, '/debug/vars?key=store')).text), vars.store)
  const refused = await fetch(`http://${leader.httpAddr}/snapshot?trailing_logs=100`, { method: 'POST' })
  assert.equal(refused.status, 400)
})

test('/status carries the fields tools poll', async () => {
  const status = JSON.parse((await get(follower, '/status')).text)
  assert.equal(status.store.node_id, String(follower.id))
  assert.equal(status.store.leader.node_id, String(leader.id))
  assert.equal(status.store.leader.addr, leader.raftAddr)
  assert.equal(status.store.raft.state, 'Follower')
  assert.equal(status.store.raft.voter, true)
  assert.equal(typeof status.store.fsm_index, 'number')
  assert.equal(typeof status.store.db_applied_index, 'number')
  assert.match(status.store.sqlite3.version, /^3\.\d+\.\d+$/)
  assert.equal(status.store.sqlite3.path, ':memory:')
  assert.equal(status.store.sqlite3.fk_constraints, 'disabled')
  assert.equal(status.http.bind_addr, follower.httpAddr)
  // A Go duration: a node up for less than a second says `976ms` (CI once ran this test that early).
  assert.match(status.node.uptime, /^((\d+h)?(\d+m)?[\d.]+s|[\d.]+(ms|µs))$/)
  assert.equal(status.store.nodes.length, 3)
  const pretty = await get(follower, '/status?key=store.leader&pretty')
  assert.equal(pretty.text, `{\n    "addr": "${leader.raftAddr}",\n    "node_id": "${leader.id}"\n}`)
  assert.equal((await get(follower, '/status?key=store.nope')).text, '{}')
})

test('/readyz: sync and db lines; / redirects to /status; db_timeout is refused clearly', async () => {
  const synced = await get(follower, '/readyz?sync')
  assert.equal(synced.status, 200)
  assert.equal(synced.text, '[+]node ok\n[+]leader ok\n[+]store ok\n[+]sync ok\n[+]db ok')
  const root = await fetch(`http://${leader.httpAddr}/`, { redirect: 'manual' })
  assert.equal(root.status, 302)
  assert.equal(root.headers.get('location'), '/status')
  const timeout = await get(leader, '/db/query?db_timeout=1s&q=SELECT%201')
  assert.equal(timeout.status, 400)
  assert.match(timeout.text, /db_timeout is not supported/)
})

test('a body over -http-max-body is refused with 413 and nothing is applied', async () => {
  await post(alone, '/db/execute', ['CREATE TABLE big (v TEXT)'])
  const big = await post(alone, '/db/execute', [['INSERT INTO big VALUES(?)', 'x'.repeat(300_000)]])
  assert.equal(big.status, 413)
  assert.match(big.text, /larger than 200000 bytes/)
  const count = await get(alone, '/db/query?q=SELECT%20COUNT(*)%20FROM%20big')
  assert.match(count.text, /"values":\[\[0\]\]/)
})

test('/boot loads a SQLite file into a one-node cluster and refuses anything else', async () => {
  // A database image made by this cluster's own backup.
  await post(leader, '/db/execute', [
    'CREATE TABLE booted (v INTEGER)',
    'INSERT INTO booted VALUES (41), (42)',
  ])
  const image = new Uint8Array(await (await fetch(`http://${leader.httpAddr}/db/backup`)).arrayBuffer())
  const booted = await post(alone, '/boot', image, 'application/octet-stream')
  assert.equal(booted.status, 200, booted.text)
  const sum = await get(alone, '/db/query?level=strong&q=SELECT%20SUM(v)%20FROM%20booted')
  assert.match(sum.text, /"values":\[\[83\]\]/)
  // The boot ends in a snapshot: the log does not keep the image.
  const raft = JSON.parse((await get(alone, '/status?key=store.raft')).text)
  assert.ok(raft.last_snapshot_index >= raft.applied_index - 1, JSON.stringify(raft))
  const notSqlite = await post(alone, '/boot', 'hello', 'application/octet-stream')
  assert.equal(notSqlite.status, 400)
  assert.equal(notSqlite.text, 'invalid SQLite data\n')
  const clustered = await post(leader, '/boot', image, 'application/octet-stream')
  assert.equal(clustered.status, 503)
  assert.match(clustered.text, /not single-node/)
})

test('SQL-text backup (fmt=sql, tables) through a follower loads back exactly: every type, NULLs, BLOBs, int64', async () => {
  // Raw JSON text: the int64 literal must reach the server as digits, not through a JS number.
  const created = await post(
    leader,
    '/db/execute',
    `["CREATE TABLE kinds (id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB, n)",
      ["INSERT INTO kinds(i, r, t, b, n) VALUES(?, ?, ?, ?, NULL)", 9223372036854775807, 0.1, "it's\\n'quoted'", [0, 255, 10]],
      "INSERT INTO kinds(i, r, t, b, n) VALUES(-9223372036854775808, 1e308, '', x'', 1)",
      "CREATE TABLE other (v TEXT)",
      "INSERT INTO other VALUES ('not in the filtered dump')"]`,
  )
  assert.equal(created.status, 200, created.text)
  assert.doesNotMatch(created.text, /error/, created.text)
  const dump = await get(follower, '/db/backup?fmt=sql&tables=kinds')
  assert.equal(dump.status, 200)
  assert.equal(dump.headers.get('content-type'), 'application/sql')
  assert.match(dump.text, /^PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE kinds/)
  assert.doesNotMatch(dump.text, /other/)
  const loaded = await post(alone, '/db/load', dump.text, 'text/plain')
  assert.equal(loaded.status, 200, loaded.text)
  const sql = encodeURIComponent(
    'SELECT typeof(i), i, hex(r), t, hex(b), typeof(b), n FROM kinds ORDER BY id',
  )
  const source = await get(leader, `/db/query?q=${sql}`)
  const copy = await get(alone, `/db/query?level=strong&q=${sql}`)
  assert.equal(copy.text, source.text)
  assert.match(source.text, /9223372036854775807,/)
  assert.match(source.text, /"00FF0A","blob"/)
  const vacuumed = await fetch(`http://${follower.httpAddr}/db/backup?vacuum&compress`)
  assert.equal(vacuumed.status, 200)
  const bytes = new Uint8Array(await vacuumed.arrayBuffer())
  assert.deepEqual([...bytes.subarray(0, 2)], [0x1f, 0x8b], 'gzip magic')
  const refused = await get(follower, '/db/backup?fmt=sql&vacuum')
  assert.equal(refused.status, 400)
  // Long operations report in the log: the leader served the forwarded dumps.
  assert.match(leader.log, /"msg":"backup progress".*"tablesTotal":1/)
  assert.match(leader.log, /"msg":"backup done","node":\d+,"component":"store","format":"sql"/)
  assert.match(alone.log, /"msg":"load done".*"kind":"sql text"/)
})

test('timings give every successful result its own time; qualify_columns names columns table.column', async () => {
  const timed = await post(leader, '/db/execute?timings', [
    ['INSERT INTO r(name) VALUES(?)', 'timed'],
    'INSERT INTO nope VALUES(1)',
  ])
  const body = JSON.parse(timed.text)
  assert.ok(body.results[0].time > 0, timed.text)
  assert.deepEqual(Object.keys(body.results[1]), ['error'])
  assert.ok(body.time > 0, timed.text)
  const untimed = await post(leader, '/db/execute', [['INSERT INTO r(name) VALUES(?)', 'untimed']])
  assert.doesNotMatch(untimed.text, /time/)
  for (const level of ['weak', 'strong']) {
    const read = await get(
      follower,
      `/db/query?timings&qualify_columns&level=${level}&q=${encodeURIComponent('SELECT r.id, name AS n, 1 FROM r LIMIT 1')}`,
    )
    const result = JSON.parse(read.text).results[0]
    assert.deepEqual(result.columns, ['r.id', 'r.n', '1'], read.text)
    assert.ok(result.time > 0, read.text)
  }
  const mixed = await post(follower, '/db/request?qualify_columns&level=strong', ['SELECT id FROM r LIMIT 1'])
  assert.match(mixed.text, /"columns":\["r.id"\]/)
})

test('a one-node cluster serves linearizable reads (the read is confirmed before readIndex returns)', async () => {
  const read = await get(alone, '/db/query?level=linearizable&linearizable_timeout=3s&q=SELECT%2042')
  assert.equal(read.text, '{"results":[{"columns":["42"],"types":["integer"],"values":[[42]]}]}')
})

test('every answer carries the version, CORS and length headers; data answers say who served them', async () => {
  const common = (headers: Headers, what: string) => {
    assert.match(headers.get('x-tqlite-version') ?? '', /^v?\d/, `${what}: X-Tqlite-Version`)
    assert.equal(
      headers.get('x-rqlite-version'),
      headers.get('x-tqlite-version'),
      `${what}: X-Rqlite-Version`,
    )
    assert.equal(headers.get('access-control-allow-methods'), 'OPTIONS, GET, POST', what)
    assert.equal(headers.get('access-control-allow-headers'), 'Content-Type', what)
    assert.equal(headers.get('transfer-encoding'), null, `${what}: a length, not chunks`)
  }
  await post(leader, '/db/execute', ['CREATE TABLE IF NOT EXISTS hdr (id INTEGER PRIMARY KEY, v TEXT)'])
  const written = await post(leader, '/db/execute', [['INSERT INTO hdr(v) VALUES(?)', 'é']])
  common(written.headers, 'execute')
  assert.equal(written.headers.get('content-type'), 'application/json; charset=utf-8')
  assert.equal(Number(written.headers.get('content-length')), Buffer.byteLength(written.text))
  assert.equal(written.headers.get('x-rqlite-served-by'), leader.httpAddr)
  // Forwarded by a follower: served by the leader.
  const read = await get(follower, `/db/query?level=strong&q=${encodeURIComponent('SELECT v FROM hdr')}`)
  common(read.headers, 'forwarded query')
  assert.match(read.text, /"é"/)
  assert.equal(Number(read.headers.get('content-length')), Buffer.byteLength(read.text))
  assert.equal(read.headers.get('x-rqlite-served-by'), leader.raftAddr)
  // An error in Go's http.Error shape.
  const bad = await post(leader, '/db/execute', '[1', 'application/json')
  assert.equal(bad.status, 400)
  common(bad.headers, 'error')
  assert.equal(bad.headers.get('content-type'), 'text/plain; charset=utf-8')
  assert.equal(bad.headers.get('x-content-type-options'), 'nosniff')
  assert.equal(bad.text, 'invalid JSON body\n')
  // A redirect to the leader.
  const moved = await fetch(`http://${follower.httpAddr}/db/query?redirect&q=SELECT%201`, {
    redirect: 'manual',
  })
  assert.equal(moved.status, 301)
  common(moved.headers, 'redirect')
  assert.equal(moved.headers.get('location'), `http://${leader.httpAddr}/db/query?redirect&q=SELECT%201`)
  // Other endpoints set their headers one by one and carry the same ones.
  common((await get(leader, '/status')).headers, 'status')
})
