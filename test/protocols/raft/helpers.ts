import assert from 'node:assert/strict';
import { EntryType, Rng, defaultLimits, makeConfig, replicaOptions } from '../../../src/core/index.js';
import type { Entry, Ready, ReplicaOptions } from '../../../src/core/index.js';
import { Raft, raft } from '../../../src/protocols/raft/index.js';
import { TestCluster, cmd, texts } from '../../harness/cluster.js';
import type { RaftMessage } from '../../../src/protocols/raft/index.js';

/** A single replica driven by hand, as etcd's raft_paper_test.go does. */
export function newRaft(id: string, voters: string[], overrides: Partial<ReplicaOptions> = {}, learners: string[] = []): Raft {
  return new Raft(replicaOptions({
    id,
    config: makeConfig(voters, learners),
    rng: new Rng(7),
    preVote: false,
    checkQuorum: false,
    ...overrides,
  }));
}

/** Process every Ready (as a driver would, minus the I/O) and return them. */
export function drain(r: Raft): Ready[] {
  const out: Ready[] = [];
  for (let rd = r.ready(); rd !== null; rd = r.ready()) {
    out.push(rd);
    r.advance(rd);
  }
  return out;
}

/** The messages of one Ready, in the order a driver sends them (early ones first). */
export function sent(rd: Ready | null | undefined): RaftMessage[] {
  return rd == null ? [] : ([...rd.earlyMessages, ...rd.messages] as RaftMessage[]);
}

/** Every message the replica wants sent, after processing its Readies. */
export function msgs(r: Raft): RaftMessage[] {
  return drain(r).flatMap(sent);
}

export function entries(terms: number[], from = 1): Entry[] {
  return terms.map((t, i) => ({ index: from + i, id: t, type: EntryType.Normal, data: new Uint8Array([i]) }));
}

/** A replica recovered with `terms` as its log and `term` as its current term. */
export function withLog(id: string, voters: string[], terms: number[], term: number, overrides: Partial<ReplicaOptions> = {}): Raft {
  return newRaft(id, voters, {
    recovered: { hardState: { kind: 'raft', term, vote: null, commit: 0 }, snapshot: null, entries: entries(terms) },
    ...overrides,
  });
}

export function tickN(r: Raft, n: number): void {
  for (let i = 0; i < n; i++) r.tick();
}

/** Make `r` a leader of `voters` by winning an election (preVote off). */
export function makeLeader(r: Raft): void {
  const s = r.status();
  tickN(r, 2 * 10);
  const votes = msgs(r).filter((m) => m.type === 'vote');
  for (const v of votes) r.step({ type: 'vote_resp', from: v.to, to: r.id, term: r.status().term, incarnation: 0, granted: true });
  if (r.status().role !== 'leader') throw new Error(`${s.id} did not become leader`);
}

export type Of<T extends RaftMessage['type']> = RaftMessage extends infer M
  ? M extends { type: infer U } ? (T extends U ? M : never) : never
  : never;
export function only<T extends RaftMessage['type']>(ms: RaftMessage[], type: T): Array<Of<T>> {
  return ms.filter((m): m is Of<T> => m.type === type);
}

/**
 * Raft Figure 8 on a 5-node TestCluster. (a)-(c): n1, leader of term 4, holds entry 2 of term 2
 * and replicates it to n2 and n3, but its own term-4 entry (index 3) never reaches anyone. (d): n1
 * crashes and n5, whose log ends with a term-3 entry at index 2, is elected by n4 and one of n2/n3
 * and overwrites index 2 everywhere. Returns the cluster and n1's commit index before the crash.
 */
