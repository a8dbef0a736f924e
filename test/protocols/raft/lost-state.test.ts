import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, defaultLimits } from '../../../src/core/index.js';
import { raft } from '../../../src/protocols/raft/index.js';
import type { RaftMessage } from '../../../src/protocols/raft/index.js';
import { TestCluster, cmd, texts } from '../../harness/cluster.js';
import { answerProbes, drain, entries, makeLeader, msgs, newRaft, only, tickN } from './helpers.js';

// A member that lost its state (wiped or replaced disk, restored backup) never votes, campaigns or
// counts toward a quorum again; it still catches up, replicates and applies. Its messages carry
// its incarnation, and every replica drops messages of an older life of a peer than one it heard.
// The review's R2 and R3 scenarios (/work/shared/repro/raft/review.test.ts) with the correct
// outcome asserted.

const V3 = ['n1', 'n2', 'n3'];
const V5 = ['n1', 'n2', 'n3', 'n4', 'n5'];

test('R3: an acknowledgement from before a wipe, delivered after the new life spoke, is not counted; the write is not lost', () => {
  const c = new TestCluster(raft, {
    voters: V3,
    seed: 27,
    replica: () => ({ limits: { ...defaultLimits, maxMessageBytes: 1 } }),
  });
  const L = c.electLeader();
  c.propose(L, cmd('a'));
  assert.ok(c.tickUntil(() => V3.every((id) => texts(c.appliedCommands(id)).includes('a')), 50));
  const [C, Y] = V3.filter((id) => id !== L) as [string, string];
  c.cut(L, Y); // Y misses e
  const held: RaftMessage[] = [];
  c.filter = (m) => {
    if (m.type === 'app_resp' && m.from === C && !m.reject && m.index >= 3) {
      held.push(m); // C's ack of e is delayed in the network
      return false;
    }
    return true;
  };
  assert.equal(c.propose(L, cmd('e')).ok, true);
  c.stabilize();
  assert.equal(c.replica(C).status().lastIndex, 3, 'C stored e');
  assert.equal(held.length, 1, 'C acked e (held in flight)');
  assert.equal(held[0]?.incarnation, 0, 'from its first life');
  assert.equal(c.replica(L).status().commitIndex, 2);
  // C's disk is wiped; it restarts in a new life. e does not reach it again.
  c.wipe(C);
  c.restart(C);
  c.filter = (m) => !(m.type === 'app' && m.to === C && m.entries.some((x) => x.index >= 3));
  assert.ok(c.tickUntil(() => c.replica(C).status().commitIndex === 2, 100), 'C caught up to the commit (2)');
  assert.equal(c.replica(C).status().canVote, false, 'caught up, and still without a vote');
  assert.equal(c.replica(C).status().lastIndex, 2, 'C does not hold e');
  // The pre-wipe ack finally arrives: the leader heard C's newer life, so it drops it.
  c.replica(L).step(held[0]);
  c.stabilize();
  assert.equal(c.replica(L).status().commitIndex, 2, 'e is not committed on an acknowledgement of a lost copy');
  // The leader dies; Y (without e) campaigns, and C does not vote for it.
  c.crash(L);
  c.filter = null;
  c.heal();
  c.tickUntil(() => false, 300);
  assert.equal(c.leader(), null, 'no quorum of voters without L: C never votes');
  c.restart(L);
  const back = c.electLeader(500);
  assert.ok(c.tickUntil(() => V3.every((id) => c.replica(id).status().commitIndex >= 4), 200));
  assert.ok(texts(c.appliedCommands(back)).includes('e'), 'e survived: only L and Y vote, and L holds it');
  assert.deepEqual(texts(c.appliedCommands(C)), texts(c.appliedCommands(back)), 'C applies as a non-voter');
});

