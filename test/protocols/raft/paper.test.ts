import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, Rng } from '../../../src/core/index.js';
import { raft } from '../../../src/protocols/raft/index.js';
import type { RaftMessage } from '../../../src/protocols/raft/index.js';
import { TestCluster, cmd } from '../../harness/cluster.js';
import { drain, entries, figure8, makeLeader, msgs, newRaft, only, sent, tickN, withLog } from './helpers.js';

// One test per rule of Raft's Figure 2 and §5.4 (Ongaro & Ousterhout 2014), each naming its
// section. Replicas are driven by hand with PreVote and CheckQuorum off unless a test says so.

const V3 = ['n1', 'n2', 'n3'];

test('§5.1 / Fig. 2 "All servers": a higher term in any message makes a follower, candidate or leader adopt it and follow', () => {
  for (const role of ['follower', 'candidate', 'leader'] as const) {
    const r = newRaft('n1', V3);
    if (role === 'candidate') tickN(r, 20);
    if (role === 'leader') makeLeader(r);
    assert.equal(r.status().role, role);
    const term = r.status().term + 5;
    r.step({ type: 'app', from: 'n2', to: 'n1', term, incarnation: 0, prevIndex: 0, prevTerm: 0, entries: [], commit: 0 });
    assert.equal(r.status().role, 'follower', role);
    assert.equal(r.status().term, term, role);
    assert.equal(r.status().leader, 'n2', role);
  }
});

test('§5.1: a request with a stale term is rejected and changes nothing', () => {
  const r = withLog('n1', V3, [1, 2], 3);
  r.step({ type: 'app', from: 'n2', to: 'n1', term: 2, incarnation: 0, prevIndex: 2, prevTerm: 2, entries: entries([2], 3), commit: 3 });
  r.step({ type: 'vote', from: 'n3', to: 'n1', term: 2, incarnation: 0, lastIndex: 9, lastTerm: 2, transfer: false });
  const s = r.status();
  assert.equal(s.term, 3);
  assert.equal(s.lastIndex, 2);
  assert.equal(s.commitIndex, 0);
  assert.equal(only(msgs(r), 'vote_resp').filter((m) => m.granted).length, 0);
});

test('§5.2: servers start as followers with no leader', () => {
  const s = newRaft('n1', V3).status();
  assert.equal(s.role, 'follower');
  assert.equal(s.leader, null);
  assert.equal(s.term, 0);
});

test('§5.2: a leader sends heartbeats to every follower every heartbeatTicks', () => {
  const r = newRaft('n1', V3, { heartbeatTicks: 3 });
  makeLeader(r);
  drain(r);
  tickN(r, 2);
  assert.equal(only(msgs(r), 'heartbeat').length, 0);
  r.tick();
  assert.deepEqual(only(msgs(r), 'heartbeat').map((m) => m.to), ['n2', 'n3']);
});

test('§5.2 / Fig. 2 "Followers": with no leader for an election timeout, a follower becomes candidate, increments its term, votes for itself and asks everyone', () => {
  const r = withLog('n1', V3, [1, 1], 1);
  tickN(r, 20);
  const s = r.status();
  assert.equal(s.role, 'candidate');
  assert.equal(s.term, 2);
  const rds = drain(r);
  const hs = rds.find((rd) => rd.hardState !== null)?.hardState;
  assert.deepEqual(hs, { kind: 'raft', term: 2, vote: 'n1', commit: 0 });
  const votes = only(rds.flatMap((rd) => rd.messages as RaftMessage[]), 'vote');
  assert.deepEqual(votes.map((v) => [v.to, v.term, v.lastIndex, v.lastTerm]), [['n2', 2, 2, 1], ['n3', 2, 2, 1]]);
});

test('Fig. 2 "Followers": granting a vote resets the election timer', () => {
  const ticksToCampaign = (grantAt9: boolean): number => {
    const r = withLog('n1', V3, [1], 1);
    // A stale candidate moves us to term 2 (and is refused): the timer starts there.
    r.step({ type: 'vote', from: 'n3', to: 'n1', term: 2, incarnation: 0, lastIndex: 0, lastTerm: 0, transfer: false });
    let ticks = 0;
    while (r.status().role === 'follower') {
      if (ticks === 9 && grantAt9) r.step({ type: 'vote', from: 'n2', to: 'n1', term: 2, incarnation: 0, lastIndex: 1, lastTerm: 1, transfer: false });
      r.tick();
      ticks++;
    }
    return ticks;
  };
  assert.equal(ticksToCampaign(true) - ticksToCampaign(false), 9, 'the timeout restarted when the vote was granted');
});

