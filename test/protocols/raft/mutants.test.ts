import { test } from 'node:test';
import assert from 'node:assert/strict';
import { raft, RaftMutant, raftUnobservableMutants } from '../../../src/protocols/raft/index.js';
import type { Raft, RaftMessage } from '../../../src/protocols/raft/index.js';
import type { Ready } from '../../../src/core/index.js';
import { HarnessViolation, TestCluster, cmd, texts } from '../../harness/cluster.js';
import { abandonedTransfer, answerProbes, drain, entries, figure8, makeLeader, msgs, newRaft, only, sent, tickN, withLog } from './helpers.js';

// Each known-bad variant, switched on, shows its wrong behaviour in a deterministic scenario; the
// same scenario with the mutant off behaves. (The simulator must catch each of them on its own.)

const V3 = ['n1', 'n2', 'n3'];
const V5 = ['n1', 'n2', 'n3', 'n4', 'n5'];
const on = (name: string) => ({ mutants: new Set([name]) });

test('mutants: every mutant is listed with a description', () => {
  const all = [...raft.mutants, ...raftUnobservableMutants];
  assert.deepEqual(all.map((m) => m.name).sort(), Object.values(RaftMutant).sort());
  for (const m of all) assert.ok(m.description.length > 20, m.name);
});

test(`mutant ${RaftMutant.CommitOldTerm}: commits a previous-term entry by counting replicas (Figure 8)`, () => {
  const run = (mutant: boolean): number => {
    const r = withLog('n1', V5, [1, 2], 3, mutant ? on(RaftMutant.CommitOldTerm) : {});
    makeLeader(r);
    drain(r);
    r.step({ type: 'app_resp', from: 'n2', to: 'n1', term: 4, incarnation: 0, index: 2, reject: false, hintIndex: 0, hintTerm: 0 });
    r.step({ type: 'app_resp', from: 'n3', to: 'n1', term: 4, incarnation: 0, index: 2, reject: false, hintIndex: 0, hintTerm: 0 });
    return r.status().commitIndex;
  };
  assert.equal(run(false), 0);
  assert.equal(run(true), 2, 'the term-2 entry is committed although it can still be overwritten');
});

test(`mutant ${RaftMutant.CommitOldTerm}: in the full Figure 8 run, an applied entry is later overwritten`, () => {
  assert.equal(figure8(new Set()).commitBeforeCrash, 1);
  assert.throws(() => figure8(new Set([RaftMutant.CommitOldTerm])),
    (e: unknown) => e instanceof HarnessViolation && /applied \(2, 3\) where another replica applied \(2, 2\)/.test(e.message));
});

test(`mutant ${RaftMutant.ForgetVote}: after a restart the replica votes a second time in the same term`, () => {
  const vote = (mutant: boolean): boolean | undefined => {
    const r = newRaft('n1', V3, {
      recovered: { hardState: { kind: 'raft', term: 5, vote: 'n3', commit: 0 }, snapshot: null, entries: [] },
      ...(mutant ? on(RaftMutant.ForgetVote) : {}),
    });
    r.step({ type: 'vote', from: 'n2', to: 'n1', term: 5, incarnation: 0, lastIndex: 0, lastTerm: 0, transfer: false });
    return only(msgs(r), 'vote_resp')[0]?.granted;
  };
  assert.equal(vote(false), false);
  assert.equal(vote(true), true, 'voted for n2 after voting for n3 in term 5');
  // The harness notices the double vote in what the replica persists.
  const c = new TestCluster(raft, { voters: V3, seed: 1, replica: () => on(RaftMutant.ForgetVote) });
  c.restart('n1', { recovered: { hardState: { kind: 'raft', term: 5, vote: 'n3', commit: 0 }, snapshot: null, entries: [] } });
  c.replica('n1').step({ type: 'vote', from: 'n2', to: 'n1', term: 5, incarnation: 0, lastIndex: 0, lastTerm: 0, transfer: false });
  assert.throws(() => c.stabilize(), (e: unknown) => e instanceof HarnessViolation && /voted for n2 after n3 in term 5/.test(e.message));
});

