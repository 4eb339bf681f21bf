import { randomBytes } from 'node:crypto'

const markerSecret = randomBytes(9).toString('base64url')
let markerCount = 0
/**
 * JSON with exact 64-bit integers: a `bigint` is written as its bare digits (as rqlite writes int64), a
 * Buffer/Uint8Array as base64. Key order is insertion order, which the result objects already follow.
 */
export function encodeJson(value: unknown, indent = '', depth = 0): string {
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
      // With an indent: Go's json.MarshalIndent layout (rqlite's `pretty`).
      const open = indent === '' ? '' : `\n${indent.repeat(depth + 1)}`
      const close = indent === '' ? '' : `\n${indent.repeat(depth)}`
      const colon = indent === '' ? ':' : ': '
      if (Array.isArray(value)) {
        if (value.length === 0) return '[]'
        return `[${open}${value.map((item) => encodeJson(item, indent, depth + 1)).join(`,${open}`)}${close}]`
      }
      const parts: string[] = []
      for (const [key, item] of Object.entries(value)) {
        if (item === undefined) continue
        parts.push(`${JSON.stringify(key)}${colon}${encodeJson(item, indent, depth + 1)}`)
      }
      if (parts.length === 0) return '{}'
      return `{${open}${parts.join(`,${open}`)}${close}}`
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
  // Integer literals with 16+ digits outside strings are wrapped in a marker string, then restored (not the
  // digits of a fraction or an exponent: 0.30000000000000004 is a number, and was once refused). The
  // marker holds a secret of this process and a counter, so no string a client sends can be mistaken for
  // one. Most bodies have no such literal: they skip the rewrite.
  if (!/\d{16}/.test(text)) return JSON.parse(text)
  const marker = `\u0000int${markerSecret}${(markerCount++).toString(36)}:`
  const marked = text.replace(
    /"(?:[^"\\]|\\.)*"|(?<![\d.eE+-])(-?\d{16,})(?![.\deE])/g,
    (match, digits: string | undefined) =>
      digits === undefined ? match : `"${marker.replace('\u0000', '\\u0000')}${digits}"`,
  )
  return JSON.parse(marked, (_key, value: unknown) => {
    if (typeof value === 'string' && value.startsWith(marker)) {
      const big = BigInt(value.slice(marker.length))
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(big)
        : big
    }
    return value
  })
}
