import { test } from 'node:test';
import assert from 'node:assert/strict';
import { raft } from '../../../src/protocols/raft/index.js';
import type { RaftMessage } from '../../../src/protocols/raft/index.js';
import { TestCluster, cmd, texts } from '../../harness/cluster.js';
import { drain, entries, msgs, newRaft, only, tickN } from './helpers.js';

const V3 = ['n1', 'n2', 'n3'];
const others = (c: TestCluster<RaftMessage>, id: string): string[] => c.ids.filter((x) => x !== id);

test('§9.6 PreVote + CheckQuorum: a partitioned follower that rejoins does not depose a healthy leader', () => {
  const c = new TestCluster(raft, { voters: V3, seed: 21 });
  const leader = c.electLeader();
  const term = c.replica(leader).status().term;
  const [f] = others(c, leader) as [string];
  c.isolate(f);
  c.tickUntil(() => false, 200);
  assert.equal(c.replica(f).status().term, term, 'pre-votes failed, so the isolated node never raised its term');
  c.heal();
  c.tickUntil(() => false, 100);
  assert.equal(c.leader(), leader);
  assert.equal(c.replica(leader).status().term, term);
  assert.equal(c.replica(f).status().leader, leader);
});

test('without PreVote the same rejoin does depose the leader (why §9.6 exists)', () => {
  const c = new TestCluster(raft, { voters: V3, seed: 21, replica: () => ({ preVote: false, checkQuorum: false }) });
  const leader = c.electLeader();
  const term = c.replica(leader).status().term;
  const [f] = others(c, leader) as [string];
  c.isolate(f);
  c.tickUntil(() => false, 200);
  assert.ok(c.replica(f).status().term > term + 5);
  c.heal();
  c.tickUntil(() => false, 100);
  assert.ok(c.replica(c.leader() as string).status().term > term + 5, 'the term jumped and leadership was disrupted');
});

test('§6.2 CheckQuorum: an isolated leader steps down within an election timeout; the majority elects another', () => {
  const c = new TestCluster(raft, { voters: V3, seed: 22 });
  const leader = c.electLeader();
  c.isolate(leader);
  let ticks = 0;
  while (c.replica(leader).status().role === 'leader' && ticks < 100) {
    c.tick(leader);
    ticks++;
  }
  assert.ok(ticks <= 2 * 10, `stepped down after ${ticks} ticks`);
  const next = c.tickUntil(() => c.leader() !== null && c.leader() !== leader, 200);
  assert.ok(next);
});

test('§4.2.3 lease-based vote denial: a follower that heard from its leader within the election timeout ignores RequestVote', () => {
  const r = newRaft('n1', V3, { checkQuorum: true });
  r.step({ type: 'heartbeat', from: 'n2', to: 'n1', term: 3, incarnation: 0, commit: 0, leaderCommit: 0, round: 1 });
  drain(r);
  r.step({ type: 'vote', from: 'n3', to: 'n1', term: 4, incarnation: 0, lastIndex: 9, lastTerm: 3, transfer: false });
  assert.equal(r.status().term, 3, 'term unchanged');
  assert.equal(msgs(r).length, 0, 'no answer at all');
  // ...unless the campaign comes from a leadership transfer (TimeoutNow, §3.10).
  r.step({ type: 'vote', from: 'n3', to: 'n1', term: 4, incarnation: 0, lastIndex: 9, lastTerm: 3, transfer: true });
  assert.equal(r.status().term, 4);
  assert.equal(only(msgs(r), 'vote_resp')[0]?.granted, true);
  // And once the lease ran out, an ordinary vote request is heard again.
  tickN(r, 10);
  r.step({ type: 'vote', from: 'n2', to: 'n1', term: 5, incarnation: 0, lastIndex: 9, lastTerm: 3, transfer: false });
  assert.equal(r.status().term, 5);
});

