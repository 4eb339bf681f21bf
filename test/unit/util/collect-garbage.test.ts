// Goal: a dead buffer the size of a database is collected at once (V8 frees an ArrayBuffer only when it
// collects its object), once per turn, and never for small buffers or when node runs without --expose-gc.
// Method: a counting stand-in for `globalThis.gc`.
import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { collectGarbageAfter } from '../../../src/util/collect-garbage.js'

const original = globalThis.gc
let collections = 0
const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

function countingGc(): void {
  globalThis.gc = (() => {
    collections++
  }) as NodeJS.GCFunction
}

afterEach(() => {
  globalThis.gc = original
  collections = 0
})

test('a big buffer let go: one collection, after the current turn', async () => {
  countingGc()
  collectGarbageAfter(1 << 30)
  collectGarbageAfter(200 << 20)
  assert.equal(collections, 0, 'collected before the callers had let go')
  await nextTurn()
  assert.equal(collections, 1)
  collectGarbageAfter(1 << 30)
  await nextTurn()
  assert.equal(collections, 2, 'a later turn collects again')
})

test('a small buffer is left to V8', async () => {
  countingGc()
  collectGarbageAfter(1 << 20)
  await nextTurn()
  assert.equal(collections, 0)
})

test('without --expose-gc nothing happens', async () => {
  globalThis.gc = undefined
  collectGarbageAfter(1 << 30)
  await nextTurn()
  assert.equal(collections, 0)
})
