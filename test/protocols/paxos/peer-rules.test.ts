import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, PeerViolation, defaultLimits } from '../../../src/core/index.js';
import type { Entry } from '../../../src/core/index.js';
import { ballotStride } from '../../../src/protocols/paxos/index.js';
import type { PaxosMessage, PaxosReplica } from '../../../src/protocols/paxos/index.js';
import { acceptedEntry } from '../../../src/protocols/paxos/value.js';
import { drain, enc, lone, messages, pastStartupLease } from './helpers.js';

/*
 * A peer's message is outside data (src/core/errors.ts): a message that breaks a rule no honest
 * peer can break is refused with a PeerViolation from step(), before it changes anything, so the
 * driver drops that peer instead of the node crashing on one of its own assertions.
 */

const b = (round: number, rank: number): number => round * ballotStride + rank;
const three = ['n1', 'n2', 'n3'];
const val = (index: number, origin = b(1, 0)): Entry => ({ index, id: origin, type: EntryType.Normal, data: enc('v') });

/** n1 leading at its ballot with slot 1 proposed; n2 a follower of it. */
function replicas(): { leader: PaxosReplica; ballot: number; follower: PaxosReplica } {
  const leader = lone('n1', three);
  pastStartupLease(leader);
  for (let i = 0; i < 100 && leader.status().role !== 'candidate'; i++) leader.tick();
  const ballot = leader.status().term;
  drain(leader);
  leader.step({ type: 'p1b', from: 'n2', to: 'n1', ballot, fromSlot: 1, chosen: 0, snapshotIndex: 0, entries: [], next: 0, inc: 1 });
  assert.equal(leader.status().role, 'leader');
  leader.propose(enc('x'));
  drain(leader);
  const follower = lone('n2', three);
  pastStartupLease(follower);
  follower.step({ type: 'p2a', from: 'n1', to: 'n2', ballot, commit: 0, hbTick: 1, entries: [val(1, ballot)] });
  drain(follower);
  return { leader, ballot, follower };
}

function refuses(r: PaxosReplica, m: PaxosMessage, blamed: string): void {
  const before = { status: r.status(), promised: r.promisedBallot, slot1: r.acceptedAt(1), last: r.acceptedAt(r.status().lastIndex) };
  assert.throws(() => r.step(m), (e: unknown) => e instanceof PeerViolation && e.peer === blamed, `${m.type} is refused`);
  assert.deepEqual({ status: r.status(), promised: r.promisedBallot, slot1: r.acceptedAt(1), last: r.acceptedAt(r.status().lastIndex) }, before, 'nothing changed');
  assert.deepEqual(drain(r), [], 'and nothing is said or written');
}

test('forged p2a and p1a: a ballot its sender does not own, ballot 0, a ballot past 2^52, a value with no origin, slots out of order', () => {
  const { follower, ballot } = replicas();
  const p2a = (over: Partial<PaxosMessage & { type: 'p2a' }>): PaxosMessage => ({ type: 'p2a', from: 'n1', to: 'n2', ballot: b(9, 0), commit: 0, hbTick: 2, entries: [val(2)], ...over });
  refuses(follower, p2a({ from: 'n3' }), 'n3'); // b(9,0) is n1's
  refuses(follower, p2a({ ballot: 0 }), 'n1');
  refuses(follower, p2a({ ballot: 2 ** 52 }), 'n1');
  refuses(follower, p2a({ entries: [{ ...val(2), id: 0 }] }), 'n1');
  refuses(follower, p2a({ entries: [val(3), val(2)] }), 'n1');
  refuses(follower, { type: 'p1a', from: 'n3', to: 'n2', ballot: b(9, 0), fromSlot: 1 }, 'n3');
  refuses(follower, { type: 'p1a', from: 'n3', to: 'n2', ballot: 2 ** 53 - 1, fromSlot: 1 }, 'n3');
  // An honest one of each still goes through.
  follower.step({ type: 'p2a', from: 'n1', to: 'n2', ballot, commit: 1, hbTick: 3, entries: [] });
  assert.equal(follower.status().commitIndex, 1);
});

