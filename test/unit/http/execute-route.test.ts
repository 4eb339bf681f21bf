// /db/execute lets go of a request's parsed statements once the store has proposed them, and still forwards
// them when the store refuses at once as a follower. Held until the answer, a bulk request's thousand parsed
// statements outlived V8's young-generation collections and were copied into the old generation (leader's
// promoted bytes under bulk INSERTs −69%, docs/benchmarks.md). Checked over a fake store with a WeakRef and
// forced collections, in process.
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Batch } from '../../../src/db/types.js'
import { type Forwarder, createHandler, listen } from '../../../src/http/server.js'
import { NotLeaderError } from '../../../src/store/errors.js'
import type { ExecuteRequest, Outcome, Store } from '../../../src/store/store.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const outcome = (count: number): Outcome => ({
  results: Array.from({ length: count }, (_, i) => ({ last_insert_id: i + 1, rows_affected: 1 })),
  raftIndex: 7,
})

async function serve(store: Partial<Store>, forwarder: Partial<Forwarder> = {}) {
  const handler = createHandler({
    // Only what the execute route touches is provided.
    store: store as Store,
    forwarder: forwarder as Forwarder,
    advertisedAddress: '127.0.0.1:4001',
  })
  const server = await listen(handler, '127.0.0.1:0')
  const { port } = server.address() as AddressInfo
  const post = (body: unknown) =>
    fetch(`http://127.0.0.1:${port}/db/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  return { post, close }
}

const bulk = Array.from({ length: 1000 }, (_, i) => ['INSERT INTO t(v) VALUES(?)', `row ${i}`])

test('the parsed statements can be collected while the proposed write waits to apply', async () => {
  let statements: WeakRef<Batch> | undefined
  let apply: ((value: Outcome) => void) | undefined
  const { post, close } = await serve({
    execute(request: ExecuteRequest) {
      statements = new WeakRef(request.statements)
      return new Promise<Outcome>((resolve) => {
        apply = resolve
      })
    },
  })
  try {
    const answer = post(bulk)
    while (apply === undefined) await new Promise((resolve) => setImmediate(resolve))
    // A WeakRef's target is kept until the turn that made it ends; then collect twice (young, then old).
    for (let i = 0; i < 3 && statements?.deref() !== undefined; i++) {
      await new Promise((resolve) => setImmediate(resolve))
      gc()
    }
    assert.equal(statements?.deref(), undefined, 'the route still holds the proposed statements')
    apply(outcome(bulk.length))
    const response = await answer
    assert.equal(response.status, 200)
    const body = (await response.json()) as { results: unknown[] }
    assert.equal(body.results.length, bulk.length)
  } finally {
    apply?.(outcome(0))
    await close()
  }
})

test('a follower refuses at once, and the route forwards the statements to the leader', async () => {
  const forwarded: ExecuteRequest[] = []
  const { post, close } = await serve(
    {
      execute() {
        throw new NotLeaderError(1, '127.0.0.1:4001', '127.0.0.1:4002')
      },
    },
    {
      execute(leader: string, request: ExecuteRequest) {
        assert.equal(leader, '127.0.0.1:4002')
        forwarded.push(request)
        return Promise.resolve(outcome(request.statements.length))
      },
    },
  )
  try {
    const response = await post(bulk.slice(0, 3))
    assert.equal(response.status, 200)
    assert.deepEqual(forwarded[0]?.statements, bulk.slice(0, 3))
    assert.equal(response.headers.get('x-rqlite-served-by'), '127.0.0.1:4002')
  } finally {
    await close()
  }
})
