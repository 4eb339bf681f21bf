/** Parses a Go-style duration ("500ms", "2s", "1m30s", "1h") into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  }
  if (text === '0') return 0
  const pattern = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy
  let total = 0
  let consumed = 0
  for (const match of text.matchAll(pattern)) {
    if (match.index !== consumed) return undefined
    total += Number(match[1]) * units[match[2]!]!
    consumed += match[0].length
  }
  return consumed === text.length && consumed > 0 ? total : undefined
}
