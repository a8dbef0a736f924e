import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ZabNet } from './net.js';

/**
 * A replica whose disk was wiped (lostState) must not vote or count toward a quorum until it is
 * synchronized: it may have forgotten an epoch it accepted or txns it ACKed (Paxos Made Live §5.1).
 */
test('a wiped replica does not vote, so the survivor that lacks a committed txn is not elected with its help', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 61 });
  net.startAll();
  const l = net.electLeader();
  const [w, s] = net.ids.filter((id) => id !== l) as [string, string];
  assert.ok(net.commit('x1'));
  net.cut(l, s);
  assert.ok(net.commit('x2')); // committed on {l, w}; s lacks it
  net.heal();
  net.wipe(w);
  net.crash(l);
  net.start(w);
  assert.equal(net.replica(w).status().canVote, false);
  // {w, s} is a majority by count, but w may not vote: no leader, so x2 cannot be lost.
  assert.equal(net.tickUntil(() => net.leader() !== null, 200), false);
  net.start(l);
  net.electLeader();
  assert.ok(net.tickUntil(() => net.ids.every((id) => net.node(id).appliedIndex === 2)));
  for (const id of net.ids) assert.deepEqual(net.appliedTexts(id), ['x1', 'x2']);
  assert.equal(net.replica(w).status().canVote, true);
  assert.deepEqual(net.violations, []);
});

test('a wiped follower catches up from the leader and then counts again', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 62 });
  net.startAll();
  const l = net.electLeader();
  const [w, other] = net.ids.filter((id) => id !== l) as [string, string];
  for (let i = 1; i <= 3; i++) assert.ok(net.commit(`x${i}`));
  net.wipe(w);
  net.start(w);
  assert.ok(net.tickUntil(() => net.replica(w).status().canVote && net.node(w).appliedIndex === 3));
  // With the other follower gone, the leader commits only with the re-synced replica's ACKs.
  net.crash(other);
  assert.ok(net.commit('x4'));
  assert.deepEqual(net.appliedTexts(l), ['x1', 'x2', 'x3', 'x4']);
  assert.deepEqual(net.violations, []);
});

test('learners follow the leader and apply everything but never count toward a quorum', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 63, learners: ['d'] });
  net.startAll();
  const l = net.electLeader();
  assert.ok(net.commit('x1'));
  assert.ok(net.tickUntil(() => net.node('d').appliedIndex === 1));
  assert.equal(net.replica('d').status().role, 'learner');
  const followers = net.ids.filter((id) => id !== l && id !== 'd');
  for (const f of followers) net.crash(f);
  net.replica(l).propose(new TextEncoder().encode('x2'));
  net.tickUntil(() => false, 5);
  assert.equal(net.node(l).appliedIndex, 1, 'committed with a learner in the quorum');
});
