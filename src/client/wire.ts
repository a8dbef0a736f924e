import { Reader, Writer } from '../core/codec.js';
import { DecodeError } from '../core/errors.js';

/**
 * The binary client protocol (docs/CLIENT-PROTOCOL.md), shared by the server (src/server/stream.ts)
 * and QuorateClient: one long-lived connection entered by an HTTP/1.1 Upgrade, many requests in
 * flight, each answered by its request id. Sans I/O: encoders return bytes, FrameParser takes
 * chunks and returns frames, so both ends and the tests drive the same code byte by byte.
 *
 * Frame: u32 BE length of what follows (frameBytesMin..maxFrameBytes), u8 type, u32 BE id, body.
 * Bodies use src/core/codec.ts (uvarints, length-prefixed UTF-8, optString).
 */
export const streamUpgrade = {
  path: '/v1/stream',
  protocol: 'quorate-kv',
  /** Response headers announcing the server's bounds. */
  maxFrameHeader: 'x-quorate-max-frame-bytes',
  maxInFlightHeader: 'x-quorate-max-in-flight',
} as const;

export const FrameType = {
  Put: 0x01,
  Get: 0x02,
  Delete: 0x03,
  Cas: 0x04,
  /** Presents a bearer token for the requests that follow on this connection (authentication). */
  Auth: 0x05,
  PutOk: 0x81,
  GetOk: 0x82,
  DeleteOk: 0x83,
  CasOk: 0x84,
  AuthOk: 0x85,
  /** A request's error, or with id 0 the connection's (the server closes after it). */
  Error: 0xe0,
  /** Who leads, as this node knows it; sent before answers whenever it changed (id 0). */
  Leader: 0xf0,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const wireLimits = {
  /** Type and id: the smallest frame. */
  frameBytesMin: 5,
  /** A cas with a maximal expected and new value (256 KiB each) and a maximal key fits. */
  maxFrameBytes: 1024 * 1024,
  /** Requests one connection may have in flight before the server answers overloaded. */
  maxInFlight: 4096,
} as const;
// The server's bounds on answer bytes are src/server/limits.ts (streamOutBytesMax and others).


export type Consistency = 'linearizable' | 'stale';
export interface WireSession { readonly clientId: string; readonly seq: number }

export type WireRequest =
  | { readonly op: 'put'; readonly key: string; readonly value: string; readonly session: WireSession | null }
  | { readonly op: 'get'; readonly key: string; readonly consistency: Consistency }
  | { readonly op: 'delete'; readonly key: string; readonly session: WireSession | null }
  | { readonly op: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string; readonly session: WireSession | null }
  | { readonly op: 'auth'; readonly token: string };

export type WireResult =
  | { readonly op: 'put'; readonly revision: number }
  | { readonly op: 'get'; readonly found: false }
  | { readonly op: 'get'; readonly found: true; readonly value: string; readonly revision: number }
  | { readonly op: 'delete'; readonly deleted: boolean; readonly prev: string | null; readonly revision: number }
  | { readonly op: 'cas'; readonly succeeded: boolean; readonly value: string | null; readonly revision: number }
  /** user null: authentication is off and the token was not needed. expiresAt 0 then. */
  | { readonly op: 'auth'; readonly user: string | null; readonly expiresAt: number };

export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly leader: string | null;
  readonly leaderUrl: string | null;
}

export interface WireLeader {
  /** The answering node leads. */
  readonly self: boolean;
  readonly leader: string | null;
  readonly leaderUrl: string | null;
}

/** One decoded frame of either direction. */
export type Frame =
  | { readonly type: 'request'; readonly id: number; readonly request: WireRequest }
  | { readonly type: 'result'; readonly id: number; readonly result: WireResult }
  | { readonly type: 'error'; readonly id: number; readonly error: WireError }
  | { readonly type: 'leader'; readonly id: number; readonly leader: WireLeader };

const ConsistencyTag = { linearizable: 0, stale: 1 } as const;

/** A Writer with room for the length word, which `framed` fills in. */
function start(type: FrameType, id: number, sizeHint: number): Writer {
  return new Writer(sizeHint + 16).u32(0).u8(type).u32(id);
}

function framed(w: Writer): Uint8Array {
  const b = w.finish();
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(0, b.length - 4, false);
  return b;
}

function writeSession(w: Writer, s: WireSession | null): void {
  w.optString(s === null ? null : s.clientId);
  if (s !== null) w.uvarint(s.seq);
}

