import type { Entry, Message } from './message.js'
import type { Ready } from './ready.js'

/** Deterministic one-line descriptions, for interaction scripts (golden output) and debug logs. */
export function describeEntry(entry: Entry): string {
  switch (entry.kind) {
    case 'normal':
      return `${entry.term}/${entry.index} ${new TextDecoder().decode(entry.data)}`
    case 'noop':
      return `${entry.term}/${entry.index} noop`
    case 'confChange':
      return `${entry.term}/${entry.index} ${entry.change.type}(${entry.change.nodeId})`
  }
}

const entriesText = (entries: readonly Entry[]): string =>
  entries.length === 0 ? '' : ` [${entries.map(describeEntry).join(', ')}]`

export function describeMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`
  switch (m.type) {
    case 'append':
      return `${head} prev=${m.prevTerm}/${m.prevIndex} commit=${m.commit}${entriesText(m.entries)}`
    case 'appendResponse':
      return m.reject
        ? `${head} reject index=${m.index} hint=${m.hintTerm}/${m.rejectHint}`
        : `${head} index=${m.index}`
    case 'vote':
    case 'preVote':
      return `${head} last=${m.lastTerm}/${m.lastIndex}${m.transfer ? ' transfer' : ''}`
    case 'voteResponse':
    case 'preVoteResponse':
      return `${head} ${m.reject ? 'reject' : 'grant'}`
    case 'heartbeat':
      return `${head} commit=${m.commit}${m.readRound > 0 ? ` round=${m.readRound}` : ''}`
    case 'heartbeatResponse':
      return `${head}${m.readRound > 0 ? ` round=${m.readRound}` : ''}`
    case 'installSnapshot':
      return `${head} snapshot=${m.snapshot.meta.term}/${m.snapshot.meta.index} voters=${m.snapshot.meta.config.voters.join(',')}`
    case 'timeoutNow':
      return head
  }
}

/** A multi-line description of a Ready; empty parts are left out. */
export function describeReady(ready: Ready): string {
  const lines: string[] = []
  if (ready.softState) lines.push(`role: ${ready.softState.role} leader=${ready.softState.leaderId}`)
  if (ready.hardState) {
    const h = ready.hardState
    lines.push(`hardState: term=${h.term} vote=${h.vote} commit=${h.commit}`)
  }
  if (ready.snapshot) lines.push(`snapshot: ${ready.snapshot.meta.term}/${ready.snapshot.meta.index}`)
  if (ready.entries.length > 0) lines.push(`entries:${entriesText(ready.entries)}`)
  if (ready.committedEntries.length > 0) lines.push(`committed:${entriesText(ready.committedEntries)}`)
  for (const m of ready.messages) lines.push(`send: ${describeMessage(m)}`)
  for (const r of ready.readStates) lines.push(`read: context=${r.context} index=${r.index}`)
  if (ready.droppedReads.length > 0) lines.push(`droppedReads: ${ready.droppedReads.join(',')}`)
  if (ready.mustSync) lines.push('mustSync')
  return lines.join('\n')
}
