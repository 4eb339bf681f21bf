// Goal: TcpTransport delivers Raft messages between real sockets as DESIGN.md promises (order per connection,
// big snapshots in parts, reconnects, cluster isolation, bad input confined to its connection); method: two or
// three transports on 127.0.0.1 port 0, awaiting deliveries and log lines rather than sleeping.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { type Socket, connect, createServer } from 'node:net'
import { after, describe, test } from 'node:test'
import type { InstallSnapshotMessage, Message } from '../../../src/raft/message.js'
import { HandshakeRejectedError, RpcConnectError } from '../../../src/transport/errors.js'
import { type Frame, FrameDecoder, encodeFrame } from '../../../src/transport/frame-codec.js'
import { decodeMessage, encodeMessage } from '../../../src/transport/message-codec.js'
import { FrameType, encodeHandshake, encodeHandshakeAccept } from '../../../src/transport/protocol.js'
import { type TestNode, freePort, heartbeat, meshPeers, retransmitUntil, startNode } from './helpers.js'

const started: TestNode[] = []
async function node(...args: Parameters<typeof startNode>): Promise<TestNode> {
  const result = await startNode(...args)
  started.push(result)
  return result
}
after(async () => {
  await Promise.all(started.map((n) => n.transport.close()))
})

const rounds = (messages: readonly Message[], from: number): number[] =>
  messages
    .filter((m) => m.from === from && m.type === 'heartbeat')
    .map((m) => (m.type === 'heartbeat' ? m.readRound : -1))

/** A raw client socket that has completed the handshake; resolves once the accept arrived. */
async function rawClient(address: string, nodeId: number, clusterId = 'test-cluster'): Promise<Socket> {
  const [host, port] = address.split(':')
  const socket = connect({ host: host!, port: Number(port) })
  const accepted = new Promise<void>((resolve, reject) => {
    socket.once('data', () => resolve())
    socket.once('error', reject)
  })
  socket.write(encodeHandshake({ nodeId, clusterId }))
  await accepted
  return socket
}

const closed = (socket: Socket): Promise<void> =>
  new Promise((resolve) => {
    if (socket.destroyed) resolve()
    else socket.once('close', () => resolve())
  })

