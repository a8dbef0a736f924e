import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, defaultLimits } from '../../../src/core/index.js';
import { raft } from '../../../src/protocols/raft/index.js';
import type { Raft, RaftMessage } from '../../../src/protocols/raft/index.js';
import { TestCluster, cmd, texts } from '../../harness/cluster.js';
import { abandonedTransfer, drain, makeLeader, msgs, newRaft, only, sent, tickN, withLog } from './helpers.js';

const V3 = ['n1', 'n2', 'n3'];

/** The index at which command `text` was applied on `id`. */
function indexOf(c: TestCluster<RaftMessage>, id: string, text: string): number {
  const e = c.applied(id).find((x) => x.type === 0 && new TextDecoder().decode(x.data) === text);
  assert.ok(e !== undefined, `${text} not applied on ${id}`);
  return e.index;
}

test('§6.4 ReadIndex: the leader answers after a heartbeat round acknowledged by a quorum, at the commit index it saw', () => {
  const r = newRaft('n1', V3);
  makeLeader(r);
  drain(r);
  r.step({ type: 'app_resp', from: 'n2', to: 'n1', term: 1, incarnation: 0, index: 1, reject: false, hintIndex: 0, hintTerm: 0 });
  drain(r);
  assert.equal(r.status().commitIndex, 1);
  r.read(7);
  const rd = r.ready();
  assert.ok(rd !== null);
  assert.deepEqual(rd.readStates, [], 'not before leadership is confirmed');
  const hb = only(sent(rd), 'heartbeat');
  assert.equal(hb.length, 2);
  r.advance(rd);
  r.step({ type: 'heartbeat_resp', from: 'n3', to: 'n1', term: 1, incarnation: 0, round: (hb[0]?.round ?? 0) - 1, lastIndex: 1 });
  assert.deepEqual(drain(r).flatMap((x) => x.readStates), [], 'an older round does not confirm it');
  r.step({ type: 'heartbeat_resp', from: 'n3', to: 'n1', term: 1, incarnation: 0, round: hb[0]?.round ?? 0, lastIndex: 1 });
  assert.deepEqual(drain(r).flatMap((x) => x.readStates), [{ ctx: 7, index: 1 }]);
});

test('§6.4 ReadIndex: a new leader serves no read before it has committed an entry of its own term', () => {
  const r = withLog('n1', V3, [1, 1, 1], 1);
  makeLeader(r);
  drain(r);
  r.read(1);
  tickN(r, 2); // a heartbeat round goes out and is acknowledged
  for (const m of only(msgs(r), 'heartbeat')) r.step({ type: 'heartbeat_resp', from: m.to, to: 'n1', term: 2, incarnation: 0, round: m.round, lastIndex: 3 });
  assert.deepEqual(drain(r).flatMap((x) => x.readStates), [], 'the no-op (index 4) is not committed yet');
  r.step({ type: 'app_resp', from: 'n2', to: 'n1', term: 2, incarnation: 0, index: 4, reject: false, hintIndex: 0, hintTerm: 0 });
  const rd = drain(r);
  const hb = only(rd.flatMap(sent), 'heartbeat');
  assert.ok(hb.length > 0, 'once its term has a commit, the read starts its round');
  r.step({ type: 'heartbeat_resp', from: 'n2', to: 'n1', term: 2, incarnation: 0, round: hb[0]?.round ?? 0, lastIndex: 4 });
  assert.deepEqual(drain(r).flatMap((x) => x.readStates), [{ ctx: 1, index: 4 }]);
});