test(`mutant ${RaftMutant.VoteIgnoresLog}: a vote is granted to a candidate whose log is behind (§5.4.1)`, () => {
  const vote = (mutant: boolean): boolean | undefined => {
    const r = withLog('n1', V3, [1, 2, 2], 2, mutant ? on(RaftMutant.VoteIgnoresLog) : {});
    r.step({ type: 'vote', from: 'n2', to: 'n1', term: 3, incarnation: 0, lastIndex: 5, lastTerm: 1, transfer: false });
    return only(msgs(r), 'vote_resp')[0]?.granted;
  };
  assert.equal(vote(false), false);
  assert.equal(vote(true), true);
});

test(`mutant ${RaftMutant.ReadNoBarrier}: a deposed leader answers a read at once with a stale index`, () => {
  const staleRead = (mutant: boolean): { index: number | undefined; write: number } => {
    const c = new TestCluster(raft, { voters: V3, seed: 41, replica: () => ({ checkQuorum: false, preVote: false, ...(mutant ? on(RaftMutant.ReadNoBarrier) : {}) }) });
    const old = c.electLeader();
    c.isolate(old);
    c.tickUntil(() => c.leader() !== old, 500);
    const next = c.leader() as string;
    c.propose(next, cmd('write'));
    c.tickUntil(() => c.appliedCommands(next).length === 1, 50);
    const write = c.replica(next).status().commitIndex;
    c.read(old, 1);
    c.stabilize();
    return { index: c.readStates(old)[0]?.index, write };
  };
  assert.equal(staleRead(false).index, undefined, 'no read point without a quorum round');
  const bad = staleRead(true);
  assert.ok(bad.index !== undefined && bad.index < bad.write, `read at ${bad.index} misses the write at ${bad.write}`);
});

test(`mutant ${RaftMutant.TruncateCommitted}: a follower skips the prevLog check and truncates committed entries`, () => {
  const run = (mutant: boolean): number[] => {
    const r = newRaft('n1', V3, {
      recovered: { hardState: { kind: 'raft', term: 1, vote: null, commit: 3 }, snapshot: null, entries: entries([1, 1, 1]) },
      ...(mutant ? on(RaftMutant.TruncateCommitted) : {}),
    });
    // A confused leader's append whose prevLog does not match (term 5 at index 1 is not ours).
    r.step({ type: 'app', from: 'n2', to: 'n1', term: 5, incarnation: 0, prevIndex: 1, prevTerm: 5, entries: entries([5], 2), commit: 0 });
    return [1, 2, 3].map((i) => r.log.term(i) ?? -1);
  };
  assert.deepEqual(run(false), [1, 1, 1]);
  assert.deepEqual(run(true), [1, 5, -1], 'committed entries 2 and 3 were replaced');
});

test(`mutant ${RaftMutant.NoNoop}: a new leader serves ReadIndex before committing in its term and misses an acknowledged write`, () => {
  // n1 was a follower of term 1: it holds x at index 2, which the old leader committed and
  // acknowledged, but n1 only learned commit 1 before the old leader died.
  const read = (mutant: boolean): number | undefined => {
    const r = withLog('n1', V3, [1, 1], 1, mutant ? on(RaftMutant.NoNoop) : {});
    r.log.commitTo(1);
    makeLeader(r);
    r.read(9);
    const served: number[] = [];
    for (let round = 0; round < 3; round++) {
      for (const rd of drain(r)) {
        served.push(...rd.readStates.map((s) => s.index));
        for (const m of sent(rd)) {
          // Followers answer heartbeats but their appends (and acks of the no-op) are lost.
          if (m.type === 'heartbeat') r.step({ type: 'heartbeat_resp', from: m.to, to: 'n1', term: 2, incarnation: 0, round: m.round, lastIndex: 2 });
        }
      }
      r.tick();
      r.tick();
    }
    return served[0];
  };
  assert.equal(read(false), undefined, 'the correct leader waits for its no-op to commit');
  assert.equal(read(true), 1, 'served at index 1, missing the acknowledged write at index 2');
});

