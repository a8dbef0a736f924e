import { ConfigError } from '../core/index.js';

/**
 * Bounds shared by every transport. Each queue is bounded twice, by frames and by bytes, so
 * neither many tiny frames nor a few huge ones grow memory without limit: past a bound, send()
 * returns false (the frame is dropped) and the protocols' retransmission takes over.
 */
export interface TransportLimits {
  /** Largest payload one frame may carry; larger sends return false, larger inbound lengths are a TooLargeError. */
  readonly maxFrameBytes: number;
  /** Frames waiting to be written (or delivered) per peer link. */
  readonly maxQueuedFrames: number;
  /** Payload bytes waiting to be written (or delivered) per peer link. */
  readonly maxQueuedBytes: number;
}

export const defaultLimits: TransportLimits = {
  maxFrameBytes: 8 * 1024 * 1024,
  maxQueuedFrames: 8192,
  maxQueuedBytes: 64 * 1024 * 1024,
};

/** Largest group id an application may use; 0xffffffff is reserved for the TCP handshake. */
export const maxGroup = 0xfffffffe;

export function isValidGroup(group: number): boolean {
  return Number.isInteger(group) && group >= 0 && group <= maxGroup;
}

export function resolveLimits(partial: Partial<TransportLimits> | undefined): TransportLimits {
  const limits = { ...defaultLimits, ...partial };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new ConfigError(`transport limit ${name} must be a positive integer, got ${String(value)}`);
    }
  }
  // A bytes bound below one maximal frame would make the largest frames unsendable.
  if (limits.maxQueuedBytes < limits.maxFrameBytes) {
    throw new ConfigError(
      `maxQueuedBytes (${limits.maxQueuedBytes}) must be at least maxFrameBytes (${limits.maxFrameBytes})`);
  }
  // The frame header stores the payload length in 32 bits.
  if (limits.maxFrameBytes > 0xffffffff) {
    throw new ConfigError(`maxFrameBytes ${limits.maxFrameBytes} exceeds the 32-bit frame length`);
  }
  return limits;
}
