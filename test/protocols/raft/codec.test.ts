import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DecodeError, EntryType } from '../../../src/core/index.js';
import { decodeRaftMessage, encodeRaftMessage, raft } from '../../../src/protocols/raft/index.js';
import type { RaftMessage } from '../../../src/protocols/raft/index.js';

const id = fc.stringMatching(/^[a-z0-9]{1,8}$/);
const n = fc.nat({ max: 2 ** 40 });
const bytes = fc.uint8Array({ maxLength: 40 });

const base = fc.record({ from: id, to: id, term: fc.integer({ min: 1, max: 2 ** 40 }), incarnation: n });

const message: fc.Arbitrary<RaftMessage> = fc.oneof(
  fc.record({ b: base, type: fc.constantFrom('vote' as const, 'prevote' as const), lastIndex: n, lastTerm: n, transfer: fc.boolean() })
    .map(({ b, ...m }) => ({ ...b, ...m })),
  fc.record({ b: base, type: fc.constantFrom('vote_resp' as const, 'prevote_resp' as const), granted: fc.boolean() })
    .map(({ b, ...m }) => ({ ...b, ...m })),
  fc.record({ b: base, prevIndex: n, commit: n, count: fc.nat({ max: 4 }), data: bytes }).map(({ b, prevIndex, commit, count, data }) => ({
    ...b, type: 'app' as const, prevIndex, prevTerm: Math.min(b.term, prevIndex), commit,
    entries: Array.from({ length: count }, (_, i) => ({ index: prevIndex + 1 + i, id: b.term, type: i % 2 === 0 ? EntryType.Normal : EntryType.Noop, data })),
  })),
  fc.record({ b: base, index: n, reject: fc.boolean(), hintIndex: n, hintTerm: n }).map(({ b, ...m }) => ({ ...b, type: 'app_resp' as const, ...m })),
  fc.record({ b: base, commit: n, leaderCommit: n, round: n }).map(({ b, ...m }) => ({ ...b, type: 'heartbeat' as const, ...m })),
  fc.record({ b: base, round: n, lastIndex: n }).map(({ b, ...m }) => ({ ...b, type: 'heartbeat_resp' as const, ...m })),
  fc.record({ b: base, index: n, offset: fc.nat({ max: 1000 }), data: bytes, last: fc.boolean(), voters: fc.uniqueArray(id, { minLength: 1, maxLength: 5 }) })
    .map(({ b, index, offset, data, last, voters }) => ({
      ...b, type: 'snap' as const, meta: { index, id: b.term, config: { voters, learners: [] } },
      offset, data, totalBytes: offset + data.length + (last ? 0 : 7), done: last,
    })),
  fc.record({ b: base, index: n, offset: n, done: fc.boolean() }).map(({ b, ...m }) => ({ ...b, type: 'snap_resp' as const, ...m })),
  base.map((b) => ({ ...b, type: 'timeout_now' as const })),
  base.map((b) => ({ ...b, type: 'term_probe' as const })),
  base.map((b) => ({ ...b, type: 'term_probe_resp' as const })),
  fc.record({ b: base, ctx: n }).map(({ b, ctx }) => ({ ...b, type: 'read_index' as const, ctx })),
  fc.record({ b: base, ctx: n, index: n, reason: fc.constantFrom('' as const, 'not_leader' as const, 'overloaded' as const, 'dropped' as const) })
    .map(({ b, ...m }) => ({ ...b, type: 'read_index_resp' as const, ...m })),
);

test('codec: every RaftMessage survives encode then decode (property)', () => {
  fc.assert(fc.property(message, (m) => {
    assert.deepEqual(decodeRaftMessage(encodeRaftMessage(m)), m);
  }), { numRuns: 2000 });
});

test('codec: arbitrary bytes decode to a message or throw DecodeError, nothing else (fuzz)', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
    try {
      decodeRaftMessage(b);
    } catch (e) {
      assert.ok(e instanceof DecodeError, `threw ${String(e)}`);
    }
  }), { numRuns: 20000 });
});

test('codec: mutated valid encodings decode or throw DecodeError, and whatever decodes round-trips', () => {
  fc.assert(fc.property(message, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat({ max: 3 }), (m, at, byte, cut) => {
    const enc = encodeRaftMessage(m);
    const b = enc.slice(0, Math.max(0, enc.length - cut));
    if (b.length > 0) b[at % b.length] = byte;
    try {
      const d = decodeRaftMessage(b);
      assert.deepEqual(decodeRaftMessage(encodeRaftMessage(d)), d);
    } catch (e) {
      assert.ok(e instanceof DecodeError, `threw ${String(e)}`);
    }
  }), { numRuns: 5000 });
});

test('codec: named errors for malformed input', () => {
  const good = encodeRaftMessage({ type: 'app', from: 'a', to: 'b', term: 2, incarnation: 0, prevIndex: 3, prevTerm: 1, commit: 0,
    entries: [{ index: 4, id: 2, type: EntryType.Normal, data: new Uint8Array([1]) }] });
  assert.throws(() => decodeRaftMessage(new Uint8Array([99])), (e: unknown) => e instanceof DecodeError && /tag 99/.test(e.message));
  assert.throws(() => decodeRaftMessage(good.subarray(0, good.length - 1)), DecodeError);
  assert.throws(() => decodeRaftMessage(new Uint8Array([...good, 0])), (e: unknown) => e instanceof DecodeError && /trailing/.test(e.message));
  const gap = encodeRaftMessage({ type: 'app', from: 'a', to: 'b', term: 2, incarnation: 0, prevIndex: 3, prevTerm: 1, commit: 0,
    entries: [{ index: 5, id: 2, type: EntryType.Normal, data: new Uint8Array(0) }] });
  assert.throws(() => decodeRaftMessage(gap), (e: unknown) => e instanceof DecodeError && /expected 4/.test(e.message));
  const badId = encodeRaftMessage({ type: 'timeout_now', from: 'a', to: 'b', term: 1 , incarnation: 0});
  badId[2] = 0x20; // the sender id becomes a space
  assert.throws(() => decodeRaftMessage(badId), (e: unknown) => e instanceof DecodeError && /sender/.test(e.message));
});

test('codec: the protocol module exposes it, and a heartbeat is a few bytes', () => {
  const hb: RaftMessage = { type: 'heartbeat', from: 'n1', to: 'n2', term: 7, incarnation: 0, commit: 100, leaderCommit: 100, round: 3 };
  const b = raft.codec.encode(hb);
  assert.ok(b.length <= 16, `${b.length} bytes`);
  assert.deepEqual(raft.codec.decode(b), hb);
});
