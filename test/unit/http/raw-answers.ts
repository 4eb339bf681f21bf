// Reading HTTP answers off a raw socket, for the front's tests.

export interface Answer {
  status: number
  headers: Map<string, string>
  body: string
}

/**
 * Whole answers in `text` (the bytes read as latin1), each with a Content-Length, or chunked (node's default),
 * or neither (node:http answering HTTP/1.0: the body runs to the close).
 */
export function splitAnswers(text: string): Answer[] {
  const answers: Answer[] = []
  let at = 0
  for (;;) {
    const headEnd = text.indexOf('\r\n\r\n', at)
    if (headEnd < 0) return answers
    const lines = text.slice(at, headEnd).split('\r\n')
    const status = Number(lines[0]!.split(' ')[1])
    const headers = new Map(
      lines.slice(1).map((line) => {
        const colon = line.indexOf(':')
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as [string, string]
      }),
    )
    let bodyStart = headEnd + 4
    let body: string
    if (headers.get('transfer-encoding') === 'chunked') {
      body = ''
      for (;;) {
        const sizeEnd = text.indexOf('\r\n', bodyStart)
        if (sizeEnd < 0) return answers
        const size = Number.parseInt(text.slice(bodyStart, sizeEnd), 16)
        if (text.length < sizeEnd + 2 + size + 2) return answers
        body += text.slice(sizeEnd + 2, sizeEnd + 2 + size)
        bodyStart = sizeEnd + 2 + size + 2
        if (size === 0) break
      }
      at = bodyStart
    } else {
      // Neither length nor chunks (node:http answering HTTP/1.0): the body runs to the close.
      const length = Number(headers.get('content-length') ?? text.length - bodyStart)
      if (text.length < bodyStart + length) return answers
      body = text.slice(bodyStart, bodyStart + length)
      at = bodyStart + length
    }
    answers.push({ status, headers, body })
  }
}
