// rqlite-js 2.5.7, the official rqlite JavaScript client from npm, used unchanged against a 3-node TQLite
// cluster of real tqlited processes: executes (positional and named parameters, multi-statement requests
// with and without `transaction`), queries at every consistency level parsed through the client's own
// DataResults/DataResult/DataResultError classes, through a client pointed at the leader, at a follower only
// (TQLite forwards) and at every node round-robin, its 301-following with `redirect`, its status client, and
// a binary and a SQL-text backup loaded back through a follower.
//
// What the library sends (read from its source): DataApiClient.execute POSTs /db/execute with the statements
// as a JSON array (a lone string is wrapped in one) to the active host; query() sends GET /db/query?q= for a
// string and POST for an array, to the leader host (hosts[leaderHostIndex], 0 unless a redirect taught it
// otherwise) for every level but `none`, which goes to the active host and then moves it round-robin. The
// options level/pretty/timings/atomic/transaction become `level=<x>`, `timings=true`, `transaction=true`
// (TQLite's flags are presence-based, as rqlite's). axios parses the JSON body with JSON.parse, so integers
// beyond 2^53 reach the caller rounded to the nearest double: that is the client's limit, not the server's.
// Redirects (301/302) are followed by re-sending the same request, body included, to `Location`.
import assert from 'node:assert/strict'
import type { Readable } from 'node:stream'
import { after, before, test } from 'node:test'
import { BackupApiClient, DataApiClient, StatusApiClient } from 'rqlite-js'
import { DataResult, DataResultError, DataResults } from 'rqlite-js/lib/api/results/index.js'
import { Cluster, type NodeProcess, getJson, ready, waitFor } from './harness.js'

let cluster: Cluster

/** The current leader and the two followers (each test asks afresh: leadership may move on a loaded machine). */
async function roles(): Promise<{ leader: NodeProcess; followers: [NodeProcess, NodeProcess] }> {
  const leader = cluster.get(await cluster.leader())
  const [a, b] = [...cluster.nodes.values()].filter((n) => n.id !== leader.id)
  return { leader, followers: [a!, b!] }
}

const url = (node: NodeProcess): string => `http://${node.httpAddr}`

before(async () => {
  cluster = await Cluster.create()
  const n1 = await cluster.add(1)
  await ready(n1)
  await cluster.add(2, url(n1))
  await cluster.add(3, url(n1))
  await waitFor(
    async () => {
      const doc = (await getJson(n1, '/nodes').catch(() => ({}))) as Record<string, { voter: boolean }>
      return Object.values(doc).filter((n) => n.voter).length === 3 ? true : undefined
    },
    60_000,
    'three voters',
  )
  for (const node of cluster.nodes.values()) await ready(node)
})

after(async () => {
  await cluster?.destroy()
})

const INT64_MAX = '9223372036854775807'
const MAX_SAFE = Number.MAX_SAFE_INTEGER // 9007199254740991: the largest integer a JS number carries exactly
// 15 digits, for the scenarios; 16+ digit parameters have their own test below.
const WIDE = 281474976710655

/** The rows every scenario leaves in its table, as DataResults.toArray() gives them. */
function expectedRows(): Record<string, unknown>[] {
  return [
    { id: 1, name: 'fiona', age: 20, big: WIDE, score: 1.5 },
    // JSON.parse inside axios rounds int64 max to the nearest double; the exact digits are checked as text.
    { id: 2, name: 'declan', age: 30, big: Number(BigInt(INT64_MAX)), score: null },
    { id: 3, name: 'sinéad', age: 25, big: null, score: null },
    { id: 4, name: 'aoife', age: 41, big: -MAX_SAFE, score: -0.25 },
    { id: 5, name: 'eve', age: 19, big: null, score: null },
    { id: 6, name: 'finn', age: 52, big: null, score: null },
  ]
}

function asResult(value: DataResult | DataResultError | undefined): DataResult {
  assert.ok(value instanceof DataResult, `expected a DataResult, got ${String(value)}`)
  return value
}

function noError(results: DataResults): DataResults {
  assert.ok(results instanceof DataResults, 'not a DataResults')
  assert.equal(results.hasError(), false, `unexpected error: ${results.getFirstError()?.message}`)
  return results
}