test('R2: a wiped voter never votes again, so it cannot vote twice in one term (5 voters, a vote request delayed across the wipe)', () => {
  const c = new TestCluster(raft, { voters: V5, seed: 5, replica: () => ({ preVote: false, checkQuorum: false }) });
  const A = c.electLeader();
  c.propose(A, cmd('a'));
  assert.ok(c.tickUntil(() => V5.every((id) => texts(c.appliedCommands(id)).includes('a')), 50));
  const [B, C, D, E] = V5.filter((id) => id !== A) as [string, string, string, string];
  c.cut(A, B);
  c.cut(B, E);
  const held: RaftMessage[] = [];
  c.filter = (m) => {
    if (m.type === 'vote' && m.from === B && m.to !== C) {
      held.push(m);
      return false;
    }
    return true;
  };
  for (let i = 0; i < 40 && c.replica(B).status().role !== 'candidate'; i++) {
    c.tick(B);
    c.stabilize();
  }
  const t2 = c.replica(B).status().term;
  const hs = c.persisted(C).hardState;
  assert.ok(hs?.kind === 'raft' && hs.vote === B, `C voted for B in term ${t2}`);
  // C's disk is wiped. It probes; B cannot answer (cut); A, D, E answer with the old term.
  c.wipe(C);
  c.cut(B, C);
  c.restart(C);
  for (let i = 0; i < 20; i++) {
    c.tick(C);
    c.tick(A);
    c.stabilize();
  }
  assert.equal(c.replica(C).status().commitIndex, c.replica(A).status().commitIndex, 'C caught up from A');
  assert.equal(c.replica(C).status().canVote, false, 'and may not vote');
  assert.equal(c.replica(C).status().term, t2 - 1, 'C learned only the old term');
  // B's delayed vote request reaches D: B wins term t2 with C's pre-wipe vote and D's.
  c.replica(D).step(held.find((m) => m.to === D) as RaftMessage);
  c.stabilize();
  assert.equal(c.replica(B).status().role, 'leader');
  // E campaigns in term t2 too; A votes for it, the re-born C does not: no second leader.
  for (let i = 0; i < 40 && c.replica(E).status().role !== 'leader'; i++) {
    c.tick(E);
    c.stabilize(); // the harness throws HarnessViolation on two leaders in one term
  }
  assert.ok(!c.sent.some((m) => m.from === C && m.incarnation > 0 && m.type === 'vote_resp' && m.granted), 'C granted no vote in its new life');
});

test('lostState: a wiped voter never votes or campaigns, even once caught up; every message it sends carries its incarnation', () => {
  const r = newRaft('n1', V3, { lostState: true, incarnation: 7, preVote: false });
  assert.equal(r.status().canVote, false);
  tickN(r, 100);
  assert.equal(r.status().role, 'follower', 'no campaign');
  answerProbes(r, V3, 3);
  r.step({ type: 'app', from: 'n3', to: 'n1', term: 3, incarnation: 0, prevIndex: 0, prevTerm: 0, entries: entries([1, 2, 3]), commit: 3 });
  r.step({ type: 'heartbeat', from: 'n3', to: 'n1', term: 3, incarnation: 0, commit: 3, leaderCommit: 3, round: 1 });
  drain(r);
  assert.deepEqual([r.status().commitIndex, r.status().appliedIndex], [3, 3], 'replicates and applies as a non-voter');
  assert.equal(r.status().canVote, false, 'caught up, still no vote');
  r.step({ type: 'vote', from: 'n2', to: 'n1', term: 4, incarnation: 0, lastIndex: 9, lastTerm: 3, transfer: true });
  r.step({ type: 'timeout_now', from: 'n3', to: 'n1', term: 4, incarnation: 0 });
  tickN(r, 100);
  const out = msgs(r);
  assert.deepEqual(only(out, 'vote_resp').map((m) => m.granted), [false]);
  assert.deepEqual(only(out, 'vote'), [], 'TimeoutNow does not make it campaign');
  assert.equal(r.status().role, 'follower');
  assert.ok(out.length > 0 && out.every((m) => m.incarnation === 7));
});

