// Nemeses: the faults injected into a running JepsenCluster. Each one injects a fault on `start()` and heals
// it on `stop()`, logs what it did (with timestamps) to the shared NemesisLog, and counts its faults. `cycle`
// runs a list of them in turn (fault for 5-10 s, heal, quiet for a few seconds, repeat) until aborted.
import { open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Prng } from '../sim/prng.js'
import { type JepsenCluster, faketimeLibrary, probeTmpfs, request, waitFor } from './cluster.js'
import type { LinkRule } from './proxy.js'

export const nemesisNames = [
  'kill',
  'pause',
  'partition',
  'network',
  'membership',
  'transfer',
  'clock',
  'disk',
  'snapshot',
] as const
export type NemesisName = (typeof nemesisNames)[number]

export interface Nemesis {
  readonly name: NemesisName
  /** True for a nemesis whose whole effect is in how the cluster is started (`snapshot`). */
  readonly passive: boolean
  start(): Promise<void>
  stop(): Promise<void>
}

/** What the cluster must be started with for a set of nemeses. */
export interface NemesisRequirements {
  readonly flags: string[]
  readonly faketime: boolean
  readonly tmpfsBytes: number | undefined
}

export function requirements(names: readonly NemesisName[]): NemesisRequirements {
  return {
    // Frequent snapshots: compaction and InstallSnapshot happen all the time under every other fault.
    flags: names.includes('snapshot')
      ? ['-raft-snap', '50', '-raft-snap-int', '5s', '-raft-snap-spacing', '0s']
      : [],
    faketime: names.includes('clock'),
    tmpfsBytes: names.includes('disk') ? 128 * 1024 * 1024 : undefined,
  }
}

/** Why a nemesis cannot run on this machine, or undefined when it can. */
export async function unavailable(name: NemesisName): Promise<string | undefined> {
  if (name === 'clock' && !faketimeLibrary())
    return 'clock skew needs libfaketime (Debian package "faketime": apt-get install -y faketime)'
  if (name === 'disk') {
    const reason = await probeTmpfs()
    return reason === undefined ? undefined : `disk full needs a small tmpfs per node: ${reason}`
  }
  return undefined
}

/** Timestamped lines of what the nemeses did, and the count of faults by kind. */
export class NemesisLog {
  readonly lines: string[] = []
  readonly faults: Record<string, number> = {}
  readonly #started = Date.now()
  readonly #sink: (line: string) => void

  constructor(sink: (line: string) => void = () => {}) {
    this.#sink = sink
  }