test('Fig. 2 "Candidates": if the election timeout elapses, start a new election in the next term', () => {
  const r = newRaft('n1', V3);
  // The randomized timeout is in [10, 20): tick until the first election, then until the next.
  for (let i = 0; i < 20 && r.status().term === 0; i++) r.tick();
  assert.equal(r.status().term, 1);
  drain(r);
  for (let i = 0; i < 20 && r.status().term === 1; i++) r.tick();
  assert.equal(r.status().role, 'candidate');
  assert.equal(r.status().term, 2);
  assert.deepEqual(only(msgs(r), 'vote').map((m) => m.term), [2, 2]);
});

test('Fig. 2 "All servers": committed entries are applied in log order, each once', () => {
  const r = withLog('n1', V3, [1, 1, 1, 1], 1);
  r.step({ type: 'app', from: 'n2', to: 'n1', term: 1, incarnation: 0, prevIndex: 4, prevTerm: 1, entries: [], commit: 2 });
  const first = drain(r).flatMap((rd) => rd.committed.map((e) => e.index));
  r.step({ type: 'app', from: 'n2', to: 'n1', term: 1, incarnation: 0, prevIndex: 4, prevTerm: 1, entries: [], commit: 4 });
  r.step({ type: 'app', from: 'n2', to: 'n1', term: 1, incarnation: 0, prevIndex: 4, prevTerm: 1, entries: [], commit: 4 });
  const second = drain(r).flatMap((rd) => rd.committed.map((e) => e.index));
  assert.deepEqual([first, second], [[1, 2], [3, 4]]);
  assert.equal(r.status().appliedIndex, 4);
});

test('§5.2: election timeouts are randomized in [electionTicks, 2 * electionTicks) from the injected Rng', () => {
  const seen = new Set<number>();
  for (let seed = 0; seed < 200; seed++) {
    const r = newRaft('n1', V3, { rng: new Rng(seed), electionTicks: 10 });
    let ticks = 0;
    while (r.status().role === 'follower') {
      r.tick();
      ticks++;
    }
    assert.ok(ticks >= 10 && ticks < 20, `timeout ${ticks}`);
    seen.add(ticks);
  }
  assert.equal(seen.size, 10, 'every timeout in the range occurs');
});

test('§5.2: a candidate wins with votes from a majority, and only then', () => {
  const cases: Array<[number, number, string]> = [[1, 0, 'leader'], [3, 1, 'leader'], [3, 0, 'candidate'], [5, 2, 'leader'], [5, 1, 'candidate']];
  for (const [size, grants, want] of cases) {
    const voters = Array.from({ length: size }, (_, i) => `n${i + 1}`);
    const r = newRaft('n1', voters);
    tickN(r, 20);
    for (let i = 0; i < grants; i++) r.step({ type: 'vote_resp', from: `n${i + 2}`, to: 'n1', term: 1, incarnation: 0, granted: true });
    assert.equal(r.status().role, want, `${size} voters, ${grants} grants`);
  }
});

test('§5.2: a candidate rejected by a majority returns to follower', () => {
  const r = newRaft('n1', V3);
  tickN(r, 20);
  r.step({ type: 'vote_resp', from: 'n2', to: 'n1', term: 1, incarnation: 0, granted: false });
  r.step({ type: 'vote_resp', from: 'n3', to: 'n1', term: 1, incarnation: 0, granted: false });
  assert.equal(r.status().role, 'follower');
});

test('§5.2 / Fig. 2 RequestVote rule 2: each server votes for at most one candidate per term, first come first served', () => {
  const r = newRaft('n1', V3);
  r.step({ type: 'vote', from: 'n2', to: 'n1', term: 1, incarnation: 0, lastIndex: 0, lastTerm: 0, transfer: false });
  r.step({ type: 'vote', from: 'n3', to: 'n1', term: 1, incarnation: 0, lastIndex: 0, lastTerm: 0, transfer: false });
  r.step({ type: 'vote', from: 'n2', to: 'n1', term: 1, incarnation: 0, lastIndex: 0, lastTerm: 0, transfer: false });
  const resp = only(msgs(r), 'vote_resp').map((m) => [m.to, m.granted]);
  assert.deepEqual(resp, [['n2', true], ['n3', false], ['n2', true]]);
});

test('§5.2: a candidate that hears AppendEntries from a leader of its term becomes its follower', () => {
  const r = newRaft('n1', V3);
  tickN(r, 20);
  r.step({ type: 'app', from: 'n2', to: 'n1', term: 1, incarnation: 0, prevIndex: 0, prevTerm: 0, entries: [], commit: 0 });
  assert.equal(r.status().role, 'follower');
  assert.equal(r.status().leader, 'n2');
  assert.equal(r.status().term, 1);
});