test('§9.6 PreVote: a pre-candidate does not raise its term until a quorum says it could win', () => {
  const r = newRaft('n1', V3, { preVote: true });
  tickN(r, 20);
  assert.equal(r.status().protocolRole, 'precandidate');
  assert.equal(r.status().term, 0);
  const pre = only(msgs(r), 'prevote');
  assert.deepEqual(pre.map((m) => [m.to, m.term]), [['n2', 1], ['n3', 1]]);
  r.step({ type: 'prevote_resp', from: 'n2', to: 'n1', term: 1, incarnation: 0, granted: true });
  assert.equal(r.status().protocolRole, 'candidate');
  assert.equal(r.status().term, 1);
});

test('§3.10 leadership transfer: the leader catches a lagging target up, then sends TimeoutNow; the target wins the next term', () => {
  const c = new TestCluster(raft, { voters: V3, seed: 23 });
  const leader = c.electLeader();
  const [target] = others(c, leader) as [string];
  c.isolate(target);
  for (let i = 0; i < 5; i++) c.propose(leader, cmd(`w${i}`));
  c.tickUntil(() => c.replica(leader).status().commitIndex >= 6, 50);
  c.heal();
  const term = c.replica(leader).status().term;
  assert.equal(c.replica(leader).transferLeadership(target), true);
  assert.deepEqual(c.propose(leader, cmd('during')), { ok: false, reason: 'not_leader', leaderHint: target }, 'proposals stop during a transfer');
  c.stabilize();
  assert.equal(c.leader(), target);
  assert.equal(c.replica(target).status().term, term + 1);
  const timeoutNow = c.sent.filter((m) => m.type === 'timeout_now');
  assert.equal(timeoutNow.length, 1);
  const idx = c.sent.indexOf(timeoutNow[0] as RaftMessage);
  const caughtUp = c.sent.slice(0, idx).some((m) => m.type === 'app' && m.to === target && m.entries.length > 0);
  assert.ok(caughtUp, 'entries were sent to the target before TimeoutNow');
  assert.deepEqual(texts(c.appliedCommands(target)), ['w0', 'w1', 'w2', 'w3', 'w4']);
});

test('§3.10 leadership transfer: refused for self, learners and non-leaders; abandoned after an election timeout', () => {
  const c = new TestCluster(raft, { voters: V3, learners: ['l1'], seed: 24 });
  const leader = c.electLeader();
  const [f] = others(c, leader).filter((x) => x !== 'l1') as [string];
  assert.equal(c.replica(leader).transferLeadership(leader), false);
  assert.equal(c.replica(leader).transferLeadership('l1'), false);
  assert.equal(c.replica(f).transferLeadership(leader), false);
  c.isolate(f);
  assert.equal(c.replica(leader).transferLeadership(f), true);
  c.tickUntil(() => false, 25);
  assert.equal(c.leader(), leader);
  assert.equal(c.propose(leader, cmd('after')).ok, true, 'proposals resume once the transfer is abandoned');
});

test('learners receive the log but never vote, never campaign, and are not counted in quorums', () => {
  const c = new TestCluster(raft, { voters: ['n1', 'n2'], learners: ['n3'], seed: 25 });
  const leader = c.electLeader();
  c.propose(leader, cmd('x'));
  c.tickUntil(() => c.appliedCommands('n3').length === 1, 50);
  assert.deepEqual(texts(c.appliedCommands('n3')), ['x']);
  const s = c.replica('n3').status();
  assert.equal(s.role, 'learner');
  assert.equal(s.canVote, false);
  // With one voter down no quorum exists, although the learner is up and current.
  const other = leader === 'n1' ? 'n2' : 'n1';
  c.crash(leader);
  c.tickUntil(() => false, 300);
  assert.equal(c.leader(), null);
  assert.ok(c.sent.every((m) => !((m.type === 'vote' || m.type === 'prevote') && (m.from === 'n3' || m.to === 'n3'))));
  // Asked directly, a learner refuses.
  const l = newRaft('n3', ['n1', 'n2'], {}, ['n3']);
  l.step({ type: 'vote', from: other, to: 'n3', term: 9, incarnation: 0, lastIndex: 9, lastTerm: 9, transfer: false });
  assert.equal(only(msgs(l), 'vote_resp')[0]?.granted, false);
  tickN(l, 100);
  assert.equal(l.status().role, 'learner');
  assert.equal(l.status().term, 9);
});

