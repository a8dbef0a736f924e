import { assert } from './assert.js';
import { DecodeError, TooLargeError } from './errors.js';

/**
 * A compact binary codec: unsigned varints (LEB128, up to 2^53 - 1), length-prefixed bytes and
 * UTF-8 strings, fixed 32-bit words. Writers grow one buffer; readers check every bound and throw
 * DecodeError on malformed input, so outside bytes are validated once, at the gateway.
 */
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(initialBytes = 256) {
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.pos;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    assert(Number.isInteger(v) && v >= 0 && v <= 0xff, `u8 out of range: ${v}`);
    this.reserve(1);
    this.buf[this.pos++] = v;
    return this;
  }

  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }

  u32(v: number): this {
    assert(Number.isInteger(v) && v >= 0 && v <= 0xffffffff, `u32 out of range: ${v}`);
    this.reserve(4);
    this.view.setUint32(this.pos, v, false);
    this.pos += 4;
    return this;
  }

  /** Unsigned LEB128 varint for any safe non-negative integer. */
  uvarint(v: number): this {
    assert(Number.isSafeInteger(v) && v >= 0, `uvarint out of range: ${v}`);
    this.reserve(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
    return this;
  }

  bytes(v: Uint8Array): this {
    this.uvarint(v.length);
    this.reserve(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
    return this;
  }

  /** Raw bytes with no length prefix. */
  raw(v: Uint8Array): this {
    this.reserve(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
    return this;
  }

  string(v: string): this {
    return this.bytes(textEncoder.encode(v));
  }

  /** A string or null (0 = null, otherwise length + 1). */
  optString(v: string | null): this {
    if (v === null) return this.uvarint(0);
    const b = textEncoder.encode(v);
    this.uvarint(b.length + 1);
    return this.raw(b);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

export class Reader {
  private readonly view: DataView;
  private pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    /** Bound on any single length-prefixed field, checked before allocating. */
    private readonly maxFieldBytes = Number.POSITIVE_INFINITY,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) {
      throw new DecodeError(`truncated ${what} at offset ${this.pos}: need ${n} bytes, have ${this.remaining}`);
    }
  }

  u8(): number {
    this.need(1, 'u8');
    return this.buf[this.pos++] as number;
  }

  bool(): boolean {
    const v = this.u8();
    if (v > 1) throw new DecodeError(`bad boolean ${v} at offset ${this.pos - 1}`);
    return v === 1;
  }

  u32(): number {
    this.need(4, 'u32');
    const v = this.view.getUint32(this.pos, false);
    this.pos += 4;
    return v;
  }

  uvarint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      this.need(1, 'varint');
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(result)) throw new DecodeError(`varint exceeds 2^53 at offset ${this.pos}`);
        return result;
      }
      scale *= 0x80;
    }
    throw new DecodeError(`varint longer than 8 bytes at offset ${this.pos}`);
  }

  private length(what: string): number {
    const n = this.uvarint();
    if (n > this.maxFieldBytes) throw new TooLargeError(`${what} of ${n} bytes exceeds the bound of ${this.maxFieldBytes}`);
    this.need(n, what);
    return n;
  }

  /** A view into the input (no copy): copy it if the input buffer will be reused. */
  bytes(): Uint8Array {
    const n = this.length('bytes field');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  raw(n: number): Uint8Array {
    this.need(n, 'raw bytes');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(): string {
    return decodeUtf8(this.bytes(), this.pos);
  }

  optString(): string | null {
    const n = this.uvarint();
    if (n === 0) return null;
    if (n - 1 > this.maxFieldBytes) throw new TooLargeError(`string of ${n - 1} bytes exceeds the bound`);
    return decodeUtf8(this.raw(n - 1), this.pos);
  }

  /** Call when a whole record has been read: trailing bytes mean the record is malformed. */
  end(what = 'record'): void {
    if (this.remaining !== 0) throw new DecodeError(`${this.remaining} trailing bytes after ${what}`);
  }
}

function decodeUtf8(bytes: Uint8Array, at: number): string {
  try {
    return textDecoder.decode(bytes);
  } catch (cause) {
    throw new DecodeError(`invalid UTF-8 before offset ${at}`, { cause });
  }
}

/** Decodes with `fn`, requiring it to consume every byte; any failure is a DecodeError. */
export function decodeAll<T>(bytes: Uint8Array, fn: (r: Reader) => T, what: string, maxFieldBytes?: number): T {
  const r = new Reader(bytes, maxFieldBytes);
  const v = fn(r);
  r.end(what);
  return v;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
