import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, makeConfig, type Entry, type ReplicaStatus } from '../../src/core/index.js';
import { InvariantChecker, type LogView } from '../../src/check/index.js';
import type { DiskView } from '../../src/check/durability.js';
import { acceptedEntry, learnedEntry } from '../../src/protocols/paxos/value.js';

// The Paxos checks of src/check/paxos.ts and the lost-member checks of src/check/invariants.ts,
// each shown passing an honest run and failing the execution its mutant produces.

const paxos = (disabled: readonly string[] = []) =>
  new InvariantChecker({ logMatching: false, leaderCompleteness: false, disabled: new Set(disabled), protocol: 'paxos' });
const status = (id: string, role: ReplicaStatus['role'], ballot: number, chosen: number): ReplicaStatus => ({
  id, role, protocolRole: role, term: ballot, leader: role === 'leader' ? id : null, commitIndex: chosen, appliedIndex: chosen,
  lastIndex: chosen, snapshotIndex: 0, config: makeConfig(['n1', 'n2', 'n3', 'n4', 'n5']), canVote: true,
});
const value = { origin: 1025, type: EntryType.Normal, data: new TextEncoder().encode('v') };
const noLog: LogView = { idAt: () => null, snapshotIndex: 0, lastIndex: 0 };
function disk(entries: readonly Entry[], snapshotIndex = 0): DiskView {
  return { hardState: { kind: 'paxos', promised: 3073, chosen: 0 }, snapshotIndex, entryAt: (i) => entries.find((e) => e.index === i) ?? null };
}
const p2b = (from: string, ballot: number, slots: number[]) => ({ type: 'p2b', from, to: 'n1', ballot, hbTick: 0, slots, inc: 1 });
const speak = (c: InvariantChecker, from: string, msgs: object[]): void => {
  const d = disk([acceptedEntry(1, 3073, value), acceptedEntry(2, 3073, value)]);
  c.onSpeak(from, msgs as never, d, d);
};

test('commit rule (Paxos, review P1): a leader moves its chosen point over a slot once a quorum accepted it at its ballot', () => {
  const c = paxos();
  const own = disk([acceptedEntry(1, 3073, value)]);
  c.observeStatus('n1', status('n1', 'leader', 3073, 0), noLog, own);
  speak(c, 'n2', [p2b('n2', 3073, [1])]);
  speak(c, 'n3', [p2b('n3', 3073, [1]), p2b('n3', 2049, [2])]);
  // Its own durable acceptance and two p2b make three of five.
  c.observeStatus('n1', status('n1', 'leader', 3073, 1), noLog, own);
  assert.ok(c.ok, JSON.stringify(c.violations));
});

test('commit rule (Paxos): the learn-without-ballot-check execution, a leader taking a learned slot into its chosen point, is a violation', () => {
  const c = paxos();
  // n1 leads at 3073 and proposed slot 2; two acceptors have it. A learn (slot 2 chosen at
  // another ballot) replaces its copy with the learned form (ballot 0) and moves its chosen point.
  const learned = disk([acceptedEntry(1, 3073, value), learnedEntry(2, value)]);
  speak(c, 'n2', [p2b('n2', 3073, [1, 2])]);
  speak(c, 'n3', [p2b('n3', 3073, [1]), p2b('n3', 4097, [2])]);
  c.observeStatus('n1', status('n1', 'leader', 3073, 0), noLog, learned);
  c.observeStatus('n1', status('n1', 'leader', 3073, 1), noLog, learned);
  assert.ok(c.ok, 'slot 1: n1, n2, n3 at 3073');
  c.observeStatus('n1', status('n1', 'leader', 3073, 2), noLog, learned);
  assert.equal(c.violations[0]?.invariant, 'commit-rule');
  assert.match(c.violations[0]?.message ?? '', /over slot 2, which n2 accepted/);
});

test('commit rule (Paxos): a chosen point brought into leadership, or moved by a follower, is not judged', () => {
  const c = paxos();
  c.observeStatus('n1', status('n1', 'follower', 2049, 0), noLog, disk([]));
  c.observeStatus('n1', status('n1', 'follower', 2049, 7), noLog, disk([]));
  c.observeStatus('n1', status('n1', 'leader', 3073, 9), noLog, disk([]));
  // A new ballot starts a new leadership: its first observation is the baseline.
  c.observeStatus('n1', status('n1', 'leader', 4097, 9), noLog, disk([]));
  assert.ok(c.ok, JSON.stringify(c.violations));
  c.observeStatus('n1', status('n1', 'leader', 4097, 10), noLog, disk([]));
  assert.equal(c.violations[0]?.invariant, 'commit-rule');
});

test('commit rule (Paxos): a slot compacted in the same event counts the leader\'s own acceptance', () => {
  const c = paxos();
  c.observeStatus('n1', status('n1', 'leader', 3073, 0), noLog, disk([], 0));
  speak(c, 'n2', [p2b('n2', 3073, [1])]);
  speak(c, 'n3', [p2b('n3', 3073, [1])]);
  c.observeStatus('n1', status('n1', 'leader', 3073, 1), noLog, disk([], 1));
  assert.ok(c.ok, JSON.stringify(c.violations));
});

test('a member that lost its state never votes: no p1b, p2b or read answer after a wipe or a recovery that found it lost', () => {
  const p1b = { type: 'p1b', from: 'n2', to: 'n1', ballot: 3073, fromSlot: 1, chosen: 0, snapshotIndex: 0, entries: [], next: 0, inc: 1 };
  const readResp = { type: 'readResp', from: 'n2', to: 'n1', seq: 1, highest: 2 };
  const learnReq = { type: 'learnReq', from: 'n2', to: 'n1', fromSlot: 1 };
  for (const [what, vote] of [['p1b', p1b], ['p2b', p2b('n2', 3073, [])], ['readResp', readResp]] as const) {
    const c = paxos();
    speak(c, 'n2', [vote]);
    assert.ok(c.ok, `${what} before the wipe`);
    c.onWipe('n2');
    speak(c, 'n2', [learnReq]);
    assert.ok(c.ok, 'a lost member still learns');
    speak(c, 'n2', [learnReq, vote]);
    assert.equal(c.violations[0]?.invariant, 'lost-never-votes', what);
  }
  const torn = paxos();
  torn.onLost('n3');
  speak(torn, 'n3', [p2b('n3', 3073, [1])]);
  assert.equal(torn.violations[0]?.invariant, 'lost-never-votes');
});

test('needless loss (review P2): a restart may find itself lost only when a power loss cut its durable log', () => {
  const cut = paxos();
  cut.onRecoveredLost('n1', 28, 30); // a torn rewrite: the log ends below where it durably ended
  assert.ok(cut.ok, JSON.stringify(cut.violations));
  for (const [end, before] of [[30, 30], [32, 30], [30, null]] as const) {
    // A torn append (30: nothing of it survived; 32: part of it did), or a process crash.
    const c = paxos();
    c.onRecoveredLost('n1', end, before);
    assert.equal(c.violations[0]?.invariant, 'needless-loss', `recovered ${end}, durable end before ${before}`);
  }
});