test('Fig. 2 persistent state: a restarted replica keeps its term and vote and will not vote twice in a term', () => {
  const c = new TestCluster(raft, { voters: V3, seed: 26, replica: () => ({ preVote: false }) });
  c.crash('n2');
  c.crash('n3');
  c.restart('n2', { recovered: { hardState: { kind: 'raft', term: 5, vote: 'n3', commit: 0 }, snapshot: null, entries: [] } });
  c.crash('n2');
  c.restart('n2');
  assert.equal(c.replica('n2').status().term, 5);
  c.replica('n2').step({ type: 'vote', from: 'n1', to: 'n2', term: 5, incarnation: 0, lastIndex: 0, lastTerm: 0, transfer: false });
  c.stabilize();
  const resp = c.sent.filter((m) => m.type === 'vote_resp' && m.from === 'n2');
  assert.deepEqual(resp.map((m) => m.type === 'vote_resp' && m.granted), [false]);
  assert.deepEqual(c.persisted('n2').hardState, { kind: 'raft', term: 5, vote: 'n3', commit: 0 });
});

test('lostState in a cluster: the leader re-replicates everything to a wiped follower, which applies it and stays a non-voter', () => {
  const c = new TestCluster(raft, { voters: V3, seed: 27 });
  const leader = c.electLeader();
  for (let i = 0; i < 4; i++) c.propose(leader, cmd(`v${i}`));
  c.tickUntil(() => c.ids.every((id) => c.appliedCommands(id).length === 4), 50);
  const [f] = others(c, leader) as [string];
  c.wipe(f);
  c.restart(f);
  assert.ok(c.tickUntil(() => c.appliedCommands(f).length === 4, 100));
  assert.deepEqual(texts(c.appliedCommands(f)), ['v0', 'v1', 'v2', 'v3']);
  c.tickUntil(() => false, 50);
  assert.equal(c.replica(f).status().canVote, false, 'a member that lost its state never votes again');
});

test('status reports role, the paper\'s role word, term and leader honestly', () => {
  const r = newRaft('n1', V3, { preVote: true });
  assert.deepEqual([r.status().role, r.status().protocolRole], ['follower', 'follower']);
  tickN(r, 20);
  assert.deepEqual([r.status().role, r.status().protocolRole], ['candidate', 'precandidate']);
  r.step({ type: 'prevote_resp', from: 'n2', to: 'n1', term: 1, incarnation: 0, granted: true });
  assert.deepEqual([r.status().role, r.status().protocolRole, r.status().term], ['candidate', 'candidate', 1]);
  r.step({ type: 'vote_resp', from: 'n2', to: 'n1', term: 1, incarnation: 0, granted: true });
  const s = r.status();
  assert.deepEqual([s.role, s.protocolRole, s.term, s.leader, s.canVote], ['leader', 'leader', 1, 'n1', true]);
});

test('FAULTS #4 one-way cut: a follower that cannot hear the leader does not depose it (PreVote + CheckQuorum)', () => {
  const c = new TestCluster(raft, { voters: V3, seed: 28 });
  const leader = c.electLeader();
  const term = c.replica(leader).status().term;
  const [f] = others(c, leader) as [string];
  c.cutOneWay(leader, f);
  c.propose(leader, cmd('w'));
  c.tickUntil(() => false, 200);
  assert.equal(c.leader(), leader);
  assert.equal(c.replica(leader).status().term, term);
  assert.equal(c.replica(f).status().term, term, 'its pre-votes were ignored by voters that hear the leader');
  c.heal();
  assert.ok(c.tickUntil(() => texts(c.appliedCommands(f)).includes('w'), 50));
});

