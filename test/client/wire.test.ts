import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  FrameError, FrameParser, FrameTooLargeError, FrameType, decodeFrame, encodeError, encodeLeader, encodeRequest, encodeResult, wireLimits,
} from '../../src/client/wire.js';
import type { Frame, WireRequest, WireResult } from '../../src/client/wire.js';

/** Frames through the parser, fed in the given chunk sizes, then decoded. */
function parseAll(bytes: Uint8Array, chunk: number, parser = new FrameParser()): Frame[] {
  const out: Frame[] = [];
  for (let off = 0; off < bytes.length; off += chunk) {
    for (const p of parser.push(Buffer.from(bytes.subarray(off, off + chunk)))) out.push(decodeFrame(p));
  }
  assert.equal(parser.bufferedBytes, 0, 'no partial frame left over');
  return out;
}

const requests: WireRequest[] = [
  { op: 'put', key: 'k', value: 'v', session: null },
  { op: 'put', key: 'ключ/ü', value: '', session: { clientId: 'c-1.7', seq: 2 ** 40 } },
  { op: 'get', key: 'k', consistency: 'linearizable' },
  { op: 'get', key: 'k', consistency: 'stale' },
  { op: 'delete', key: 'k', session: { clientId: 'c', seq: 1 } },
  { op: 'cas', key: 'k', expected: null, value: 'x', session: null },
  { op: 'cas', key: 'k', expected: 'old', value: 'new', session: { clientId: 'c', seq: 9 } },
];
const results: WireResult[] = [
  { op: 'put', revision: 1 },
  { op: 'get', found: false },
  { op: 'get', found: true, value: 'v', revision: 12 },
  { op: 'delete', deleted: true, prev: 'p', revision: 3 },
  { op: 'delete', deleted: false, prev: null, revision: 4 },
  { op: 'cas', succeeded: false, value: null, revision: 0 },
  { op: 'cas', succeeded: true, value: 'n', revision: 2 ** 50 },
];