/** Polls a `none` read until it shows `expected` (a node applies committed writes asynchronously). */
async function eventually(
  read: () => Promise<DataResults>,
  expected: Record<string, unknown>[],
  what: string,
): Promise<void> {
  let last: unknown
  await waitFor(
    async () => {
      last = (await read()).toArray()
      return JSON.stringify(last) === JSON.stringify(expected) ? true : undefined
    },
    30_000,
    `${what} (last read ${JSON.stringify(last)})`,
  ).catch((error: unknown) => {
    assert.deepEqual(last, expected, String(error))
  })
}

/** Everything the data client does, against table `t`: run once per way of reaching the cluster. */
async function exercise(client: DataApiClient, t: string): Promise<void> {
  // CREATE: one result (its last_insert_id/rows_affected are SQLite's carried-over values, as in rqlite).
  const created = noError(
    await client.execute(
      `CREATE TABLE ${t} (id INTEGER PRIMARY KEY, name TEXT, age INTEGER, big INTEGER, score REAL)`,
    ),
  )
  assert.equal(created.getResults().length, 1)
  assert.ok(created.get(0) instanceof DataResult, 'CREATE gave no DataResult')

  // Positional parameters.
  const positional = noError(
    await client.execute([
      [`INSERT INTO ${t}(name, age, big, score) VALUES(?, ?, ?, ?)`, 'fiona', 20, WIDE, 1.5],
    ]),
  )
  assert.equal(asResult(positional.get(0)).getLastInsertId(), 1)
  assert.equal(asResult(positional.get(0)).getRowsAffected(), 1)

  // Named parameters.
  const named = noError(
    await client.execute([[`INSERT INTO ${t}(name, age) VALUES(:name, :age)`, { name: 'declan', age: 30 }]]),
  )
  assert.equal(asResult(named.get(0)).getLastInsertId(), 2)

  // int64 max as SQL text: stored exactly (checked below as text).
  noError(await client.execute(`UPDATE ${t} SET big = ${INT64_MAX} WHERE id = 2`))

  // Two statements in one transaction, with timings.
  const tx = noError(
    await client.execute(
      [
        [`INSERT INTO ${t}(name, age) VALUES(?, ?)`, 'sinéad', 25],
        // -(2^53 - 1), the most negative integer a JS number carries exactly, as SQL text.
        `INSERT INTO ${t}(name, age, big, score) VALUES('aoife', 41, ${-MAX_SAFE}, -0.25)`,
      ],
      { transaction: true, timings: true },
    ),
  )
  assert.deepEqual(
    tx.getResults().map((r) => [asResult(r).getLastInsertId(), asResult(r).getRowsAffected()]),
    [
      [3, 1],
      [4, 1],
    ],
  )
  // (The per-statement `time` is checked in its own test.)
  assert.ok(tx.getTime() > 0, 'timings: no top-level time')

  // A failing transaction stops at the error and rolls everything back.
  const failed = await client.execute(
    [
      `INSERT INTO ${t}(id, name) VALUES(5, 'ghost')`,
      `INSERT INTO ${t}(id, name) VALUES(1, 'duplicate')`,
      `INSERT INTO ${t}(id, name) VALUES(6, 'ghost')`,
    ],
    { transaction: true },
  )
  assert.equal(failed.hasError(), true)
  const error = failed.getFirstError()
  assert.ok(error instanceof DataResultError, 'no DataResultError')
  assert.equal(error.message, `UNIQUE constraint failed: ${t}.id`)
  assert.deepEqual(error.toObject(), { error: `UNIQUE constraint failed: ${t}.id` })
  assert.equal(failed.getResults().length, 2, 'nothing after the failing statement')
  assert.equal(asResult(failed.get(0)).getLastInsertId(), 5)
  const count = await client.query(`SELECT COUNT(*) AS n FROM ${t}`, { level: 'strong' })
  assert.deepEqual(count.toArray(), [{ n: 4 }], 'the failed transaction was not rolled back')

  // Without `transaction` the statements after an error still run.
  const batch = await client.execute([
    [`INSERT INTO ${t}(name, age) VALUES(?, ?)`, 'eve', 19],
    `INSERT INTO ${t}(id, name) VALUES(1, 'duplicate')`,
    [`INSERT INTO ${t}(name, age) VALUES(:name, :age)`, { name: 'finn', age: 52 }],
  ])
  assert.equal(batch.getResults().length, 3)
  assert.equal(asResult(batch.get(0)).getLastInsertId(), 5)
  assert.ok(batch.get(1) instanceof DataResultError, 'statement 2 is not a DataResultError')
  assert.equal((batch.get(1) as DataResultError).message, `UNIQUE constraint failed: ${t}.id`)
  assert.equal(asResult(batch.get(2)).getLastInsertId(), 6)

  // Every consistency level, through GET /db/query?q=.
  const select = `SELECT id, name, age, big, score FROM ${t} ORDER BY id`
  for (const level of ['weak', 'linearizable', 'strong', 'auto']) {
    const rows = noError(await client.query(select, { level }))
    assert.deepEqual(rows.toArray(), expectedRows(), `level=${level}`)
    assert.deepEqual(asResult(rows.get(0)).toColumnsArray(), ['id', 'name', 'age', 'big', 'score'])
    assert.equal(asResult(rows.get(2)).get('name'), 'sinéad')
  }
  // `none` is served by whichever node the client picks; that node may still be applying the writes.
  for (let i = 0; i < 3; i++) {
    await eventually(() => client.query(select, { level: 'none' }), expectedRows(), `level=none read ${i}`)
  }

  // The exact 64-bit value, as text (the client's numbers cannot carry it).
  const exact = noError(
    await client.query(`SELECT CAST(big AS TEXT) AS big FROM ${t} WHERE id = 2`, { level: 'linearizable' }),
  )
  assert.deepEqual(exact.toArray(), [{ big: INT64_MAX }])

  // POST /db/query: parameters, several statements in one read transaction, timings, pretty.
  const params = noError(
    await client.query(
      [
        [`SELECT name FROM ${t} WHERE age >= ? ORDER BY id`, 41],
        [`SELECT name, big FROM ${t} WHERE id = :id`, { id: 1 }],
        `SELECT COUNT(*) AS n, MAX(id) AS m FROM ${t}`,
      ],
      { level: 'strong', transaction: true, timings: true, pretty: true },
    ),
  )
  assert.deepEqual(params.toArray(), [
    { name: 'aoife' },
    { name: 'finn' },
    { name: 'fiona', big: WIDE },
    { n: 6, m: 6 },
  ])
  assert.ok(params.getTime() > 0, 'timings: no top-level time')

  // A query with no rows gives one empty DataResult; a bad one a DataResultError.
  const empty = noError(await client.query(`SELECT * FROM ${t} WHERE id < 0`, { level: 'weak' }))
  assert.deepEqual(empty.toArray(), [{}])
  const bad = await client.query('SELECT * FROM no_such_table', { level: 'weak' })
  assert.equal(bad.getFirstError()?.message, 'no such table: no_such_table')
  const write = await client.query(`DELETE FROM ${t}`, { level: 'strong' })
  assert.equal(write.hasError(), true, 'a write through /db/query must fail')
}