test('ReadIndex after a leader change (etcd #7331): a deposed leader cut off from the quorum serves no read; the new one serves a fresh index', () => {
  const c = new TestCluster(raft, { voters: V3, seed: 41, replica: () => ({ checkQuorum: false, preVote: false }) });
  const old = c.electLeader();
  c.propose(old, cmd('before'));
  c.tickUntil(() => c.ids.every((id) => c.appliedCommands(id).length === 1), 50);
  c.isolate(old);
  // leader() is the live leader with the highest term: the majority's new one.
  assert.ok(c.tickUntil(() => c.leader() !== old, 500));
  const next = c.leader() as string;
  assert.equal(c.replica(old).status().role, 'leader', 'without CheckQuorum the old leader still believes it leads');
  c.propose(next, cmd('write'));
  c.tickUntil(() => c.appliedCommands(next).length === 2, 50);
  const writeIndex = indexOf(c, next, 'write');
  c.read(old, 1);
  c.read(next, 2);
  c.tickUntil(() => c.readStates(next).length === 1 && c.readFailures(old).length === 1, 100);
  assert.deepEqual(c.readStates(old), [], 'no read state from the deposed leader');
  assert.deepEqual(c.readFailures(old).map((f) => f.reason), ['dropped']);
  const rs = c.readStates(next)[0];
  assert.ok(rs !== undefined && rs.index >= writeIndex, 'the new leader\'s read point includes the write');
});

test('a read on a follower is forwarded to the leader and answered with the leader\'s read point', () => {
  const c = new TestCluster(raft, { voters: V3, seed: 42 });
  const leader = c.electLeader();
  c.propose(leader, cmd('w'));
  c.tickUntil(() => c.appliedCommands(leader).length === 1, 50);
  const f = c.ids.find((id) => id !== leader) as string;
  c.read(f, 5);
  c.stabilize();
  assert.ok(c.sent.some((m) => m.type === 'read_index' && m.from === f && m.to === leader));
  const [rs] = c.readStates(f);
  assert.ok(rs !== undefined && rs.ctx === 5 && rs.index >= indexOf(c, leader, 'w'));
  assert.ok(c.appliedIndex(f) >= rs.index, 'the follower can serve once applied reaches the read point');
  assert.deepEqual(texts(c.appliedCommands(f)), ['w']);
});

test('a retried read (etcd #20418): a late answer to an expired forward never satisfies the retry with the same ctx', () => {
  const r = newRaft('n2', V3);
  r.step({ type: 'heartbeat', from: 'n1', to: 'n2', term: 1, incarnation: 0, commit: 0, leaderCommit: 0, round: 1 });
  drain(r);
  r.read(1);
  const [first] = only(msgs(r), 'read_index');
  assert.ok(first !== undefined);
  for (let round = 2; round < 7; round++) {
    tickN(r, 5); // the leader stays in touch, so the follower never campaigns
    r.step({ type: 'heartbeat', from: 'n1', to: 'n2', term: 1, incarnation: 0, commit: 0, leaderCommit: 0, round });
  }
  const failed = drain(r).flatMap((x) => x.readFailures);
  assert.deepEqual(failed.map((f) => [f.ctx, f.reason]), [[1, 'dropped']]);
  r.read(1); // the client retries with the same ctx
  const [second] = only(msgs(r), 'read_index');
  assert.ok(second !== undefined && second.ctx !== first.ctx, 'each forward has its own wire id');
  r.step({ type: 'read_index_resp', from: 'n1', to: 'n2', term: 1, incarnation: 0, ctx: first.ctx, index: 3, reason: '' });
  assert.deepEqual(drain(r).flatMap((x) => x.readStates), [], 'the stale answer is ignored');
  r.step({ type: 'read_index_resp', from: 'n1', to: 'n2', term: 1, incarnation: 0, ctx: second.ctx, index: 9, reason: '' });
  assert.deepEqual(drain(r).flatMap((x) => x.readStates), [{ ctx: 1, index: 9 }]);
});

