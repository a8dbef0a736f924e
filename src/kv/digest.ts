/**
 * Deterministic digests with no I/O, so the state machine stays pure (no node:crypto):
 * CRC-32 (IEEE) guards snapshot bytes against corruption; `digest128` names a state or a trace
 * (four independent 32-bit lanes of a multiply-xorshift mix, printed as 32 hex digits). Neither
 * is cryptographic: they detect accidents, not adversaries.
 */

const crcTable: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, seed = 0): number {
  let c = ~seed >>> 0;
  for (let i = 0; i < bytes.length; i++) c = (crcTable[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

/** An incremental 128-bit digest: feed bytes or strings, then read `hex()`. */
export class Digest128 {
  private h0 = 0x6a09e667;
  private h1 = 0xbb67ae85;
  private h2 = 0x3c6ef372;
  private h3 = 0xa54ff53a;
  private count = 0;

  update(bytes: Uint8Array): this {
    for (let i = 0; i < bytes.length; i++) this.byte(bytes[i] as number);
    return this;
  }

  /** Strings are fed as UTF-16 code units, each followed by nothing: callers add separators. */
  updateString(s: string): this {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      this.byte(c & 0xff);
      if (c > 0xff) this.byte(c >>> 8);
    }
    return this;
  }

  updateNumber(n: number): this {
    return this.updateString(String(n)).byte(0x1f);
  }

  private byte(b: number): this {
    this.count++;
    this.h0 = Math.imul(this.h0 ^ b, 0x9e3779b1);
    this.h1 = Math.imul(this.h1 ^ b, 0x85ebca77);
    this.h2 = Math.imul(this.h2 ^ b, 0xc2b2ae3d);
    this.h3 = Math.imul(this.h3 ^ b, 0x27d4eb2f);
    this.h0 ^= this.h1 >>> 15;
    this.h1 ^= this.h2 >>> 13;
    this.h2 ^= this.h3 >>> 16;
    this.h3 ^= this.h0 >>> 17;
    return this;
  }

  hex(): string {
    let a = this.h0 ^ this.count;
    let b = this.h1 ^ Math.floor(this.count / 0x100000000);
    let c = this.h2;
    let d = this.h3;
    for (let round = 0; round < 4; round++) {
      a = fmix(a + d);
      b = fmix(b ^ a);
      c = fmix(c + b);
      d = fmix(d ^ c);
    }
    return [a, b, c, d].map((x) => (x >>> 0).toString(16).padStart(8, '0')).join('');
  }
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function digestHex(bytes: Uint8Array): string {
  return new Digest128().update(bytes).hex();
}
