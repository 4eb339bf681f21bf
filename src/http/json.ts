/**
 * JSON with exact 64-bit integers: a `bigint` is written as its bare digits (as rqlite writes int64), a
 * Buffer/Uint8Array as base64. Key order is insertion order, which the result objects already follow.
 */
export function encodeJson(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  switch (typeof value) {
    case 'bigint':
      return value.toString()
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null'
    case 'string':
    case 'boolean':
      return JSON.stringify(value)
    case 'object': {
      if (value instanceof Uint8Array)
        return JSON.stringify(
          Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'),
        )
      if (Array.isArray(value)) return `[${value.map(encodeJson).join(',')}]`
      const parts: string[] = []
      for (const [key, item] of Object.entries(value)) {
        if (item === undefined) continue
        parts.push(`${JSON.stringify(key)}:${encodeJson(item)}`)
      }
      return `{${parts.join(',')}}`
    }
    default:
      return 'null'
  }
}

/**
 * Parses a request body, keeping integer literals beyond ±2^53 exact as `bigint` (rqlite binds a JSON
 * integer literal as INTEGER without rounding). Throws SyntaxError on malformed JSON.
 */
export function parseJsonExact(text: string): unknown {
  // Integer literals with 16+ digits outside strings are wrapped in a marker string, then restored.
  const marked = text.replace(
    /"(?:[^"\\]|\\.)*"|(-?\d{16,})(?![.\deE])/g,
    (match, digits: string | undefined) => (digits === undefined ? match : `"\u0000bigint:${digits}"`),
  )
  return JSON.parse(marked, (_key, value: unknown) => {
    if (typeof value === 'string' && value.startsWith('\u0000bigint:')) {
      const big = BigInt(value.slice(8))
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(big)
        : big
    }
    return value
  })
}