test('a restarted follower (sim seed 937): an answer addressed to its previous life serves none of its new reads', () => {
  // Each start gets its own Rng (the node driver seeds it at random, the simulator per incarnation).
  const forward = (seed: number): { r: Raft; ctx: number } => {
    const r = newRaft('n2', V3, { rng: new Rng(seed) });
    r.step({ type: 'heartbeat', from: 'n1', to: 'n2', term: 1, incarnation: 0, commit: 0, leaderCommit: 0, round: 1 });
    drain(r);
    r.read(1);
    const [m] = only(msgs(r), 'read_index');
    assert.ok(m !== undefined);
    return { r, ctx: m.ctx };
  };
  const before = forward(1);
  const after = forward(2);
  assert.notEqual(after.ctx, before.ctx, 'wire ids do not restart at the same number');
  // The leader answered the first life's read at index 1; the answer arrives after the restart,
  // when a write at a later index has been acknowledged.
  after.r.step({ type: 'read_index_resp', from: 'n1', to: 'n2', term: 1, incarnation: 0, ctx: before.ctx, index: 1, reason: '' });
  assert.deepEqual(drain(after.r).flatMap((x) => x.readStates), [], 'the old answer is ignored');
  after.r.step({ type: 'read_index_resp', from: 'n1', to: 'n2', term: 1, incarnation: 0, ctx: after.ctx, index: 5, reason: '' });
  assert.deepEqual(drain(after.r).flatMap((x) => x.readStates), [{ ctx: 1, index: 5 }]);
});

test('read failures: not_leader with a hint when there is no leader to forward to; overloaded past pendingReadsMax', () => {
  const lone = newRaft('n1', V3);
  lone.read(1);
  assert.deepEqual(drain(lone).flatMap((x) => x.readFailures), [{ ctx: 1, reason: 'not_leader', leaderHint: null }]);

  const r = newRaft('n1', V3, { limits: { ...defaultLimits, pendingReadsMax: 2 } });
  makeLeader(r);
  drain(r);
  for (let ctx = 1; ctx <= 3; ctx++) r.read(ctx);
  const rds = drain(r);
  assert.deepEqual(rds.flatMap((x) => x.readFailures), [{ ctx: 3, reason: 'overloaded', leaderHint: null }]);
});

test('a leader that steps down fails its pending reads as not_leader, pointing at the new leader', () => {
  const r = newRaft('n1', V3);
  makeLeader(r);
  drain(r);
  r.read(4);
  drain(r);
  r.step({ type: 'app', from: 'n3', to: 'n1', term: 2, incarnation: 0, prevIndex: 0, prevTerm: 0, entries: [], commit: 0 });
  assert.deepEqual(drain(r).flatMap((x) => x.readFailures), [{ ctx: 4, reason: 'not_leader', leaderHint: 'n3' }]);
});

test('a single-voter cluster confirms reads by itself', () => {
  const c = new TestCluster(raft, { voters: ['solo'], seed: 43 });
  c.electLeader();
  c.propose('solo', cmd('a'));
  c.stabilize();
  c.read('solo', 1);
  c.stabilize();
  assert.deepEqual(c.readStates('solo'), [{ ctx: 1, index: 2 }]);
});

test('lease reads (opt-in): answered at once while a quorum acknowledged a recent heartbeat; ReadIndex again once the lease lapses', () => {
  const r = newRaft('n1', V3, { leaseReads: true, checkQuorum: true });
  makeLeader(r);
  drain(r);
  r.step({ type: 'app_resp', from: 'n2', to: 'n1', term: 1, incarnation: 0, index: 1, reject: false, hintIndex: 0, hintTerm: 0 });
  drain(r);
  r.read(1);
  assert.deepEqual(drain(r).flatMap((x) => x.readStates), [], 'no lease yet: no heartbeat was acknowledged');
  tickN(r, 2);
  for (const m of only(msgs(r), 'heartbeat')) r.step({ type: 'heartbeat_resp', from: m.to, to: 'n1', term: 1, incarnation: 0, round: m.round, lastIndex: 1 });
  assert.deepEqual(drain(r).flatMap((x) => x.readStates), [{ ctx: 1, index: 1 }]);
  r.read(2);
  const rd = drain(r);
  assert.deepEqual(rd.flatMap((x) => x.readStates), [{ ctx: 2, index: 1 }], 'served from the lease');
  assert.equal(only(rd.flatMap(sent), 'heartbeat').length, 0, 'without a quorum round');
  // Followers go silent: after electionTicks minus the drift margin the lease has lapsed.
  tickN(r, 8);
  drain(r);
  r.read(3);
  assert.deepEqual(drain(r).flatMap((x) => x.readStates), []);
});

