import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, Rng, makeConfig, replicaOptions } from '../../../src/core/index.js';
import type { Entry, HardState } from '../../../src/core/index.js';
import { EpochInconsistencyError, ZabReplica } from '../../../src/protocols/zab/index.js';
import { ZabNet, txt } from './net.js';

test('a zxid counter about to pass its bound forces a new epoch (ZOOKEEPER-1277)', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 41, zab: { counterMax: 3 } });
  net.startAll();
  const first = net.electLeader();
  assert.equal(net.replica(first).status().term, 1);
  for (let i = 1; i <= 3; i++) assert.ok(net.commit(`e1-${i}`));
  // Counter 4 would pass the bound: the leader gives up rather than wrap the counter.
  assert.deepEqual(net.replica(first).propose(txt('e1-4')), { ok: false, reason: 'not_leader', leaderHint: null });
  assert.equal(net.replica(first).status().protocolRole, 'looking');
  const second = net.electLeader();
  assert.equal(net.replica(second).status().term, 2);
  for (let i = 1; i <= 3; i++) assert.ok(net.commit(`e2-${i}`));
  net.tickUntil(() => net.ids.every((id) => net.node(id).appliedIndex === 6));
  const zxids = [...net.appliedByIndex.values()].sort((x, y) => x.index - y.index).map((e) => [e.id, e.index]);
  assert.deepEqual(zxids, [[1, 1], [1, 2], [1, 3], [2, 4], [2, 5], [2, 6]]);
  for (const id of net.ids) assert.deepEqual(net.appliedTexts(id), ['e1-1', 'e1-2', 'e1-3', 'e2-1', 'e2-2', 'e2-3']);
  assert.deepEqual(net.violations, []);
});

function start(hardState: HardState | null, entries: Entry[]): ZabReplica {
  return new ZabReplica(replicaOptions({
    id: 'a', config: makeConfig(['a', 'b', 'c']), rng: new Rng(1),
    recovered: { hardState, snapshot: null, entries },
  }));
}

const entry = (index: number, id: number): Entry => ({ index, id, type: EntryType.Normal, data: txt(`${index}`) });

test('start-up refuses acceptedEpoch below currentEpoch (ZOOKEEPER-2307)', () => {
  assert.throws(() => start({ kind: 'zab', acceptedEpoch: 1, currentEpoch: 2, commit: 0 }, []),
    (err: unknown) => err instanceof EpochInconsistencyError && err.code === 'corrupt' && err.currentEpoch === 2);
});

test('start-up refuses txns from an epoch never accepted', () => {
  assert.throws(() => start({ kind: 'zab', acceptedEpoch: 2, currentEpoch: 2, commit: 0 }, [entry(1, 1), entry(2, 3)]),
    EpochInconsistencyError);
  assert.throws(() => start(null, [entry(1, 1)]), EpochInconsistencyError);
});

test('start-up refuses a hard state written by another protocol', () => {
  assert.throws(() => start({ kind: 'raft', term: 3, vote: null, commit: 0 }, []), EpochInconsistencyError);
});

test('start-up accepts consistent epochs, and a crash between logging synced txns and writing currentEpoch', () => {
  const ok = start({ kind: 'zab', acceptedEpoch: 3, currentEpoch: 3, commit: 1 }, [entry(1, 1), entry(2, 3)]);
  assert.equal(ok.status().term, 3);
  // Synced txns of epoch 2 logged under acceptedEpoch 3 while currentEpoch is still 1: the
  // NEWLEADER steps (b) done, (c) not yet. Nothing was acknowledged for it, so it may run.
  const mid = start({ kind: 'zab', acceptedEpoch: 3, currentEpoch: 1, commit: 1 }, [entry(1, 1), entry(2, 2)]);
  assert.equal(mid.status().term, 1);
  assert.equal(mid.status().commitIndex, 1);
});
