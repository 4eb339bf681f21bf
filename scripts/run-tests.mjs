#!/usr/bin/env node
// `npm test`: the Raft purity check, the type check, lint, then every test file under test/ through
// node:test with tsx. Files are listed explicitly: Node 20's `--test` finds no .ts files in a folder.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

function testFiles(dir) {
  const found = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) found.push(...testFiles(path))
    else if (entry.name.endsWith('.test.ts')) found.push(path)
  }
  return found.sort()
}

function run(what, command, args) {
  const started = Date.now()
  const result = spawnSync(command, args, { stdio: 'inherit' })
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  if (result.status !== 0) {
    console.error(`${what} failed after ${seconds}s`)
    process.exit(result.status ?? 1)
  }
  console.log(`${what}: ok (${seconds}s)`)
}

const only = process.argv.slice(2)
const files = only.length > 0 ? only : testFiles('test')
if (only.length === 0) {
  run('raft purity', process.execPath, ['scripts/check-raft-purity.mjs'])
  run('typecheck', process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--noEmit'])
  run('lint', process.execPath, ['node_modules/@biomejs/biome/bin/biome', 'check', 'src', 'test', 'scripts'])
}
run(`tests (${files.length} files)`, process.execPath, [
  '--import',
  'tsx',
  '--test',
  '--test-reporter=spec',
  ...files,
])
