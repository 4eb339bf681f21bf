// Goal: a transport listening on a specific IP dials from that IP, so a peer (or a fault-injection proxy in
// front of it, test/jepsen/proxy.ts) can tell which node is calling from the source address alone; a
// transport on a wildcard or a host name leaves the choice to the kernel. Method: transports on loopback
// aliases (all of 127/8 is loopback on Linux) dialling a plain TCP server that records remote addresses.
import assert from 'node:assert/strict'
import { type Server, type Socket, createServer } from 'node:net'
import { after, test } from 'node:test'
import { dialLocalAddress } from '../../../src/transport/dial.js'
import { type TestNode, heartbeat, retransmitUntil, startNode } from './helpers.js'

const started: TestNode[] = []
const servers: Server[] = []
after(async () => {
  await Promise.all(started.map((n) => n.transport.close()))
  for (const server of servers) server.close()
})

/** A TCP server on `host` that records the remote address of every connection and keeps it open. */
async function recorder(host: string): Promise<{ address: string; next: () => Promise<string> }> {
  const seen: string[] = []
  const waiters: ((address: string) => void)[] = []
  const server = createServer((socket: Socket) => {
    socket.on('error', () => {})
    const remote = socket.remoteAddress ?? '?'
    const waiter = waiters.shift()
    if (waiter) waiter(remote)
    else seen.push(remote)
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()))
  const bound = server.address()
  assert.ok(bound !== null && typeof bound === 'object')
  return {
    address: `${host}:${bound.port}`,
    next: () => {
      const first = seen.shift()
      return first !== undefined ? Promise.resolve(first) : new Promise((resolve) => waiters.push(resolve))
    },
  }
}

test('dialLocalAddress binds only to a specific IP of the target family', () => {
  assert.equal(dialLocalAddress('127.0.0.12', '127.0.0.13'), '127.0.0.12')
  assert.equal(dialLocalAddress('127.0.0.12', 'localhost'), '127.0.0.12')
  assert.equal(dialLocalAddress('::1', '::1'), '::1')
  assert.equal(dialLocalAddress('127.0.0.12', '::1'), undefined)
  assert.equal(dialLocalAddress('::1', '127.0.0.1'), undefined)
  assert.equal(dialLocalAddress('0.0.0.0', '127.0.0.13'), undefined)
  assert.equal(dialLocalAddress('::', '127.0.0.13'), undefined)
  assert.equal(dialLocalAddress('localhost', '127.0.0.13'), undefined)
  assert.equal(dialLocalAddress(undefined, '127.0.0.13'), undefined)
})

test('peer connections and RPCs start from the listen IP', async () => {
  const target = await recorder('127.0.0.13')
  const node = await startNode(2, { address: '127.0.0.12:0', connectTimeoutMs: 500 })
  started.push(node)
  node.transport.setPeer(3, target.address)
  assert.equal(await target.next(), '127.0.0.12')
  void node.transport.rpc(target.address, 'nodeInfo', new Uint8Array(0), { timeoutMs: 500 }).catch(() => {})
  assert.equal(await target.next(), '127.0.0.12')
})

test('a transport on 0.0.0.0 leaves the source address to the kernel', async () => {
  const target = await recorder('127.0.0.13')
  const node = await startNode(4, { address: '0.0.0.0:0', connectTimeoutMs: 500 })
  started.push(node)
  node.transport.setPeer(3, target.address)
  assert.equal(await target.next(), '127.0.0.1')
})

test('two transports on different aliases still exchange messages', async () => {
  const a = await startNode(5, { address: '127.0.0.15:0' })
  const b = await startNode(6, { address: '127.0.0.16:0' })
  started.push(a, b)
  a.transport.setPeer(6, b.address)
  b.transport.setPeer(5, a.address)
  await retransmitUntil(
    a.transport,
    () => heartbeat(5, 6, 1),
    b.inbox.waitFor((messages) => messages.some((m) => m.from === 5)),
  )
  await retransmitUntil(
    b.transport,
    () => heartbeat(6, 5, 1),
    a.inbox.waitFor((messages) => messages.some((m) => m.from === 6)),
  )
})
