import { InvalidAddressError } from './errors.js'

/** A node's Raft (transport) address, `host:port`; IPv6 hosts in brackets, as in `[::1]:4002`. */
export type RaftAddress = string

export interface HostPort {
  readonly host: string
  readonly port: number
}

/** Parses `host:port`; throws `InvalidAddressError`. Port 0 is allowed (listen on any free port). */
export function parseAddress(address: RaftAddress): HostPort {
  const colon = address.lastIndexOf(':')
  if (colon <= 0) throw new InvalidAddressError(address, 'expected host:port')
  let host = address.slice(0, colon)
  const portText = address.slice(colon + 1)
  if (host.startsWith('[')) {
    if (!host.endsWith(']') || host.length < 3) throw new InvalidAddressError(address, 'unbalanced brackets')
    host = host.slice(1, -1)
  } else if (host.includes(':')) {
    throw new InvalidAddressError(address, 'IPv6 hosts must be in brackets')
  }
  if (!/^\d{1,5}$/.test(portText)) throw new InvalidAddressError(address, `port ${portText} is not a number`)
  const port = Number(portText)
  if (port > 65535) throw new InvalidAddressError(address, `port ${port} is above 65535`)
  return { host, port }
}

export function formatAddress(hostPort: HostPort): RaftAddress {
  return hostPort.host.includes(':')
    ? `[${hostPort.host}]:${hostPort.port}`
    : `${hostPort.host}:${hostPort.port}`
}
