// The typed errors of src/storage, src/transport, src/db and src/store share `TqliteError`: every class keeps
// its own `name`, its stable `code`, its message text, its extra fields and its `instanceof` chain.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as db from '../../../src/db/errors.js'
import * as storage from '../../../src/storage/errors.js'
import * as store from '../../../src/store/errors.js'
import * as transport from '../../../src/transport/errors.js'
import { TqliteError } from '../../../src/util/errors.js'

interface Case {
  readonly error: Error
  readonly base: abstract new (...args: never[]) => Error
  readonly name: string
  readonly code: string
  readonly message: string
  readonly fields?: Record<string, unknown>
}

const cause = new Error('underlying')

const cases: readonly Case[] = [
  {
    error: new storage.StorageError('TQ_ERR_STORAGE_FAILED', 'm'),
    base: storage.StorageError,
    name: 'StorageError',
    code: 'TQ_ERR_STORAGE_FAILED',
    message: 'm',
  },
  {
    error: new storage.CorruptLogError({ file: 'log-1.log', offset: 7, reason: 'bad crc' }, cause),
    base: storage.StorageError,
    name: 'CorruptLogError',
    code: 'TQ_ERR_STORAGE_CORRUPT',
    message: 'corrupt log-1.log at offset 7: bad crc',
    fields: { file: 'log-1.log', offset: 7, reason: 'bad crc', cause },
  },
  {
    error: new storage.DecodeError('entry', 'short'),
    base: storage.StorageError,
    name: 'DecodeError',
    code: 'TQ_ERR_STORAGE_DECODE',
    message: 'cannot decode entry: short',
    fields: { what: 'entry' },
  },
  {
    error: new storage.DiskFullError(cause),
    base: storage.StorageError,
    name: 'DiskFullError',
    code: 'TQ_ERR_STORAGE_DISK_FULL',
    message: 'disk full: the write was rolled back and not acknowledged',
    fields: { cause },
  },
  {
    error: new storage.StorageFailedError('fsync failed', cause),
    base: storage.StorageError,
    name: 'StorageFailedError',
    code: 'TQ_ERR_STORAGE_FAILED',
    message: 'fsync failed',
    fields: { cause },
  },
  {
    error: new storage.StorageClosedError(),
    base: storage.StorageError,
    name: 'StorageClosedError',
    code: 'TQ_ERR_STORAGE_CLOSED',
    message: 'the log store is closed',
  },
  {
    error: new transport.FrameTooLargeError(10, 5),
    base: transport.TransportError,
    name: 'FrameTooLargeError',
    code: 'TQ_ERR_TRANSPORT_FRAME_TOO_LARGE',
    message: 'frame of 10 bytes exceeds the limit of 5',
    fields: { frameBytes: 10, frameBytesMax: 5 },
  },
  {
    error: new transport.MessageDecodeError('short'),
    base: transport.TransportError,
    name: 'MessageDecodeError',
    code: 'TQ_ERR_TRANSPORT_MESSAGE_DECODE',
    message: 'cannot decode message: short',
    fields: { reason: 'short' },
  },
  {
    error: new transport.ProtocolError('odd'),
    base: transport.TransportError,
    name: 'ProtocolError',
    code: 'TQ_ERR_TRANSPORT_PROTOCOL',
    message: 'protocol violation: odd',
    fields: { reason: 'odd' },
  },
  {
    error: new transport.ConnectError('h:1', 'refused', cause),
    base: transport.TransportError,
    name: 'ConnectError',
    code: 'TQ_ERR_TRANSPORT_CONNECT',
    message: 'cannot connect to h:1: refused',
    fields: { address: 'h:1', cause },
  },
  {
    error: new transport.HandshakeRejectedError('h:1', 'clusterMismatch', 'other cluster'),
    base: transport.TransportError,
    name: 'HandshakeRejectedError',
    code: 'TQ_ERR_TRANSPORT_HANDSHAKE_REJECTED',
    message: 'h:1 rejected the handshake (clusterMismatch): other cluster',
    fields: { address: 'h:1', reason: 'clusterMismatch', detail: 'other cluster' },
  },
  {
    error: new transport.InvalidAddressError('x', 'no port'),
    base: transport.TransportError,
    name: 'InvalidAddressError',
    code: 'TQ_ERR_TRANSPORT_ADDRESS',
    message: 'invalid address "x": no port',
    fields: { address: 'x' },
  },
  {
    error: new transport.TransportClosedError(),
    base: transport.TransportError,
    name: 'TransportClosedError',
    code: 'TQ_ERR_TRANSPORT_CLOSED',
    message: 'the transport is closed',
  },
  {
    error: new transport.RpcTimeoutError('h:1', 'join', 50),
    base: transport.TransportError,
    name: 'RpcTimeoutError',
    code: 'TQ_ERR_TRANSPORT_RPC_TIMEOUT',
    message: 'rpc join to h:1: no response within 50 ms',
    fields: { address: 'h:1', method: 'join', timeoutMs: 50 },
  },
  {
    error: new transport.RpcConnectError(
      { address: 'h:1', method: 'join', mayHaveBeenDelivered: true },
      cause,
    ),
    base: transport.TransportError,
    name: 'RpcConnectError',
    code: 'TQ_ERR_TRANSPORT_RPC_CONNECT',
    message: 'rpc join to h:1: connection lost after the request was sent',
    fields: { address: 'h:1', method: 'join', mayHaveBeenDelivered: true, cause },
  },
  {
    error: new transport.RpcRemoteError({
      address: 'h:1',
      method: 'join',
      remoteCode: 'C',
      remoteMessage: 'no',
    }),
    base: transport.TransportError,
    name: 'RpcRemoteError',
    code: 'TQ_ERR_TRANSPORT_RPC_REMOTE',
    message: 'rpc join to h:1 failed: no',
    fields: { address: 'h:1', method: 'join', remoteCode: 'C', remoteMessage: 'no' },
  },
  {
    error: new db.DbError('TQ_ERR_DB_CLOSED', 'closed'),
    base: db.DbError,
    name: 'DbError',
    code: 'TQ_ERR_DB_CLOSED',
    message: 'closed',
  },
  {
    error: new db.BadStatementError(2, 'not a string'),
    base: db.DbError,
    name: 'BadStatementError',
    code: 'TQ_ERR_DB_BAD_STATEMENT',
    message: 'statement 2: not a string',
    fields: { statementIndex: 2 },
  },
  {
    error: db.dbErrorFromData(db.dbErrorToData(new db.StaleIndexError(3, 4))),
    base: db.DbError,
    name: 'StaleIndexError',
    code: 'TQ_ERR_DB_STALE_INDEX',
    message: 'index 3 is not above the applied index 4',
    fields: { index: 3, appliedIndex: 4 },
  },
  {
    error: new store.NotLeaderError(2, 'h:4001', 'h:4002'),
    base: store.StoreError,
    name: 'NotLeaderError',
    code: 'TQ_ERR_NOT_LEADER',
    message: 'not leader',
    fields: { leaderId: 2, leaderHttpAddress: 'h:4001', leaderRaftAddress: 'h:4002' },
  },
  {
    error: new store.LeaderNotFoundError(),
    base: store.StoreError,
    name: 'LeaderNotFoundError',
    code: 'TQ_ERR_LEADER_NOT_FOUND',
    message: 'leader not found',
  },
  {
    error: new store.UnknownOutcomeError('timed out', { cause }),
    base: store.StoreError,
    name: 'UnknownOutcomeError',
    code: 'TQ_ERR_UNKNOWN_OUTCOME',
    message: 'timed out',
    fields: { cause },
  },
  {
    error: new store.ProposalDroppedError('dropped'),
    base: store.StoreError,
    name: 'ProposalDroppedError',
    code: 'TQ_ERR_PROPOSAL_DROPPED',
    message: 'dropped',
  },
  {
    error: new store.StaleReadError(100, undefined),
    base: store.StoreError,
    name: 'StaleReadError',
    code: 'TQ_ERR_STALE_READ',
    message: 'stale read',
    fields: { freshnessMs: 100, lastContactMs: undefined },
  },
  {
    error: new store.MembershipError('no such node'),
    base: store.StoreError,
    name: 'MembershipError',
    code: 'TQ_ERR_MEMBERSHIP',
    message: 'no such node',
  },
]