export function encodeRequest(id: number, r: WireRequest): Uint8Array {
  switch (r.op) {
    case 'put': {
      const w = start(FrameType.Put, id, r.key.length + r.value.length * 3);
      w.string(r.key).string(r.value);
      writeSession(w, r.session);
      return framed(w);
    }
    case 'get':
      return framed(start(FrameType.Get, id, r.key.length * 3).string(r.key).u8(ConsistencyTag[r.consistency]));
    case 'delete': {
      const w = start(FrameType.Delete, id, r.key.length * 3).string(r.key);
      writeSession(w, r.session);
      return framed(w);
    }
    case 'cas': {
      const w = start(FrameType.Cas, id, r.key.length + ((r.expected?.length ?? 0) + r.value.length) * 3);
      w.string(r.key).optString(r.expected).string(r.value);
      writeSession(w, r.session);
      return framed(w);
    }
    case 'auth':
      return framed(start(FrameType.Auth, id, r.token.length).string(r.token));
    default:
      return assertNeverWire(r);
  }
}

export function encodeResult(id: number, r: WireResult): Uint8Array {
  switch (r.op) {
    case 'put':
      return framed(start(FrameType.PutOk, id, 8).uvarint(r.revision));
    case 'get':
      if (!r.found) return framed(start(FrameType.GetOk, id, 1).u8(0));
      return framed(start(FrameType.GetOk, id, r.value.length * 3).u8(1).string(r.value).uvarint(r.revision));
    case 'delete':
      return framed(start(FrameType.DeleteOk, id, (r.prev?.length ?? 0) * 3).bool(r.deleted).optString(r.prev).uvarint(r.revision));
    case 'cas':
      return framed(start(FrameType.CasOk, id, (r.value?.length ?? 0) * 3).bool(r.succeeded).optString(r.value).uvarint(r.revision));
    case 'auth':
      return framed(start(FrameType.AuthOk, id, 64).optString(r.user).uvarint(r.expiresAt));
    default:
      return assertNeverWire(r);
  }
}

export function encodeError(id: number, e: WireError): Uint8Array {
  return framed(start(FrameType.Error, id, e.message.length * 3 + 64)
    .string(e.code).string(e.message).optString(e.leader).optString(e.leaderUrl));
}

export function encodeLeader(l: WireLeader): Uint8Array {
  return framed(start(FrameType.Leader, 0, 64).bool(l.self).optString(l.leader).optString(l.leaderUrl));
}

/** A frame that cannot be decoded; `id` is the frame's request id when its header was readable. */
export class FrameError extends DecodeError {
  /**
   * From FrameParser.push: the payloads that were whole in the same push before the bad length
   * word. Their framing was sound, so the caller handles them before failing the connection (a
   * valid request batched in one segment with a bad frame used to vanish unanswered).
   */
  completeBefore: readonly Buffer[] = [];

