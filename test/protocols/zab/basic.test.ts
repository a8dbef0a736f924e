import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ZabNet, txt } from './net.js';

test('three replicas elect one leader, establish epoch 1 and deliver proposals in zxid order everywhere', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 1 });
  net.startAll();
  const leader = net.electLeader();
  assert.equal(net.replica(leader).status().term, 1);
  for (let i = 0; i < 5; i++) assert.ok(net.commit(`x${i}`));
  net.tickUntil(() => net.ids.every((id) => net.node(id).appliedIndex === 5));
  for (const id of net.ids) assert.deepEqual(net.appliedTexts(id), ['x0', 'x1', 'x2', 'x3', 'x4']);
  assert.deepEqual(net.violations, []);
  // Every txn carries the epoch it was proposed in.
  for (const e of net.appliedByIndex.values()) assert.equal(e.id, 1);
});

test('a follower refuses proposals with not_leader and names the leader', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 2 });
  net.startAll();
  const leader = net.electLeader();
  net.tickUntil(() => net.ids.every((id) => net.replica(id).status().leader === leader));
  const follower = net.ids.find((id) => id !== leader) as string;
  assert.deepEqual(net.replica(follower).propose(txt('nope')), { ok: false, reason: 'not_leader', leaderHint: leader });
});

test('fast leader election picks the replica with the highest (currentEpoch, lastZxid)', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 3 });
  net.startAll();
  const first = net.electLeader();
  assert.ok(net.commit('one'));
  // c misses a txn while cut off; then the leader crashes: the best history must win.
  const others = net.ids.filter((id) => id !== first);
  const lagging = others[0] as string;
  const upToDate = others[1] as string;
  net.cut(first, lagging);
  assert.ok(net.replica(first).propose(txt('two')).ok);
  net.tickUntil(() => net.node(upToDate).replica?.status().lastIndex === 2);
  net.crash(first);
  net.heal();
  const second = net.electLeader();
  assert.equal(second, upToDate);
  net.tickUntil(() => net.node(lagging).appliedIndex === 2);
  assert.deepEqual(net.appliedTexts(lagging), ['one', 'two']);
  assert.deepEqual(net.violations, []);
});