test('lostState: a driver must give a life after lost state an incarnation above 0, and only such a life', () => {
  assert.throws(() => newRaft('n1', V3, { lostState: true }), ConfigError);
  assert.throws(() => newRaft('n1', V3, { incarnation: 3 }), ConfigError);
  assert.throws(() => newRaft('n1', V3, { lostState: true, incarnation: -1 }), ConfigError);
});

test('leader: a follower heard in a newer life no longer counts toward commits, reads or CheckQuorum; its older life is dropped', () => {
  const r = newRaft('n1', V3);
  makeLeader(r);
  drain(r);
  const ack = (from: string, index: number, incarnation: number): RaftMessage =>
    ({ type: 'app_resp', from, to: 'n1', term: 1, incarnation, index, reject: false, hintIndex: 0, hintTerm: 0 });
  // n2 wiped and back in life 4: it acknowledges the no-op from its new life.
  r.step(ack('n2', 1, 4));
  assert.equal(r.status().commitIndex, 0, 'a member that lost its state does not count toward the commit');
  // Its first life's acknowledgement arrives late: dropped.
  r.step(ack('n2', 1, 0));
  assert.equal(r.status().commitIndex, 0, 'nor does its older life once the newer spoke');
  r.step(ack('n3', 1, 0));
  assert.equal(r.status().commitIndex, 1, 'n1 and n3 are the quorum');
  // Reads: n2's heartbeat answers do not confirm leadership.
  drain(r);
  r.read(42);
  const hb = only(msgs(r), 'heartbeat');
  const round = hb[0]?.round ?? 0;
  r.step({ type: 'heartbeat_resp', from: 'n2', to: 'n1', term: 1, incarnation: 4, round, lastIndex: 1 });
  assert.deepEqual(drain(r).flatMap((rd) => rd.readStates), [], 'n2 alone does not confirm a read');
  r.step({ type: 'heartbeat_resp', from: 'n3', to: 'n1', term: 1, incarnation: 0, round, lastIndex: 1 });
  assert.deepEqual(drain(r).flatMap((rd) => rd.readStates.map((s) => s.ctx)), [42]);
  // CheckQuorum: only n2 answers for an election timeout; the leader steps down.
  const cq = newRaft('n1', V3, { checkQuorum: true });
  makeLeader(cq);
  for (let i = 0; i < 25 && cq.status().role === 'leader'; i++) {
    cq.tick();
    cq.step({ type: 'heartbeat_resp', from: 'n2', to: 'n1', term: 1, incarnation: 4, round: 0, lastIndex: 1 });
  }
  assert.equal(cq.status().role, 'follower', 'n2 in its new life keeps no leader in office');
  // Nor is leadership transferred to it.
  assert.equal(r.transferLeadership('n2'), false);
});

test('candidate: a vote granted by an older life of a peer that has since spoken from a newer one is dropped', () => {
  const r = newRaft('n1', V5);
  tickN(r, 20);
  drain(r);
  assert.equal(r.status().role, 'candidate');
  const term = r.status().term;
  r.step({ type: 'vote_resp', from: 'n2', to: 'n1', term, incarnation: 5, granted: false });
  r.step({ type: 'vote_resp', from: 'n2', to: 'n1', term, incarnation: 0, granted: true });
  r.step({ type: 'vote_resp', from: 'n3', to: 'n1', term, incarnation: 0, granted: true });
  assert.equal(r.status().role, 'candidate', 'n1 and n3 are 2 of 5');
  r.step({ type: 'vote_resp', from: 'n4', to: 'n1', term, incarnation: 0, granted: true });
  assert.equal(r.status().role, 'leader');
});

