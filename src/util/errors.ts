/**
 * The shared base of the typed operating errors (style.md §2.4): `src/storage`, `src/transport`, `src/db` and
 * `src/store` each derive their folder's base class from it, which narrows `Code` to that folder's codes.
 * Match on `code` or `instanceof`, never on the message.
 *
 * `name` is the name of the class actually constructed (`CorruptLogError`, `NotLeaderError`, ...), so a
 * subclass needs no `name` of its own; keep class names equal to the names callers and logs expect.
 * `cause` comes from the standard `ErrorOptions`. Programmer errors are not these: they throw
 * `AssertionError` from `src/util/assert.ts`. `src/raft` does not use this module (it stays pure).
 */
export class TqliteError<Code extends string = string> extends Error {
  override name: string = this.constructor.name
  readonly code: Code

  constructor(code: Code, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}
