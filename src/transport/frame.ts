import { crc32 } from 'node:zlib';
import { assert, DecodeError, TooLargeError } from '../core/index.js';

/**
 * The TCP wire frame. Big-endian, 12-byte header then the payload:
 *
 *   u32 payloadLength   bounded by maxFrameBytes, checked before anything is allocated
 *   u32 group           consensus group (0xffffffff is the handshake)
 *   u32 crc32           zlib CRC-32 of the first 8 header bytes and then the payload
 *
 * The checksum covers the length and group too, so a flipped bit anywhere is a DecodeError
 * rather than a misframed stream.
 */
export const frameHeaderBytes = 12;
export const handshakeGroup = 0xffffffff;

export interface Frame {
  readonly group: number;
  readonly payload: Uint8Array;
}

/** The 12-byte header for a payload; send it followed by the payload itself (no copy). */
export function encodeFrameHeader(group: number, payload: Uint8Array): Buffer {
  assert(Number.isInteger(group) && group >= 0 && group <= 0xffffffff, `bad group ${group}`);
  assert(payload.length <= 0xffffffff, 'payload beyond 32-bit length');
  const h = Buffer.allocUnsafe(frameHeaderBytes);
  h.writeUInt32BE(payload.length, 0);
  h.writeUInt32BE(group, 4);
  h.writeUInt32BE(crc32(payload, crc32(h.subarray(0, 8))), 8);
  return h;
}

/** A whole frame in one buffer (handshakes, tests). */
export function encodeFrame(group: number, payload: Uint8Array): Buffer {
  return Buffer.concat([encodeFrameHeader(group, payload), payload]);
}

const DecoderState = { Header: 0, Body: 1, Failed: 2 } as const;
type DecoderState = (typeof DecoderState)[keyof typeof DecoderState];

/**
 * A sans-I/O frame decoder: feed it byte chunks split anywhere, get whole frames back. It never
 * touches a socket, so it is tested byte by byte. A header is parsed only once all 12 bytes are in;
 * the payload buffer is allocated only after its length passed the bound. After an error the
 * decoder stays failed: the caller closes the connection, since the stream has lost its framing.
 */
export class FrameDecoder {
  private state: DecoderState = DecoderState.Header;
  private readonly header = Buffer.alloc(frameHeaderBytes);
  /** Header bytes filled so far. Invariant: 0 ≤ headerFill < frameHeaderBytes in Header state. */
  private headerFill = 0;
  private body: Buffer = Buffer.alloc(0);
  /** Payload bytes filled so far. Invariant: bodyFill < body.length in Body state. */
  private bodyFill = 0;
  private failure: Error | null = null;

  constructor(private maxFrameBytes: number) {
    assert(Number.isSafeInteger(maxFrameBytes) && maxFrameBytes >= 0, 'maxFrameBytes must be a non-negative integer');
  }

  /** Lifts the bound once a connection is authenticated (handshakes use a small one). */
  raiseLimit(maxFrameBytes: number): void {
    assert(Number.isSafeInteger(maxFrameBytes) && maxFrameBytes >= this.maxFrameBytes, 'limits only rise');
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held for an incomplete frame (bounded by header + maxFrameBytes). */
  get bufferedBytes(): number {
    if (this.state === DecoderState.Failed) return 0;
    return this.state === DecoderState.Body ? frameHeaderBytes + this.bodyFill : this.headerFill;
  }

  /**
   * Consumes a chunk, calling onFrame for each frame it completes, in order. Throws DecodeError
   * (bad checksum) or TooLargeError (length past the bound) after delivering the good frames
   * before the bad one.
   */
  push(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    if (this.failure !== null) throw this.failure;
    try {
      this.consume(chunk, onFrame);
    } catch (e) {
      this.state = DecoderState.Failed;
      this.failure = e as Error;
      this.body = Buffer.alloc(0);
      this.headerFill = 0;
      this.bodyFill = 0;
      throw e;
    }
  }

  private consume(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.state === DecoderState.Header) {
        // Fast path: a whole frame inside this chunk is returned as a view, without copying.
        if (this.headerFill === 0 && chunk.length - pos >= frameHeaderBytes) {
          const len = this.checkLength(readU32(chunk, pos));
          if (chunk.length - pos - frameHeaderBytes >= len) {
            const headerView = chunk.subarray(pos, pos + frameHeaderBytes);
            const payload = chunk.subarray(pos + frameHeaderBytes, pos + frameHeaderBytes + len);
            onFrame(this.verify(headerView, payload));
            pos += frameHeaderBytes + len;
            continue;
          }
        }
        const n = Math.min(frameHeaderBytes - this.headerFill, chunk.length - pos);
        this.header.set(chunk.subarray(pos, pos + n), this.headerFill);
        this.headerFill += n;
        pos += n;
        if (this.headerFill < frameHeaderBytes) break;
        const len = this.checkLength(this.header.readUInt32BE(0));
        if (len === 0) {
          onFrame(this.verify(this.header, new Uint8Array(0)));
          this.headerFill = 0;
          continue;
        }
        this.body = Buffer.allocUnsafe(len);
        this.bodyFill = 0;
        this.state = DecoderState.Body;
      } else {
        const n = Math.min(this.body.length - this.bodyFill, chunk.length - pos);
        this.body.set(chunk.subarray(pos, pos + n), this.bodyFill);
        this.bodyFill += n;
        pos += n;
        if (this.bodyFill < this.body.length) break;
        onFrame(this.verify(this.header, this.body));
        this.body = Buffer.alloc(0);
        this.headerFill = 0;
        this.state = DecoderState.Header;
      }
    }
  }

  private checkLength(len: number): number {
    if (len > this.maxFrameBytes) {
      throw new TooLargeError(`frame length ${len} exceeds maxFrameBytes ${this.maxFrameBytes}`);
    }
    return len;
  }

  private verify(header: Uint8Array, payload: Uint8Array): Frame {
    const want = readU32(header, 8);
    const got = crc32(payload, crc32(header.subarray(0, 8)));
    if (got !== want) {
      throw new DecodeError(`frame checksum mismatch: header says ${hex(want)}, payload gives ${hex(got)}`);
    }
    return { group: readU32(header, 4), payload };
  }
}

/** Decodes a whole byte stream (tests, tools); throws as push does. */
export function decodeFrames(chunks: Iterable<Uint8Array>, maxFrameBytes: number): Frame[] {
  const d = new FrameDecoder(maxFrameBytes);
  const out: Frame[] = [];
  for (const c of chunks) d.push(c, (f) => out.push(f));
  return out;
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at] as number) * 0x1000000) + (((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number));
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