export function figure8(mutants: ReadonlySet<string>): { c: TestCluster<RaftMessage>; commitBeforeCrash: number } {
  const V5 = ['n1', 'n2', 'n3', 'n4', 'n5'];
  const c = new TestCluster(raft, {
    voters: V5,
    seed: 8,
    // One entry per message, so entry 2 can arrive while entry 3 is lost.
    replica: () => ({ preVote: false, checkQuorum: false, mutants, limits: { ...defaultLimits, maxMessageBytes: 1 } }),
  });
  const rec = (terms: number[]) => ({ hardState: { kind: 'raft' as const, term: 3, vote: null, commit: 1 }, snapshot: null, entries: entries(terms) });
  for (const id of V5) c.crash(id);
  c.restart('n1', { recovered: rec([1, 2]) });
  c.restart('n2', { recovered: rec([1]) });
  c.restart('n3', { recovered: rec([1]) });
  c.restart('n4', { recovered: rec([1]) });
  c.restart('n5', { recovered: rec([1, 3]) });
  c.partition(['n1', 'n2', 'n3'], ['n4', 'n5']);
  // Entry 3 is lost on its way to anyone who could append it (a follower still missing entry 2
  // gets the probe and rejects it, which is how n1 finds out to send entry 2).
  c.filter = (m) => !(m.type === 'app' && m.entries.some((e) => e.index === 3) && c.replica(m.to).status().lastIndex >= 2);
  if (!c.tickUntil(() => c.leader() === 'n1', 500)) throw new Error('n1 was not elected');
  c.tickUntil(() => ['n2', 'n3'].every((id) => c.replica(id).status().lastIndex === 2), 100);
  c.tickUntil(() => false, 20);
  const commitBeforeCrash = c.replica('n1').status().commitIndex;
  c.filter = null;
  c.crash('n1');
  c.heal();
  c.isolate('n3');
  if (!c.tickUntil(() => c.leader() === 'n5', 1000)) throw new Error('n5 was not elected');
  c.heal();
  c.tickUntil(() => ['n2', 'n3', 'n4', 'n5'].every((id) => c.replica(id).status().commitIndex >= 3), 200);
  return { c, commitBeforeCrash };
}

/**
 * R1 (the review's scenario): the transfer target is paused with its inbox frozen, so the
 * TimeoutNow reaches it only after the leader abandoned the transfer (one election timeout).
 * The target's votes skip the voters' lease (§3.10), so it wins while the old leader, still
 * heard from by the other follower, believes its lease is back.
 */
export function abandonedTransfer(mutants: ReadonlySet<string>): { c: TestCluster<RaftMessage>; old: string; t: string } {
  const V3 = ['n1', 'n2', 'n3'];
  const c = new TestCluster(raft, { voters: V3, seed: 44, replica: () => ({ leaseReads: true, mutants }) });
  const old = c.electLeader();
  c.propose(old, cmd('a'));
  assert.ok(c.tickUntil(() => V3.every((id) => texts(c.appliedCommands(id)).includes('a')), 50));
  const [t, o] = V3.filter((id) => id !== old) as [string, string];
  const inbox: RaftMessage[] = [];
  c.filter = (m) => {
    if (m.to !== t) return true;
    inbox.push(m);
    return false;
  };
  assert.equal(c.replica(old).transferLeadership(t), true);
  c.stabilize();
  assert.equal(inbox.filter((m) => m.type === 'timeout_now').length, 1, 'TimeoutNow sent at once (t caught up)');
  for (let i = 0; i < 9; i++) {
    c.tick(old);
    c.tick(o);
    c.stabilize(); // o keeps acknowledging heartbeats
  }
  // t wakes and processes its inbox in order; old is cut off at that moment.
  c.filter = null;
  c.isolate(old);
  for (const m of inbox) c.replica(t).step(m);
  c.stabilize();
  assert.equal(c.replica(t).status().role, 'leader', 't won: o voted for it despite its lease (a transfer vote)');
  assert.equal(c.propose(t, cmd('x')).ok, true);
  c.stabilize();
  assert.ok(texts(c.appliedCommands(t)).includes('x'), 'x is committed and applied by the new leader');
  // Tick 10: the transfer is abandoned; CheckQuorum passes (o was active).
  c.tick(old);
  c.stabilize();
  assert.equal(c.replica(old).status().role, 'leader');
  return { c, old, t };
}

/** lostState: answer the replica's term probes from every other voter, at `term`. */
export function answerProbes(r: Raft, voters: string[], term: number): void {
  for (const v of voters) if (v !== r.id) r.step({ type: 'term_probe_resp', from: v, to: r.id, term, incarnation: 0 });
}
