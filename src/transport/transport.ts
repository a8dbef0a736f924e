import type { NodeId } from '../core/index.js';

/**
 * The transport seam: delivers opaque frames (a protocol codec's bytes) between members.
 * Implementations: TcpTransport (length-prefixed frames, handshake naming cluster id, node id and
 * version, reconnect with backoff and jitter, bounded queues, optional mutual TLS) and
 * MemoryTransport. One compliance suite runs unchanged against both.
 *
 * `group` multiplexes several consensus groups over one connection (0 for the single group).
 * Delivery is best effort and FIFO per (sender, receiver) connection: protocols tolerate loss.
 */
export interface Transport {
  readonly id: NodeId;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Queue a frame; false when it was dropped (unknown peer, queue full, stopped). Never throws. */
  send(to: NodeId, group: number, payload: Uint8Array): boolean;
  /**
   * Called once per received frame, in arrival order per peer. The payload may be a view into a
   * larger receive buffer (TCP hands out zero-copy views): copy it before keeping it long-term.
   */
  onMessage(handler: (from: NodeId, group: number, payload: Uint8Array) => void): void;
  /**
   * Closes the link this node receives `peer`'s frames on, because the peer broke a rule no honest
   * peer breaks (src/core/errors.ts PeerViolation). Frames from it not yet delivered are lost,
   * including the rest of the batch being delivered now; the peer may connect again (an honest one
   * that was merely misread redials, as after a restart). Never throws; unknown peers are ignored.
   */
  dropPeer(peer: NodeId): void;
}
