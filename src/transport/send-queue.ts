import { crc32 } from 'node:zlib';
import { assert } from '../core/index.js';
import { frameHeaderBytes } from './frame.js';
import type { TransportLimits } from './limits.js';

/** Frames are packed into batch buffers of this size; a larger frame gets a buffer of its own. */
export const batchBytes = 64 * 1024;

interface Batch {
  buf: Buffer;
  /** Bytes written into buf. */
  fill: number;
  frames: number;
  payloadBytes: number;
}

/**
 * A peer's bounded send queue, sans I/O. Each frame is encoded straight into a batch buffer
 * (header, checksum and a copy of the payload: one copy, and the caller may reuse its buffer at
 * once), so a flush hands the socket a few large buffers instead of thousands of small ones.
 * Invariant: frames and payloadBytes are the sums over the batches from `head` on, and never
 * exceed the limits.
 */
export class SendQueue {
  private batches: Batch[] = [];
  private head = 0;
  private framesQueued = 0;
  private payloadBytesQueued = 0;
  /**
   * The unused tail of the last buffer taken, reused for the next batch (the taken part is the
   * socket's now and is never written again), so light traffic does not allocate a batch per flush.
   */
  private spare: Buffer | null = null;

  constructor(private readonly limits: TransportLimits) {}

  get frames(): number {
    return this.framesQueued;
  }

  /** Payload bytes queued (what the maxQueuedBytes bound counts). */
  get payloadBytes(): number {
    return this.payloadBytesQueued;
  }

  /** Queues a frame; false (and nothing changes) when a bound would be exceeded. */
  push(group: number, payload: Uint8Array): boolean {
    if (payload.length > this.limits.maxFrameBytes) return false;
    if (this.framesQueued + 1 > this.limits.maxQueuedFrames) return false;
    if (this.payloadBytesQueued + payload.length > this.limits.maxQueuedBytes) return false;
    const size = frameHeaderBytes + payload.length;
    const b = this.batchWithRoom(size);
    const at = b.fill;
    b.buf.writeUInt32BE(payload.length, at);
    b.buf.writeUInt32BE(group, at + 4);
    b.buf.set(payload, at + frameHeaderBytes);
    const crc = crc32(b.buf.subarray(at + frameHeaderBytes, at + size), crc32(b.buf.subarray(at, at + 8)));
    b.buf.writeUInt32BE(crc, at + 8);
    b.fill += size;
    b.frames++;
    b.payloadBytes += payload.length;
    this.framesQueued++;
    this.payloadBytesQueued += payload.length;
    return true;
  }

  /** Removes and returns the next bytes to write (whole frames only), or null when empty. */
  take(): Buffer | null {
    const b = this.batches[this.head];
    if (b === undefined || b.frames === 0) return null;
    this.head++;
    if (this.head === this.batches.length) {
      this.batches = [];
      this.head = 0;
      this.spare = b.buf.length - b.fill >= 1024 ? b.buf.subarray(b.fill) : null;
    } else if (this.head > 1024 && this.head * 2 > this.batches.length) {
      this.batches = this.batches.slice(this.head);
      this.head = 0;
    }
    this.framesQueued -= b.frames;
    this.payloadBytesQueued -= b.payloadBytes;
    assert(this.framesQueued >= 0 && this.payloadBytesQueued >= 0, 'send queue accounting went negative');
    return b.buf.subarray(0, b.fill);
  }

  /** Drops everything; returns how many frames were dropped. */
  clear(): number {
    const dropped = this.framesQueued;
    this.batches = [];
    this.head = 0;
    this.spare = null;
    this.framesQueued = 0;
    this.payloadBytesQueued = 0;
    return dropped;
  }

  private batchWithRoom(size: number): Batch {
    const last = this.batches[this.batches.length - 1];
    if (last !== undefined && this.batches.length > this.head && last.buf.length - last.fill >= size) return last;
    let buf: Buffer;
    if (this.spare !== null && this.spare.length >= size) {
      buf = this.spare;
    } else {
      buf = Buffer.allocUnsafe(Math.max(batchBytes, size));
    }
    this.spare = null;
    const b: Batch = { buf, fill: 0, frames: 0, payloadBytes: 0 };
    this.batches.push(b);
    return b;
  }
}