  constructor(message: string, readonly id: number, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A declared frame length beyond the bound: the stream cannot be resynchronised. */
export class FrameTooLargeError extends FrameError {
  override readonly code = 'too_large';
}

function readSession(r: Reader): WireSession | null {
  const clientId = r.optString();
  if (clientId === null) return null;
  return { clientId, seq: r.uvarint() };
}

function readConsistency(r: Reader): Consistency {
  const t = r.u8();
  if (t === ConsistencyTag.linearizable) return 'linearizable';
  if (t === ConsistencyTag.stale) return 'stale';
  throw new DecodeError(`unknown consistency ${t}`);
}

function decodeBody(type: number, r: Reader): Frame | null {
  const id = r.u32();
  switch (type) {
    case FrameType.Put: {
      const key = r.string();
      const value = r.string();
      return { type: 'request', id, request: { op: 'put', key, value, session: readSession(r) } };
    }
    case FrameType.Get: {
      const key = r.string();
      return { type: 'request', id, request: { op: 'get', key, consistency: readConsistency(r) } };
    }
    case FrameType.Delete: {
      const key = r.string();
      return { type: 'request', id, request: { op: 'delete', key, session: readSession(r) } };
    }
    case FrameType.Cas: {
      const key = r.string();
      const expected = r.optString();
      const value = r.string();
      return { type: 'request', id, request: { op: 'cas', key, expected, value, session: readSession(r) } };
    }
    case FrameType.Auth:
      return { type: 'request', id, request: { op: 'auth', token: r.string() } };
    case FrameType.AuthOk: {
      const user = r.optString();
      return { type: 'result', id, result: { op: 'auth', user, expiresAt: r.uvarint() } };
    }
    case FrameType.PutOk:
      return { type: 'result', id, result: { op: 'put', revision: r.uvarint() } };
    case FrameType.GetOk: {
      if (!r.bool()) return { type: 'result', id, result: { op: 'get', found: false } };
      const value = r.string();
      return { type: 'result', id, result: { op: 'get', found: true, value, revision: r.uvarint() } };
    }
    case FrameType.DeleteOk: {
      const deleted = r.bool();
      const prev = r.optString();
      return { type: 'result', id, result: { op: 'delete', deleted, prev, revision: r.uvarint() } };
    }
    case FrameType.CasOk: {
      const succeeded = r.bool();
      const value = r.optString();
      return { type: 'result', id, result: { op: 'cas', succeeded, value, revision: r.uvarint() } };
    }
    case FrameType.Error: {
      const code = r.string();
      const message = r.string();
      const leader = r.optString();
      return { type: 'error', id, error: { code, message, leader, leaderUrl: r.optString() } };
    }
    case FrameType.Leader: {
      const self = r.bool();
      const leader = r.optString();
      return { type: 'leader', id, leader: { self, leader, leaderUrl: r.optString() } };
    }
    default:
      return null;
  }
}

/** Decodes one frame's payload (type, id, body); any malformation is a FrameError. */
export function decodeFrame(payload: Uint8Array): Frame {
  const id = payload.length >= 5 ? new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(1, false) : 0;
  const r = new Reader(payload);
  let f: Frame | null;
  try {
    f = decodeBody(r.u8(), r);
    if (f !== null) r.end('frame');
  } catch (cause) {
    throw new FrameError(`malformed frame (type 0x${(payload[0] ?? 0).toString(16)}, id ${id}): ${(cause as Error).message}`, id, { cause });
  }
  if (f === null) throw new FrameError(`unknown frame type 0x${(payload[0] ?? 0).toString(16)} (id ${id})`, id);
  return f;
}

/**
 * Splits a byte stream into frame payloads. `push` returns the payloads complete so far; a length
 * outside frameBytesMin..maxFrameBytes throws before any of that frame is buffered, and the error
 * carries the payloads that were whole before it in that push (FrameError.completeBefore).
 */
export class FrameParser {
  /** Chunks received that do not yet make a whole frame, in order; joined once it completes. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxFrameBytes: number = wireLimits.maxFrameBytes) {}

  /** Bytes received but not yet a whole frame. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /**
   * Bytes the frame in progress will hold once whole: its declared length as soon as the length
   * word is in. A server counts this against its budget, so a frame that cannot fit is refused
   * after its first chunk instead of after all of it has been read.
   */
  get partialFrameBytes(): number {
    return this.pendingBytes === 0 ? 0 : (this.needed() ?? this.pendingBytes);
  }

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    if (this.pending.length > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      // A partial frame grows by chunks without being copied each time (a 1 MiB frame in 64 KiB
      // reads used to copy 8 MiB); it is joined once, when it is whole.
      const need = this.needed();
      if (need === null || this.pendingBytes < need) return out;
      chunk = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let buf = chunk;
    try {
      while (buf.length >= 4) {
        const n = this.checkedLength(buf);
        if (buf.length < 4 + n) break;
        out.push(buf.subarray(4, 4 + n));
        buf = buf.subarray(4 + n);
      }
      if (buf.length > 0) {
        // Keep a copy of a partial frame only: a view would pin the whole chunk.
        this.pending = [out.length > 0 ? Buffer.from(buf) : buf];
        this.pendingBytes = buf.length;
        if (buf.length >= 4) this.checkedLength(buf);
      }
    } catch (err) {
      if (err instanceof FrameError) err.completeBefore = out;
      throw err;
    }
    return out;
  }

  /** Bytes the partial frame needs in all, once its length word is in (checked then); else null. */
  private needed(): number | null {
    if (this.pendingBytes < 4) return null;
    const first = this.pending[0] as Buffer;
    const head = first.length >= 4 ? first : Buffer.concat(this.pending, this.pendingBytes).subarray(0, 4);
    return 4 + this.checkedLength(head);
  }

  /** The frame length at the start of `buf`; outside frameBytesMin..maxFrameBytes it throws. */
  private checkedLength(buf: Buffer): number {
    const n = buf.readUInt32BE(0);
    if (n > this.maxFrameBytes) {
      throw new FrameTooLargeError(`frame of ${n} bytes exceeds the limit of ${this.maxFrameBytes}`, buf.length >= 9 ? buf.readUInt32BE(5) : 0);
    }
    if (n < wireLimits.frameBytesMin) throw new FrameError(`frame of ${n} bytes is shorter than its ${wireLimits.frameBytesMin}-byte header`, 0);
    return n;
  }
}

function assertNeverWire(x: never): never {
  throw new Error(`unexpected wire value ${JSON.stringify(x)}`);
}
