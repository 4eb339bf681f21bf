import { posix } from 'node:path'
import type { FileHandle, Fs, OpenOptions } from './fs.js'
import { SeededRandom } from './seeded-random.js'

/**
 * An in-memory `Fs` that models power loss the way SQLite's test6 crash VFS does (testing.md §4.c).
 *
 * Every file (inode) has durable content and a list of pending operations (writes and truncations) made since
 * its last successful fsync; every directory has durable entries and a list of pending entry operations
 * (create, rename, unlink) made since its last successful `fsyncDir`. Reads see everything, as a page cache
 * would. `crash(choice)` returns a new `CrashFs` holding what a disk could contain after a power loss: the
 * durable state plus, per file and per directory, a chosen prefix of the pending operations, the last kept
 * write possibly torn (cut short, or with its tail zeroed as if the size reached the disk but not the data).
 *
 * Simplifications, on the side of finding more bugs: pending operations of one file (or one directory) reach
 * the disk in order; different files and directories are independent. Directories made by `mkdir` are durable
 * at once (the data directory is created at install time).
 *
 * `datasync` (fdatasync) has the same effect here as `fsync`: the model holds only content and size, and
 * fdatasync flushes both (a changed size is metadata needed to read the data back); what it skips, timestamps,
 * is not modelled. It is counted and reported separately, so tests can tell which sync a store uses.
 *
 * Faults: `injectDiskFull` (ENOSPC after N more bytes, after writing the part that fits), `injectFsyncError`
 * (also hits `datasync`) and `injectWriteError` (EIO, once). A failed fsync drops that file's pending writes from the durable path
 * for good while reads still see them, which is how Linux behaves ("fsyncgate"): retrying the fsync succeeds
 * and the data is still lost.
 *
 * Deterministic: random crash choices come from a seeded PRNG.
 */
export class CrashFs implements Fs {
  #dirs = new Map<string, Dir>()
  #nextInodeId = 1
  #spaceLeft: number | undefined
  #fsyncError: FaultSpec | undefined
  #writeError: FaultSpec | undefined
  #fsyncCounts = new Map<string, number>()
  #datasyncCounts = new Map<string, number>()
  #bytesWritten = 0

  /**
   * Called synchronously before every fsync, datasync, fsyncDir and rename, with the state just before it: the points
   * at which the power-loss tests `clone()` the file system and enumerate crash states.
   */
  onBarrier: ((event: BarrierEvent) => void) | undefined

  constructor() {
    this.#dirs.set('.', newDir())
    this.#dirs.set('/', newDir())
  }

  // --- Fs ---