describe('TcpTransport on loopback', () => {
  test('two transports exchange messages in order both ways', async () => {
    const a = await node(1)
    const b = await node(2)
    meshPeers([a, b])
    const count = 2000
    for (let i = 1; i <= count; i++) {
      a.transport.send(heartbeat(1, 2, i))
      b.transport.send(heartbeat(2, 1, i))
    }
    await Promise.all([a.inbox.waitForCount(count), b.inbox.waitForCount(count)])
    const expected = Array.from({ length: count }, (_, i) => i + 1)
    assert.deepEqual(rounds(b.inbox.messages, 1), expected)
    assert.deepEqual(rounds(a.inbox.messages, 2), expected)
    assert.equal(a.transport.stats().messagesSent, count)
    assert.equal(b.transport.stats().messagesReceived, count)
  })

  test('three transports: every pair in order, every message intact', async () => {
    const nodes = [await node(11), await node(12), await node(13)]
    meshPeers(nodes)
    const count = 300
    for (let i = 1; i <= count; i++) {
      for (const sender of nodes) {
        for (const receiver of nodes) {
          if (sender === receiver) continue
          const from = sender.transport.nodeId
          const to = receiver.transport.nodeId
          sender.transport.send({
            type: 'append',
            from,
            to,
            term: 3,
            prevIndex: i - 1,
            prevTerm: 3,
            commit: i - 1,
            entries: [{ kind: 'normal', index: i, term: 3, data: Uint8Array.of(from, to, i & 0xff) }],
          })
        }
      }
    }
    await Promise.all(nodes.map((n) => n.inbox.waitForCount(2 * count)))
    for (const receiver of nodes) {
      for (const sender of nodes) {
        if (sender === receiver) continue
        const from = sender.transport.nodeId
        const got = receiver.inbox.messages.filter((m) => m.from === from)
        assert.deepEqual(
          got.map((m) => (m.type === 'append' ? m.prevIndex + 1 : -1)),
          Array.from({ length: count }, (_, i) => i + 1),
        )
        for (const m of got) {
          assert.ok(m.type === 'append' && m.entries[0]?.kind === 'normal')
          assert.deepEqual(
            [...m.entries[0].data],
            [from, receiver.transport.nodeId, m.entries[0].index & 0xff],
          )
        }
      }
    }
  })

  test('appends holding large entries (sent by reference) arrive intact and in order among small ones', async () => {
    const [a, b] = [await node(41), await node(42)]
    meshPeers([a, b])
    const count = 60
    // Every third append carries two 140 KB entries, as a bulk INSERT does; the others one small entry.
    const large = (i: number) => i % 3 === 0
    const dataOf = (index: number, i: number) => new Uint8Array(large(i) ? 140_000 : 1).fill(index & 0xff)
    for (let i = 1; i <= count; i++) {
      const indexes = large(i) ? [2 * i - 1, 2 * i] : [2 * i - 1]
      const entries = indexes.map((index) => ({
        kind: 'normal' as const,
        index,
        term: 3,
        data: dataOf(index, i),
      }))
      a.transport.send({
        type: 'append',
        from: 41,
        to: 42,
        term: 3,
        prevIndex: 2 * i - 2,
        prevTerm: 3,
        commit: i,
        entries,
      })
    }
    await b.inbox.waitForCount(count)
    const got = b.inbox.messages.filter((m) => m.type === 'append')
    assert.deepEqual(
      got.map((m) => m.commit),
      Array.from({ length: count }, (_, i) => i + 1),
    )
    for (const m of got) {
      assert.ok(m.type === 'append')
      assert.equal(m.entries.length, large(m.commit) ? 2 : 1)
      for (const entry of m.entries) {
        assert.ok(entry.kind === 'normal')
        assert.deepEqual(entry.data, dataOf(entry.index, m.commit))
      }
    }
  })

  test('a 20 MB snapshot arrives intact, in parts, with a heartbeat overtaking it', async () => {
    // A 2 MiB frame limit on both ends: a single 20 MB frame would be refused, so delivery proves the parts.
    const limits = { frameBytesMax: 2 * 1024 * 1024, chunkBytes: 1024 * 1024 }
    const a = await node(21, limits)
    const b = await node(22, limits)
    meshPeers([a, b])
    const data = randomBytes(20 * 1024 * 1024)
    const snapshot: InstallSnapshotMessage = {
      type: 'installSnapshot',
      from: 21,
      to: 22,
      term: 9,
      snapshot: { meta: { index: 1234, term: 8, config: { voters: [21, 22, 23], nonVoters: [24] } }, data },
    }
    const bytesBefore = b.transport.stats().bytesReceived
    a.transport.send(heartbeat(21, 22, 1))
    a.transport.send(snapshot)
    a.transport.send(heartbeat(21, 22, 2))
    await b.inbox.waitFor((messages) => messages.some((m) => m.type === 'installSnapshot'))
    await b.inbox.waitForCount(3)
    assert.deepEqual(
      b.inbox.messages.map((m) => (m.type === 'heartbeat' ? `hb${m.readRound}` : m.type)),
      ['hb1', 'hb2', 'installSnapshot'],
    )
    const received = b.inbox.messages[2]
    assert.ok(received?.type === 'installSnapshot')
    assert.deepStrictEqual(received.snapshot.meta, snapshot.snapshot.meta)
    assert.equal(Buffer.compare(received.snapshot.data, data), 0)
    assert.equal(Object.getPrototypeOf(received.snapshot.data), Uint8Array.prototype)
    assert.ok(b.transport.stats().bytesReceived - bytesBefore >= data.byteLength)
    assert.equal(b.transport.stats().inboundProtocolErrors, 0)
  })

  test('a peer that is down at first is reached once it starts', async () => {
    const port = await freePort()
    const a = await node(31)
    a.transport.setPeer(32, `127.0.0.1:${port}`)
    const failed = a.logger.waitFor('cannot connect to peer')
    a.transport.send(heartbeat(31, 32, 1))
    await failed
    assert.ok(a.transport.stats().connectFailures >= 1)
    const b = await node(32, { address: `127.0.0.1:${port}` })
    await retransmitUntil(a.transport, () => heartbeat(31, 32, 2), b.inbox.waitForCount(1))
    assert.equal(b.inbox.messages[0]?.type, 'heartbeat')
    assert.ok(a.transport.stats().messagesDroppedUnreachable >= 1)
  })

  test('delivery resumes after the peer listener is killed and restarted on the same port', async () => {
    const a = await node(41)
    const b = await node(42, { address: `127.0.0.1:${await freePort()}` })
    a.transport.setPeer(42, b.address)
    a.transport.send(heartbeat(41, 42, 1))
    await b.inbox.waitForCount(1)
    const lost = a.logger.waitFor('lost connection to peer')
    await b.transport.close()
    await lost
    const restarted = await node(42, { address: b.address })
    await retransmitUntil(a.transport, () => heartbeat(41, 42, 2), restarted.inbox.waitForCount(1))
    assert.equal(restarted.inbox.messages[0]?.type, 'heartbeat')
    const connects = a.logger.lines.filter((line) => line.message === 'connected to peer')
    assert.ok(connects.length >= 2)
  })

  test('a node of another cluster is refused at the handshake, for messages and RPCs', async () => {
    const a = await node(51)
    const b = await node(52, { clusterId: 'other-cluster' })
    b.transport.handleRpc('echo', async (body) => body)
    a.transport.setPeer(52, b.address)
    const refused = a.logger.waitFor('cannot connect to peer')
    a.transport.send(heartbeat(51, 52, 1))
    const line = await refused
    assert.match(String(line.fields.error), /HandshakeRejectedError.*clusterMismatch/)
    const rejected = await b.logger.waitFor('rejected inbound handshake')
    assert.equal(rejected.fields.reason, 'clusterMismatch')
    await assert.rejects(
      a.transport.rpc(b.address, 'echo', Uint8Array.of(1), { timeoutMs: 2000 }),
      (error) => {
        assert.ok(error instanceof RpcConnectError)
        assert.equal(error.mayHaveBeenDelivered, false)
        assert.ok(error.cause instanceof HandshakeRejectedError)
        assert.equal(error.cause.reason, 'clusterMismatch')
        return true
      },
    )
    assert.equal(b.inbox.messages.length, 0)
    assert.equal(b.transport.stats().rpcRequestsServed, 0)
    assert.ok(b.transport.stats().inboundHandshakesRejected >= 2)
  })

  test('a malformed frame closes only its own connection; the server keeps serving others', async () => {
    const a = await node(61)
    const b = await node(62)
    a.transport.setPeer(62, b.address)
    a.transport.send(heartbeat(61, 62, 1))
    await b.inbox.waitForCount(1)

    const badInputs: [string, (socket: Socket) => void][] = [
      ['garbage message', (s) => s.write(encodeFrame(FrameType.message, Uint8Array.of(0xff, 1, 2, 3)))],
      ['oversize frame', (s) => s.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff, FrameType.message))],
      [
        'spoofed sender',
        (s) => s.write(encodeFrame(FrameType.message, encodeMessage(heartbeat(61, 62, 99)))),
      ],
      ['unknown frame type', (s) => s.write(encodeFrame(200, new Uint8Array(0)))],
      [
        'part without a start',
        (s) => s.write(encodeFrame(FrameType.messagePart, new Uint8Array(17).fill(1))),
      ],
    ]
    for (const [what, send] of badInputs) {
      const socket = await rawClient(b.address, 69)
      const errorsBefore = b.transport.stats().inboundProtocolErrors
      send(socket)
      await closed(socket)
      assert.equal(b.transport.stats().inboundProtocolErrors, errorsBefore + 1, what)
    }
    const logged = b.logger.lines.filter((line) => line.message === 'closed inbound connection on bad input')
    assert.equal(logged.length, badInputs.length)
    assert.equal(logged[0]?.level, 'error')

    // A raw client that never sends a handshake but garbage is refused too.
    const [host, port] = b.address.split(':')
    const noHandshake = connect({ host: host!, port: Number(port) })
    noHandshake.write(encodeFrame(FrameType.message, Uint8Array.of(1)))
    await closed(noHandshake)

    // The established peer connection was never disturbed.
    a.transport.send(heartbeat(61, 62, 2))
    await b.inbox.waitForCount(2)
    assert.deepEqual(rounds(b.inbox.messages, 61), [1, 2])
    assert.equal(a.logger.lines.filter((line) => line.message === 'lost connection to peer').length, 0)
  })

  test('while a peer is connecting its queue keeps only the newest messages', async (t) => {
    // A hand-made listener that accepts TCP at once but answers the handshake only when told to.
    const a = await node(71, { queueMessagesMax: 3 })
    const received: Message[] = []
    let accept: (() => void) | undefined
    let allDelivered: (() => void) | undefined
    const delivered = new Promise<void>((resolve) => {
      allDelivered = resolve
    })
    const handshakeSeen = new Promise<void>((resolve) => {
      const server = createServer((socket) => {
        const decoder = new FrameDecoder({ frameBytesMax: 1 << 20 })
        socket.on('data', (chunk) =>
          decoder.push(chunk, (frame: Frame) => {
            if (frame.type === FrameType.handshake) {
              accept = () => socket.write(encodeHandshakeAccept(72))
              resolve()
            } else if (frame.type === FrameType.message) {
              received.push(decodeMessage(frame.payload))
              if (received.length === 3) allDelivered?.()
            }
          }),
        )
      })
      t.after(() => server.close())
      server.listen(0, '127.0.0.1', () => {
        const address = server.address()
        assert.ok(address !== null && typeof address === 'object')
        a.transport.setPeer(72, `127.0.0.1:${address.port}`)
      })
    })
    await handshakeSeen
    for (let i = 1; i <= 10; i++) a.transport.send(heartbeat(71, 72, i))
    assert.equal(a.transport.stats().messagesDroppedQueueFull, 7)
    assert.deepEqual(
      a.transport.peers().map((p) => [p.state, p.queuedMessages]),
      [['connecting', 3]],
    )
    accept?.()
    await delivered
    assert.deepEqual(rounds(received, 71), [8, 9, 10])
  })

  test('messages to unknown peers are dropped and counted, never thrown', async () => {
    const a = await node(81)
    a.transport.send(heartbeat(81, 99, 1))
    assert.equal(a.transport.stats().messagesDroppedUnknownPeer, 1)
  })
})
