import type { IncomingMessage } from 'node:http'
import type { Batch } from '../db/types.js'
import { parseJsonBytes } from './json.js'

/** A protocol-level failure: answered with `status` and `message` as a plain-text body (Go's `http.Error`). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
    this.name = 'HttpError'
  }
}

/** The request body, refused with 413 as soon as it grows past `bytesMax` (nothing of it is used). */
export function readBytes(req: IncomingMessage, bytesMax: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > bytesMax) {
    req.resume()
    return Promise.reject(tooLarge(bytesMax))
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let bytes = 0
    let refused = false
    req.on('data', (chunk: Buffer) => {
      if (refused) return
      bytes += chunk.byteLength
      if (bytes > bytesMax) {
        refused = true
        chunks.length = 0
        // Keep reading (and dropping) the rest, so the 413 reaches a client still sending.
        reject(tooLarge(bytesMax))
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => {
      if (!refused) resolve(Buffer.concat(chunks))
    })
    req.on('error', reject)
  })
}

function tooLarge(bytesMax: number): HttpError {
  return new HttpError(413, `request body larger than ${bytesMax} bytes (tqlited -http-max-body)`)
}

export async function readText(req: IncomingMessage, bytesMax: number): Promise<string> {
  return (await readBytes(req, bytesMax)).toString('utf8')
}

/**
 * rqlite's request body grammar (rqlite-reference.md §1.3): a JSON array of SQL strings and
 * `[sql, ...params]` arrays, or with `Content-Type: text/plain` one SQL string. `allowEmpty` lets `[]`
 * through (a queued write with `wait` uses it as a barrier).
 */
export function parseStatements(
  contentType: string | undefined,
  body: Buffer,
  options: { textAllowed?: boolean; allowEmpty?: boolean } = {},
): Batch {
  if (contentType?.startsWith('text/plain') && options.textAllowed !== false) {
    const text = body.toString('utf8')
    if (text.trim() === '') throw new HttpError(400, 'no statements')
    return [text]
  }
  let value: unknown
  try {
    value = parseJsonBytes(body)
  } catch {
    throw new HttpError(400, 'invalid JSON body')
  }
  if (!Array.isArray(value)) throw new HttpError(400, 'invalid request')
  const statements: Batch[number][] = []
  for (const item of value) {
    if (typeof item === 'string') {
      if (item.trim() !== '') statements.push(item)
      continue
    }
    if (Array.isArray(item) && typeof item[0] === 'string') {
      for (const param of item.slice(1)) {
        const ok =
          param === null ||
          ['number', 'string', 'boolean', 'bigint'].includes(typeof param) ||
          (typeof param === 'object' && !Array.isArray(param)) ||
          isByteArray(param)
        if (!ok) throw new HttpError(400, `unsupported type ${JSON.stringify(param)}`)
      }
      statements.push([item[0], ...item.slice(1).map(toParam)] as unknown as Batch[number])
      continue
    }
    throw new HttpError(400, 'invalid request')
  }
  if (statements.length === 0 && options.allowEmpty !== true) throw new HttpError(400, 'no statements')
  return statements
}

/**
 * rqlite 8.31's BLOB forms: an array of byte values, or a string written as a SQLite blob literal (`x'0aff'`);
 * inside named-parameter objects too.
 */
function toParam(param: unknown): unknown {
  if (isByteArray(param)) return Buffer.from(param as number[])
  if (typeof param === 'string' && blobLiteral.test(param)) return Buffer.from(param.slice(2, -1), 'hex')
  if (typeof param === 'object' && param !== null && !Array.isArray(param)) {
    const named: Record<string, unknown> = {}
    for (const [name, value] of Object.entries(param)) {
      if (Array.isArray(value) && !isByteArray(value))
        throw new HttpError(400, `unsupported type ${JSON.stringify(value)}`)
      named[name] = toParam(value)
    }
    return named
  }
  return param
}

const blobLiteral = /^[xX]'(?:[0-9a-fA-F]{2})*'$/

/** An array of integers 0–255 is a BLOB parameter (rqlite 8.31). */
function isByteArray(value: unknown): boolean {
  return (
    Array.isArray(value) &&
    value.every((byte) => typeof byte === 'number' && Number.isInteger(byte) && byte >= 0 && byte <= 255)
  )
}