/** A leader of V3 with both followers replicating through index 1, then entry 2 proposed: its Ready. */
function leaderWithEntry2(mutant: string | null): { r: Raft; rd: Ready } {
  const r = newRaft('n1', V3, mutant === null ? {} : on(mutant));
  makeLeader(r);
  drain(r);
  for (const f of ['n2', 'n3']) r.step({ type: 'app_resp', from: f, to: 'n1', term: 1, incarnation: 0, index: 1, reject: false, hintIndex: 0, hintTerm: 0 });
  drain(r);
  r.propose(cmd('x'));
  const rd = r.ready();
  assert.ok(rd !== null);
  return { r, rd };
}

test(`mutant ${RaftMutant.CountsUnsyncedSelf}: the leader counts its copy of an entry before advance() says it is durable`, () => {
  const commitBeforeAdvance = (mutant: string | null): number => {
    const { r } = leaderWithEntry2(mutant);
    r.step({ type: 'app_resp', from: 'n2', to: 'n1', term: 1, incarnation: 0, index: 2, reject: false, hintIndex: 0, hintTerm: 0 });
    return r.status().commitIndex;
  };
  assert.equal(commitBeforeAdvance(null), 1);
  assert.equal(commitBeforeAdvance(RaftMutant.CountsUnsyncedSelf), 2, 'committed on n2 and an in-memory copy');
});

test(`mutant ${RaftMutant.FollowerAcksEarly}: an ack leaves before its entries are durable, and a crash then loses an acknowledged write`, () => {
  const { r: n1, rd } = leaderWithEntry2(null);
  const app = only(rd.earlyMessages as RaftMessage[], 'app').find((m) => m.to === 'n2');
  assert.ok(app !== undefined);
  const follower = (mutant: string | null): Raft => {
    const f = withLog('n2', V3, [1], 1, mutant === null ? {} : on(mutant));
    f.step(app);
    return f;
  };
  assert.deepEqual(sent(follower(null).ready()).map((m) => m.type), ['app_resp']);
  assert.deepEqual(follower(null).ready()?.earlyMessages, [], 'the correct follower acks after its fsync');
  const n2 = follower(RaftMutant.FollowerAcksEarly);
  const n2rd = n2.ready();
  const early = only((n2rd?.earlyMessages ?? []) as RaftMessage[], 'app_resp');
  assert.deepEqual(early.map((m) => m.index), [2], 'the ack may leave before entry 2 is written');
  // The ack arrives; n2 loses power before its fsync. n1 persists entry 2, commits and applies it.
  n1.step(early[0] as RaftMessage);
  n1.advance(rd);
  assert.deepEqual(n1.ready()?.committed.map((e) => [e.index, e.id]), [[2, 1]], 'acknowledged to the client');
  // n1 is cut off; n2 restarts without entry 2 and votes for n3, which never received it.
  const n2after = withLog('n2', V3, [1], 1);
  const n3 = withLog('n3', V3, [1], 1);
  tickN(n3, 20);
  const req = only(msgs(n3), 'vote').find((m) => m.to === 'n2');
  assert.ok(req !== undefined);
  n2after.step(req);
  const granted = only(msgs(n2after), 'vote_resp')[0];
  assert.ok(granted?.granted === true, 'n2 no longer has entry 2, so n3 is up to date');
  n3.step(granted);
  assert.equal(n3.status().role, 'leader');
  assert.deepEqual([n3.log.entry(2)?.index, n3.log.entry(2)?.id], [2, 2], 'index 2 holds n3\'s term-2 no-op: the acknowledged write is gone');
});

test(`mutant ${RaftMutant.LeaseAfterTimeoutNow}: after an abandoned transfer the old leader serves a stale lease read while a new leader commits (R1)`, () => {
  const served = (mutant: boolean): boolean => {
    const { c, old } = abandonedTransfer(mutant ? new Set([RaftMutant.LeaseAfterTimeoutNow]) : new Set());
    c.read(old, 99);
    c.stabilize();
    const rs = c.readStates(old).find((r) => r.ctx === 99);
    if (rs === undefined) return false;
    assert.ok(!texts(c.appliedCommands(old)).includes('x'), 'the state read lacks x, acknowledged by the new leader');
    return true;
  };
  assert.equal(served(false), false);
  assert.equal(served(true), true, 'a stale lease read');
});

