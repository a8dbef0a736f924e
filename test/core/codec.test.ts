import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Reader, Writer, DecodeError, TooLargeError, decodeEntry, encodeEntry, decodeHardState, encodeHardState,
  decodeSnapshotMeta, encodeSnapshotMeta, encodeBatch, decodeBatch, commandsOf, EntryType,
  type Entry, type HardState,
} from '../../src/core/index.js';

const arbEntry: fc.Arbitrary<Entry> = fc.record({
  index: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  id: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  type: fc.constantFrom(EntryType.Normal, EntryType.Noop, EntryType.Batch, EntryType.Config),
  data: fc.uint8Array({ maxLength: 300 }),
});

test('uvarint round-trips every safe integer', () => {
  fc.assert(fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), (n) => {
    const r = new Reader(new Writer().uvarint(n).finish());
    assert.equal(r.uvarint(), n);
    r.end();
  }));
});

test('entries round-trip', () => {
  fc.assert(fc.property(arbEntry, (e) => {
    assert.deepEqual(decodeEntry(encodeEntry(e)), { ...e, data: new Uint8Array(e.data) });
  }));
});

test('hard states of every protocol round-trip', () => {
  const arb: fc.Arbitrary<HardState> = fc.oneof(
    fc.record({ kind: fc.constant('raft' as const), term: fc.nat(), vote: fc.option(fc.string(), { nil: null }), commit: fc.nat() }),
    fc.record({ kind: fc.constant('paxos' as const), promised: fc.nat(), chosen: fc.nat() }),
    fc.record({ kind: fc.constant('paxos' as const), promised: fc.nat(), chosen: fc.nat(), end: fc.nat(), lost: fc.boolean() }),
    fc.record({ kind: fc.constant('zab' as const), acceptedEpoch: fc.nat(), currentEpoch: fc.nat(), commit: fc.nat() }),
  );
  fc.assert(fc.property(arb, (h) => assert.deepEqual(decodeHardState(encodeHardState(h)), { ...h })));
});

test('snapshot meta carries the cluster configuration', () => {
  const m = { index: 42, id: 7, config: { voters: ['n1', 'n2', 'n3'], learners: ['n4'] } };
  assert.deepEqual(decodeSnapshotMeta(encodeSnapshotMeta(m)), m);
});

test('batches round-trip and commandsOf unpacks them', () => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 20 }), (cmds) => {
    const data = encodeBatch(cmds);
    assert.deepEqual(decodeBatch(data), cmds.map((c) => new Uint8Array(c)));
    assert.deepEqual(commandsOf({ index: 1, id: 1, type: EntryType.Batch, data }).length, cmds.length);
  }));
  assert.deepEqual(commandsOf({ index: 1, id: 1, type: EntryType.Noop, data: new Uint8Array() }), []);
});

test('every truncation of an encoded entry is refused with DecodeError', () => {
  fc.assert(fc.property(arbEntry, (e) => {
    const bytes = encodeEntry(e);
    for (let cut = 0; cut < bytes.length; cut++) {
      assert.throws(() => decodeEntry(bytes.subarray(0, cut)), DecodeError);
    }
  }));
});

test('arbitrary bytes never decode to anything but an entry or a DecodeError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
    try {
      decodeEntry(bytes);
    } catch (err) {
      assert.ok(err instanceof DecodeError, String(err));
    }
  }));
});

test('length fields are bounded before allocation', () => {
  const w = new Writer().uvarint(1 << 30);
  const r = new Reader(w.finish(), 1024);
  assert.throws(() => r.bytes(), TooLargeError);
});

test('trailing bytes are malformed', () => {
  const bytes = new Writer().raw(encodeEntry({ index: 1, id: 1, type: EntryType.Normal, data: new Uint8Array([1]) })).u8(0).finish();
  assert.throws(() => decodeEntry(bytes), /trailing/);
});
