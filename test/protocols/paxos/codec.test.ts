import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DecodeError, EntryType } from '../../../src/core/index.js';
import type { Entry } from '../../../src/core/index.js';
import { paxosCodec } from '../../../src/protocols/paxos/index.js';
import type { PaxosMessage } from '../../../src/protocols/paxos/index.js';
import { acceptedEntry, learnedEntry, originMax } from '../../../src/protocols/paxos/value.js';

const node = fc.constantFrom('n1', 'n2', 'n3', 'node-4', 'a.b_c');
const nat = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const ballot = fc.integer({ min: 1, max: originMax - 1 });
const entryType = fc.constantFrom(EntryType.Normal, EntryType.Noop, EntryType.Batch);
/** A value in wire form (id = origin), as p2a and learn carry them. */
const chosen: fc.Arbitrary<Entry> = fc.record({ index: nat, id: ballot, type: entryType, data: fc.uint8Array({ maxLength: 40 }) });
/** What p1b reports: the log's form, accepted at a ballot or learned chosen. */
const reported: fc.Arbitrary<Entry> = fc.oneof(
  fc.tuple(fc.nat({ max: 1e9 }), chosen).map(([slot, v]) => learnedEntry(slot, { origin: v.id, type: v.type, data: v.data })),
  fc.tuple(fc.nat({ max: 1e9 }), ballot, chosen).map(([slot, b, v]) => acceptedEntry(slot, b, { origin: v.id, type: v.type, data: v.data })),
);
const ascending = fc.uniqueArray(nat, { maxLength: 20 }).map((a) => a.sort((x, y) => x - y));
const meta = fc.record({
  index: nat, id: nat,
  config: fc.record({ voters: fc.constant(['n1', 'n2', 'n3']), learners: fc.constantFrom([], ['l1']) }),
});

const message: fc.Arbitrary<PaxosMessage> = fc.oneof(
  fc.record({ type: fc.constant('p1a' as const), from: node, to: node, ballot: nat, fromSlot: nat }),
  fc.record({
    type: fc.constant('p1b' as const), from: node, to: node, ballot: nat, fromSlot: nat, chosen: nat, snapshotIndex: nat,
    entries: fc.array(reported, { maxLength: 5 }), next: nat, inc: nat,
  }),
  fc.record({ type: fc.constant('nack' as const), from: node, to: node, ballot: nat, promised: nat }),
  fc.record({ type: fc.constant('p2a' as const), from: node, to: node, ballot: nat, commit: nat, hbTick: nat, entries: fc.array(chosen, { maxLength: 5 }) }),
  fc.record({ type: fc.constant('p2b' as const), from: node, to: node, ballot: nat, hbTick: nat, slots: ascending, inc: nat }),
  fc.record({ type: fc.constant('learnReq' as const), from: node, to: node, fromSlot: nat }),
  fc.record({ type: fc.constant('learn' as const), from: node, to: node, commit: nat, entries: fc.array(chosen, { maxLength: 5 }) }),
  fc.tuple(node, node, meta, fc.nat({ max: 1000 }), fc.uint8Array({ maxLength: 64 }), fc.nat({ max: 1000 })).map(
    ([from, to, m, offset, data, extra]) => ({ type: 'snap' as const, from, to, meta: m, offset, totalBytes: offset + data.length + extra, data })),
  fc.record({ type: fc.constant('snapAck' as const), from: node, to: node, index: nat, nextOffset: nat }),
  fc.record({ type: fc.constant('readReq' as const), from: node, to: node, seq: nat }),
  fc.record({ type: fc.constant('readResp' as const), from: node, to: node, seq: nat, highest: nat }),
  fc.record({ type: fc.constant('lost' as const), from: node, to: node, inc: nat }),
  fc.record({ type: fc.constant('fill' as const), from: node, to: node, through: nat }),
);

/** Normalizes Uint8Array subclasses/views so deepEqual compares contents. */
function plain(m: PaxosMessage): unknown {
  return JSON.parse(JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v)));
}

test('every paxos message round-trips through the binary codec', () => {
  fc.assert(fc.property(message, (m) => {
    assert.deepEqual(plain(paxosCodec.decode(paxosCodec.encode(m))), plain(m));
  }), { numRuns: 2000 });
});

test('every proper prefix of an encoded message is refused with DecodeError', () => {
  fc.assert(fc.property(message, (m) => {
    const bytes = paxosCodec.encode(m);
    for (let n = 0; n < bytes.length; n++) assert.throws(() => paxosCodec.decode(bytes.subarray(0, n)), DecodeError);
  }), { numRuns: 300 });
});

test('random bytes either decode to a message that round-trips or throw DecodeError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
    let m: PaxosMessage;
    try {
      m = paxosCodec.decode(bytes);
    } catch (e) {
      assert.ok(e instanceof DecodeError, `not a DecodeError: ${String(e)}`);
      return;
    }
    assert.deepEqual(plain(paxosCodec.decode(paxosCodec.encode(m))), plain(m));
  }), { numRuns: 5000 });
});

test('mutated encodings never escape as anything but DecodeError', () => {
  fc.assert(fc.property(message, fc.nat(), fc.nat({ max: 255 }), (m, at, byte) => {
    const bytes = paxosCodec.encode(m).slice();
    bytes[at % bytes.length] = byte;
    try {
      paxosCodec.decode(bytes);
    } catch (e) {
      assert.ok(e instanceof DecodeError, `not a DecodeError: ${String(e)}`);
    }
  }), { numRuns: 3000 });
});

test('named refusals: unknown tag, bad node id, trailing bytes, a p2a value with no origin', () => {
  const good = paxosCodec.encode({ type: 'p1a', from: 'n1', to: 'n2', ballot: 1024, fromSlot: 1 });
  assert.throws(() => paxosCodec.decode(Uint8Array.of(99, ...good.subarray(1))), /unknown paxos message tag 99/);
  assert.throws(() => paxosCodec.decode(Uint8Array.of(...good, 0)), /trailing bytes/);
  const badId = paxosCodec.encode({ type: 'lost', from: 'n1', to: 'n2', inc: 7 });
  badId[2] = 0x20; // a space inside the sender id
  assert.throws(() => paxosCodec.decode(badId), /bad sender node id/);
  const hole = { index: 1, id: 0, type: EntryType.Noop, data: new Uint8Array(0) };
  const p2a = paxosCodec.encode({ type: 'p2a', from: 'n1', to: 'n2', ballot: 1024, commit: 0, hbTick: 0, entries: [hole] });
  assert.throws(() => paxosCodec.decode(p2a), (e: unknown) => e instanceof DecodeError && /bad origin/.test(e.message));
  const huge = paxosCodec.encode({ type: 'p2b', from: 'n1', to: 'n2', ballot: 1, hbTick: 0, inc: 1, slots: [] }).slice();
  huge[huge.length - 1] = 100; // claims 100 slots with no bytes left
  assert.throws(() => paxosCodec.decode(huge), /slot count 100/);
});
