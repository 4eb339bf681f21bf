// The queued-write path (rqlite's /db/execute?queue): batching, order, retry with the same session,
// capacity, barriers and close — with a fake `send` standing in for the store.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Batch } from '../../src/db/types.js'
import { checkPragmas, DisallowedPragmaError } from '../../src/store/disallowed-pragmas.js'
import { WriteQueue, WriteQueueClosedError } from '../../src/store/write-queue.js'
import { createLogger } from '../../src/util/logger.js'

const logger = createLogger({ level: 'error' })

interface Sent {
  statements: Batch
  transaction: boolean
  session: { clientId: string; seq: number }
}

function queue(options: Partial<ConstructorParameters<typeof WriteQueue>[0]> = {}, fail = 0) {
  const sent: Sent[] = []
  let failures = fail
  const q = new WriteQueue({
    capacity: 100,
    batchSize: 3,
    timeoutMs: 10,
    transaction: false,
    logger,
    retryDelayMs: 1,
    firstSequence: 1000n,
    send: async (statements, transaction, session) => {
      sent.push({ statements, transaction, session })
      if (failures > 0) {
        failures--
        throw new Error('leader not found')
      }
    },
    ...options,
  })
  return { q, sent }
}

test('requests are numbered in order and merged into batches of at most batchSize', async () => {
  const { q, sent } = queue()
  const queued = []
  for (let i = 0; i < 7; i++) queued.push(await q.enqueue([`INSERT ${i}`]))
  assert.deepEqual(
    queued.map((item) => item.sequence),
    [1001n, 1002n, 1003n, 1004n, 1005n, 1006n, 1007n],
  )
  await Promise.all(queued.map((item) => item.flushed))
  assert.deepEqual(
    sent.map((batch) => batch.statements),
    [['INSERT 0', 'INSERT 1', 'INSERT 2'], ['INSERT 3', 'INSERT 4', 'INSERT 5'], ['INSERT 6']],
  )
  assert.equal(q.lastWritten, 1007n)
  await q.close()
})

test('a failed batch is retried with the same session, so the state machine can apply it once', async () => {
  const { q, sent } = queue({}, 2)
  const { flushed } = await q.enqueue(['INSERT 1'])
  await flushed
  assert.equal(sent.length, 3)
  assert.deepEqual(new Set(sent.map((batch) => `${batch.session.clientId}/${batch.session.seq}`)).size, 1)
  const next = await q.enqueue(['INSERT 2'])
  await next.flushed
  assert.equal(sent.at(-1)!.session.seq, sent[0]!.session.seq + 1)
  assert.equal(q.stats.send_failures, 2)
  await q.close()
})

test('an empty request is a barrier: it settles after everything queued before it', async () => {
  const { q, sent } = queue({ batchSize: 1 })
  const first = await q.enqueue(['INSERT 1'])
  const barrier = await q.enqueue([])
  let firstDone = false
  first.flushed.then(() => {
    firstDone = true
  })
  await barrier.flushed
  assert.equal(firstDone, true)
  // Nothing is sent for the barrier itself.
  assert.equal(sent.length, 1)
  await q.close()
})

test('enqueue waits for room at capacity; after close, enqueue is refused', async () => {
  let release!: () => void
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const { q } = queue({ capacity: 2, batchSize: 1, send: () => gate })
  const a = await q.enqueue(['A'])
  await q.enqueue(['B'])
  let thirdQueued = false
  const third = q.enqueue(['C']).then((value) => {
    thirdQueued = true
    return value
  })
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(thirdQueued, false)
  release()
  await a.flushed
  await third
  assert.equal(thirdQueued, true)
  await q.close()
  await assert.rejects(q.enqueue(['D']), WriteQueueClosedError)
})

test('the transaction flag of the queue is passed with every batch', async () => {
  const { q, sent } = queue({ transaction: true })
  await (await q.enqueue(['X'])).flushed
  assert.equal(sent[0]!.transaction, true)
  await q.close()
})

test('disallowed PRAGMAs: setting journal_mode, synchronous, query_only, wal_autocheckpoint, any wal_checkpoint', () => {
  for (const sql of [
    'PRAGMA journal_mode=WAL',
    'pragma JOURNAL_MODE = delete',
    '  PRAGMA main.synchronous=OFF',
    'PRAGMA "main".query_only(1)',
    'PRAGMA wal_autocheckpoint = 0',
    'PRAGMA wal_checkpoint',
    'PRAGMA wal_checkpoint(FULL)',
    'SELECT 1; PRAGMA synchronous=0',
  ]) {
    assert.throws(() => checkPragmas([sql]), DisallowedPragmaError, sql)
    assert.throws(() => checkPragmas([[sql, 1]]), DisallowedPragmaError, sql)
  }
  for (const sql of [
    'PRAGMA journal_mode',
    'PRAGMA synchronous',
    'PRAGMA foreign_keys=ON',
    "SELECT 'PRAGMA journal_mode=WAL'",
    'CREATE TABLE pragma_notes (journal_mode TEXT)',
  ]) {
    assert.doesNotThrow(() => checkPragmas([sql]), sql)
  }
})
