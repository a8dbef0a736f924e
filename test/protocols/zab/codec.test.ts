import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DecodeError, EntryType, TooLargeError } from '../../../src/core/index.js';
import type { Entry } from '../../../src/core/index.js';
import { PeerState, SyncMode, zabCodec } from '../../../src/protocols/zab/index.js';
import type { ZabMessage } from '../../../src/protocols/zab/index.js';

const id = fc.stringMatching(/^[a-z0-9]{1,8}$/);
const n = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const small = fc.nat({ max: 1000 });
const entries: fc.Arbitrary<Entry[]> = fc.tuple(small, small, fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 5 }))
  .map(([start, epoch, datas]) => datas.map((data, i) => ({ index: start + i, id: epoch, type: EntryType.Normal, data })));

const arbMessage: fc.Arbitrary<ZabMessage> = fc.oneof(
  fc.record({ type: fc.constant('vote' as const), from: id, to: id, state: fc.constantFrom(...Object.values(PeerState)),
    round: n, leader: fc.option(id, { nil: null }), epoch: n, lastId: n, lastIndex: n }),
  fc.record({ type: fc.constant('followerinfo' as const), from: id, to: id, session: n, acceptedEpoch: n, voter: fc.boolean() }),
  fc.record({ type: fc.constant('newepoch' as const), from: id, to: id, session: n, round: n, epoch: n }),
  fc.record({ type: fc.constant('ackepoch' as const), from: id, to: id, session: n, round: n, epoch: n, fresh: fc.boolean(), voter: fc.boolean(),
    currentEpoch: n, lastIndex: n, lastId: n, epochEnds: fc.array(fc.record({ epoch: n, lastIndex: n }), { maxLength: 32 }) }),
  fc.record({ type: fc.constant('sync' as const), from: id, to: id, session: n, round: n, epoch: n, mode: fc.constantFrom(...Object.values(SyncMode)), truncIndex: n }),
  fc.record({ type: fc.constant('snap' as const), from: id, to: id, epoch: n,
    meta: fc.record({ index: n, id: n, config: fc.constant({ voters: ['a', 'b'], learners: ['c'] }) }),
    data: fc.uint8Array({ maxLength: 40 }), offset: small }).map((m) => ({ ...m, totalBytes: m.offset + m.data.length + 3 })),
  fc.record({ type: fc.constantFrom('diff' as const, 'proposal' as const), from: id, to: id, epoch: n, commit: n, entries }),
  fc.record({ type: fc.constant('newleader' as const), from: id, to: id, epoch: n, lastIndex: n }),
  fc.record({ type: fc.constant('ack' as const), from: id, to: id, session: n, epoch: n, index: n, newLeader: fc.boolean() }),
  fc.record({ type: fc.constantFrom('uptodate' as const, 'commit' as const), from: id, to: id, epoch: n, commit: n }),
  fc.record({ type: fc.constant('ping' as const), from: id, to: id, epoch: n, commit: n, sentIndex: n, seq: n }),
  fc.record({ type: fc.constant('pong' as const), from: id, to: id, session: n, epoch: n, seq: n, ackedIndex: n }),
);

test('every zab message round-trips through the binary codec', () => {
  fc.assert(fc.property(arbMessage, (m) => {
    assert.deepEqual(zabCodec.decode(zabCodec.encode(m)), structuredClone(m));
  }), { numRuns: 2000 });
});

test('every truncation of an encoded message is refused with DecodeError', () => {
  fc.assert(fc.property(arbMessage, (m) => {
    const bytes = zabCodec.encode(m);
    for (let cut = 0; cut < bytes.length; cut++) assert.throws(() => zabCodec.decode(bytes.subarray(0, cut)), DecodeError);
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    assert.throws(() => zabCodec.decode(longer), DecodeError);
  }), { numRuns: 300 });
});

test('arbitrary bytes either decode or fail with a named codec error, never anything else', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
    try {
      zabCodec.decode(bytes);
    } catch (err) {
      assert.ok(err instanceof DecodeError || err instanceof TooLargeError, String(err));
    }
  }), { numRuns: 5000 });
});

test('malformed fields are refused: unknown tag, bad sync mode, txns out of zxid order, too many epoch ends', () => {
  assert.throws(() => zabCodec.decode(Uint8Array.of(99, 1, 97, 1, 98)), DecodeError);
  const sync = zabCodec.encode({ type: 'sync', from: 'a', to: 'b', session: 1, round: 1, epoch: 1, mode: SyncMode.Diff, truncIndex: 0 });
  const badMode = sync.slice();
  badMode[badMode.length - 2] = 9;
  assert.throws(() => zabCodec.decode(badMode), /unknown sync mode/);
  const e = (index: number, epoch: number): Entry => ({ index, id: epoch, type: EntryType.Normal, data: new Uint8Array() });
  const gap = zabCodec.encode({ type: 'proposal', from: 'a', to: 'b', epoch: 1, commit: 0, entries: [e(1, 1), e(3, 1)] });
  assert.throws(() => zabCodec.decode(gap), /not contiguous/);
  const back = zabCodec.encode({ type: 'diff', from: 'a', to: 'b', epoch: 1, commit: 0, entries: [e(1, 2), e(2, 1)] });
  assert.throws(() => zabCodec.decode(back), /not contiguous/);
  const many = zabCodec.encode({ type: 'ackepoch', from: 'a', to: 'b', session: 1, round: 1, epoch: 1, fresh: true, voter: true, currentEpoch: 0,
    lastIndex: 0, lastId: 0, epochEnds: Array.from({ length: 33 }, (_, i) => ({ epoch: i, lastIndex: i })) });
  assert.throws(() => zabCodec.decode(many), /epoch ends/);
});