test('FAULTS #3 majorities ring: no node hears a majority of the same others; elections converge once healed', () => {
  const V5 = ['n1', 'n2', 'n3', 'n4', 'n5'];
  const c = new TestCluster(raft, { voters: V5, seed: 29 });
  // Each node hears only its two ring neighbours.
  for (let i = 0; i < 5; i++) {
    for (let j = 0; j < 5; j++) {
      const d = Math.min((i - j + 5) % 5, (j - i + 5) % 5);
      if (d === 2) c.cut(V5[i] as string, V5[j] as string);
    }
  }
  c.tickUntil(() => false, 300);
  c.heal();
  const leader = c.electLeader(500);
  c.propose(leader, cmd('after-ring'));
  assert.ok(c.tickUntil(() => V5.every((id) => texts(c.appliedCommands(id)).includes('after-ring')), 100));
});

test('a leader reports its commit index in heartbeats only once it committed in its own term (sim seed 20115)', () => {
  const l = withLogFor('n1', [1, 1, 1], 1, 1);
  tickN(l, 20);
  for (const m of only(msgs(l), 'vote')) l.step({ type: 'vote_resp', from: m.to, to: 'n1', term: 2, incarnation: 0, granted: true });
  drain(l);
  tickN(l, 2);
  assert.deepEqual(only(msgs(l), 'heartbeat').map((m) => [m.leaderCommit]), [[0], [0]]);
  l.step({ type: 'app_resp', from: 'n2', to: 'n1', term: 2, incarnation: 0, index: 4, reject: false, hintIndex: 0, hintTerm: 0 });
  drain(l);
  tickN(l, 2);
  assert.deepEqual(only(msgs(l), 'heartbeat').map((m) => m.leaderCommit), [4, 4]);
});

function withLogFor(id: string, terms: number[], term: number, commit: number) {
  return newRaft(id, V3, { recovered: { hardState: { kind: 'raft', term, vote: null, commit }, snapshot: null, entries: entries(terms) } });
}

test('lostState: a wiped replica answers no leader until a quorum of the other voters told it their terms, then refuses a stale one (sim seed 21878)', () => {
  const r = newRaft('n3', V3, { lostState: true, incarnation: 1 });
  tickN(r, 2);
  assert.deepEqual(only(msgs(r), 'term_probe').map((m) => m.to), ['n1', 'n2']);
  // n2 is a deposed leader of term 3 that does not know it; n1 has moved on to term 5.
  r.step({ type: 'heartbeat', from: 'n2', to: 'n3', term: 3, incarnation: 0, commit: 0, leaderCommit: 66, round: 9 });
  assert.deepEqual(msgs(r), [], 'no acknowledgement a stale leader could count');
  r.step({ type: 'term_probe_resp', from: 'n2', to: 'n3', term: 3 , incarnation: 0});
  tickN(r, 2);
  assert.deepEqual(only(msgs(r), 'term_probe').map((m) => m.to), ['n1'], 'probes are resent to voters that did not answer');
  r.step({ type: 'term_probe_resp', from: 'n1', to: 'n3', term: 5 , incarnation: 0});
  assert.equal(r.status().term, 5);
  r.step({ type: 'heartbeat', from: 'n2', to: 'n3', term: 3, incarnation: 0, commit: 0, leaderCommit: 66, round: 10 });
  assert.deepEqual(only(msgs(r), 'heartbeat_resp'), [], 'the stale leader gets no acknowledgement');
  // Everyone answers probes, whatever the terms.
  const other = newRaft('n1', V3);
  other.step({ type: 'term_probe', from: 'n3', to: 'n1', term: 0 , incarnation: 0});
  assert.deepEqual(only(msgs(other), 'term_probe_resp').map((m) => [m.to, m.term]), [['n3', 0]]);
});
