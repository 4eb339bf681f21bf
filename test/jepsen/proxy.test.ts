// Goal: the fault-injection proxy (proxy.ts) does to plain TCP connections what each rule promises, per
// directed link and whichever side dialled. Method: a plain server standing for node 1 on 127.0.0.21, its
// proxy on the same alias, and clients dialling from 127.0.0.22 (node 2) or 127.0.0.1 (external).
import assert from 'node:assert/strict'
import { type Server, type Socket, connect, createServer } from 'node:net'
import { after, before, test } from 'node:test'
import { NetworkProxy, externalNode, pass } from './proxy.js'

interface Upstream {
  readonly server: Server
  readonly address: string
  /** Server-side sockets in accept order, with the bytes each received. */
  readonly accepted: { socket: Socket; received: Buffer[] }[]
  nextAccepted(): Promise<{ socket: Socket; received: Buffer[] }>
}

async function upstream(host: string): Promise<Upstream> {
  const accepted: Upstream['accepted'] = []
  const waiters: ((entry: Upstream['accepted'][number]) => void)[] = []
  const server = createServer((socket) => {
    socket.on('error', () => {})
    const entry = { socket, received: [] as Buffer[] }
    socket.on('data', (chunk: Buffer) => entry.received.push(chunk))
    accepted.push(entry)
    waiters.shift()?.(entry)
  })
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()))
  const bound = server.address()
  assert.ok(bound !== null && typeof bound === 'object')
  let taken = 0
  return {
    server,
    address: `${host}:${bound.port}`,
    accepted,
    nextAccepted() {
      const entry = accepted[taken]
      if (entry) {
        taken += 1
        return Promise.resolve(entry)
      }
      return new Promise((resolve) =>
        waiters.push((e) => {
          taken += 1
          resolve(e)
        }),
      )
    },
  }
}

interface Client {
  readonly socket: Socket
  readonly received: Buffer[]
  readonly closed: Promise<void>
}

async function dial(address: string, localAddress: string): Promise<Client> {
  const [host, port] = address.split(':') as [string, string]
  const socket = connect({ host, port: Number(port), localAddress })
  const received: Buffer[] = []
  socket.on('data', (chunk: Buffer) => received.push(chunk))
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return { socket, received, closed }
}

const text = (chunks: Buffer[]): string => Buffer.concat(chunks).toString()