  async open(path: string, options: OpenOptions): Promise<FileHandle> {
    const { dir, name, full } = this.#locate(path)
    let inode = dir.current.get(name)
    if (inode === undefined) {
      if (!options.create) throw errno('ENOENT', 'open', full)
      inode = new Inode(this.#nextInodeId++, new Uint8Array(0))
      dir.current.set(name, inode)
      dir.pending.push({ kind: 'link', name, inode })
    }
    return new CrashFileHandle(this.#host, inode, full, options.durableWrites === true)
  }

  async readFile(path: string): Promise<Uint8Array> {
    return new Uint8Array(this.#inodeAt(path, 'open').current)
  }

  async readdir(dir: string): Promise<string[]> {
    const found = this.#dirs.get(normalize(dir))
    if (found === undefined) throw errno('ENOENT', 'scandir', dir)
    return [...found.current.keys()].sort()
  }

  async rename(from: string, to: string): Promise<void> {
    const source = this.#locate(from)
    const target = this.#locate(to)
    if (source.dir !== target.dir) throw errno('EXDEV', 'rename', source.full)
    const inode = source.dir.current.get(source.name)
    if (inode === undefined) throw errno('ENOENT', 'rename', source.full)
    this.onBarrier?.({ kind: 'rename', path: target.full })
    source.dir.current.delete(source.name)
    source.dir.current.set(target.name, inode)
    source.dir.pending.push({ kind: 'rename', from: source.name, to: target.name, inode })
  }

  async unlink(path: string): Promise<void> {
    const { dir, name, full } = this.#locate(path)
    if (!dir.current.has(name)) throw errno('ENOENT', 'unlink', full)
    dir.current.delete(name)
    dir.pending.push({ kind: 'unlink', name })
  }

  async mkdir(dir: string): Promise<void> {
    let path = normalize(dir)
    for (;;) {
      if (!this.#dirs.has(path)) this.#dirs.set(path, newDir())
      const parent = posix.dirname(path)
      if (parent === path) return
      path = parent
    }
  }

  async fsyncDir(dir: string): Promise<void> {
    const path = normalize(dir)
    const found = this.#dirs.get(path)
    if (found === undefined) throw errno('ENOENT', 'open', path)
    this.onBarrier?.({ kind: 'fsyncDir', path })
    this.#count(path)
    if (this.#takeFault('fsync', path)) {
      found.pending = [] // fsyncgate: the entries may never reach the disk; the caller must give up
      throw errno('EIO', 'fsync', path)
    }
    for (const op of found.pending) applyDirOp(found.durable, op)
    found.pending = []
  }

  // --- file operations, reached by CrashFileHandle through #host ---

  readonly #host: HandleHost = {
    write: (inode, path, data, position) => this.#writeFile(inode, path, data, position),
    truncate: (inode, size) => this.#truncateFile(inode, size),
    fsync: (inode, path) => this.#fsyncFile(inode, path, 'fsync'),
    datasync: (inode, path) => this.#fsyncFile(inode, path, 'datasync'),
  }

  #writeFile(inode: Inode, path: string, data: Uint8Array, position: number): void {
    if (this.#takeFault('write', path)) throw errno('EIO', 'write', path)
    let bytes = data
    let full = false
    if (this.#spaceLeft !== undefined && data.byteLength > this.#spaceLeft) {
      bytes = data.subarray(0, this.#spaceLeft)
      full = true
    }
    if (this.#spaceLeft !== undefined) this.#spaceLeft -= bytes.byteLength
    this.#bytesWritten += bytes.byteLength
    if (bytes.byteLength > 0) {
      const op: FileOp = { kind: 'write', position, data: new Uint8Array(bytes) }
      inode.current = applyFileOp(inode.current, op)
      inode.pending.push(op)
    }
    if (full) throw errno('ENOSPC', 'write', path)
  }

  #truncateFile(inode: Inode, size: number): void {
    const op: FileOp = { kind: 'truncate', size }
    inode.current = applyFileOp(inode.current, op)
    inode.pending.push(op)
  }

  #fsyncFile(inode: Inode, path: string, kind: 'fsync' | 'datasync'): void {
    this.onBarrier?.({ kind, path })
    if (kind === 'fsync') this.#count(path)
    else this.#datasyncCounts.set(path, (this.#datasyncCounts.get(path) ?? 0) + 1)
    if (this.#takeFault('fsync', path)) {
      inode.pending = [] // fsyncgate: these writes will never be durable, though reads still see them
      throw errno('EIO', 'fsync', path)
    }
    for (const op of inode.pending) inode.durable = applyFileOp(inode.durable, op)
    inode.pending = []
  }

  // --- faults ---

  /** The next writes succeed for `afterBytes` more bytes in total; then writes fail with ENOSPC. */
  injectDiskFull(afterBytes: number): void {
    this.#spaceLeft = afterBytes
  }

  /** Space is available again. */
  freeSpace(): void {
    this.#spaceLeft = undefined
  }

  /** The next fsync or fsyncDir (of a path containing `pathIncludes`, when given) fails with EIO. */
  injectFsyncError(options: { readonly pathIncludes?: string } = {}): void {
    this.#fsyncError = { pathIncludes: options.pathIncludes }
  }

  /** The next write (to a path containing `pathIncludes`, when given) fails with EIO, writing nothing. */
  injectWriteError(options: { readonly pathIncludes?: string } = {}): void {
    this.#writeError = { pathIncludes: options.pathIncludes }
  }

  /** Bytes written through this file system so far (the unit of `injectDiskFull`). */
  bytesWritten(): number {
    return this.#bytesWritten
  }

  /** How many fsync/fsyncDir calls reached `path` (a file or directory), failed ones included. */
  fsyncCount(path: string): number {
    return this.#fsyncCounts.get(normalize(path)) ?? 0
  }

  /** How many datasync calls reached the file `path`, failed ones included. */
  datasyncCount(path: string): number {
    return this.#datasyncCounts.get(normalize(path)) ?? 0
  }

  /** Every sync of any kind (fsync, datasync, fsyncDir) of `path`, or of all paths when omitted. */
  syncCount(path?: string): number {
    if (path !== undefined) return this.fsyncCount(path) + this.datasyncCount(path)
    let total = 0
    for (const count of this.#fsyncCounts.values()) total += count
    for (const count of this.#datasyncCounts.values()) total += count
    return total
  }

  // --- crashes ---

  /** An independent copy, pending operations included (to crash it later in many ways). */
  clone(): CrashFs {
    const copy = new CrashFs()
    copy.#nextInodeId = this.#nextInodeId
    const inodes = new Map<Inode, Inode>()
    const cloneInode = (inode: Inode): Inode => {
      let found = inodes.get(inode)
      if (found === undefined) {
        found = new Inode(inode.id, inode.durable)
        found.current = inode.current
        found.pending = [...inode.pending]
        inodes.set(inode, found)
      }
      return found
    }
    for (const [path, dir] of this.#dirs) {
      copy.#dirs.set(path, {
        durable: new Map([...dir.durable].map(([name, inode]) => [name, cloneInode(inode)])),
        current: new Map([...dir.current].map(([name, inode]) => [name, cloneInode(inode)])),
        pending: dir.pending.map((op) =>
          op.kind === 'unlink' ? op : { ...op, inode: cloneInode(op.inode) },
        ),
      })
    }
    return copy
  }

  /** What could still be lost: files and directories with pending operations. */
  pendingState(): PendingState {
    const reachable = new Set<Inode>()
    for (const dir of this.#dirs.values()) {
      for (const inode of dir.durable.values()) reachable.add(inode)
      for (const op of dir.pending) if (op.kind !== 'unlink') reachable.add(op.inode)
    }
    const files: PendingFile[] = []
    for (const inode of [...reachable].sort((a, b) => a.id - b.id)) {
      if (inode.pending.length === 0) continue
      files.push({
        inode: inode.id,
        paths: this.#pathsOf(inode),
        ops: inode.pending.map((op) =>
          op.kind === 'write'
            ? { kind: 'write', bytes: op.data.byteLength }
            : { kind: 'truncate', bytes: op.size },
        ),
      })
    }
    const dirs: PendingDir[] = []
    for (const [path, dir] of [...this.#dirs].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (dir.pending.length > 0) dirs.push({ dir: path, ops: dir.pending.length })
    }
    return { files, dirs }
  }

  /**
   * The state after a power loss: durable content plus the chosen prefix of each pending list (nothing kept
   * unless chosen), or a random choice from `seed`. This file system is left unchanged.
   */
  crash(choice: CrashChoice | { readonly seed: number } = {}): CrashFs {
    const resolved =
      'seed' in choice ? randomCrashChoice(this.pendingState(), new SeededRandom(choice.seed)) : choice
    const fileChoices = new Map((resolved.files ?? []).map((file) => [file.inode, file]))
    const dirKeeps = new Map((resolved.dirs ?? []).map((dir) => [normalize(dir.dir), dir.keep]))
    const after = new CrashFs()
    after.#nextInodeId = this.#nextInodeId
    const materialized = new Map<Inode, Inode>()
    const materialize = (inode: Inode): Inode => {
      let found = materialized.get(inode)
      if (found === undefined) {
        found = new Inode(inode.id, crashedContent(inode, fileChoices.get(inode.id)))
        materialized.set(inode, found)
      }
      return found
    }
    for (const [path, dir] of this.#dirs) {
      const entries = new Map(dir.durable)
      const keep = Math.min(dirKeeps.get(path) ?? 0, dir.pending.length)
      for (const op of dir.pending.slice(0, keep)) applyDirOp(entries, op)
      const durable = new Map([...entries].map(([name, inode]) => [name, materialize(inode)]))
      after.#dirs.set(path, { durable, current: new Map(durable), pending: [] })
    }
    return after
  }

  // --- disk-image helpers for tests ---

  exists(path: string): boolean {
    const { dir, name } = this.#locate(path)
    return dir.current.has(name)
  }

  /** The file's content as reads see it. */
  fileBytes(path: string): Uint8Array {
    return new Uint8Array(this.#inodeAt(path, 'open').current)
  }

  /** Replaces a file's content, durably, as if edited on a powered-off disk. */
  replaceFile(path: string, bytes: Uint8Array): void {
    const inode = this.#inodeAt(path, 'open')
    inode.durable = new Uint8Array(bytes)
    inode.current = inode.durable
    inode.pending = []
  }

  // --- internals ---

  #locate(path: string): { dir: Dir; name: string; full: string } {
    const full = normalize(path)
    const dir = this.#dirs.get(posix.dirname(full))
    if (dir === undefined) throw errno('ENOENT', 'open', full)
    return { dir, name: posix.basename(full), full }
  }

  #inodeAt(path: string, syscall: string): Inode {
    const { dir, name, full } = this.#locate(path)
    const inode = dir.current.get(name)
    if (inode === undefined) throw errno('ENOENT', syscall, full)
    return inode
  }

  #pathsOf(inode: Inode): string[] {
    const paths: string[] = []
    for (const [path, dir] of this.#dirs) {
      for (const [name, found] of dir.current) if (found === inode) paths.push(posix.join(path, name))
    }
    return paths
  }

  #count(path: string): void {
    this.#fsyncCounts.set(path, (this.#fsyncCounts.get(path) ?? 0) + 1)
  }

  #takeFault(kind: 'fsync' | 'write', path: string): boolean {
    const fault = kind === 'fsync' ? this.#fsyncError : this.#writeError
    if (fault === undefined) return false
    if (fault.pathIncludes !== undefined && !path.includes(fault.pathIncludes)) return false
    if (kind === 'fsync') this.#fsyncError = undefined
    else this.#writeError = undefined
    return true
  }
}