test('Fig. 2 "Persistent state": a vote reaches Ready.hardState in the same Ready as the vote response', () => {
  const r = newRaft('n1', V3);
  r.step({ type: 'vote', from: 'n2', to: 'n1', term: 4, incarnation: 0, lastIndex: 0, lastTerm: 0, transfer: false });
  const [rd] = drain(r);
  assert.deepEqual(rd?.hardState, { kind: 'raft', term: 4, vote: 'n2', commit: 0 });
  assert.equal(rd?.messages.length, 1);
});

test('§5.3 / §5.4.2: a new leader appends a no-op of its term and replicates it to every follower', () => {
  const r = withLog('n1', V3, [1, 1], 1);
  makeLeader(r);
  const apps = only(msgs(r), 'app');
  assert.deepEqual(apps.map((m) => [m.to, m.prevIndex, m.entries.map((e) => [e.index, e.id, e.type])]), [
    ['n2', 2, [[3, 2, EntryType.Noop]]],
    ['n3', 2, [[3, 2, EntryType.Noop]]],
  ]);
});

test('§5.3: the leader commits an entry once a majority (itself included, once persisted) holds it, and followers learn the commit index', () => {
  const r = newRaft('n1', V3);
  makeLeader(r);
  drain(r);
  r.step({ type: 'app_resp', from: 'n2', to: 'n1', term: 1, incarnation: 0, index: 1, reject: false, hintIndex: 0, hintTerm: 0 });
  assert.deepEqual(r.propose(cmd('x')), { ok: true });
  let rd = r.ready();
  assert.ok(rd !== null);
  assert.deepEqual(rd.entries.map((e) => e.index), [2]);
  // n2 acknowledges entry 2 before the leader has persisted it: 1 of 3 holds it durably, no commit.
  r.step({ type: 'app_resp', from: 'n2', to: 'n1', term: 1, incarnation: 0, index: 2, reject: false, hintIndex: 0, hintTerm: 0 });
  assert.equal(r.status().commitIndex, 1);
  r.advance(rd);
  assert.equal(r.status().commitIndex, 2, 'commits once its own copy is durable');
  rd = r.ready();
  assert.deepEqual(rd?.committed.map((e) => e.index), [2]);
  const toN3 = only(sent(rd), 'app').find((m) => m.to === 'n2');
  assert.equal(toN3?.commit, 2);
});

test('Fig. 2 AppendEntries rule 2: reply false if the log has no entry at prevLogIndex with prevLogTerm', () => {
  const r = withLog('n1', V3, [1, 1, 2], 2);
  r.step({ type: 'app', from: 'n2', to: 'n1', term: 3, incarnation: 0, prevIndex: 3, prevTerm: 3, entries: entries([3], 4), commit: 0 });
  r.step({ type: 'app', from: 'n2', to: 'n1', term: 3, incarnation: 0, prevIndex: 5, prevTerm: 3, entries: [], commit: 0 });
  const resp = only(msgs(r), 'app_resp');
  assert.deepEqual(resp.map((m) => [m.reject, m.index, m.hintIndex, m.hintTerm]), [[true, 3, 3, 2], [true, 5, 4, 0]]);
  assert.equal(r.status().lastIndex, 3);
});

test('Fig. 2 AppendEntries rules 3 and 4: a conflicting entry and all after it are deleted, then new entries appended', () => {
  const r = withLog('n1', V3, [1, 1, 2, 2, 2], 2);
  drain(r);
  r.step({ type: 'app', from: 'n2', to: 'n1', term: 3, incarnation: 0, prevIndex: 2, prevTerm: 1, entries: entries([3, 3], 3), commit: 0 });
  assert.deepEqual(r.log.slice(1, 5).map((e) => e.id), [1, 1, 3, 3]);
  const [rd] = drain(r);
  assert.deepEqual(rd?.entries.map((e) => [e.index, e.id]), [[3, 3], [4, 3]], 'the driver truncates from entries[0].index');
  assert.deepEqual(only((rd?.messages ?? []) as RaftMessage[], 'app_resp').map((m) => [m.reject, m.index]), [[false, 4]]);
});

test('Fig. 2 AppendEntries rule 3: entries already present are not truncated by a stale, shorter AppendEntries', () => {
  const r = withLog('n1', V3, [1, 1, 1], 1);
  r.step({ type: 'app', from: 'n2', to: 'n1', term: 1, incarnation: 0, prevIndex: 0, prevTerm: 0, entries: entries([1]), commit: 0 });
  assert.equal(r.status().lastIndex, 3);
});

test('Fig. 2 AppendEntries rule 5: commitIndex = min(leaderCommit, index of last new entry)', () => {
  const r = withLog('n1', V3, [1, 1, 1, 1], 1);
  r.step({ type: 'app', from: 'n2', to: 'n1', term: 1, incarnation: 0, prevIndex: 1, prevTerm: 1, entries: entries([1], 2), commit: 4 });
  assert.equal(r.status().commitIndex, 2, 'not past the last entry this message vouched for');
  r.step({ type: 'app', from: 'n2', to: 'n1', term: 1, incarnation: 0, prevIndex: 3, prevTerm: 1, entries: [], commit: 3 });
  assert.equal(r.status().commitIndex, 3);
});

