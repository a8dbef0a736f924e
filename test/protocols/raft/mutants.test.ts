import { test } from 'node:test';
import assert from 'node:assert/strict';
import { raft, RaftMutant, raftUnobservableMutants } from '../../../src/protocols/raft/index.js';
import type { Raft, RaftMessage } from '../../../src/protocols/raft/index.js';
import type { Ready } from '../../../src/core/index.js';
import { HarnessViolation, TestCluster, cmd } from '../../harness/cluster.js';
import { drain, entries, figure8, makeLeader, msgs, newRaft, only, sent, tickN, withLog } from './helpers.js';

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
    r.step({ type: 'app_resp', from: 'n2', to: 'n1', term: 4, index: 2, reject: false, hintIndex: 0, hintTerm: 0 });
    r.step({ type: 'app_resp', from: 'n3', to: 'n1', term: 4, index: 2, reject: false, hintIndex: 0, hintTerm: 0 });
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
    r.step({ type: 'vote', from: 'n2', to: 'n1', term: 5, lastIndex: 0, lastTerm: 0, transfer: false });
    return only(msgs(r), 'vote_resp')[0]?.granted;
  };
  assert.equal(vote(false), false);
  assert.equal(vote(true), true, 'voted for n2 after voting for n3 in term 5');
  // The harness notices the double vote in what the replica persists.
  const c = new TestCluster(raft, { voters: V3, seed: 1, replica: () => on(RaftMutant.ForgetVote) });
  c.restart('n1', { recovered: { hardState: { kind: 'raft', term: 5, vote: 'n3', commit: 0 }, snapshot: null, entries: [] } });
  c.replica('n1').step({ type: 'vote', from: 'n2', to: 'n1', term: 5, lastIndex: 0, lastTerm: 0, transfer: false });
  assert.throws(() => c.stabilize(), (e: unknown) => e instanceof HarnessViolation && /voted for n2 after n3 in term 5/.test(e.message));
});

test(`mutant ${RaftMutant.VoteIgnoresLog}: a vote is granted to a candidate whose log is behind (§5.4.1)`, () => {
  const vote = (mutant: boolean): boolean | undefined => {
    const r = withLog('n1', V3, [1, 2, 2], 2, mutant ? on(RaftMutant.VoteIgnoresLog) : {});
    r.step({ type: 'vote', from: 'n2', to: 'n1', term: 3, lastIndex: 5, lastTerm: 1, transfer: false });
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
    r.step({ type: 'app', from: 'n2', to: 'n1', term: 5, prevIndex: 1, prevTerm: 5, entries: entries([5], 2), commit: 0 });
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
          if (m.type === 'heartbeat') r.step({ type: 'heartbeat_resp', from: m.to, to: 'n1', term: 2, round: m.round, lastIndex: 2 });
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
  for (const f of ['n2', 'n3']) r.step({ type: 'app_resp', from: f, to: 'n1', term: 1, index: 1, reject: false, hintIndex: 0, hintTerm: 0 });
  drain(r);
  r.propose(cmd('x'));
  const rd = r.ready();
  assert.ok(rd !== null);
  return { r, rd };
}

test(`mutant ${RaftMutant.CountsUnsyncedSelf}: the leader counts its copy of an entry before advance() says it is durable`, () => {
  const commitBeforeAdvance = (mutant: string | null): number => {
    const { r } = leaderWithEntry2(mutant);
    r.step({ type: 'app_resp', from: 'n2', to: 'n1', term: 1, index: 2, reject: false, hintIndex: 0, hintTerm: 0 });
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
