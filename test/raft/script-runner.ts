// Runs interaction scripts (etcd's datadriven format): each case is a command line, a `----` line and the
// expected output, ended by a blank line. With REWRITE=1 the expected output is replaced by the actual one.
import type { ConfChange } from '../../src/raft/index.js'
import type { PlantedBug } from '../../src/raft/index.js'
import type { InteractionEnv } from './interaction-env.js'

export interface ScriptCase {
  line: number
  command: string
  expected: string
}

export function parseScript(text: string): { cases: ScriptCase[]; comments: Map<number, string[]> } {
  const lines = text.split('\n')
  const cases: ScriptCase[] = []
  const comments = new Map<number, string[]>()
  let pending: string[] = []
  let i = 0
  while (i < lines.length) {
    const line = lines[i]!
    if (line.trim() === '' || line.startsWith('#')) {
      if (line.startsWith('#')) pending.push(line)
      i++
      continue
    }
    const command = line
    const startLine = i + 1
    if (lines[i + 1] !== '----') throw new Error(`line ${i + 2}: expected ---- after command "${command}"`)
    i += 2
    const out: string[] = []
    while (i < lines.length && lines[i] !== '') out.push(lines[i++]!)
    comments.set(cases.length, pending)
    pending = []
    cases.push({ line: startLine, command, expected: out.join('\n') })
  }
  if (pending.length > 0) comments.set(cases.length, pending)
  return { cases, comments }
}

export function formatScript(cases: readonly ScriptCase[], comments: Map<number, string[]>): string {
  const parts: string[] = []
  cases.forEach((c, index) => {
    const lead = comments.get(index) ?? []
    parts.push([...lead, c.command, '----', ...(c.expected === '' ? [] : [c.expected])].join('\n'))
  })
  const tail = comments.get(cases.length)
  if (tail && tail.length > 0) parts.push(tail.join('\n'))
  return `${parts.join('\n\n')}\n`
}

const num = (s: string | undefined, what: string): number => {
  const n = Number(s)
  if (!Number.isSafeInteger(n)) throw new Error(`bad ${what}: ${s}`)
  return n
}

/** Executes one command against the environment and returns its output text. */
export function runCommand(env: InteractionEnv, command: string): string {
  const [name, ...args] = command.trim().split(/\s+/)
  const id = () => num(args[0], 'node id')
  switch (name) {
    case 'bootstrap':
      env.bootstrap(args.map((a) => num(a, 'node id')))
      return ''
    case 'add-node':
      env.addNode(id())
      return ''
    case 'bug':
      env.bugs.add(args[0] as PlantedBug)
      return ''
    case 'campaign':
      env.get(id()).node.campaign()
      return ''
    case 'tick': {
      const count = args[1] ? num(args[1], 'count') : 1
      for (let i = 0; i < count; i++) env.get(id()).node.tick()
      return ''
    }
    case 'process-ready':
      return env.processReady(id())
    case 'deliver':
    case 'drop': {
      const from = args[1]?.startsWith('from=') ? num(args[1].slice(5), 'from') : undefined
      return env.deliver(id(), { ...(from !== undefined ? { from } : {}), drop: name === 'drop' }).join('\n')
    }
    case 'stabilize':
      return env.stabilize(args.length > 0 ? args.map((a) => num(a, 'node id')) : undefined)
    case 'propose': {
      const r = env.get(id()).node.propose(new TextEncoder().encode(args[1] ?? ''))
      return r.accepted ? `accepted index=${r.index}` : `refused: ${r.reason}`
    }
    case 'propose-conf-change':
      return env.proposeConfChange(id(), { type: args[1], nodeId: num(args[2], 'node id') } as ConfChange)
    case 'read-index': {
      const r = env.get(id()).node.readIndex(num(args[1], 'context'))
      return r.accepted ? 'accepted' : `refused: ${r.reason} leader=${r.leaderId}`
    }
    case 'transfer-leader': {
      const r = env.get(id()).node.transferLeadership(num(args[1], 'target'))
      return r.accepted ? 'accepted' : `refused: ${r.reason}`
    }
    case 'cut':
      env.cut.add(`${args[0]}->${args[1]}`)
      if (args[2] !== 'oneway') env.cut.add(`${args[1]}->${args[0]}`)
      return ''
    case 'heal':
      env.cut.clear()
      return ''
    case 'status':
      return env.status(id())
    case 'log':
      return env.log(id())
    case 'applied':
      return env.get(id()).applied.join('\n')
    case 'compact':
      env.compact(id(), num(args[1], 'index'))
      return ''
    case 'restart':
      env.restart(id())
      return ''
    case 'withhold-snapshot':
      env.snapshotWithheld.add(id())
      return ''
    case 'release-snapshot':
      env.snapshotWithheld.delete(id())
      return ''
    default:
      throw new Error(`unknown command ${name}`)
  }
}