test('forged answers to a leader: a p2b for a slot never proposed, a nack or p1b of a ballot it never used', () => {
  const { leader, ballot } = replicas();
  const next = leader.status().lastIndex + 1;
  refuses(leader, { type: 'p2b', from: 'n2', to: 'n1', ballot, hbTick: 1, slots: [1, next], inc: 1 }, 'n2');
  refuses(leader, { type: 'p2b', from: 'n2', to: 'n1', ballot: b(7, 2), hbTick: 1, slots: [1], inc: 1 }, 'n2');
  refuses(leader, { type: 'nack', from: 'n3', to: 'n1', ballot, promised: ballot }, 'n3');
  refuses(leader, { type: 'nack', from: 'n3', to: 'n1', ballot, promised: 2 ** 52 }, 'n3');
  refuses(leader, { type: 'p1b', from: 'n3', to: 'n1', ballot: b(7, 2), fromSlot: 1, chosen: 0, snapshotIndex: 0, entries: [], next: 0, inc: 1 }, 'n3');
});

test('a forged promise: a value accepted above the ballot promised, a malformed value, a page that ends before its slots', () => {
  const r = lone('n1', three, { recovered: { hardState: { kind: 'paxos', promised: b(3, 2), chosen: 0 }, snapshot: null, entries: [] } });
  pastStartupLease(r);
  for (let i = 0; i < 100 && r.status().role !== 'candidate'; i++) r.tick();
  const ballot = r.status().term;
  drain(r);
  const p1b = (entries: Entry[], next = 0): PaxosMessage => ({ type: 'p1b', from: 'n2', to: 'n1', ballot, fromSlot: 1, chosen: 0, snapshotIndex: 0, entries, next, inc: 1 });
  const accepted = (slot: number, at: number): Entry => acceptedEntry(slot, at, { origin: at, type: EntryType.Normal, data: enc('v') });
  refuses(r, p1b([accepted(1, ballot + ballotStride)]), 'n2');
  refuses(r, p1b([{ index: 1, id: b(2, 1), type: EntryType.Normal, data: Uint8Array.of(0xff) }]), 'n2');
  refuses(r, p1b([accepted(1, b(2, 1)), accepted(2, b(2, 1))], 2), 'n2');
  r.step(p1b([accepted(1, b(2, 1))]));
  assert.equal(r.status().role, 'leader', 'the honest promise completes phase 1');
});

test('a forged learn (a value with no origin, or beyond the sender\'s own chosen point) changes nothing', () => {
  const { follower } = replicas();
  refuses(follower, { type: 'learn', from: 'n3', to: 'n2', commit: 1, entries: [{ ...val(1), id: 2 ** 52 }] }, 'n3');
  refuses(follower, { type: 'learn', from: 'n3', to: 'n2', commit: 1, entries: [val(1), val(2)] }, 'n3');
});

test('a p2a naming a slot far above the acceptor\'s log is taken only within reach: one message cannot make it hold millions of holes', () => {
  // Found by review: the acceptor filled every slot up to the one named with a hole (3,000,000
  // slots: 264 MB of heap and a Ready of 3M entries; a slot near 2^40 would take the node down).
  // Honest leaders send such slots only to an acceptor that lags, which takes them as they come again.
  const { ballot, follower } = replicas();
  const reach = 1 + 4 * defaultLimits.inflightMax; // four windows above its log (slot 1)
  const sent = messages(drain(follower));
  assert.equal(sent.length, 0);
  follower.step({ type: 'p2a', from: 'n1', to: 'n2', ballot, commit: 0, hbTick: 2, entries: [val(2, ballot), val(3_000_000, ballot)] });
  const out = messages(drain(follower));
  assert.equal(follower.status().lastIndex, 2, 'the far slot was not taken');
  const p2b = out.find((m) => m.type === 'p2b');
  assert.ok(p2b?.type === 'p2b');
  assert.deepEqual(p2b.slots, [2], 'and not acknowledged');
  // Within reach of its log (a lagging acceptor's next slots) it accepts as before.
  follower.step({ type: 'p2a', from: 'n1', to: 'n2', ballot, commit: 0, hbTick: 3, entries: [val(reach + 1, ballot)] });
  drain(follower);
  assert.equal(follower.status().lastIndex, reach + 1);
});
