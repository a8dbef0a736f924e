import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ZabMutant } from '../../../src/protocols/zab/index.js';
import { ZabNet, txt } from './net.js';

/**
 * A member that lost its state (ReplicaOptions.lostState: a wiped or replaced disk, a restored
 * backup) cannot know what epoch it accepted or which txns it ACKed (Paxos Made Live §5.1). The
 * project's rule: it never votes, promises or counts toward an election, discovery or broadcast
 * quorum again, until a membership change re-adds it as a new member; it still syncs and applies.
 * The old recovery (vote again once synchronized) is the mutant lost-state-regains-vote.
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
  assert.equal(net.replica(w).status().canVote, false, 'synchronized, and still not a voter');
  assert.deepEqual(net.violations, []);
});

/**
 * w is wiped and catches up from the leader. Then the other follower o goes down: only w could
 * make a quorum with the leader. Returns whether x4 committed, and whether a leader could be
 * elected among {w, o} once the leader is gone.
 */
function catchUp(mutants: string[]): { x4Committed: boolean; wVotes: boolean; electedWithW: boolean; wAfterRestart: boolean } {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 62, replica: () => ({ mutants: new Set(mutants) }) });
  net.startAll();
  const l = net.electLeader();
  const [w, o] = net.ids.filter((id) => id !== l) as [string, string];
  for (let i = 1; i <= 3; i++) assert.ok(net.commit(`x${i}`));
  net.wipe(w);
  net.start(w);
  assert.ok(net.tickUntil(() => net.node(w).appliedIndex === 3 && net.replica(w).status().leader === l), 'w did not catch up');
  assert.deepEqual(net.appliedTexts(w), ['x1', 'x2', 'x3']);
  const wVotes = net.replica(w).status().canVote;
  net.crash(o);
  assert.ok(net.replica(l).propose(txt('x4')).ok);
  net.tickUntil(() => net.node(l).appliedIndex >= 4, 50);
  const x4Committed = net.node(l).appliedIndex >= 4;
  // A restart of w keeps the driver's marker: still not a voter.
  net.crash(w);
  net.start(w);
  const wAfterRestart = net.replica(w).status().canVote;
  // Without the leader, {w, o} is a majority by count only.
  net.crash(l);
  net.start(o);
  const electedWithW = net.tickUntil(() => net.leader() !== null, 200);
  return { x4Committed, wVotes, electedWithW, wAfterRestart };
}

test('a wiped follower catches up and applies, but never counts toward a quorum again, across restarts too', () => {
  const r = catchUp([]);
  assert.deepEqual(r, { x4Committed: false, wVotes: false, electedWithW: false, wAfterRestart: false });
});

test('mutant lost-state-regains-vote: the synchronized wiped follower commits x4 with the leader and votes again', () => {
  const r = catchUp([ZabMutant.LostStateRegainsVote]);
  assert.equal(r.wVotes, true);
  assert.equal(r.x4Committed, true);
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