export interface BarrierEvent {
  readonly kind: 'fsync' | 'datasync' | 'fsyncDir' | 'rename'
  readonly path: string
}

/** For one file with pending operations: keep the first `keep`, the last of them possibly torn. */
export interface FileCrashChoice {
  readonly inode: number
  readonly keep: number
  /** Only when the last kept operation is a write: keep `bytes` of it; `zero` writes zeros for the rest. */
  readonly torn?: { readonly bytes: number; readonly fill: 'drop' | 'zero' }
}

export interface CrashChoice {
  readonly files?: readonly FileCrashChoice[]
  readonly dirs?: readonly { readonly dir: string; readonly keep: number }[]
}

export interface PendingFile {
  readonly inode: number
  /** Current names of the file, for messages. */
  readonly paths: readonly string[]
  readonly ops: readonly { readonly kind: 'write' | 'truncate'; readonly bytes: number }[]
}

export interface PendingDir {
  readonly dir: string
  readonly ops: number
}

export interface PendingState {
  readonly files: readonly PendingFile[]
  readonly dirs: readonly PendingDir[]
}

/** The crash options for one file: keep 0..n operations, and a few tears of each kept write. */
export function fileCrashOptions(file: PendingFile): FileCrashChoice[] {
  const options: FileCrashChoice[] = []
  for (let keep = 0; keep <= file.ops.length; keep++) {
    options.push({ inode: file.inode, keep })
    const last = file.ops[keep - 1]
    if (last === undefined || last.kind !== 'write' || last.bytes < 2) continue
    const cuts = new Set([1, Math.floor(last.bytes / 2), last.bytes - 1])
    for (const bytes of cuts) options.push({ inode: file.inode, keep, torn: { bytes, fill: 'drop' } })
    options.push({ inode: file.inode, keep, torn: { bytes: Math.floor(last.bytes / 2), fill: 'zero' } })
  }
  return options
}

