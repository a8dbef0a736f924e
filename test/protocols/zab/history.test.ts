import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionFailure, EntryType, makeConfig } from '../../../src/core/index.js';
import type { Entry } from '../../../src/core/index.js';
import { History } from '../../../src/protocols/zab/history.js';
import { SyncMode } from '../../../src/protocols/zab/index.js';
import { commonPrefix, planSync } from '../../../src/protocols/zab/sync-plan.js';

const config = makeConfig(['a', 'b', 'c']);
const e = (index: number, id: number): Entry => ({ index, id, type: EntryType.Normal, data: new Uint8Array([index]) });
/** A durable history holding txns with the given epochs at indexes 1, 2, ... */
const hist = (...ids: number[]): History => new History({ index: 0, id: 0, config }, ids.map((id, i) => e(i + 1, id)));
const idx = (es: readonly Entry[]): number[] => es.map((x) => x.index);

test('the history refuses gaps and zxids that go back', () => {
  const h = hist(1, 1);
  assert.throws(() => h.append([e(4, 1)]), AssertionFailure);
  assert.throws(() => h.append([e(3, 0)]), AssertionFailure);
  h.append([e(3, 2)]);
  assert.equal(h.lastIndex, 3);
  assert.equal(h.lastId, 2);
  assert.equal(h.stableIndex, 2);
});

test('a TRUNC with nothing after it is a cut in memory: no durable txn is written again', () => {
  const h = hist(1, 1, 1);
  h.truncateAfter(1);
  assert.equal(h.lastIndex, 1);
  assert.equal(h.stableIndex, 1);
  assert.deepEqual(h.unstable(), [], 'the kept txn 1 is not rewritten (a torn rewrite could lose it)');
});

test('a cut followed by new txns is written by those txns, over the stale ones (TRUNC+DIFF in one write)', () => {
  const h = hist(1, 1, 1);
  h.truncateAfter(1);
  h.append([e(2, 2), e(3, 2)]);
  const w = h.unstable();
  assert.deepEqual(idx(w), [2, 3]);
  h.stableTo(w);
  assert.equal(h.stableIndex, 3);
});

test('a cut that races a write in flight leaves the txns after the cut to be written again', () => {
  const h = hist(1);
  h.append([e(2, 1), e(3, 1)]);
  const w = h.unstable();
  assert.deepEqual(idx(w), [2, 3]);
  h.truncateAfter(1); // while 2..3 are being written
  h.append([e(2, 2)]);
  h.stableTo(w);
  assert.equal(h.stableIndex, 1);
  assert.deepEqual(idx(h.unstable()), [2]);
  assert.equal(h.unstable()[0]?.id, 2);
});

test('epoch ends summarise the history newest first, and lastIndexOfEpoch sees compaction', () => {
  const h = hist(1, 1, 3, 3, 3, 4);
  assert.deepEqual(h.epochEnds(32), [{ epoch: 4, lastIndex: 6 }, { epoch: 3, lastIndex: 5 }, { epoch: 1, lastIndex: 2 }, { epoch: 0, lastIndex: 0 }]);
  assert.deepEqual(h.epochEnds(2), [{ epoch: 4, lastIndex: 6 }, { epoch: 3, lastIndex: 5 }]);
  assert.equal(h.lastIndexOfEpoch(3), 5);
  assert.equal(h.lastIndexOfEpoch(2), 'none');
  h.compact({ index: 4, id: 3, config });
  assert.equal(h.lastIndexOfEpoch(3), 5);
  assert.equal(h.lastIndexOfEpoch(1), 'unknown');
});

test('common prefix: same epoch runs agree up to where the shorter one ends (ZOOKEEPER-1154)', () => {
  const leader = hist(1, 1, 2, 2, 5);
  // Follower a prefix of the leader.
  assert.equal(commonPrefix(leader, { lastIndex: 3, lastId: 2, epochEnds: [{ epoch: 2, lastIndex: 3 }] }), 3);
  // Follower went on in epoch 2 past where the leader's epoch 2 ends: cut to 4.
  const f1 = hist(1, 1, 2, 2, 2, 2);
  assert.equal(commonPrefix(leader, { lastIndex: 6, lastId: 2, epochEnds: f1.epochEnds(32) }), 4);
  // Follower holds an epoch the leader never saw (3) after epoch 1: the cut is where epoch 1 ends.
  const f2 = hist(1, 1, 3, 3);
  assert.equal(commonPrefix(leader, { lastIndex: 4, lastId: 3, epochEnds: f2.epochEnds(32) }), 2);
});

test('sync plans: DIFF, TRUNC, TRUNC+DIFF, SNAP, and the trunc-past-prefix mutant', () => {
  const leader = hist(1, 1, 2, 2);
  const s = (f: History, mutant = false) => planSync(leader, { lastIndex: f.lastIndex, lastId: f.lastId, epochEnds: f.epochEnds(32) }, mutant);
  assert.deepEqual(s(hist(1)), { mode: SyncMode.Diff, truncIndex: 1, diffFrom: 2 });
  assert.deepEqual(s(hist(1, 1, 2, 2, 2)), { mode: SyncMode.Trunc, truncIndex: 4, diffFrom: 5 });
  assert.deepEqual(s(hist(1, 1, 1)), { mode: SyncMode.TruncDiff, truncIndex: 2, diffFrom: 3 });
  // By index alone the follower's (3, epoch 1) looks common: no cut, a split history.
  assert.deepEqual(s(hist(1, 1, 1), true), { mode: SyncMode.Diff, truncIndex: 3, diffFrom: 4 });
  leader.compact({ index: 3, id: 2, config });
  assert.equal(s(hist(1)).mode, SyncMode.Snap);
  assert.equal(s(hist(1, 1, 2)).mode, SyncMode.Diff);
});
