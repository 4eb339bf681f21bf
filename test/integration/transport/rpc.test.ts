// Goal: the request/response RPC on the transport's listener answers, reports remote errors, times out and
// fails to connect with the typed errors DESIGN.md lists (and what each says about delivery); method: real
// transports on 127.0.0.1 port 0 with handlers that answer, throw, hang or kill the connection.
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import {
  ConnectError,
  FrameTooLargeError,
  InvalidAddressError,
  RpcConnectError,
  RpcRemoteError,
  RpcTimeoutError,
  TransportClosedError,
  rpcUnknownMethodCode,
} from '../../../src/transport/errors.js'
import type { RpcCaller } from '../../../src/transport/inbound-connection.js'
import { type TestNode, freePort, startNode } from './helpers.js'

const started: TestNode[] = []
async function node(...args: Parameters<typeof startNode>): Promise<TestNode> {
  const result = await startNode(...args)
  started.push(result)
  return result
}
after(async () => {
  await Promise.all(started.map((n) => n.transport.close()))
})

const text = (value: string): Uint8Array => new TextEncoder().encode(value)
const read = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

class CodedError extends Error {
  readonly code = 'TQ_ERR_TEST_NOT_LEADER'
}

describe('rpc', () => {
  test('request and response, many in flight on one connection, caller identified', async () => {
    const server = await node(2)
    const client = await node(1)
    const callers: RpcCaller[] = []
    server.transport.handleRpc('upper', async (body, from) => {
      callers.push(from)
      return text(read(body).toUpperCase())
    })
    server.transport.handleRpc('echo', async (body) => body)
    assert.equal(
      read(await client.transport.rpc(server.address, 'upper', text('hello'), { timeoutMs: 2000 })),
      'HELLO',
    )
    const bodies = Array.from({ length: 200 }, (_, i) => text(`request ${i}`))
    const answers = await Promise.all(
      bodies.map((body) => client.transport.rpc(server.address, 'echo', body, { timeoutMs: 2000 })),
    )
    assert.deepEqual(answers.map(read), bodies.map(read))
    const empty = await client.transport.rpc(server.address, 'echo', new Uint8Array(0), { timeoutMs: 2000 })
    assert.equal(empty.byteLength, 0)
    assert.equal(callers[0]?.nodeId, 1)
    // Pooled: one handshake for all of these calls.
    assert.equal(client.transport.stats().connectsSucceeded, 1)
  })

  test('a failing handler becomes RpcRemoteError with its code and message; so does an unknown method', async () => {
    const server = await node(12)
    const client = await node(11)
    server.transport.handleRpc('fail', async () => {
      throw new CodedError('not the leader; try node 3')
    })
    server.transport.handleRpc('failPlain', async () => {
      throw new Error('plain failure')
    })
    await assert.rejects(
      client.transport.rpc(server.address, 'fail', text('x'), { timeoutMs: 2000 }),
      (error) => {
        assert.ok(error instanceof RpcRemoteError)
        assert.equal(error.code, 'TQ_ERR_TRANSPORT_RPC_REMOTE')
        assert.equal(error.remoteCode, 'TQ_ERR_TEST_NOT_LEADER')
        assert.equal(error.remoteMessage, 'not the leader; try node 3')
        return true
      },
    )
    await assert.rejects(
      client.transport.rpc(server.address, 'failPlain', text('x'), { timeoutMs: 2000 }),
      (error) => {
        assert.ok(error instanceof RpcRemoteError)
        assert.equal(error.remoteCode, undefined)
        assert.equal(error.remoteMessage, 'plain failure')
        return true
      },
    )
    await assert.rejects(
      client.transport.rpc(server.address, 'nope', text('x'), { timeoutMs: 2000 }),
      (error) => {
        assert.ok(error instanceof RpcRemoteError)
        assert.equal(error.remoteCode, rpcUnknownMethodCode)
        return true
      },
    )
    // The connection survives remote errors.
    server.transport.handleRpc('ok', async () => text('fine'))
    assert.equal(
      read(await client.transport.rpc(server.address, 'ok', text(''), { timeoutMs: 2000 })),
      'fine',
    )
  })

  test('no answer within the timeout is RpcTimeoutError; the late answer is ignored and the connection reused', async () => {
    const server = await node(22)
    const client = await node(21)
    let answerLate: (() => void) | undefined
    const handlerStarted = new Promise<void>((resolve) => {
      server.transport.handleRpc('slow', (body) => {
        resolve()
        return new Promise<Uint8Array>((answer) => {
          answerLate = () => answer(body)
        })
      })
    })
    server.transport.handleRpc('fast', async (body) => body)
    const call = client.transport.rpc(server.address, 'slow', text('x'), { timeoutMs: 150 })
    await handlerStarted
    await assert.rejects(call, (error) => {
      assert.ok(error instanceof RpcTimeoutError)
      assert.equal(error.code, 'TQ_ERR_TRANSPORT_RPC_TIMEOUT')
      assert.equal(error.method, 'slow')
      assert.equal(error.timeoutMs, 150)
      return true
    })
    answerLate?.()
    assert.equal(
      read(await client.transport.rpc(server.address, 'fast', text('y'), { timeoutMs: 2000 })),
      'y',
    )
    assert.equal(client.transport.stats().rpcTimeouts, 1)
    assert.equal(client.transport.stats().connectsSucceeded, 1)
  })

  test('nobody listening is RpcConnectError, definitely not delivered', async () => {
    const client = await node(31)
    const port = await freePort()
    await assert.rejects(
      client.transport.rpc(`127.0.0.1:${port}`, 'echo', text('x'), { timeoutMs: 2000 }),
      (error) => {
        assert.ok(error instanceof RpcConnectError)
        assert.equal(error.code, 'TQ_ERR_TRANSPORT_RPC_CONNECT')
        assert.equal(error.mayHaveBeenDelivered, false)
        assert.ok(error.cause instanceof ConnectError)
        return true
      },
    )
  })

  test('a connection lost after the request was written is RpcConnectError with an unknown outcome', async () => {
    const server = await node(42)
    const client = await node(41)
    server.transport.handleRpc('crash', async () => {
      await server.transport.close()
      return text('never sent')
    })
    await assert.rejects(
      client.transport.rpc(server.address, 'crash', text('x'), { timeoutMs: 2000 }),
      (error) => {
        assert.ok(error instanceof RpcConnectError)
        assert.equal(error.mayHaveBeenDelivered, true)
        return true
      },
    )
  })

  test('an oversize body or a malformed address is refused before sending; a closed transport refuses calls', async () => {
    const server = await node(52, { frameBytesMax: 64 * 1024, chunkBytes: 1024 })
    const client = await node(51, { frameBytesMax: 64 * 1024, chunkBytes: 1024 })
    server.transport.handleRpc('echo', async (body) => body)
    await assert.rejects(
      client.transport.rpc(server.address, 'echo', new Uint8Array(64 * 1024), { timeoutMs: 2000 }),
      FrameTooLargeError,
    )
    assert.equal(client.transport.stats().connectAttempts, 0)
    await assert.rejects(
      client.transport.rpc('no-port-here', 'echo', text('x'), { timeoutMs: 2000 }),
      InvalidAddressError,
    )
    await client.transport.close()
    await assert.rejects(
      client.transport.rpc(server.address, 'echo', text('x'), { timeoutMs: 2000 }),
      TransportClosedError,
    )
  })
})
