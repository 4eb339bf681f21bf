/** Thrown when an internal invariant is broken: a bug, never a user error. Never caught to continue. */
export class AssertionError extends Error {
  override name = 'AssertionError'
}

/** Asserts an invariant; assertions stay on in production (style.md §2.6). */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message)
}

export function assertNever(value: never, what = 'value'): never {
  throw new AssertionError(`unexpected ${what}: ${JSON.stringify(value)}`)
}

export function unreachable(message: string): never {
  throw new AssertionError(`unreachable: ${message}`)
}
