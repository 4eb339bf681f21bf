/**
 * The head of an HTTP/1.1 request, parsed for the front (`http1-front.ts`) in its one simple form: a GET or
 * POST in origin form whose body, if any, has a single `Content-Length`. Everything else (another version or
 * method, a chunked body, `Expect`, `Upgrade`, folded or malformed lines, a target node:http would
 * normalize) is left to node:http, which answers it, errors included, as it always has: the front never has
 * to decide a grey case, it hands the connection over.
 */

export interface RequestHead {
  readonly method: 'GET' | 'POST'
  readonly path: string
  /** The query string with its `?`, or '' (as `URL#search`). */
  readonly search: string
  readonly contentLength: number
  readonly contentType: string | undefined
  /** The client asked for the connection to close after this answer (`Connection: close`). */
  readonly close: boolean
}

/**
 * Letters, digits, `-`, `_` and `/` only: no `%`, dot segments or backslashes, which `URL` would decode or
 * resolve, so the path reaches the routes exactly as node:http would give it.
 */
const PATH = /^\/[A-Za-z0-9_\-/]*$/
/** Printable ASCII without `#` (a fragment, which `URL` drops); `URL` would escape some of these, which the
 * query parser decodes to the same text. */
const QUERY = /^[\x21-\x22\x24-\x7e]*$/
/** An RFC 9110 token (a header name); a leading space (an obsolete folded line) fails it. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const DECIMAL = /^[0-9]{1,15}$/

/** `text`: the head up to (not including) the blank line, decoded as latin1. Undefined: leave it to node:http. */
export function parseRequestHead(text: string): RequestHead | undefined {
  const lineEnd = text.indexOf('\r\n')
  const requestLine = lineEnd < 0 ? text : text.slice(0, lineEnd)
  const methodEnd = requestLine.indexOf(' ')
  const targetEnd = requestLine.indexOf(' ', methodEnd + 1)
  if (methodEnd < 0 || targetEnd < 0) return undefined
  const method = requestLine.slice(0, methodEnd)
  if ((method !== 'GET' && method !== 'POST') || requestLine.slice(targetEnd + 1) !== 'HTTP/1.1')
    return undefined
  const target = requestLine.slice(methodEnd + 1, targetEnd)
  const queryAt = target.indexOf('?')
  const path = queryAt < 0 ? target : target.slice(0, queryAt)
  const search = queryAt < 0 || queryAt === target.length - 1 ? '' : target.slice(queryAt)
  if (!PATH.test(path) || !QUERY.test(search)) return undefined

  let contentLength: number | undefined
  let contentType: string | undefined
  let connection: string | undefined
  let host = false
  let at = lineEnd < 0 ? text.length : lineEnd + 2
  while (at < text.length) {
    let end = text.indexOf('\r\n', at)
    if (end < 0) end = text.length
    const colon = text.indexOf(':', at)
    if (colon < 0 || colon >= end) return undefined
    const name = text.slice(at, colon)
    const value = trimSpaces(text.slice(colon + 1, end))
    at = end + 2
    if (!TOKEN.test(name) || hasControl(value)) return undefined
    switch (name.toLowerCase()) {
      case 'content-length':
        if (contentLength !== undefined || !DECIMAL.test(value)) return undefined
        contentLength = Number(value)
        break
      case 'content-type':
        if (contentType !== undefined) return undefined
        contentType = value
        break
      case 'connection':
        if (connection !== undefined) return undefined
        connection = value.toLowerCase()
        break
      case 'host':
        if (host) return undefined
        host = true
        break
      case 'transfer-encoding':
      case 'expect':
      case 'upgrade':
        return undefined
    }
  }
  // node:http answers a request without Host with 400 (HTTP/1.1 requires it).
  if (!host) return undefined
  let close = false
  if (connection !== undefined) {
    for (const option of connection.split(',')) {
      const token = trimSpaces(option)
      if (token === 'upgrade') return undefined
      if (token === 'close') close = true
    }
  }
  return { method, path, search, contentLength: contentLength ?? 0, contentType, close }
}

/** Strips spaces and tabs (HTTP's optional whitespace) from both ends. */
function trimSpaces(value: string): string {
  let start = 0
  let end = value.length
  while (start < end && (value.charCodeAt(start) === 32 || value.charCodeAt(start) === 9)) start++
  while (end > start && (value.charCodeAt(end - 1) === 32 || value.charCodeAt(end - 1) === 9)) end--
  return start === 0 && end === value.length ? value : value.slice(start, end)
}

/** Control characters other than tab are forbidden in a field value (a lone CR or LF among them). */
function hasControl(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if ((code < 32 && code !== 9) || code === 127) return true
  }
  return false
}
