// The bare node:http limit: reads the request body and answers a fixed rqlite-shaped JSON document, with
// nothing else in the process. Usage: node bare-http.mjs PORT
import { createServer } from 'node:http'

const port = Number(process.argv[2])
const body = JSON.stringify({ results: [{ last_insert_id: 1, rows_affected: 1 }] })
const server = createServer((req, res) => {
  const chunks = []
  req.on('data', (chunk) => chunks.push(chunk))
  req.on('end', () => {
    if (req.method === 'POST') JSON.parse(Buffer.concat(chunks).toString() || 'null')
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' })
    res.end(body)
  })
})
server.listen(port, '127.0.0.1', () => process.stdout.write(`listening on ${port}\n`))
