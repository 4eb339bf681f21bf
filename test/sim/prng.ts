// Seeded PRNG (xoshiro128**) with independent named streams, so drawing more numbers for one purpose
// (say, the network) never shifts the numbers another purpose (faults, workload) sees.

function hashString(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}

export class Prng {
  #a: number
  #b: number
  #c: number
  #d: number

  constructor(seed: number, stream = '') {
    let s = (seed ^ hashString(stream)) >>> 0
    const splitmix = () => {
      s = (s + 0x9e3779b9) >>> 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
      return (z ^ (z >>> 16)) >>> 0
    }
    this.#a = splitmix()
    this.#b = splitmix()
    this.#c = splitmix()
    this.#d = splitmix() | 1
  }

  /** Uniform 32-bit unsigned integer. */
  next32(): number {
    const result = Math.imul(rotl(Math.imul(this.#b, 5) >>> 0, 7), 9) >>> 0
    const t = (this.#b << 9) >>> 0
    this.#c ^= this.#a
    this.#d ^= this.#b
    this.#b ^= this.#c
    this.#a ^= this.#d
    this.#c ^= t
    this.#d = rotl(this.#d, 11)
    return result
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next32() / 4294967296
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1))
  }

  chance(p: number): boolean {
    return p > 0 && this.float() < p
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list')
    return items[Math.floor(this.float() * items.length)]!
  }

  /** A new independent stream derived from this one. */
  fork(stream: string): Prng {
    return new Prng(this.next32(), stream)
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0
}

/** FNV-1a over a string, for trace and content hashes (not cryptographic; collisions only weaken a check). */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}