test('a client whose first host is the leader executes and queries at every level', {
  timeout: 180_000,
}, async () => {
  const { leader, followers } = await roles()
  await exercise(new DataApiClient([url(leader), ...followers.map(url)]), 'via_leader')
})

test('a client pointed only at a follower does all of it (TQLite forwards)', {
  timeout: 180_000,
}, async () => {
  const follower = (await roles()).followers[0]
  const client = new DataApiClient(url(follower))
  await exercise(client, 'via_follower')
  assert.deepEqual(client.getHosts(), [url(follower)])
})

test('a follower-first client spreading `none` reads round-robin over every node', {
  timeout: 180_000,
}, async () => {
  const { leader, followers } = await roles()
  const client = new DataApiClient([url(followers[1]), url(leader), url(followers[0])])
  await exercise(client, 'via_round_robin')
})

// Integer parameters travel as JSON number literals; the server must bind them exactly (rqlite does).
test('integer parameters of 16 digits and more, up to ±(2^53 - 1), bind exactly', {
  timeout: 60_000,
}, async () => {
  const client = new DataApiClient(url((await roles()).followers[0]))
  noError(await client.execute('CREATE TABLE int_params (id INTEGER PRIMARY KEY, v INTEGER)'))
  const values = [MAX_SAFE, -MAX_SAFE, 1_000_000_000_000_000, 2 ** 53 - 2]
  const inserted = noError(
    await client.execute([
      ...values.map((v): [string, number] => ['INSERT INTO int_params(v) VALUES(?)', v]),
      ['INSERT INTO int_params(v) VALUES(:v)', { v: MAX_SAFE }],
    ]),
  )
  assert.equal(inserted.getResults().length, 5)
  const rows = noError(
    await client.query('SELECT v, CAST(v AS TEXT) AS t FROM int_params ORDER BY id', { level: 'strong' }),
  )
  assert.deepEqual(rows.toArray(), [
    ...values.map((v) => ({ v, t: String(v) })),
    { v: MAX_SAFE, t: String(MAX_SAFE) },
  ])
})

