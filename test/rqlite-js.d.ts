// Types for rqlite-js 2.5.7 (the official rqlite JavaScript client), which ships none: only the parts the
// system tests call, written from the library's source (es6/ in the package).

declare module 'rqlite-js/lib/api/results/index.js' {
  /** One result: a row of a query (its columns mapped to values) or one statement's write summary. */
  export class DataResult {
    time: number
    lastInsertId: number | undefined
    rowsAffected: number
    data: Record<string, unknown>
    constructor(result: object, valuesIndex?: number)
    get(property: string): unknown
    getTime(): number
    getLastInsertId(): number | undefined
    getRowsAffected(): number
    toObject(): Record<string, unknown>
    toArray(): unknown[]
    toColumnsArray(): string[]
    toString(): string
  }

  /** One statement's `error`. */
  export class DataResultError extends Error {
    code: string
    toObject(): { error: string }
  }

  /** A whole response: every row of every query result, and each write or error result, in order. */
  export class DataResults {
    time: number
    results: (DataResult | DataResultError)[]
    constructor(data: object)
    hasError(): boolean
    getFirstError(): DataResultError | undefined
    getTime(): number
    get(index: number): DataResult | DataResultError | undefined
    getResults(): (DataResult | DataResultError)[]
    toArray(): Record<string, unknown>[]
    toString(): string
  }
}

declare module 'rqlite-js' {
  import type { Readable } from 'node:stream'
  import type { DataResults } from 'rqlite-js/lib/api/results/index.js'

  /** A statement: SQL alone, or `[sql, ...positional]`, or `[sql, {name: value}]`. */
  export type Statement = string | [string, ...unknown[]]

  export interface ApiOptions {
    level?: string
    pretty?: boolean
    timings?: boolean
    atomic?: boolean
    transaction?: boolean
    useLeader?: boolean
    timeout?: number
  }

  export interface HttpResponse {
    body: unknown
    status: number
  }

  export interface ClientOptions {
    authentication?: { username?: string; password?: string }
    activeHostRoundRobin?: boolean
    exponentailBackoffBase?: number
    exponentailBackoffExponent?: number
  }

  class HttpRequest {
    constructor(hosts: string | string[], options?: ClientOptions)
    getHosts(): string[]
    getActiveHostIndex(): number
    getLeaderHostIndex(): number
    setLeaderHostIndex(index: number): number
  }

  class ApiClient extends HttpRequest {
    get(path: string, sql: unknown, options?: ApiOptions): Promise<HttpResponse>
    post(path: string, sql: Statement | Statement[], options?: ApiOptions): Promise<HttpResponse>
  }

  export class DataApiClient extends ApiClient {
    query(sql: Statement | Statement[], options?: ApiOptions): Promise<DataResults>
    execute(sql: Statement | Statement[], options?: ApiOptions): Promise<DataResults>
  }

  export class BackupApiClient extends HttpRequest {
    /** `'sql'` for a SQL dump; anything else (default `'dump'`) for the binary SQLite image. */
    backup(format?: string): Promise<Readable>
    /** `'sql'` (default) sends text/plain; anything else application/octet-stream. */
    load(data: Buffer | string, format?: string): Promise<Readable>
  }

  export class StatusApiClient extends ApiClient {
    status(options?: object): Promise<HttpResponse>
    statusAllHosts(options?: object): Promise<{ response: HttpResponse; host: string }[]>
  }
}