/**
 * Crash choices for a state: all combinations when there are at most `limit`, otherwise the two extremes
 * (nothing pending survives, everything survives) and `limit - 2` seeded random combinations.
 */
export function enumerateCrashChoices(
  pending: PendingState,
  options: { readonly limit: number; readonly seed: number },
): CrashChoice[] {
  const fileOptions = pending.files.map(fileCrashOptions)
  const dirOptions = pending.dirs.map((dir) =>
    Array.from({ length: dir.ops + 1 }, (_, keep) => ({ dir: dir.dir, keep })),
  )
  const dimensions: readonly (readonly unknown[])[] = [...fileOptions, ...dirOptions]
  const total = dimensions.reduce((product, options) => product * options.length, 1)
  const build = (pick: (options: readonly unknown[], dimension: number) => number): CrashChoice => ({
    files: fileOptions.map((options, i) => options[pick(options, i)]!),
    dirs: dirOptions.map((options, i) => options[pick(options, fileOptions.length + i)]!),
  })
  const choices: CrashChoice[] = []
  if (total <= options.limit) {
    for (let n = 0; n < total; n++) {
      let rest = n
      choices.push(
        build((opts) => {
          const index = rest % opts.length
          rest = Math.floor(rest / opts.length)
          return index
        }),
      )
    }
    return choices
  }
  const random = new SeededRandom(options.seed)
  choices.push(build(() => 0))
  choices.push(
    build((opts, dimension) => (dimension < fileOptions.length ? lastPlainKeep(opts) : opts.length - 1)),
  )
  while (choices.length < options.limit) choices.push(build((opts) => random.int(0, opts.length - 1)))
  return choices
}

