// The TQLite restart test on its own, with a data set that is loaded once and restarted many times:
//
//   node --import tsx scripts/bench/restart.ts prepare --dir DIR [--mb 1074]   # load, snapshot, stop
//   node --import tsx scripts/bench/restart.ts restart --dir DIR [--times 3]   # restart all 3 at once
//   (either with --root CHECKOUT: run that checkout's dist/ instead of this one's)
//
// `prepare` starts a 3-node cluster from dist/ (as `npm run bench` does: `-raft-snap 64 -raft-snap-int 1h`),
// loads `--mb` MB of 1,000-byte random rows, waits until every node holds them in one snapshot, stops it and
// writes DIR/cluster.json (ports, row count). `restart` starts the three nodes again on the same ports and
// data, times until each answers `SELECT COUNT(*) FROM big` with the loaded count (the bench's criterion),
// prints the start-up phases each node logged and the RSS holding the data, then kills the nodes. Run
// `npm run build` first: both use dist/.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { installCleanupHandlers, killEverything, sleep, waitFor } from './procs.js'
import { type BigLoad, type ClusterNode, TqliteCluster } from './systems.js'

// --root: another checkout's dist/ (to time a build from before a change against the same data).
const root = resolve(arg('--root', resolve(import.meta.dirname, '../..')))
const flags = ['-raft-snap', '64', '-raft-snap-int', '1h']

interface Saved {
  readonly load: BigLoad
  readonly nodes: { id: number; httpAddr: string; raftAddr: string }[]
}

function arg(name: string, fallback?: string): string {
  const at = process.argv.indexOf(name)
  const value = at >= 0 ? process.argv[at + 1] : fallback
  if (value === undefined) throw new Error(`${name} is required`)
  return value
}

async function prepare(dir: string, megabytes: number): Promise<void> {
  mkdirSync(dir, { recursive: true })
  const cluster = new TqliteCluster(root, dir, flags)
  await cluster.start()
  let started = performance.now()
  const load = await cluster.loadBig(megabytes * 1e6, Date.now() + 30 * 60_000)
  console.log(`loaded ${load.rows} rows, ${(load.bytes / 2 ** 20).toFixed(0)} MiB in ${s(started)} s`)
  started = performance.now()
  await cluster.settleBig(load, 30 * 60_000)
  console.log(`in a snapshot on every node after ${s(started)} s; RSS ${mib(cluster.rss())}`)
  const nodes = cluster.nodes.map((node) => {
    const n = node as ClusterNode & { httpAddr: string; raftAddr: string }
    return { id: n.id, httpAddr: n.httpAddr, raftAddr: n.raftAddr }
  })
  writeFileSync(join(dir, 'cluster.json'), `${JSON.stringify({ load, nodes } satisfies Saved)}\n`)
  await cluster.stopAll()
  if (cluster.problems.length > 0) console.log(`problems: ${cluster.problems.join('; ')}`)
}

async function restart(dir: string, times: number): Promise<void> {
  const saved = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as Saved
  for (let run = 1; run <= times; run++) {
    const cluster = new TqliteCluster(root, dir, flags)
    const nodes = cluster.nodes as (ClusterNode & { httpAddr: string; raftAddr: string; dataDir: string })[]
    for (const node of saved.nodes) {
      nodes.push({
        ...node,
        url: `http://${node.httpAddr}`,
        dataDir: join(dir, `node${node.id}`),
        process: undefined,
      })
    }
    const logOffsets = nodes.map((node) => logText(dir, node.id).length)
    const t0 = performance.now()
    for (const node of nodes) await cluster.restart(node)
    const perNode = await Promise.all(
      nodes.map(async (node) => {
        const ok = await waitFor(
          async () => ((await cluster.countBig(node, saved.load).catch(() => false)) ? true : undefined),
          120_000,
          'the restart',
          50,
        ).catch(() => false)
        return ok ? (performance.now() - t0) / 1000 : null
      }),
    )
    const answered = perNode.map((x) => (x === null ? '> 120' : x.toFixed(2)))
    console.log(
      `run ${run}: ${(saved.load.bytes / 2 ** 20).toFixed(0)} MiB, answers after ${answered.join(' / ')} s` +
        ` (all: ${perNode.includes(null) ? '> 120' : Math.max(...(perNode as number[])).toFixed(2)} s);` +
        ` RSS ${mib(cluster.rss())}`,
    )
    await sleep(2000)
    console.log(`  RSS 2 s later ${mib(cluster.rss())}`)
    for (const [i, node] of nodes.entries()) {
      console.log(`  node ${node.id}:`)
      for (const line of logText(dir, node.id).slice(logOffsets[i]).split('\n')) {
        if (/"ms"|Ms"|starting|leadership/.test(line)) console.log(`    ${line}`)
      }
    }
    await cluster.stopAll()
  }
}

function logText(dir: string, id: number): string {
  try {
    return readFileSync(join(dir, `node${id}.log`), 'utf8')
  } catch {
    return ''
  }
}

const s = (since: number) => ((performance.now() - since) / 1000).toFixed(1)
const mib = (bytes: number[]) => bytes.map((b) => `${(b / 2 ** 20).toFixed(0)} MiB`).join(' / ')

installCleanupHandlers()
const command = process.argv[2]
const dir = resolve(arg('--dir'))
try {
  if (command === 'prepare') await prepare(dir, Number(arg('--mb', '1074')))
  else if (command === 'restart') await restart(dir, Number(arg('--times', '1')))
  else throw new Error('usage: restart.ts prepare|restart --dir DIR [--mb N] [--times N]')
} finally {
  killEverything()
}