test('lease reads need CheckQuorum, and a restarted voter refuses votes for an election timeout', () => {
  assert.throws(() => newRaft('n1', V3, { leaseReads: true, checkQuorum: false }), /needs checkQuorum/);
  const r = newRaft('n1', V3, { leaseReads: true, checkQuorum: true });
  r.step({ type: 'vote', from: 'n2', to: 'n1', term: 2, incarnation: 0, lastIndex: 0, lastTerm: 0, transfer: false });
  assert.equal(r.status().term, 0, 'it may have acknowledged a lease before it crashed');
  tickN(r, 10);
  r.step({ type: 'vote', from: 'n2', to: 'n1', term: 2, incarnation: 0, lastIndex: 0, lastTerm: 0, transfer: false });
  assert.equal(r.status().term, 2);
});

test('lease reads in a cluster: an isolated leader stops serving lease reads before a new leader can exist', () => {
  const c = new TestCluster(raft, { voters: V3, seed: 44, replica: () => ({ leaseReads: true }) });
  const old = c.electLeader();
  c.tickUntil(() => false, 5);
  c.read(old, 1);
  c.stabilize();
  assert.equal(c.readStates(old).length, 1);
  c.isolate(old);
  // Isolated, the old leader can only serve from its lease (no ReadIndex round can complete).
  let ctx = 2;
  let served = 1;
  let lastServedAt = -1;
  let newLeaderAt = -1;
  for (let t = 0; t < 300 && newLeaderAt < 0; t++) {
    c.read(old, ctx++);
    c.stabilize();
    if (c.readStates(old).length > served) {
      served = c.readStates(old).length;
      lastServedAt = t;
    }
    c.tick();
    c.stabilize();
    if (c.ids.some((id) => id !== old && c.replica(id).status().role === 'leader')) newLeaderAt = t;
  }
  assert.ok(lastServedAt >= 0, 'the lease served reads for a while');
  assert.ok(newLeaderAt > lastServedAt, `last lease read at ${lastServedAt}, new leader at ${newLeaderAt}`);
});

test('R1 lease reads (§3.10 + §6.4.1): once a TimeoutNow went out, the leader serves no lease read for the rest of its term', () => {
  const { c, old } = abandonedTransfer(new Set());
  c.read(old, 99);
  c.stabilize();
  assert.equal(c.readStates(old).find((r) => r.ctx === 99), undefined, 'no lease read; a ReadIndex round cannot reach a quorum');
  for (let i = 0; i < 30; i++) {
    c.tick(old);
    c.stabilize();
  }
  assert.equal(c.readStates(old).find((r) => r.ctx === 99), undefined, 'never served by the cut-off leader');
});

test('R1: a leader that sent no TimeoutNow in its term keeps serving lease reads after an abandoned transfer to a lagging target', () => {
  const c = new TestCluster(raft, { voters: V3, seed: 45, replica: () => ({ leaseReads: true }) });
  const old = c.electLeader();
  c.propose(old, cmd('a'));
  assert.ok(c.tickUntil(() => V3.every((id) => texts(c.appliedCommands(id)).includes('a')), 50));
  const [t] = V3.filter((id) => id !== old) as [string];
  c.isolate(t); // the target never catches up, so no TimeoutNow goes out
  assert.equal(c.propose(old, cmd('b')).ok, true);
  c.stabilize();
  assert.equal(c.replica(old).transferLeadership(t), true);
  for (let i = 0; i < 12; i++) {
    c.tick();
    c.stabilize();
  }
  assert.equal(c.replica(old).status().role, 'leader');
  assert.ok(!c.sent.some((m) => m.type === 'timeout_now'));
  c.read(old, 7);
  c.stabilize();
  assert.ok(c.readStates(old).some((r) => r.ctx === 7), 'the lease is back: nobody was told to skip it');
});
