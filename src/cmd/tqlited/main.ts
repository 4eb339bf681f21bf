#!/usr/bin/env node
// tqlited: the TQLite node daemon. Parses flags, starts the node, and shuts it down on SIGTERM/SIGINT.
import { version } from '../../http/server.js'
import { createLogger } from '../../util/logger.js'
import { FlagError, parseFlags, usage } from './flags.js'
import { startNode } from './start.js'

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseFlags>
  try {
    parsed = parseFlags(process.argv.slice(2))
  } catch (error) {
    if (!(error instanceof FlagError)) throw error
    process.stderr.write(`${error.message}\n${usage()}\n`)
    process.exit(2)
  }
  if (parsed.help) {
    process.stdout.write(`${usage()}\n`)
    return
  }
  if (parsed.version) {
    process.stdout.write(`tqlited ${version} (node ${process.version})\n`)
    return
  }
  const config = parsed.config!
  const logger = createLogger({
    level: process.env.TQLITE_LOG_LEVEL === 'debug' ? 'debug' : 'info',
    base: { node: config.nodeId },
  })
  const node = await startNode(config, logger)
  const shutdown = (signal: string) => {
    logger.info('shutting down', { signal })
    node.stop().then(
      () => process.exit(process.exitCode ?? 0),
      (error: unknown) => {
        logger.error('shutdown failed', { error: String(error) })
        process.exit(1)
      },
    )
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))
}

main().catch((error: unknown) => {
  process.stderr.write(
    `tqlited: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  )
  process.exit(1)
})
