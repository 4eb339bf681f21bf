// What the bench needs before it can run: wrk and etcd (Debian packages, installed when missing), the
// project's node_modules, and an up-to-date dist/ (built when missing or older than src/).
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { arch, cpus, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'

function run(command: string, args: readonly string[], cwd?: string): { status: number; out: string } {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  return { status: result.status ?? 1, out: `${result.stdout ?? ''}${result.stderr ?? ''}` }
}

function runVisible(command: string, args: readonly string[], cwd?: string, env?: NodeJS.ProcessEnv): number {
  console.log(`$ ${command} ${args.join(' ')}`)
  const result = spawnSync(command, args, { cwd, stdio: 'inherit', env: env ?? process.env })
  return result.status ?? 1
}

export function hasCommand(name: string): boolean {
  return run('sh', ['-c', `command -v ${name}`]).status === 0
}

/** apt-get installs wrk, etcd-server and etcd-client when a command is missing; throws when it cannot. */
export function ensureTools(): void {
  const missing = [
    ['wrk', 'wrk'],
    ['etcd', 'etcd-server'],
    ['etcdctl', 'etcd-client'],
  ].filter(([command]) => !hasCommand(command!))
  if (missing.length === 0) return
  const packages = missing.map(([, pkg]) => pkg!)
  const manual = `apt-get install -y ${packages.join(' ')}`
  console.log(
    `bench: missing ${missing.map(([c]) => c).join(', ')}; installing Debian packages: ${packages.join(' ')}`,
  )
  if (!hasCommand('apt-get'))
    throw new Error(
      `cannot install ${packages.join(' ')}: no apt-get on this machine. Install wrk and etcd yourself.`,
    )
  if (process.getuid?.() !== 0)
    throw new Error(`cannot install ${packages.join(' ')}: not root. Run: sudo ${manual}`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  let status = runVisible('apt-get', ['install', '-y', ...packages], undefined, env)
  if (status !== 0) {
    if (runVisible('apt-get', ['update'], undefined, env) !== 0) throw new Error('apt-get update failed')
    status = runVisible('apt-get', ['install', '-y', ...packages], undefined, env)
  }
  if (status !== 0) throw new Error(`${manual} failed (exit ${status})`)
  const still = missing.filter(([command]) => !hasCommand(command!))
  if (still.length > 0) throw new Error(`installed, yet still missing: ${still.map(([c]) => c).join(', ')}`)
}

function newestMtime(path: string): number {
  const info = statSync(path)
  if (!info.isDirectory()) return info.mtimeMs
  let newest = 0
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)))
  return newest
}

/** npm ci when node_modules is missing; npm run build when dist/ is missing or older than its sources. */
export function ensureBuilt(root: string, allowBuild: boolean): void {
  if (!existsSync(join(root, 'node_modules', 'better-sqlite3'))) {
    console.log('bench: node_modules missing, installing')
    if (runVisible('npm', ['ci'], root) !== 0) throw new Error('npm ci failed')
  }
  const main = join(root, 'dist/cmd/tqlited/main.js')
  const sources = Math.max(
    newestMtime(join(root, 'src')),
    ...['tsconfig.json', 'tsconfig.build.json', 'package.json'].map((f) => statSync(join(root, f)).mtimeMs),
  )
  const stale = !existsSync(main) || statSync(main).mtimeMs < sources
  if (!stale) return
  if (!allowBuild) {
    if (!existsSync(main)) throw new Error('dist/ is missing and --no-build was given')
    console.log('bench: dist/ is older than src/ but --no-build was given: using it as it is')
    return
  }
  console.log(existsSync(main) ? 'bench: dist/ is older than src/, rebuilding' : 'bench: building dist/')
  if (runVisible('npm', ['run', 'build'], root) !== 0)
    throw new Error('npm run build failed: the bench runs the built tqlited (dist/), fix the build first')
}

export interface MachineInfo {
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly os: string
  readonly kernel: string
  readonly node: string
  readonly wrk: string
  readonly etcd: string
  readonly tqlite: string
  readonly loadAverageAtStart: number[]
}

export function machineInfo(root: string): MachineInfo {
  let os = 'unknown'
  try {
    os = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os
  } catch {
    // not Linux
  }
  const firstLine = (text: string) => text.split('\n').find((l) => l.trim() !== '') ?? ''
  const commit = run('git', ['rev-parse', '--short', 'HEAD'], root)
  const dirty = run('git', ['status', '--porcelain', '--untracked-files=no', 'src'], root)
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${os} (${arch()})`,
    kernel: release(),
    node: process.version,
    wrk: firstLine(run('wrk', ['-v']).out).replace(/\s+Copyright.*$/, ''),
    etcd: firstLine(run('etcd', ['--version']).out).replace(/^etcd Version:\s*/, 'etcd '),
    tqlite:
      commit.status === 0
        ? `${commit.out.trim()}${dirty.out.trim() !== '' ? ' + uncommitted changes in src/' : ''}`
        : 'unknown',
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  }
}
