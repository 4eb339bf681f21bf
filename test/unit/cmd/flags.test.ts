// tqlited's flag parsing: every flag in the help parses, defaults fill the configuration, Go-style
// durations and booleans are accepted, and bad input gets a clear error naming the flag.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FlagError, flagSpecs, parseFlags, usage } from '../../../src/cmd/tqlited/flags.js'
import { parseDuration } from '../../../src/util/duration.js'

test('defaults: in memory, HTTP on localhost:4001, Raft on localhost:4002', () => {
  const { config } = parseFlags(['data'])
  assert.ok(config)
  assert.equal(config.httpAddr, 'localhost:4001')
  assert.equal(config.raftAddr, 'localhost:4002')
  assert.equal(config.httpAdvAddr, 'localhost:4001')
  assert.equal(config.onDisk, false)
  assert.equal(config.dataDir, 'data')
  assert.equal(config.raftSnapIntervalMs, 30_000)
  assert.equal(config.raftSnapSpacingMs, 10_000)
})

test('every flag listed by -h is accepted', () => {
  const text = usage()
  for (const spec of flagSpecs) {
    assert.match(text, new RegExp(`-${spec.name}\\b`))
    if (spec.name === 'h' || spec.name === 'version') continue
    const value =
      spec.kind === 'bool' ? [] : [spec.kind === 'duration' ? '2s' : spec.kind === 'int' ? '3' : 'x:1']
    assert.doesNotThrow(() => parseFlags([`-${spec.name}`, ...value, 'data']), spec.name)
  }
})

test('the seed quick-start command line', () => {
  const { config } = parseFlags(
    '-node-id 2 -http-addr 0.0.0.0:4011 -raft-addr host:4012 -join http://leader:4001,leader:4002 -on-disk d'.split(
      ' ',
    ),
  )
  assert.ok(config)
  assert.equal(config.nodeId, 2)
  assert.deepEqual(config.join, ['http://leader:4001', 'leader:4002'])
  assert.equal(config.onDisk, true)
  assert.equal(config.raftAdvAddr, 'host:4012')
})

test('bad input names the flag', () => {
  assert.throws(() => parseFlags(['-nope', 'd']), /flag provided but not defined: -nope/)
  assert.throws(() => parseFlags(['-node-id', '0', 'd']), /-node-id/)
  assert.throws(
    () => parseFlags(['-raft-snap-int', '5 seconds', 'd']),
    /invalid duration "5 seconds" for flag -raft-snap-int/,
  )
  assert.throws(() => parseFlags(['-join-attempts']), FlagError)
  assert.throws(() => parseFlags([]), /data directory/)
})

test('Go durations', () => {
  assert.equal(parseDuration('500ms'), 500)
  assert.equal(parseDuration('1m30s'), 90_000)
  assert.equal(parseDuration('2h'), 7_200_000)
  assert.equal(parseDuration('1.5s'), 1500)
  assert.equal(parseDuration('10'), undefined)
  assert.equal(parseDuration('1s2'), undefined)
  assert.equal(parseDuration(''), undefined)
})
