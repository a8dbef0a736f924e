import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, PeerViolation } from '../../../src/core/index.js';
import { PaxosMutant } from '../../../src/protocols/paxos/index.js';
import type { PaxosMessage } from '../../../src/protocols/paxos/index.js';
import { drain, enc, lone, messages, pastStartupLease } from './helpers.js';

/*
 * The verdict for every protocol: a member that lost its state never votes, promises or
 * acknowledges toward a quorum again (until a membership change re-adds it as a new member); its
 * messages carry its incarnation, and leaders drop messages of an older incarnation of a peer.
 * For Paxos: a lost acceptor announces `lost(inc)`; a proposer that heard it counts no p1b or p2b
 * of that peer again (messages.ts, Lost).
 */

const three = ['n1', 'n2', 'n3'];

/** n1 leads at `ballot` (promises from n2 and n3 at incarnations 11 and 31) and proposed slot 1. */
function leader(): { r: ReturnType<typeof lone>; ballot: number } {
  const r = lone('n1', three);
  pastStartupLease(r);
  for (let i = 0; i < 100 && r.status().role !== 'candidate'; i++) r.tick();
  const ballot = r.status().term;
  drain(r);
  r.step({ type: 'p1b', from: 'n2', to: 'n1', ballot, fromSlot: 1, chosen: 0, snapshotIndex: 0, entries: [], next: 0, inc: 11 });
  assert.equal(r.status().role, 'leader');
  assert.deepEqual(r.propose(enc('x')), { ok: true });
  drain(r); // its own acceptance counts once durable
  return { r, ballot };
}

const p2b = (ballot: number, inc: number): PaxosMessage => ({ type: 'p2b', from: 'n2', to: 'n1', ballot, hbTick: 0, slots: [1], inc });

test('a leader counts an acceptance when the acceptor never said it lost its state (control)', () => {
  const { r, ballot } = leader();
  r.step(p2b(ballot, 11));
  assert.equal(r.status().commitIndex, 1);
});

test('a leader drops an acceptance from an earlier incarnation of a peer that announced it lost its state', () => {
  const { r, ballot } = leader();
  r.step({ type: 'lost', from: 'n2', to: 'n1', inc: 12 });
  r.step(p2b(ballot, 11)); // sent before the wipe, delivered after it
  drain(r);
  assert.equal(r.status().commitIndex, 0, 'the pre-wipe acknowledgement vouches for a value n2 no longer has');
});

test('an acceptance from the lost incarnation itself is a PeerViolation, thrown before any state changes', () => {
  const { r, ballot } = leader();
  r.step({ type: 'lost', from: 'n2', to: 'n1', inc: 12 });
  const before = r.status();
  assert.throws(() => r.step(p2b(ballot, 12)), (e: unknown) => e instanceof PeerViolation && e.peer === 'n2');
  assert.deepEqual(r.status(), before);
});

test('a proposer drops a promise from an earlier incarnation of a peer that announced it lost its state', () => {
  const r = lone('n1', three);
  pastStartupLease(r);
  r.step({ type: 'lost', from: 'n2', to: 'n1', inc: 12 });
  for (let i = 0; i < 100 && r.status().role !== 'candidate'; i++) r.tick();
  const ballot = r.status().term;
  r.step({ type: 'p1b', from: 'n2', to: 'n1', ballot, fromSlot: 1, chosen: 0, snapshotIndex: 0, entries: [], next: 0, inc: 11 });
  assert.equal(r.status().role, 'candidate', 'the promise of a life that lost its state does not complete phase 1');
  r.step({ type: 'p1b', from: 'n3', to: 'n1', ballot, fromSlot: 1, chosen: 0, snapshotIndex: 0, entries: [], next: 0, inc: 31 });
  assert.equal(r.status().role, 'leader');
});

/** A wiped n2 catches up from leader n1 at ballot b: slot 1 chosen, commit 1. */
function caughtUp(mutants: readonly string[]): { r: ReturnType<typeof lone>; sent: PaxosMessage[] } {
  const r = lone('n2', three, { lostState: true, mutants: new Set(mutants) });
  const b = 1024 * 3;
  const sent: PaxosMessage[] = [];
  for (let i = 0; i < 12; i++) {
    r.tick();
    sent.push(...messages(drain(r)));
  }
  r.step({ type: 'p2a', from: 'n1', to: 'n2', ballot: b, commit: 1, hbTick: 1, entries: [{ index: 1, id: b, type: EntryType.Normal, data: enc('x') }] });
  r.step({ type: 'p2a', from: 'n1', to: 'n2', ballot: b, commit: 1, hbTick: 2, entries: [{ index: 2, id: b, type: EntryType.Normal, data: enc('y') }] });
  r.step({ type: 'p1a', from: 'n3', to: 'n2', ballot: b + 1024 + 2, fromSlot: 1 });
  sent.push(...messages(drain(r)));
  return { r, sent };
}

test('a wiped acceptor caught up with the leader still never votes, and says it lost its state', () => {
  const { r, sent } = caughtUp([]);
  assert.equal(r.status().commitIndex, 1);
  assert.equal(r.status().canVote, false);
  assert.deepEqual(sent.filter((m) => m.type === 'p1b' || m.type === 'p2b' || m.type === 'nack'), []);
  const lost = sent.filter((m) => m.type === 'lost');
  assert.deepEqual([...new Set(lost.map((m) => m.to))].sort(), ['n1', 'n3'], 'to every voter, every electionTicks');
  assert.ok(lost.every((m) => m.type === 'lost' && m.inc === r.incarnation));
});

test('readmit-wiped mutant: the wiped acceptor votes again once caught up, and never said it was lost', () => {
  const { r, sent } = caughtUp([PaxosMutant.ReadmitWiped]);
  assert.equal(r.status().canVote, true);
  assert.ok(sent.some((m) => m.type === 'p2b'));
  assert.deepEqual(sent.filter((m) => m.type === 'lost'), []);
});