  event(kind: string, what: string): void {
    const seconds = ((Date.now() - this.#started) / 1000).toFixed(1).padStart(6)
    const line = `${new Date().toISOString()} +${seconds}s ${kind}: ${what}`
    this.lines.push(line)
    this.#sink(line)
  }

  /** An injected fault: logged and counted under `kind`. */
  fault(kind: string, what: string): void {
    this.faults[kind] = (this.faults[kind] ?? 0) + 1
    this.event(kind, what)
  }

  get total(): number {
    return Object.values(this.faults).reduce((a, b) => a + b, 0)
  }
}

export interface NemesisContext {
  readonly cluster: JepsenCluster
  readonly rng: Prng
  readonly log: NemesisLog
}

export function createNemesis(name: NemesisName, context: NemesisContext): Nemesis {
  switch (name) {
    case 'kill':
      return killNemesis(context)
    case 'pause':
      return pauseNemesis(context)
    case 'partition':
      return partitionNemesis(context)
    case 'network':
      return networkNemesis(context)
    case 'membership':
      return membershipNemesis(context)
    case 'transfer':
      return transferNemesis(context)
    case 'clock':
      return clockNemesis(context)
    case 'disk':
      return diskNemesis(context)
    case 'snapshot':
      return {
        name,
        passive: true,
        async start() {},
        async stop() {},
      }
  }
}

function shuffle<T>(rng: Prng, items: readonly T[]): T[] {
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = rng.int(0, i)
    ;[copy[i], copy[j]] = [copy[j]!, copy[i]!]
  }
  return copy
}

/** A serving node, the leader with probability `leaderBias` when one is known. */
async function pickTarget(context: NemesisContext, leaderBias: number): Promise<number | undefined> {
  const { cluster, rng } = context
  const serving = cluster.ids.filter((id) => cluster.serving(id))
  if (serving.length === 0) return undefined
  if (rng.chance(leaderBias)) {
    const leader = await cluster.leaderOrUndefined(2000)
    if (leader !== undefined && serving.includes(leader)) return leader
  }
  return rng.pick(serving)
}

async function describeTarget(cluster: JepsenCluster, id: number): Promise<string> {
  const status = await cluster.status(id, 1000).catch(() => undefined)
  return status ? `node ${id} (${status.state.toLowerCase()}, term ${status.term})` : `node ${id}`
}

function killNemesis(context: NemesisContext): Nemesis {
  const { cluster, log } = context
  let victim: number | undefined
  return {
    name: 'kill',
    passive: false,
    async start() {
      victim = await pickTarget(context, 0.6)
      if (victim === undefined) return log.event('kill', 'no node to kill')
      const who = await describeTarget(cluster, victim)
      await cluster.kill(victim)
      log.fault('kill', `kill -9 ${who}`)
    },
    async stop() {
      if (victim === undefined) return
      if (!cluster.alive(victim) && !cluster.removed.has(victim)) {
        cluster.start(victim)
        log.event('kill', `restarted node ${victim}`)
      }
      victim = undefined
    },
  }
}

function pauseNemesis(context: NemesisContext): Nemesis {
  const { cluster, log } = context
  let victim: number | undefined
  return {
    name: 'pause',
    passive: false,
    async start() {
      victim = await pickTarget(context, 0.6)
      if (victim === undefined) return log.event('pause', 'no node to pause')
      const who = await describeTarget(cluster, victim)
      cluster.pause(victim)
      log.fault('pause', `SIGSTOP ${who}`)
    },
    async stop() {
      if (victim === undefined) return
      cluster.resume(victim)
      log.event('pause', `SIGCONT node ${victim}`)
      victim = undefined
    },
  }
}

/** Blocks every link between a node of `a` and a node of `b`, both ways. */
function separate(cluster: JepsenCluster, a: readonly number[], b: readonly number[], rule: LinkRule): void {
  for (const x of a) for (const y of b) cluster.proxy.setBoth(x, y, rule)
}

function partitionNemesis(context: NemesisContext): Nemesis {
  const { cluster, log, rng } = context
  const shapes = ['halves', 'isolate-leader', 'ring', 'bridge', 'one-way'] as const
  return {
    name: 'partition',
    passive: false,
    async start() {
      const ids = cluster.ids.filter((id) => !cluster.removed.has(id))
      const blackhole: LinkRule = { kind: 'blackhole' }
      let shape: (typeof shapes)[number] = rng.pick(shapes)
      if (shape === 'ring' && ids.length < 5) shape = 'bridge'
      const order = shuffle(rng, ids)
      let what: string
      if (shape === 'halves') {
        const minority = order.slice(0, Math.floor(ids.length / 2))
        const majority = order.slice(minority.length)
        separate(cluster, minority, majority, blackhole)
        what = `halves ${minority.join(',')} | ${majority.join(',')}`
      } else if (shape === 'isolate-leader') {
        const leader = (await cluster.leaderOrUndefined(2000)) ?? rng.pick(ids)
        const rest = ids.filter((id) => id !== leader)
        separate(cluster, [leader], rest, blackhole)
        what = `isolate leader ${leader} | ${rest.join(',')}`
      } else if (shape === 'ring') {
        // Each node reaches its neighbours on a ring only: every node sees a majority, no two the same one.
        const blocked: string[] = []
        for (let i = 0; i < order.length; i++) {
          for (let j = i + 1; j < order.length; j++) {
            const distance = Math.min(j - i, order.length - (j - i))
            if (distance > 1) {
              cluster.proxy.setBoth(order[i]!, order[j]!, blackhole)
              blocked.push(`${order[i]}-${order[j]}`)
            }
          }
        }
        what = `ring ${order.join('-')} (blocked ${blocked.join(' ')})`
      } else if (shape === 'bridge') {
        const left = order.slice(0, Math.floor((ids.length - 1) / 2))
        const bridge = order[left.length]!
        const right = order.slice(left.length + 1)
        separate(cluster, left, right, blackhole)
        what = `bridge ${left.join(',')} | ${bridge} | ${right.join(',')}`
      } else {
        const target = (await pickTarget(context, 0.6)) ?? rng.pick(ids)
        const rest = ids.filter((id) => id !== target)
        const outbound = rng.chance(0.5)
        for (const other of rest) {
          if (outbound) cluster.proxy.set(target, other, blackhole)
          else cluster.proxy.set(other, target, blackhole)
        }
        what = outbound
          ? `one-way: node ${target} cannot send to ${rest.join(',')}`
          : `one-way: node ${target} cannot hear from ${rest.join(',')}`
      }
      log.fault(`partition:${shape}`, what)
    },
    async stop() {
      if (cluster.proxy.describe().length === 0) return
      cluster.proxy.heal()
      log.event('partition', 'healed')
    },
  }
}

/** Slow and flaky links: delay, a bandwidth cap, connections cut after a few bytes, or resets. */
function networkNemesis(context: NemesisContext): Nemesis {
  const { cluster, log, rng } = context
  return {
    name: 'network',
    passive: false,
    async start() {
      const target = (await pickTarget(context, 0.5)) ?? rng.pick(cluster.ids)
      const rest = cluster.ids.filter((id) => id !== target)
      const kind = rng.pick(['delay', 'bandwidth', 'cut', 'reset'] as const)
      const rule: LinkRule =
        kind === 'delay'
          ? { kind, ms: rng.int(50, 400) }
          : kind === 'bandwidth'
            ? { kind, bytesPerSecond: rng.int(5, 100) * 1024 }
            : kind === 'cut'
              ? { kind, afterBytes: rng.int(64, 64 * 1024) }
              : { kind }
      for (const other of rest) cluster.proxy.setBoth(target, other, rule)
      log.fault(`network:${kind}`, `links of node ${target}: ${cluster.proxy.describe()[0] ?? kind}`)
    },
    async stop() {
      if (cluster.proxy.describe().length === 0) return
      cluster.proxy.heal()
      log.event('network', 'healed')
    },
  }
}

function membershipNemesis(context: NemesisContext): Nemesis {
  const { cluster, log, rng } = context
  let removed: number | undefined
  return {
    name: 'membership',
    passive: false,
    async start() {
      // With a member down, removing another could leave the new configuration without a quorum (the
      // change takes effect when appended): the removal would hang, and that is Raft, not a bug.
      const down = cluster.ids.filter((id) => !cluster.removed.has(id) && !cluster.serving(id))
      if (down.length > 0) return log.event('membership', `node(s) ${down.join(',')} down: nothing removed`)
      const leader = await cluster.leaderOrUndefined(5000)
      if (leader === undefined) return log.event('membership', 'no leader: nothing removed')
      const candidates = cluster.ids.filter((id) => id !== leader && cluster.serving(id))
      if (candidates.length === 0) return log.event('membership', 'no follower to remove')
      const target = rng.pick(candidates)
      const answer = await request(`${cluster.get(leader).endpoint}/remove`, {
        method: 'DELETE',
        body: { id: String(target) },
        timeoutMs: 10_000,
      })
      if (answer.status !== 200) {
        return log.event('membership', `remove node ${target} failed: ${answer.status} ${answer.body}`)
      }
      removed = target
      cluster.removed.add(target)
      await cluster.kill(target)
      log.fault('membership', `removed node ${target} (DELETE /remove via leader ${leader}) and stopped it`)
    },
    async stop() {
      if (removed === undefined) return
      const target = removed
      removed = undefined
      await cluster.startFresh(target)
      log.event('membership', `restarted node ${target} with an empty data directory and -join`)
      try {
        await waitFor(
          async () => {
            const leader = await cluster.leaderOrUndefined(2000)
            if (leader === undefined) return undefined
            const status = await cluster.status(target, 1000).catch(() => undefined)
            return status?.voter ? true : undefined
          },
          60_000,
          `node ${target} to rejoin as a voter`,
        )
        log.event('membership', `node ${target} is a voter again`)
      } catch (error) {
        log.event('membership', `node ${target} did not rejoin: ${String(error)}`)
      } finally {
        cluster.removed.delete(target)
      }
    },
  }
}

function transferNemesis(context: NemesisContext): Nemesis {
  const { cluster, log, rng } = context
  return {
    name: 'transfer',
    passive: false,
    async start() {
      const leader = await cluster.leaderOrUndefined(5000)
      if (leader === undefined) return log.event('transfer', 'no leader to transfer from')
      const others = cluster.ids.filter((id) => id !== leader && cluster.serving(id))
      if (others.length === 0) return log.event('transfer', 'no other node to transfer to')
      const target = rng.pick(others)
      const answer = await request(`${cluster.get(leader).endpoint}/leader`, {
        body: { id: String(target) },
        timeoutMs: 10_000,
      })
      if (answer.status === 200) log.fault('transfer', `leadership ${leader} -> ${target} (POST /leader)`)
      else log.event('transfer', `POST /leader ${leader} -> ${target}: ${answer.status} ${answer.body}`)
    },
    async stop() {},
  }
}

function clockNemesis(context: NemesisContext): Nemesis {
  const { cluster, log, rng } = context
  let skewed: number[] = []
  return {
    name: 'clock',
    passive: false,
    async start() {
      if (!cluster.faketime) return log.event('clock', 'cluster not under libfaketime: skipped')
      const target = (await pickTarget(context, 0.5)) ?? rng.pick(cluster.ids)
      const seconds = rng.int(1, 300) * (rng.chance(0.5) ? 1 : -1)
      const offset = `${seconds >= 0 ? '+' : ''}${seconds}s`
      await cluster.setClockOffset(target, offset)
      skewed.push(target)
      log.fault('clock', `node ${target} wall clock ${offset}`)
    },
    async stop() {
      for (const id of skewed) await cluster.setClockOffset(id, '+0')
      if (skewed.length > 0) log.event('clock', `clocks reset on ${skewed.join(',')}`)
      skewed = []
    },
  }
}

function diskNemesis(context: NemesisContext): Nemesis {
  const { cluster, log } = context
  let filled: { id: number; path: string } | undefined
  return {
    name: 'disk',
    passive: false,
    async start() {
      if (!cluster.tmpfs) return log.event('disk', 'data directories are not on tmpfs: skipped')
      const target = await pickTarget(context, 0.5)
      if (target === undefined) return log.event('disk', 'no node to fill')
      const path = join(cluster.get(target).dataDir, 'nemesis-filler')
      cluster.note(target, 'disk nemesis: filling the file system')
      const written = await fill(path)
      filled = { id: target, path }
      log.fault('disk', `filled node ${target}'s file system (${(written / 1048576).toFixed(1)} MiB filler)`)
    },
    async stop() {
      if (filled === undefined) return
      const { id, path } = filled
      filled = undefined
      await rm(path, { force: true })
      // A node that hit ENOSPC stops itself (fail-stop), which can take a while (a leader tries to hand
      // over first): wait for the exit, then start it again.
      const logText = await cluster.readLog(id)
      const sinceFill = logText.slice(logText.lastIndexOf('disk nemesis: filling the file system'))
      if (sinceFill.includes('storage failed') && cluster.alive(id)) {
        await waitFor(async () => (cluster.alive(id) ? undefined : true), 30_000, `node ${id} to stop`).catch(
          () => {},
        )
      }
      const restart = !cluster.alive(id) && !cluster.removed.has(id)
      if (restart) cluster.start(id)
      log.event(
        'disk',
        `freed node ${id}'s file system${restart ? ' and restarted it (it had stopped)' : ''}`,
      )
    },
  }
}

/** Writes zeros to `path` until the file system is full; returns the bytes written. */
async function fill(path: string): Promise<number> {
  const handle = await open(path, 'w')
  const chunk = Buffer.alloc(1024 * 1024)
  let written = 0
  try {
    for (;;) {
      try {
        const { bytesWritten } = await handle.write(chunk)
        written += bytesWritten
        if (bytesWritten < chunk.length) break
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break
        throw error
      }
    }
    // Whatever is left below a MiB goes too.
    for (let size = 64 * 1024; size >= 512; size /= 2) {
      try {
        for (;;) written += (await handle.write(Buffer.alloc(size))).bytesWritten
      } catch {}
    }
  } finally {
    await handle.close()
  }
  return written
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done)
  })
}

