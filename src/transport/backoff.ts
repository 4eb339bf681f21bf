import { assert } from '../util/assert.js'

/** Reconnect delays: exponential from `initialMs`, capped at `maxMs`. */
export interface BackoffOptions {
  readonly initialMs: number
  readonly maxMs: number
}

export const defaultBackoff: BackoffOptions = Object.freeze({ initialMs: 50, maxMs: 2000 })

/**
 * The delay before reconnect attempt `failures` (1 after the first failure), with "equal jitter": half the
 * exponential step plus a random share of the other half. The fixed half keeps a floor under the retry rate;
 * the random half keeps the nodes of a cluster that lost a peer together from retrying in lockstep.
 * `random` returns numbers in [0, 1).
 */
export function backoffDelayMs(failures: number, options: BackoffOptions, random: () => number): number {
  assert(failures >= 1, `backoff after ${failures} failures`)
  assert(
    options.initialMs >= 0 && options.maxMs >= options.initialMs,
    'backoff needs 0 <= initialMs <= maxMs',
  )
  const step = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(failures - 1, 30))
  return step / 2 + random() * (step / 2)
}