function lastPlainKeep(options: readonly unknown[]): number {
  for (let i = options.length - 1; i >= 0; i--) {
    const option = options[i] as FileCrashChoice
    if (option.torn === undefined) return i
  }
  return 0
}

function randomCrashChoice(pending: PendingState, random: SeededRandom): CrashChoice {
  return {
    files: pending.files.map((file) => random.pick(fileCrashOptions(file))),
    dirs: pending.dirs.map((dir) => ({ dir: dir.dir, keep: random.int(0, dir.ops) })),
  }
}

// --- model ---

type FileOp =
  | { readonly kind: 'write'; readonly position: number; readonly data: Uint8Array }
  | { readonly kind: 'truncate'; readonly size: number }

type DirOp =
  | { readonly kind: 'link'; readonly name: string; readonly inode: Inode }
  | { readonly kind: 'unlink'; readonly name: string }
  | { readonly kind: 'rename'; readonly from: string; readonly to: string; readonly inode: Inode }

interface Dir {
  durable: Map<string, Inode>
  current: Map<string, Inode>
  pending: DirOp[]
}

interface FaultSpec {
  readonly pathIncludes: string | undefined
}

interface HandleHost {
  write(inode: Inode, path: string, data: Uint8Array, position: number): void
  truncate(inode: Inode, size: number): void
  fsync(inode: Inode, path: string): void
  datasync(inode: Inode, path: string): void
}

