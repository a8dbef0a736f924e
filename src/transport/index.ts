/** The transport layer: the seam, its TCP and in-memory implementations, and their shared parts. */
export type { Transport } from './transport.js';
export { TcpTransport, type TcpTransportOptions, type TcpTransportStatus, type TlsMaterial, type PeerAddress } from './tcp.js';
export { MemoryNetwork, MemoryTransport, type MemoryTransportOptions } from './memory.js';
export { defaultLimits, maxGroup, type TransportLimits } from './limits.js';
export type { TransportStats } from './stats.js';
export type { TransportEvent, Direction } from './events.js';
export { RefuseReason, wireVersion } from './handshake.js';
export { HandshakeError, ListenError } from './errors.js';
export { defaultBackoff, type BackoffOptions } from './backoff.js';
export type { OutboundState, OutboundStatus } from './outbound.js';