test('§5.3: on rejection the leader backs up a whole term per round trip using the conflict hint', () => {
  const c = new TestCluster(raft, { voters: V3, seed: 11, replica: () => ({ preVote: false }) });
  // n3's log holds 6 entries of term 1 the others never had; n1 and n2 hold terms 1,1,2,2,2.
  c.crash('n1'); c.crash('n2'); c.crash('n3');
  const base = (terms: number[]) => ({ hardState: { kind: 'raft' as const, term: 2, vote: null, commit: 1 }, snapshot: null, entries: entries(terms) });
  c.restart('n1', { recovered: base([1, 1, 2, 2, 2]) });
  c.restart('n2', { recovered: base([1, 1, 2, 2, 2]) });
  c.restart('n3', { recovered: base([1, 1, 1, 1, 1, 1, 1, 1]) });
  c.isolate('n3');
  const leader = c.electLeader();
  c.heal();
  const before = c.sent.length;
  c.tickUntil(() => c.replica('n3').status().commitIndex === c.replica(leader).status().commitIndex, 50);
  const rejects = c.sent.slice(before).filter((m) => m.type === 'app_resp' && m.from === 'n3' && m.reject);
  assert.ok(rejects.length <= 2, `backed up in ${rejects.length} rejections, not one per entry`);
  assert.deepEqual(c.replica('n3').status().lastIndex, c.replica(leader).status().lastIndex);
});

test('§5.4.1 election restriction: a vote is granted only to a candidate whose log is at least as up to date', () => {
  // Our log: last term 2, last index 3.
  const cases: Array<[number, number, boolean]> = [
    [3, 2, true], // same
    [4, 2, true], // longer, same last term
    [2, 2, false], // shorter, same last term
    [1, 3, true], // higher last term wins even when shorter
    [9, 1, false], // lower last term loses even when longer
  ];
  for (const [lastIndex, lastTerm, granted] of cases) {
    const r = withLog('n1', V3, [1, 1, 2], 2);
    r.step({ type: 'vote', from: 'n2', to: 'n1', term: 3, incarnation: 0, lastIndex, lastTerm, transfer: false });
    assert.equal(only(msgs(r), 'vote_resp')[0]?.granted, granted, `candidate (${lastIndex}, ${lastTerm})`);
  }
});

test('§5.4.2 Figure 8: a leader never commits an entry of an earlier term by counting replicas; it commits it with an entry of its own term', () => {
  // (c) of Figure 8: S1 is leader in term 4; entry 2 (term 2) is on S1, S2 and S3 but the term-4
  // no-op at index 3 has reached no one else yet.
  const r = withLog('n1', ['n1', 'n2', 'n3', 'n4', 'n5'], [1, 2], 3);
  makeLeader(r);
  assert.equal(r.status().term, 4);
  drain(r);
  r.step({ type: 'app_resp', from: 'n2', to: 'n1', term: 4, incarnation: 0, index: 2, reject: false, hintIndex: 0, hintTerm: 0 });
  r.step({ type: 'app_resp', from: 'n3', to: 'n1', term: 4, incarnation: 0, index: 2, reject: false, hintIndex: 0, hintTerm: 0 });
  assert.equal(r.status().commitIndex, 0, 'entry 2 is on a majority but of term 2: not committed');
  // (e): once the term-4 entry is on a majority, it and everything before it commit.
  r.step({ type: 'app_resp', from: 'n2', to: 'n1', term: 4, incarnation: 0, index: 3, reject: false, hintIndex: 0, hintTerm: 0 });
  r.step({ type: 'app_resp', from: 'n3', to: 'n1', term: 4, incarnation: 0, index: 3, reject: false, hintIndex: 0, hintTerm: 0 });
  assert.equal(r.status().commitIndex, 3);
});

test('§5.4.2 Figure 8 (a)-(e), full cluster: an old-term entry on a majority is not committed, and is rightly overwritten by a later leader', () => {
  const { c, commitBeforeCrash } = figure8(new Set());
  assert.equal(commitBeforeCrash, 1, 'n1 did not commit index 2 (term 2) although n1, n2, n3 held it');
  // (d): n5 overwrote index 2; had it been committed (and acknowledged), it would now be lost.
  // The harness would have thrown had any replica applied the term-2 entry.
  for (const id of ['n2', 'n3', 'n4', 'n5']) assert.equal(c.persisted(id).entries[1]?.id, 3, `${id}: index 2 is n5's term-3 entry`);
});