class Inode {
  readonly id: number
  durable: Uint8Array
  current: Uint8Array
  pending: FileOp[] = []

  constructor(id: number, content: Uint8Array) {
    this.id = id
    this.durable = content
    this.current = content
  }
}

class CrashFileHandle implements FileHandle {
  readonly #host: HandleHost
  readonly #inode: Inode
  readonly #path: string
  readonly durableWrites: boolean
  #closed = false

  constructor(host: HandleHost, inode: Inode, path: string, durableWrites: boolean) {
    this.#host = host
    this.#inode = inode
    this.#path = path
    this.durableWrites = durableWrites
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    this.#checkOpen('write')
    this.#host.write(this.#inode, this.#path, data, position)
    // O_DSYNC: the write, then its datasync, in one call; crash points and injected failures are those of
    // the datasync (a power loss may still find the write torn or missing).
    if (this.durableWrites) this.#host.datasync(this.#inode, this.#path)
  }

  async fsync(): Promise<void> {
    this.#checkOpen('fsync')
    this.#host.fsync(this.#inode, this.#path)
  }

  async datasync(): Promise<void> {
    this.#checkOpen('fdatasync')
    this.#host.datasync(this.#inode, this.#path)
  }

  async truncate(size: number): Promise<void> {
    this.#checkOpen('ftruncate')
    this.#host.truncate(this.#inode, size)
  }

  async size(): Promise<number> {
    this.#checkOpen('fstat')
    return this.#inode.current.byteLength
  }

  async close(): Promise<void> {
    this.#checkOpen('close')
    this.#closed = true
  }

  #checkOpen(syscall: string): void {
    if (this.#closed) throw errno('EBADF', syscall, this.#path)
  }
}

function newDir(): Dir {
  return { durable: new Map(), current: new Map(), pending: [] }
}

function normalize(path: string): string {
  const normalized = posix.normalize(path)
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized
}

function applyFileOp(content: Uint8Array, op: FileOp): Uint8Array {
  if (op.kind === 'truncate') {
    const out = new Uint8Array(op.size)
    out.set(content.subarray(0, op.size))
    return out
  }
  const out = new Uint8Array(Math.max(content.byteLength, op.position + op.data.byteLength))
  out.set(content)
  out.set(op.data, op.position)
  return out
}

function applyDirOp(entries: Map<string, Inode>, op: DirOp): void {
  switch (op.kind) {
    case 'link':
      entries.set(op.name, op.inode)
      break
    case 'unlink':
      entries.delete(op.name)
      break
    case 'rename':
      entries.delete(op.from)
      entries.set(op.to, op.inode)
      break
  }
}

function crashedContent(inode: Inode, choice: FileCrashChoice | undefined): Uint8Array {
  let content = inode.durable
  const keep = Math.min(choice?.keep ?? 0, inode.pending.length)
  for (let i = 0; i < keep; i++) {
    const op = inode.pending[i]!
    const torn = i === keep - 1 ? choice?.torn : undefined
    if (torn === undefined || op.kind !== 'write') {
      content = applyFileOp(content, op)
      continue
    }
    const data = new Uint8Array(torn.fill === 'zero' ? op.data.byteLength : torn.bytes)
    data.set(op.data.subarray(0, torn.bytes))
    content = applyFileOp(content, { kind: 'write', position: op.position, data })
  }
  return content
}

function errno(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const messages: Record<string, string> = {
    ENOENT: 'no such file or directory',
    ENOSPC: 'no space left on device',
    EIO: 'i/o error',
    EXDEV: 'cross-device link not permitted',
    EBADF: 'bad file descriptor',
  }
  return Object.assign(new Error(`${code}: ${messages[code] ?? 'error'}, ${syscall} '${path}'`), {
    code,
    syscall,
    path,
  })
}
