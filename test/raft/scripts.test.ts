// Replays every interaction script in test/raft/scripts and compares each command's output with the golden
// text in the script; REWRITE=1 writes the actual output back (review the diff before committing).
import assert from 'node:assert/strict'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { InteractionEnv } from './interaction-env.js'
import { formatScript, parseScript, runCommand } from './script-runner.js'

const dir = join(import.meta.dirname, 'scripts')
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.txt'))
  .sort()

test('there are interaction scripts to run', () => {
  assert.ok(files.length >= 8, `expected at least 8 scripts, found ${files.length}`)
})

for (const file of files) {
  test(`script ${file}`, () => {
    const path = join(dir, file)
    const { cases, comments } = parseScript(readFileSync(path, 'utf8'))
    const env = new InteractionEnv()
    const actual = cases.map((c) => ({ ...c, expected: runCommand(env, c.command) }))
    if (process.env.REWRITE === '1') {
      writeFileSync(path, formatScript(actual, comments))
      return
    }
    cases.forEach((c, i) => {
      assert.equal(actual[i]!.expected, c.expected, `${file}:${c.line}: ${c.command}`)
    })
  })
}
