#!/usr/bin/env node
// Fails when src/raft stops being the pure core (design.md): no Node I/O modules, no other src/ folder
// except src/util, no timers, wall clocks or Math.random. Run by `npm run lint` and `npm test`.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = process.argv[2] ?? 'src/raft'
const rules = [
  {
    pattern:
      /from\s+['"](node:[^'"]+|fs|net|tls|http|https|dgram|child_process|worker_threads|timers|os|crypto|process)(\/[^'"]*)?['"]/,
    why: 'imports a Node module',
  },
  { pattern: /import\(\s*['"]node:/, why: 'imports a Node module dynamically' },
  {
    pattern: /from\s+['"]\.\.\/(?!util\/)[^'"]+['"]/,
    why: 'imports another src/ folder (only src/util is allowed)',
  },
  { pattern: /\b(setTimeout|setInterval|setImmediate|queueMicrotask)\s*\(/, why: 'uses a timer' },
  {
    pattern: /\bDate\.now\s*\(|\bnew\s+Date\s*\(|\bperformance\.now\s*\(|\bprocess\.hrtime/,
    why: 'reads a clock',
  },
  { pattern: /\bMath\.random\s*\(/, why: 'uses Math.random (inject a PRNG)' },
  { pattern: /\bprocess\./, why: 'touches the process' },
]

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield* files(path)
    else if (entry.name.endsWith('.ts')) yield path
  }
}

const problems = []
for (const file of files(root)) {
  const lines = readFileSync(file, 'utf8').split('\n')
  lines.forEach((line, i) => {
    const code = line.replace(/\/\/.*$/, '')
    for (const rule of rules) {
      if (rule.pattern.test(code))
        problems.push(`${relative('.', file)}:${i + 1}: ${rule.why}: ${line.trim()}`)
    }
  })
}
if (problems.length > 0) {
  console.error(`src/raft must stay pure (${problems.length} problem(s)):\n${problems.join('\n')}`)
  process.exit(1)
}
console.log(`raft purity: ok (${root})`)