test(`mutant ${RaftMutant.WipedVoterVotes}: a wiped voter votes again once caught up to a leader's reported commit (R2, R3)`, () => {
  const canVote = (mutant: boolean): boolean[] => {
    const r = newRaft('n1', V3, { lostState: true, incarnation: 1, preVote: false, ...(mutant ? on(RaftMutant.WipedVoterVotes) : {}) });
    const seen = [r.status().canVote];
    answerProbes(r, V3, 3);
    r.step({ type: 'heartbeat', from: 'n3', to: 'n1', term: 3, incarnation: 0, commit: 0, leaderCommit: 4, round: 0 });
    r.step({ type: 'app', from: 'n3', to: 'n1', term: 3, incarnation: 0, prevIndex: 0, prevTerm: 0, entries: entries([1, 2, 3]), commit: 4 });
    seen.push(r.status().canVote);
    r.step({ type: 'app', from: 'n3', to: 'n1', term: 3, incarnation: 0, prevIndex: 3, prevTerm: 3, entries: entries([3], 4), commit: 4 });
    seen.push(r.status().canVote);
    r.step({ type: 'vote', from: 'n2', to: 'n1', term: 4, incarnation: 0, lastIndex: 9, lastTerm: 3, transfer: false });
    seen.push(only(msgs(r), 'vote_resp')[0]?.granted === true);
    return seen;
  };
  assert.deepEqual(canVote(false), [false, false, false, false]);
  assert.deepEqual(canVote(true), [false, false, true, true], 'votes again at commit 4');
  // In the review's 5-voter scenario that is a second vote in one term: two leaders (R2).
  const V5c = new TestCluster(raft, { voters: V5, seed: 5, replica: () => ({ preVote: false, checkQuorum: false, ...on(RaftMutant.WipedVoterVotes) }) });
  assert.throws(() => twoVotes(V5c), (e: unknown) => e instanceof HarnessViolation && /leader/.test(e.message));
});

/** The review's R2 run: C votes for B, is wiped, catches up from A in the old term, then E campaigns in B's term. */
function twoVotes(c: TestCluster<RaftMessage>): void {
  const A = c.electLeader();
  c.propose(A, cmd('a'));
  assert.ok(c.tickUntil(() => V5.every((id) => c.appliedCommands(id).length === 1), 50));
  const [B, C, D, E] = V5.filter((id) => id !== A) as [string, string, string, string];
  c.cut(A, B);
  c.cut(B, E);
  const held: RaftMessage[] = [];
  c.filter = (m) => !(m.type === 'vote' && m.from === B && m.to !== C && held.push(m) > 0);
  for (let i = 0; i < 40 && c.replica(B).status().role !== 'candidate'; i++) {
    c.tick(B);
    c.stabilize();
  }
  c.wipe(C);
  c.cut(B, C);
  c.restart(C);
  for (let i = 0; i < 20; i++) {
    c.tick(C);
    c.tick(A);
    c.stabilize();
  }
  c.replica(D).step(held.find((m) => m.to === D) as RaftMessage);
  c.stabilize();
  for (let i = 0; i < 40 && c.replica(E).status().role !== 'leader'; i++) {
    c.tick(E);
    c.stabilize();
  }
}

test(`mutant ${RaftMutant.OlderIncarnationCounted}: the leader counts an acknowledgement from before a follower's wipe after hearing its new life (R3)`, () => {
  const commit = (mutant: boolean): number => {
    const r = newRaft('n1', V3, mutant ? on(RaftMutant.OlderIncarnationCounted) : {});
    makeLeader(r);
    drain(r);
    r.step({ type: 'heartbeat_resp', from: 'n2', to: 'n1', term: 1, incarnation: 2, round: 0, lastIndex: 0 });
    r.step({ type: 'app_resp', from: 'n2', to: 'n1', term: 1, incarnation: 0, index: 1, reject: false, hintIndex: 0, hintTerm: 0 });
    return r.status().commitIndex;
  };
  assert.equal(commit(false), 0);
  assert.equal(commit(true), 1, 'committed on the acknowledgement of a copy the wipe erased');
});