async function until(probe: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let node1: Upstream
let proxy: NetworkProxy
let proxyAddress: string
const log: string[] = []

before(async () => {
  node1 = await upstream('127.0.0.21')
  proxy = new NetworkProxy({ log: (line) => log.push(line) })
  proxy.registerNode(1, '127.0.0.21')
  proxy.registerNode(2, '127.0.0.22')
  proxyAddress = await proxy.listen(1, '127.0.0.21:0', node1.address)
})

after(async () => {
  await proxy.close()
  node1.server.close()
})

async function pair(): Promise<{ client: Client; server: Upstream['accepted'][number] }> {
  const client = await dial(proxyAddress, '127.0.0.22')
  const server = await node1.nextAccepted()
  return { client, server }
}

test('pass: bytes flow both ways', async () => {
  const { client, server } = await pair()
  client.socket.write('hello')
  server.socket.write('world')
  await until(() => text(server.received) === 'hello' && text(client.received) === 'world', 'both directions')
  client.socket.destroy()
})

test('blackhole 2->1 drops only what node 2 sends; the connection stays up until healed, then is reset', async () => {
  const { client, server } = await pair()
  proxy.set(2, 1, { kind: 'blackhole' })
  client.socket.write('lost')
  server.socket.write('arrives')
  await until(() => text(client.received) === 'arrives', 'the 1->2 half to keep working')
  await settle(100)
  assert.equal(text(server.received), '')
  assert.equal(client.socket.destroyed, false)
  proxy.set(2, 1, pass)
  await client.closed
  assert.ok(proxy.stats.bytesDropped >= 4)
  // A new connection after healing passes bytes again.
  const fresh = await pair()
  fresh.client.socket.write('again')
  await until(() => text(fresh.server.received) === 'again', 'bytes after healing')
  fresh.client.socket.destroy()
})

test('one-way 1->2 applies to the server-to-client half of a connection node 2 dialled', async () => {
  const { client, server } = await pair()
  proxy.set(1, 2, { kind: 'blackhole' })
  server.socket.write('dropped')
  client.socket.write('delivered')
  await until(() => text(server.received) === 'delivered', 'the 2->1 half to keep working')
  await settle(100)
  assert.equal(text(client.received), '')
  proxy.heal()
  await client.closed
})

test('reset: open connections are reset and new ones refused, both ways round; heal restores', async () => {
  const { client } = await pair()
  proxy.set(1, 2, { kind: 'reset' })
  await client.closed
  // Accepted by the kernel, then reset by the proxy: the connect itself may already fail with ECONNRESET.
  const refused = await dial(proxyAddress, '127.0.0.22').then(
    async (client) => {
      await client.closed
      return client.received.length
    },
    (error: NodeJS.ErrnoException) => error.code,
  )
  assert.ok(refused === 0 || refused === 'ECONNRESET', String(refused))
  proxy.heal()
  const again = await pair()
  again.client.socket.write('ok')
  await until(() => text(again.server.received) === 'ok', 'a connection after healing')
  again.client.socket.destroy()
})

test('delay: every chunk is held, order kept', async () => {
  const { client, server } = await pair()
  proxy.set(2, 1, { kind: 'delay', ms: 300 })
  const started = Date.now()
  for (const part of ['a', 'b', 'c', 'd']) {
    client.socket.write(part)
    await settle(20)
  }
  await until(() => text(server.received) === 'abcd', 'the delayed bytes', 3000)
  assert.ok(Date.now() - started >= 300, `arrived after ${Date.now() - started}ms`)
  // The other direction is untouched.
  const back = Date.now()
  server.socket.write('x')
  await until(() => text(client.received) === 'x', 'the undelayed direction')
  assert.ok(Date.now() - back < 250)
  proxy.heal()
  client.socket.destroy()
})

test('bandwidth: 20 KB at 40 KB/s takes about half a second', async () => {
  const { client, server } = await pair()
  proxy.set(2, 1, { kind: 'bandwidth', bytesPerSecond: 40_000 })
  const started = Date.now()
  client.socket.write(Buffer.alloc(20_000, 7))
  await until(() => Buffer.concat(server.received).length === 20_000, 'all the bytes', 5000)
  const elapsed = Date.now() - started
  assert.ok(elapsed >= 400 && elapsed < 3000, `took ${elapsed}ms`)
  proxy.heal()
  client.socket.destroy()
})

test('cut: each connection forwards N bytes, then is reset', async () => {
  proxy.set(2, 1, { kind: 'cut', afterBytes: 10 })
  const { client, server } = await pair()
  client.socket.write('0123456')
  await settle(30)
  client.socket.write('789abcdefghij')
  await client.closed
  await until(() => server.socket.destroyed, 'the upstream side to close')
  assert.equal(text(server.received), '0123456789')
  // The next connection gets its own budget.
  const second = await pair()
  second.client.socket.write('abcdefghijklmnop')
  await second.client.closed
  assert.equal(text(second.server.received), 'abcdefghij')
  proxy.heal()
})

test('a source address that is no node is the external node 0', async () => {
  proxy.set(externalNode, 1, { kind: 'blackhole' })
  const client = await dial(proxyAddress, '127.0.0.1')
  const server = await node1.nextAccepted()
  client.socket.write('nobody')
  await settle(100)
  assert.equal(text(server.received), '')
  proxy.heal()
  await client.closed
  assert.ok(
    log.some((line) => line.startsWith('link 0->1: blackhole')),
    log.join('\n'),
  )
})

test('a node that is down behind the proxy looks like a refused connection', async () => {
  const down = new NetworkProxy()
  const gone = await upstream('127.0.0.23')
  await new Promise<void>((resolve) => gone.server.close(() => resolve()))
  const address = await down.listen(3, '127.0.0.23:0', gone.address)
  await dial(address, '127.0.0.22').then(
    (client) => client.closed,
    () => {},
  )
  await until(() => down.stats.connectionsRefused === 1, 'the refusal')
  await down.close()
})
