export { PackedBatch, packBatch } from './batch-codec.js'
export { Database, type DatabaseOptions } from './database.js'
export { NOW_MS_MAX } from './determinism.js'
export {
  BadStatementError,
  DbError,
  type DbErrorCode,
  StaleIndexError,
} from './errors.js'
export { QUERY_WRITE_ERROR } from './executor.js'
export { type SplitStatement, splitStatements } from './statement-splitter.js'
export * from './types.js'
