// Goal: LogStore answers every LogReader question exactly as the MemoryLog model does, before and after
// reopening (and, on CrashFs, after a power loss once every save has resolved, except that the commit index
// may be an older saved one: one-sync appends do not make it durable); method: seeded random sequences of
// appends with truncation, hard states, local snapshots and installed snapshots, applied to both.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { MemoryLog } from '../../src/raft/memory-log.js'
import { CrashFs } from '../../src/storage/crash-fs.js'
import { type Fs, NodeFs } from '../../src/storage/fs.js'
import { LogStore } from '../../src/storage/log-store.js'
import { SeededRandom } from '../../src/storage/seeded-random.js'
import {
  applyToModel,
  applyToStore,
  assertSameAnswers,
  commitProblem,
  randomOp,
  modelView,
  view,
  withoutCommit,
} from './helpers.js'

/** Recovery never shows a commit index beyond the last index (a store outside Raft may have saved one). */
function clampCommit(model: MemoryLog): void {
  const hardState = model.hardState()
  if (hardState.commit > model.lastIndex()) model.setHardState({ ...hardState, commit: model.lastIndex() })
}

interface Backend {
  readonly fs: Fs
  /** Simulates a power loss (CrashFs only): returns the file system as it would be after it. */
  readonly crash?: (seed: number) => Fs
}

async function runContract(backend: Backend, dir: string, seed: number, steps: number): Promise<void> {
  const random = new SeededRandom(seed)
  const model = new MemoryLog()
  const clock = { term: 1, vote: 0 }
  let fs = backend.fs
  const options = { hardStateSlotsMax: 8 }
  let store = await LogStore.open(fs, dir, options)
  await assertSameAnswers(store, model, `seed ${seed}: fresh store`)
  const commits = new Set([0])
  for (let step = 0; step < steps; step++) {
    const op = randomOp(random, model, clock)
    applyToModel(model, op)
    if (op.kind === 'save' && op.request.hardState !== undefined) commits.add(op.request.hardState.commit)
    await applyToStore(store, op)
    const context = `seed ${seed}, step ${step}, ${op.kind}`
    await assertSameAnswers(store, model, context)
    const roll = random.next()
    if (roll < 0.1) {
      await store.close()
      store = await LogStore.open(fs, dir, options)
      clampCommit(model)
      await assertSameAnswers(store, model, `${context}, reopened`)
    } else if (roll < 0.2 && backend.crash !== undefined) {
      fs = backend.crash(random.int(0, 1_000_000))
      store = await LogStore.open(fs, dir, options)
      const got = await view(store)
      assert.deepStrictEqual(
        withoutCommit(got),
        withoutCommit(modelView(model)),
        `${context}, after a power loss`,
      )
      assert.equal(commitProblem(got, commits), undefined, `${context}, after a power loss`)
      model.setHardState(store.hardState())
    }
  }
  await store.close()
  clampCommit(model)
  const reopened = await LogStore.open(fs, dir, options)
  await assertSameAnswers(reopened, model, `seed ${seed}: final reopen`)
  await reopened.close()
}

describe('LogStore matches MemoryLog', () => {
  for (const seed of [1, 2, 3, 4]) {
    test(`on CrashFs, seed ${seed}`, async () => {
      let fs = new CrashFs()
      const backend: Backend = {
        get fs() {
          return fs
        },
        crash: (crashSeed) => {
          fs = fs.crash({ seed: crashSeed })
          return fs
        },
      }
      await runContract(backend, '/data/node1', seed, 200)
    })
  }

  test('on NodeFs in a temporary directory, seed 7', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tqlite-contract-'))
    try {
      await runContract({ fs: new NodeFs() }, join(dir, 'node1'), 7, 60)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('the comparison itself notices a one-entry difference (self-check)', async () => {
    const a = new MemoryLog()
    const b = new MemoryLog()
    a.append([{ kind: 'noop', index: 1, term: 1 }])
    b.append([{ kind: 'noop', index: 1, term: 2 }])
    await assert.rejects(assertSameAnswers(a, b, 'differs'), assert.AssertionError)
    assert.notDeepStrictEqual(await view(a), await view(b))
  })
})
