/**
 * Counters every transport keeps, readable as plain data (for metrics, `quorate status` and the
 * dashboard). Counts only grow; a restart does not reset them.
 */
export interface TransportStats {
  /** Frames accepted by send(). */
  framesSent: number;
  /** Payload bytes accepted by send(). */
  bytesSent: number;
  /** Frames handed to the onMessage handler. */
  framesReceived: number;
  /** Payload bytes handed to the onMessage handler. */
  bytesReceived: number;
  /** Frames refused by send() (unknown peer, oversized, queue full, stopped) or lost after acceptance. */
  framesDropped: number;
  /** Links closed by dropPeer (a peer broke a protocol rule). */
  peersDropped: number;
}

export function emptyStats(): TransportStats {
  return { framesSent: 0, bytesSent: 0, framesReceived: 0, bytesReceived: 0, framesDropped: 0, peersDropped: 0 };
}