test('a harness wipe passes a new incarnation on every start after lost state, above the earlier ones', () => {
  const c = new TestCluster(raft, { voters: V3, seed: 3 });
  const L = c.electLeader();
  const f = V3.find((id) => id !== L) as string;
  const lives: number[] = [];
  for (let i = 0; i < 3; i++) {
    c.wipe(f);
    c.restart(f);
    c.tickUntil(() => c.replica(f).status().commitIndex >= c.replica(L).status().commitIndex, 100);
    lives.push(Math.max(...c.sent.filter((m) => m.from === f).map((m) => (m).incarnation)));
  }
  assert.ok(lives[0]! > 0 && lives[0]! < lives[1]! && lives[1]! < lives[2]!, JSON.stringify(lives));
});

test('lostState: a term probe counts only answers from members that may vote, and takes no term from the others', () => {
  // Found by review: a lost member's term says nothing about the quorums the wiped life was in,
  // yet its answer counted toward the probe's quorum (5 voters, two of them wiped).
  const r = newRaft('n2', V5, { lostState: true, incarnation: 4, preVote: false });
  r.step({ type: 'term_probe_resp', from: 'n3', to: 'n2', term: 9, incarnation: 1 }); // n3 lost its state too
  assert.equal(r.status().term, 0, 'a lost member\'s term is not taken');
  r.step({ type: 'term_probe_resp', from: 'n4', to: 'n2', term: 4, incarnation: 0 });
  r.step({ type: 'term_probe_resp', from: 'n5', to: 'n2', term: 4, incarnation: 0 });
  // Two voters' answers and a lost one's are not a quorum: a leader's append is not taken yet.
  r.step({ type: 'app', from: 'n4', to: 'n2', term: 4, incarnation: 0, prevIndex: 0, prevTerm: 0, entries: entries([4]), commit: 0 });
  drain(r);
  assert.equal(r.status().lastIndex, 0, 'still probing');
  r.step({ type: 'term_probe_resp', from: 'n1', to: 'n2', term: 5, incarnation: 0 });
  assert.equal(r.status().term, 5, 'three voters answered: the probe is done at the highest term');
  r.step({ type: 'app', from: 'n1', to: 'n2', term: 5, incarnation: 0, prevIndex: 0, prevTerm: 0, entries: entries([5]), commit: 0 });
  drain(r);
  assert.equal(r.status().lastIndex, 1);
});

test('lostState: a lost member whose term is past the leader\'s tells it so even without CheckQuorum or PreVote, and catches up', () => {
  // Found by the simulator's idle reads (sim --protocol raft --seeds 5655216 --variants): two wiped
  // members learned term 11 from a candidate that then lost it in a power cut; the leader of term
  // 10 never heard of 11 (a stale leader's message got no answer without CheckQuorum/PreVote),
  // and a member that may not campaign never makes its term known: they never caught up.
  const c = new TestCluster(raft, { voters: V3, seed: 5, replica: () => ({ preVote: false, checkQuorum: false }) });
  const L = c.electLeader();
  c.propose(L, cmd('a'));
  assert.ok(c.tickUntil(() => V3.every((id) => texts(c.appliedCommands(id)).includes('a')), 50));
  const W = V3.find((id) => id !== L) as string;
  c.wipe(W);
  c.restart(W);
  assert.ok(c.tickUntil(() => texts(c.appliedCommands(W)).includes('a'), 200), 'the wiped member caught up');
  // A candidate of a later term reaches only W, and then forgets that term.
  const term = c.replica(L).status().term;
  const other = V3.find((id) => id !== L && id !== W) as string;
  c.filter = (m) => !(m.from === W && m.to === other && m.type === 'vote_resp'); // the candidate is gone
  c.replica(W).step({ type: 'vote', from: other, to: W, term: term + 5, incarnation: 0, lastIndex: 0, lastTerm: 0, transfer: false });
  assert.equal(c.replica(W).status().term, term + 5);
  c.propose(c.leader() ?? L, cmd('b'));
  assert.ok(c.tickUntil(() => texts(c.appliedCommands(W)).includes('b'), 400), 'W applies what the cluster commits after');
});
