import type { Logger } from 'pino';
import type { NodeId } from '../core/index.js';
import type { BackoffOptions } from './backoff.js';
import type { LogThrottle } from './log-throttle.js';
import type { TransportEvent } from './events.js';
import type { TransportLimits } from './limits.js';
import type { TransportStats } from './stats.js';

export interface TlsMaterial {
  /** PEM private key of this node. */
  readonly key: string | Buffer;
  /** PEM certificate of this node; its CN or a DNS/URI SAN must be the node id. */
  readonly cert: string | Buffer;
  /** PEM certificate(s) of the authority that signs every member's certificate. */
  readonly ca: string | Buffer;
}

/** What the outbound and inbound halves share with their TcpTransport. */
export interface ConnectionContext {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly version: number;
  readonly members: ReadonlySet<NodeId>;
  readonly limits: TransportLimits;
  readonly tls: TlsMaterial | null;
  /** The cluster's peer secret, proven by both sides of every handshake (null: TLS alone, or none). */
  readonly secret: Uint8Array | null;
  readonly backoff: BackoffOptions;
  readonly handshakeTimeoutMs: number;
  readonly random: () => number;
  readonly log: Logger;
  /** Decides warn (first in a window) or debug (repeat) for recurring connection failures. */
  readonly throttle: LogThrottle;
  readonly stats: TransportStats;
  emit(event: TransportEvent): void;
}
