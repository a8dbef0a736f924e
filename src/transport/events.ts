import type { NodeId } from '../core/index.js';
import type { RefuseReason } from './handshake.js';

export type Direction = 'inbound' | 'outbound';

/**
 * What a transport reports as structured data (also logged): for tests, metrics and the
 * dashboard. `peer` is null when a connection failed before saying who it was.
 */
export type TransportEvent =
  | { readonly kind: 'connected'; readonly peer: NodeId; readonly direction: Direction }
  | { readonly kind: 'disconnected'; readonly peer: NodeId; readonly direction: Direction }
  | { readonly kind: 'refused'; readonly peer: NodeId | null; readonly direction: Direction;
    readonly reason: RefuseReason; readonly detail: string }
  | { readonly kind: 'decode_error'; readonly peer: NodeId | null; readonly direction: Direction;
    readonly detail: string };
