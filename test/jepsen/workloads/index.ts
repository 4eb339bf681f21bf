// The workload factory.
import { AppendWorkload } from './append.js'
import { BankWorkload } from './bank.js'
import { RegisterWorkload } from './register.js'
import { SetWorkload } from './set.js'
import type { Level, Workload } from './workload.js'

export type { HistoryEntry, Level, Workload, WorkloadReport } from './workload.js'
export { levels } from './workload.js'

export const workloadNames = ['register', 'set', 'bank', 'append'] as const
export type WorkloadName = (typeof workloadNames)[number]

export function createWorkload(name: WorkloadName, level: Level): Workload {
  switch (name) {
    case 'register':
      return new RegisterWorkload(level)
    case 'set':
      return new SetWorkload(level)
    case 'bank':
      return new BankWorkload(level)
    case 'append':
      return new AppendWorkload(level)
    default:
      throw new Error(`unknown workload ${String(name)}`)
  }
}