export interface CycleOptions {
  readonly rng: Prng
  readonly log: NemesisLog
  readonly signal: AbortSignal
  /** How long each fault lasts, [min, max] ms. Default 5-10 s (several election timeouts). */
  readonly faultMs?: readonly [number, number]
  /** Quiet time between faults, [min, max] ms. Default 2-5 s. */
  readonly quietMs?: readonly [number, number]
}

/**
 * Runs the active nemeses one at a time, chosen at random, until `signal` aborts; the fault in progress is
 * healed before it resolves. A nemesis that throws is logged and healed; the cycle goes on.
 */
export async function cycle(nemeses: readonly Nemesis[], options: CycleOptions): Promise<void> {
  const active = nemeses.filter((nemesis) => !nemesis.passive)
  const { rng, log, signal } = options
  const [faultMin, faultMax] = options.faultMs ?? [5000, 10_000]
  const [quietMin, quietMax] = options.quietMs ?? [2000, 5000]
  if (active.length === 0) {
    await sleep(2 ** 31 - 1, signal)
    return
  }
  while (!signal.aborted) {
    await sleep(rng.int(quietMin, quietMax), signal)
    if (signal.aborted) break
    const nemesis = rng.pick(active)
    try {
      await nemesis.start()
      await sleep(rng.int(faultMin, faultMax), signal)
    } catch (error) {
      log.event(nemesis.name, `failed: ${error instanceof Error ? error.message : String(error)}`)
    } finally {
      await nemesis.stop().catch((error: unknown) => log.event(nemesis.name, `heal failed: ${String(error)}`))
    }
  }
}

export { Prng }
