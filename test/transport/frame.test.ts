import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DecodeError, TooLargeError } from '../../src/core/index.js';
import {
  FrameDecoder, decodeFrames, encodeFrame, encodeFrameHeader, frameHeaderBytes, type Frame,
} from '../../src/transport/frame.js';

const norm = (fs: Frame[]): Array<{ group: number; payload: number[] }> =>
  fs.map((f) => ({ group: f.group, payload: [...f.payload] }));

const sample: Frame[] = [
  { group: 0, payload: new Uint8Array([1, 2, 3]) },
  { group: 7, payload: new Uint8Array(0) },
  { group: 0xfffffffe, payload: new Uint8Array(300).map((_, i) => i & 0xff) },
  { group: 0xffffffff, payload: new Uint8Array([9]) },
];
const stream = Buffer.concat(sample.map((f) => encodeFrame(f.group, f.payload)));

test('header then payload encodes the same bytes as a whole frame', () => {
  const p = new Uint8Array([5, 6, 7]);
  assert.deepEqual(Buffer.concat([encodeFrameHeader(3, p), p]), encodeFrame(3, p));
  assert.equal(encodeFrame(3, p).length, frameHeaderBytes + 3);
});

test('decodes a stream fed byte by byte', () => {
  const chunks = [...stream].map((b) => new Uint8Array([b]));
  assert.deepEqual(norm(decodeFrames(chunks, 1000)), norm(sample));
});

test('every single split point of a stream gives the same frames', () => {
  for (let i = 0; i <= stream.length; i++) {
    const got = decodeFrames([stream.subarray(0, i), stream.subarray(i)], 1000);
    assert.deepEqual(norm(got), norm(sample), `split at ${i}`);
  }
});

test('every pair of split points gives the same frames', () => {
  const small = stream.subarray(0, frameHeaderBytes * 2 + 3 + 0 + 20); // first two frames and a partial third
  const want = norm(decodeFrames([small], 1000));
  assert.equal(want.length, 2);
  for (let i = 0; i <= small.length; i++) {
    for (let j = i; j <= small.length; j++) {
      const got = decodeFrames([small.subarray(0, i), small.subarray(i, j), small.subarray(j)], 1000);
      assert.deepEqual(norm(got), want, `splits at ${i}, ${j}`);
    }
  }
});

test('property: any frames, split anywhere, decode to themselves', () => {
  const arbFrame = fc.record({ group: fc.nat({ max: 0xffffffff }), payload: fc.uint8Array({ maxLength: 200 }) });
  fc.assert(fc.property(fc.array(arbFrame, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (frames, cuts) => {
    const bytes = Buffer.concat(frames.map((f) => encodeFrame(f.group, f.payload)));
    const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
    const chunks: Uint8Array[] = [];
    let prev = 0;
    for (const p of points) {
      chunks.push(bytes.subarray(prev, p));
      prev = p;
    }
    chunks.push(bytes.subarray(prev));
    assert.deepEqual(norm(decodeFrames(chunks, 200)), norm(frames));
  }));
});

test('a flipped bit anywhere in a frame is a DecodeError (length bits may also read as too large)', () => {
  const one = encodeFrame(5, new Uint8Array([10, 20, 30, 40]));
  for (let byte = 0; byte < one.length; byte++) {
    for (let bit = 0; bit < 8; bit++) {
      const bad = Buffer.from(one);
      bad[byte]! ^= 1 << bit;
      // Followed by more bytes than the bound, so a changed length within the bound completes
      // (and fails its checksum) instead of waiting for more bytes.
      const withTail = Buffer.concat([bad, Buffer.alloc(8192)]);
      assert.throws(() => decodeFrames([withTail], 4096), (e: unknown) =>
        e instanceof DecodeError || e instanceof TooLargeError, `byte ${byte} bit ${bit}`);
    }
  }
});

test('an oversized length is refused from the header alone, before any allocation', () => {
  const d = new FrameDecoder(1024);
  const header = Buffer.alloc(frameHeaderBytes);
  header.writeUInt32BE(0xfffffff0, 0);
  for (let i = 0; i < frameHeaderBytes - 1; i++) d.push(header.subarray(i, i + 1), () => assert.fail('no frame'));
  assert.ok(d.bufferedBytes < frameHeaderBytes);
  assert.throws(() => d.push(header.subarray(frameHeaderBytes - 1), () => assert.fail('no frame')), TooLargeError);
  assert.equal(d.bufferedBytes, 0);
});

test('a length exactly at the bound is accepted, one past it refused', () => {
  assert.equal(decodeFrames([encodeFrame(0, new Uint8Array(64))], 64).length, 1);
  assert.throws(() => decodeFrames([encodeFrame(0, new Uint8Array(65))], 64), TooLargeError);
});

test('garbage is an error, good frames before it are delivered, and the decoder stays failed', () => {
  const d = new FrameDecoder(1 << 16);
  const got: Frame[] = [];
  const garbage = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.throws(() => d.push(Buffer.concat([encodeFrame(1, new Uint8Array([1])), garbage]), (f) => got.push(f)),
    (e: unknown) => e instanceof DecodeError || e instanceof TooLargeError);
  assert.equal(got.length, 1);
  assert.throws(() => d.push(encodeFrame(1, new Uint8Array([2])), (f) => got.push(f)));
  assert.equal(got.length, 1);
});

test('property: random garbage never crashes the decoder or buffers past its bound', () => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
    const d = new FrameDecoder(256);
    try {
      for (const c of chunks) {
        d.push(c, () => undefined);
        assert.ok(d.bufferedBytes <= frameHeaderBytes + 256);
      }
    } catch (e) {
      assert.ok(e instanceof DecodeError || e instanceof TooLargeError, String(e));
    }
  }));
});

test('a large frame arriving in many chunks is assembled once, without quadratic copying', () => {
  const payload = new Uint8Array(1 << 20).map((_, i) => (i * 31) & 0xff);
  const bytes = encodeFrame(9, payload);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += 1000) chunks.push(bytes.subarray(i, i + 1000));
  const d = new FrameDecoder(1 << 20);
  const got: Frame[] = [];
  for (const c of chunks) {
    d.push(c, (f) => got.push(f));
    assert.ok(d.bufferedBytes <= bytes.length);
  }
  assert.equal(got.length, 1);
  assert.ok(Buffer.from(payload).equals(got[0]!.payload));
});