// rqlite gives every execute and query result its own `time`; the client reads it into DataResult.time.
test('with `timings` every DataResult carries its own time', {
  timeout: 60_000,
}, async () => {
  const client = new DataApiClient(url((await roles()).leader))
  noError(await client.execute('CREATE TABLE timed (v INTEGER)'))
  const written = noError(
    await client.execute(['INSERT INTO timed VALUES (1)', 'INSERT INTO timed VALUES (2)'], { timings: true }),
  )
  assert.ok(written.getTime() > 0, 'timings: no top-level time')
  for (const result of written.getResults()) assert.ok(asResult(result).getTime() > 0, 'execute result time')
  const read = noError(await client.query('SELECT v FROM timed', { level: 'weak', timings: true }))
  for (const result of read.getResults()) assert.ok(asResult(result).getTime() > 0, 'query result time')
})

test('`redirect`: a follower answers 301 and the client follows it, re-posting the body', {
  timeout: 120_000,
}, async () => {
  const { leader, followers } = await roles()
  const follower = followers[0]
  // The follower redirects rather than forwards when asked to.
  const raw = await fetch(`${url(follower)}/db/execute?redirect`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: '["SELECT 1"]',
    redirect: 'manual',
  })
  await raw.arrayBuffer()
  assert.equal(raw.status, 301)
  assert.equal(raw.headers.get('location'), `${url(leader)}/db/execute?redirect`)

  // DataApiClient.execute/query cannot add `redirect` to the URL, but the library's own ApiClient.get/post
  // take the path: these are its calls, unchanged, with its 301-following.
  const client = new DataApiClient(url(follower))
  noError(await client.execute('CREATE TABLE via_redirect (id INTEGER PRIMARY KEY, name TEXT)'))
  const posted = await client.post(
    '/db/execute?redirect',
    [
      ['INSERT INTO via_redirect(name) VALUES(?)', 'one'],
      ['INSERT INTO via_redirect(name) VALUES(:name)', { name: 'two' }],
    ],
    { transaction: true },
  )
  assert.equal(posted.status, 200)
  const inserted = noError(new DataResults(posted.body as object))
  assert.deepEqual(
    inserted.getResults().map((r) => asResult(r).getLastInsertId()),
    [1, 2],
  )
  for (const level of ['weak', 'linearizable', 'strong']) {
    const got = await client.get('/db/query?redirect', 'SELECT id, name FROM via_redirect ORDER BY id', {
      level,
      useLeader: true,
    })
    assert.equal(got.status, 200)
    assert.deepEqual(noError(new DataResults(got.body as object)).toArray(), [
      { id: 1, name: 'one' },
      { id: 2, name: 'two' },
    ])
  }
  // Nothing was written twice by the re-post.
  const count = await client.query('SELECT COUNT(*) AS n FROM via_redirect', { level: 'strong' })
  assert.deepEqual(count.toArray(), [{ n: 2 }])
})