describe('binary client protocol frames', () => {
  test('every request, result, error and leader frame round-trips, fed byte by byte', () => {
    const frames = [
      ...requests.map((r, i) => encodeRequest(i + 1, r)),
      ...results.map((r, i) => encodeResult(100 + i, r)),
      encodeError(7, { code: 'not_leader', message: 'not the leader', leader: 'n2', leaderUrl: 'http://127.0.0.1:1' }),
      encodeError(0, { code: 'bad_request', message: 'm', leader: null, leaderUrl: null }),
      encodeLeader({ self: false, leader: 'n3', leaderUrl: null }),
    ];
    const all = Buffer.concat(frames);
    for (const chunk of [1, 2, 3, 7, all.length]) {
      const got = parseAll(all, chunk);
      assert.deepEqual(got.slice(0, requests.length), requests.map((request, i) => ({ type: 'request', id: i + 1, request })));
      assert.deepEqual(got.slice(requests.length, requests.length + results.length), results.map((result, i) => ({ type: 'result', id: 100 + i, result })));
      assert.deepEqual(got.at(-3), { type: 'error', id: 7, error: { code: 'not_leader', message: 'not the leader', leader: 'n2', leaderUrl: 'http://127.0.0.1:1' } });
      assert.deepEqual(got.at(-1), { type: 'leader', id: 0, leader: { self: false, leader: 'n3', leaderUrl: null } });
    }
  });

  test('the length word counts type, id and body; ids are u32', () => {
    const b = encodeRequest(0xffffffff, { op: 'get', key: 'ab', consistency: 'stale' });
    const v = Buffer.from(b);
    assert.equal(v.readUInt32BE(0), b.length - 4);
    assert.equal(v[4], FrameType.Get);
    assert.equal(v.readUInt32BE(5), 0xffffffff);
  });

  test('any request round-trips through any chunking (property)', () => {
    const session = fc.option(fc.record({ clientId: fc.string({ minLength: 1, maxLength: 20 }), seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }) })
      .map((s) => ({ ...s })), { nil: null });
    const req: fc.Arbitrary<WireRequest> = fc.oneof(
      fc.record({ op: fc.constant('put' as const), key: fc.string({ minLength: 1 }), value: fc.string(), session }),
      fc.record({ op: fc.constant('get' as const), key: fc.string({ minLength: 1 }), consistency: fc.constantFrom('linearizable' as const, 'stale' as const) }),
      fc.record({ op: fc.constant('delete' as const), key: fc.string({ minLength: 1 }), session }),
      fc.record({ op: fc.constant('cas' as const), key: fc.string({ minLength: 1 }), expected: fc.option(fc.string(), { nil: null }), value: fc.string(), session }),
    ).map((r) => ({ ...r }));
    fc.assert(fc.property(fc.array(req, { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 64 }), (rs, chunk) => {
      const bytes = Buffer.concat(rs.map((r, i) => encodeRequest(i + 1, r)));
      assert.deepEqual(parseAll(bytes, chunk).map((f) => (f.type === 'request' ? f.request : null)), rs);
    }));
  });

  test('a length beyond the bound is refused before the frame is buffered', () => {
    const p = new FrameParser(1000);
    const head = Buffer.alloc(9);
    head.writeUInt32BE(64 << 20, 0);
    head[4] = FrameType.Put;
    head.writeUInt32BE(42, 5);
    assert.throws(() => p.push(head), (e) => e instanceof FrameTooLargeError && e.code === 'too_large' && e.id === 42 && /exceeds the limit of 1000/.test(e.message));
    assert.throws(() => new FrameParser(1000).push(head.subarray(0, 4)), (e) => e instanceof FrameTooLargeError && e.id === 0);
  });

  test('a length shorter than the header is refused', () => {
    assert.throws(() => new FrameParser().push(Buffer.from([0, 0, 0, 4, 1, 0, 0, 0])), (e) => e instanceof FrameError && /shorter/.test(e.message));
  });

  test('a bad length word hands back the frames whole before it in the same push', () => {
    const put = encodeRequest(7, { op: 'put', key: 'k', value: 'v', session: null });
    for (const bad of [Buffer.from([0, 0, 0, 0]), Buffer.from([0xff, 0xff, 0xff, 0xff])]) {
      assert.throws(() => new FrameParser(1000).push(Buffer.concat([put, put, bad])), (e) => {
        assert.ok(e instanceof FrameError);
        assert.deepEqual(e.completeBefore.map((p) => Buffer.from(p)), [Buffer.from(put.subarray(4)), Buffer.from(put.subarray(4))]);
        return true;
      });
    }
    // A bad length alone (nothing whole before it): nothing handed back.
    assert.throws(() => new FrameParser().push(Buffer.from([0, 0, 0, 1])), (e) => e instanceof FrameError && e.completeBefore.length === 0);
  });

  test('malformed payloads are FrameErrors naming the problem and the id', () => {
    const payload = (b: Uint8Array): Buffer => Buffer.from(b.subarray(4));
    const put = payload(encodeRequest(5, { op: 'put', key: 'k', value: 'v', session: null }));
    const cases: [string, Buffer, RegExp][] = [
      ['unknown type', Buffer.from([0x7f, 0, 0, 0, 5]), /unknown frame type 0x7f \(id 5\)/],
      ['trailing bytes', Buffer.concat([put, Buffer.from([0])]), /trailing bytes/],
      ['truncated body', put.subarray(0, put.length - 1), /truncated/],
      ['bad consistency', Buffer.from([FrameType.Get, 0, 0, 0, 5, 1, 0x6b, 9]), /unknown consistency 9/],
      ['invalid UTF-8 key', Buffer.from([FrameType.Get, 0, 0, 0, 5, 2, 0xc3, 0x28, 0]), /UTF-8/],
      ['header only, no body', Buffer.from([FrameType.Put, 0, 0, 0, 5]), /truncated/],
    ];
    for (const [what, bytes, re] of cases) {
      assert.throws(() => decodeFrame(bytes), (e) => e instanceof FrameError && re.test(e.message) && (e.id === 5), what);
    }
  });

  test('the default frame bound holds a maximal cas', () => {
    const v = 'v'.repeat(256 * 1024);
    const b = encodeRequest(1, { op: 'cas', key: 'k'.repeat(1024), expected: v, value: v, session: { clientId: 'c'.repeat(128), seq: 1 } });
    assert.ok(b.length - 4 <= wireLimits.maxFrameBytes);
  });
});
