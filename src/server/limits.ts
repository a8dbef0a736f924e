import { ConfigError } from '../core/index.js';
import { kvLimits } from '../kv/index.js';

/**
 * Bounds of the client port against clients that do not play fair (issue 17, the attack review):
 * every connection, buffered byte and subscriber is counted against a named limit, and past it the
 * newcomer is refused or the offender closed, so no client can grow the node's memory or
 * descriptors without bound. Each has a test in test/server/limits.test.ts.
 */
export interface ClientPortLimits {
  /** Open connections on the client port (HTTP and binary together); past it, new ones are closed at once. */
  readonly connectionsMax: number;
  /** Open connections from one source address; past it, that source's new ones are closed at once. */
  readonly connectionsPerSourceMax: number;
  /** GET /v1/events subscribers at once; past it, 429 overloaded. */
  readonly eventSubscribersMax: number;
  /**
   * Binary protocol: answer bytes one connection may hold (reserved for requests in flight, built
   * and not yet written, and queued in the socket). A request is admitted only if its largest
   * possible answer fits, so answers are bounded before they are built; otherwise the connection
   * stops reading until answers drain.
   */
  readonly streamOutBytesMax: number;
  /** Binary protocol: answer and partial-frame bytes of all connections together, the same way. */
  readonly streamServerBytesMax: number;
  /** Binary protocol: a frame begun but not completed within this is a protocol error (slow-loris). */
  readonly streamFrameTimeoutMs: number;
  /** Binary protocol: a connection with nothing in flight and no traffic for this long is closed. */
  readonly streamIdleTimeoutMs: number;
  /**
   * Under client TLS: a connection's first byte and then its TLS handshake must each arrive
   * within this, or it is closed (a client that connects and stays silent holds nothing long).
   */
  readonly tlsHandshakeTimeoutMs: number;
}

export const defaultClientPortLimits: ClientPortLimits = {
  connectionsMax: 4096,
  connectionsPerSourceMax: 1024,
  eventSubscribersMax: 64,
  streamOutBytesMax: 64 * 1024 * 1024,
  streamServerBytesMax: 256 * 1024 * 1024,
  streamFrameTimeoutMs: 10_000,
  streamIdleTimeoutMs: 120_000,
  tlsHandshakeTimeoutMs: 10_000,
};

export function resolveClientPortLimits(partial: Partial<ClientPortLimits> | undefined): ClientPortLimits {
  const limits = { ...defaultClientPortLimits, ...partial };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new ConfigError(`client port limit ${name} must be a positive integer, got ${String(value)}`);
  }
  // One request's largest answer must fit, or a connection could stall for good.
  if (limits.streamOutBytesMax < valueAnswerBytesMax || limits.streamServerBytesMax < valueAnswerBytesMax) {
    throw new ConfigError(`streamOutBytesMax and streamServerBytesMax must be at least ${valueAnswerBytesMax} (one maximal answer)`);
  }
  return limits;
}

/** The largest answer a small-answer request (put) or an error can produce: a leader URL fits. */
export const smallAnswerBytesMax = 4096;
/** The largest answer a get, delete or cas can produce: a maximal value plus the frame around it. */
export const valueAnswerBytesMax = kvLimits.valueBytesMax + smallAnswerBytesMax;

/**
 * Bytes held by the binary connections of one server, against streamServerBytesMax. A connection
 * that finds no room waits here and is woken when another gives bytes back.
 */
export class StreamBudget {
  private used = 0;
  private readonly waiting = new Set<() => void>();
  private wakeScheduled = false;

  constructor(readonly maxBytes: number) {}

  get usedBytes(): number {
    return this.used;
  }

  hasRoom(bytes: number): boolean {
    return this.used + bytes <= this.maxBytes;
  }

  /** Adds (or with a negative delta gives back) bytes; giving back wakes the waiters. */
  change(delta: number): void {
    this.used += delta;
    if (this.used < 0) this.used = 0;
    if (delta < 0 && this.waiting.size > 0 && !this.wakeScheduled) {
      this.wakeScheduled = true;
      setImmediate(() => {
        this.wakeScheduled = false;
        const ws = [...this.waiting];
        this.waiting.clear();
        for (const w of ws) w();
      });
    }
  }

  wait(wake: () => void): void {
    this.waiting.add(wake);
  }

  forget(wake: () => void): void {
    this.waiting.delete(wake);
  }
}