test('StatusApiClient reads /status (through a follower-first host list)', { timeout: 60_000 }, async () => {
  const { leader, followers } = await roles()
  const hosts = [url(followers[0]), url(leader), url(followers[1])]
  const client = new StatusApiClient(hosts)
  // status() passes its options where ApiClient.get expects the SQL, so it sends `?q[useLeader]=true` to
  // hosts[activeHostIndex]: TQLite, like rqlite, ignores the unknown key.
  const status = await client.status()
  assert.equal(status.status, 200)
  const body = status.body as {
    store: { node_id: string; leader: { node_id: string }; raft: { state: string } }
  }
  assert.equal(body.store.node_id, String(followers[0].id))
  assert.equal(body.store.leader.node_id, String(leader.id))
  assert.equal(body.store.raft.state, 'Follower')
  const all = await client.statusAllHosts()
  assert.deepEqual(
    all.map((entry) => entry.host),
    hosts,
  )
  for (const entry of all) {
    assert.equal(entry.response.status, 200)
    const doc = entry.response.body as { store: { leader: { node_id: string } } }
    assert.equal(doc.store.leader.node_id, String(leader.id))
  }
})

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array))
  return Buffer.concat(chunks)
}

// TQLite keeps its applied Raft index in an ordinary table, `_tqlite_meta` (src/db/DESIGN.md), that queries
// and binary images see (rqlite has no such table); it is this replica's position, so it is left out here.
const USER_TABLES = `SELECT name FROM sqlite_master WHERE type = 'table' AND name <> '_tqlite_meta' ORDER BY name`

async function tableNames(client: DataApiClient, level: string): Promise<string[]> {
  const names = noError(await client.query(USER_TABLES, { level }))
  return names.getResults().map((row) => String(asResult(row).get('name')))
}

/** Every table's name and rows, and the exact int64, read at `level` from `client`. */
async function contents(client: DataApiClient, level: string): Promise<Record<string, unknown>[]> {
  const tables = await tableNames(client, level)
  const results = noError(
    await client.query(
      [
        USER_TABLES,
        ...tables.map((t) => `SELECT * FROM ${t} ORDER BY rowid`),
        `SELECT CAST(big AS TEXT) AS exact FROM via_leader WHERE id = 2`,
      ],
      { level },
    ),
  )
  return results.toArray()
}

test('BackupApiClient through a follower: a binary and a SQL backup both load back', {
  timeout: 180_000,
}, async () => {
  const follower = (await roles()).followers[1]
  const backups = new BackupApiClient(url(follower))
  const data = new DataApiClient(url(follower))
  const original = await contents(data, 'strong')
  assert.ok(original.length > 20, `too little to compare: ${JSON.stringify(original)}`)
  assert.ok(
    original.some((row) => row.exact === INT64_MAX),
    'int64 max not read back exactly',
  )

  // Binary: the SQLite image.
  const image = await readAll(await backups.backup())
  assert.equal(image.subarray(0, 16).toString('latin1'), 'SQLite format 3\0')
  // SQL text.
  const dump = (await readAll(await backups.backup('sql'))).toString('utf8')
  assert.match(dump, /CREATE TABLE via_leader/)
  assert.ok(dump.includes(INT64_MAX), 'the SQL dump lost the exact int64')

  // Change the database, then load the binary image back: everything returns to how it was.
  noError(await data.execute(['DROP TABLE via_leader', "INSERT INTO via_redirect(name) VALUES('later')"]))
  const loaded = await readAll(await backups.load(image, 'binary'))
  const loadedResults = JSON.parse(loaded.toString('utf8')) as object
  assert.deepEqual(loadedResults, { results: [] })
  noError(new DataResults(loadedResults))
  assert.deepEqual(await contents(data, 'strong'), original)
  for (const node of cluster.nodes.values()) {
    const client = new DataApiClient(url(node))
    await eventually(
      () => client.query(`SELECT COUNT(*) AS n FROM via_redirect`, { level: 'none' }),
      [{ n: 2 }],
      `node ${node.id} after load`,
    )
    assert.deepEqual(await contents(client, 'none'), original, `node ${node.id} after the binary load`)
  }

  // Drop every table, then load the SQL dump (the client sends it as text/plain).
  noError(
    await data.execute(
      (await tableNames(data, 'strong')).map((t) => `DROP TABLE ${t}`),
      { transaction: true },
    ),
  )
  const sqlLoaded = JSON.parse((await readAll(await backups.load(dump))).toString('utf8')) as object
  noError(new DataResults(sqlLoaded))
  assert.deepEqual(await contents(data, 'strong'), original)
})
