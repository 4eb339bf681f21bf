// bin/tqlited, the shell launcher: it must hand glibc's hugetlb tunable to the daemon (glibc reads it only at
// process start), keep what the user set, pass every argument through unchanged, and exec (no parent shell
// left, so kill -9 of the started pid stops the daemon). A stand-in for node records what it was given.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, test } from 'node:test'

const launcher = resolve(import.meta.dirname, '../../../bin/tqlited')
const dir = mkdtempSync(join(tmpdir(), 'tqlite-launcher-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const fakeNode = join(dir, 'fake-node')
writeFileSync(
  fakeNode,
  '#!/bin/sh\nout="$FAKE_NODE_OUT"\nprintf "%s\\n" "$$" "$GLIBC_TUNABLES" > "$out"\nfor a in "$@"; do printf "%s\\n" "$a" >> "$out"; done\n',
)
chmodSync(fakeNode, 0o755)

async function launch(
  args: string[],
  tunables: string | undefined,
): Promise<{ pid: number; reportedPid: number; tunables: string; argv: string[] }> {
  const out = join(dir, `out-${Math.random().toString(36).slice(2)}`)
  const env: NodeJS.ProcessEnv = { ...process.env, TQLITED_NODE: fakeNode, FAKE_NODE_OUT: out }
  if (tunables === undefined) delete env.GLIBC_TUNABLES
  else env.GLIBC_TUNABLES = tunables
  const child = spawn(launcher, args, { env, stdio: 'ignore' })
  const code = await new Promise<number | null>((done) => child.once('exit', done))
  assert.equal(code, 0)
  const [reportedPid, reported, ...argv] = readFileSync(out, 'utf8').split('\n').slice(0, -1)
  return { pid: child.pid!, reportedPid: Number(reportedPid), tunables: reported!, argv }
}

test('the launcher sets the hugetlb tunable and execs node on the daemon with the arguments unchanged', async () => {
  const args = ['-node-id', '1', '-http-addr', '127.0.0.1:4001', 'data dir with spaces']
  const run = await launch(args, undefined)
  assert.equal(run.tunables, 'glibc.malloc.hugetlb=1')
  assert.equal(run.reportedPid, run.pid, 'node did not take the launcher process (no exec)')
  assert.equal(run.argv[0], '--expose-gc', 'node is started without gc() for the daemon')
  assert.equal(run.argv[1], resolve(import.meta.dirname, '../../../dist/cmd/tqlited/main.js'))
  assert.deepEqual(run.argv.slice(2), args)
})

test('the launcher adds to other tunables and leaves a hugetlb setting the user made', async () => {
  assert.equal(
    (await launch([], 'glibc.malloc.arena_max=2')).tunables,
    'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1',
  )
  assert.equal((await launch([], 'glibc.malloc.hugetlb=0')).tunables, 'glibc.malloc.hugetlb=0')
  assert.equal((await launch([], '')).tunables, 'glibc.malloc.hugetlb=1')
})