test('every typed error keeps its name, code, message, fields and instanceof chain', () => {
  for (const c of cases) {
    assert.ok(c.error instanceof Error, c.name)
    assert.ok(c.error instanceof TqliteError, c.name)
    assert.ok(c.error instanceof c.base, c.name)
    assert.equal(c.error.name, c.name)
    assert.equal(c.error.constructor.name, c.name)
    assert.equal((c.error as TqliteError).code, c.code, c.name)
    assert.equal(c.error.message, c.message, c.name)
    assert.equal(String(c.error), `${c.name}: ${c.message}`)
    assert.ok(c.error.stack?.startsWith(`${c.name}: ${c.message}\n`), c.name)
    for (const [key, value] of Object.entries(c.fields ?? {})) {
      assert.ok(Object.hasOwn(c.error, key), `${c.name}.${key}`)
      assert.equal((c.error as unknown as Record<string, unknown>)[key], value, `${c.name}.${key}`)
    }
  }
})

test('the folders stay apart: no error is an instance of another folder base', () => {
  const bases = [storage.StorageError, transport.TransportError, db.DbError, store.StoreError]
  for (const c of cases) {
    for (const base of bases)
      assert.equal(c.error instanceof base, base === c.base, `${c.name} vs ${base.name}`)
  }
})

test('no cause given: no cause property, as before', () => {
  assert.equal(Object.hasOwn(new storage.StorageClosedError(), 'cause'), false)
  assert.equal(Object.hasOwn(new store.LeaderNotFoundError(), 'cause'), false)
  assert.equal(Object.hasOwn(new transport.TransportClosedError(), 'cause'), false)
})
