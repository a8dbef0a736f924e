import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType } from '../../../src/core/index.js';
import type { Entry } from '../../../src/core/index.js';
import { PaxosMutant, nextBallot } from '../../../src/protocols/paxos/index.js';
import type { PaxosMessage } from '../../../src/protocols/paxos/index.js';
import { Bag, within } from './bag.js';
import { dec, drain, enc, lone, messages, pastStartupLease } from './helpers.js';

/*
 * P1 (safety review). The commit point a leader sends on its p2a means "every slot <= commit
 * accepted at my ballot holds the chosen value" (acceptor.ts, advanceChosenTo), so it may only
 * cover slots decided at the leader's own ballot. A `learn` arriving at a leader (the late answer
 * to a learnReq it sent as a follower) can carry a slot chosen at a *higher* ballot with another
 * value than the one this leader proposed there. Paxos Made Simple §2.2 (P2b): once a value is
 * chosen at ballot b, every higher-numbered proposal has that value; a different value chosen
 * above this leader's ballot means a higher ballot completed phase 1 and this leader is deposed.
 */

const five = ['n1', 'n2', 'n3', 'n4', 'n5'];

/** n1 leads at b1 with promises from n2 and n3, and has proposed `v` at slot 1. */
function leaderWithProposal(mutants: readonly string[] = []): { r: ReturnType<typeof lone>; b1: number } {
  const r = lone('n1', five, { mutants: new Set(mutants) });
  pastStartupLease(r);
  for (let i = 0; i < 100 && r.status().role !== 'candidate'; i++) r.tick();
  assert.equal(r.status().role, 'candidate');
  const b1 = r.status().term;
  drain(r);
  for (const from of ['n2', 'n3']) {
    r.step({ type: 'p1b', from, to: 'n1', ballot: b1, fromSlot: 1, chosen: 0, snapshotIndex: 0, entries: [], next: 0, inc: 1 });
  }
  assert.equal(r.status().role, 'leader');
  assert.deepEqual(r.propose(enc('v')), { ok: true });
  const sent = messages(drain(r)).filter((m) => m.type === 'p2a' && m.entries.length > 0);
  assert.ok(sent.length > 0 && sent.every((m) => m.type === 'p2a' && m.entries[0]?.index === 1 && dec(m.entries[0].data) === 'v'));
  return { r, b1 };
}

const learnOf = (slot: number, origin: number, value: string): PaxosMessage => ({
  type: 'learn', from: 'n4', to: 'n1', commit: slot,
  entries: [{ index: slot, id: origin, type: EntryType.Normal, data: enc(value) } satisfies Entry],
});

/** Every p2a the replica sends from now on (heartbeats included) for `ticks` ticks. */
function p2aFor(r: ReturnType<typeof lone>, ticks: number): PaxosMessage[] {
  const out: PaxosMessage[] = [];
  for (let i = 0; i < ticks; i++) {
    r.tick();
    out.push(...messages(drain(r)).filter((m) => m.type === 'p2a'));
  }
  return out;
}

test('P1: a leader that learns another value chosen in a slot it proposed steps down and never announces its own as chosen', () => {
  const { r, b1 } = leaderWithProposal();
  const b2 = nextBallot(b1, 4); // n5's, above b1
  r.step(learnOf(1, b2, 'w'));
  drain(r);
  assert.notEqual(r.status().role, 'leader', 'a higher ballot chose another value: this leader is deposed');
  assert.equal(r.status().commitIndex, 1, 'as a follower it keeps the chosen value it learned');
  assert.equal(dec((r.acceptedAt(1) as Entry).data).endsWith('w'), true);
  const after = p2aFor(r, 10);
  assert.deepEqual(after.filter((m) => m.type === 'p2a' && m.ballot === b1), [], 'no p2a at b1 (whose commit would cover slot 1) leaves');
});

test('P1: a leader that learns its own value chosen keeps leading, and its commit point moves only on its own quorum', () => {
  const { r, b1 } = leaderWithProposal();
  r.step(learnOf(1, b1, 'v')); // the value it proposed (origin b1), learned from a peer
  drain(r);
  assert.equal(r.status().role, 'leader');
  assert.equal(r.status().commitIndex, 0, 'slot 1 is chosen at b1 when a quorum acknowledges it, not on hearsay');
  for (const from of ['n2', 'n3']) r.step({ type: 'p2b', from, to: 'n1', ballot: b1, hbTick: 0, slots: [1], inc: 1 });
  drain(r);
  assert.equal(r.status().commitIndex, 1);
});

test('P1 mutant learn-without-ballot-check: the leader takes the learned slot and announces it chosen at its own ballot', () => {
  const { r, b1 } = leaderWithProposal([PaxosMutant.LearnWithoutBallotCheck]);
  r.step(learnOf(1, nextBallot(b1, 4), 'w'));
  drain(r);
  assert.equal(r.status().role, 'leader');
  const after = p2aFor(r, 10);
  assert.ok(after.some((m) => m.type === 'p2a' && m.ballot === b1 && m.commit >= 1), 'the p2a that makes an acceptor holding v at b1 mark it chosen');
});

/*
 * The review's whole execution (its reproduction, adopted): partitions and one delayed message,
 * every step legal. n4 leads at b0 and gets x chosen at slot 1; n1 asks n4 for slot 1 and that
 * learnReq is held. n1 leads at b1 with n2, n3 and proposes v at slot 2 (only n3 accepts); n5
 * leads at b2 > b1 with n2, n4 and gets w chosen at slot 2. The held learnReq reaches n4, whose
 * answer (slots 1 and 2) reaches n1 while it still leads at b1. Before the fix n1 took slot 2 = w
 * into its commit point, and its next p2a(b1, commit 2) made n3 mark v chosen at slot 2.
 */
function reviewExecution(mutants: readonly string[]): { c: Bag; leaderAfterLearn: string } {
  const E = 50;
  const c = new Bag(five, mutants);
  for (const id of five) {
    c.tickN(id, E);
    assert.equal(c.R(id).status().role, 'follower', `${id} campaigned during setup`);
  }
  c.tickUntil('n4', () => c.R('n4').status().role === 'candidate');
  c.deliver(() => true);
  assert.ok(c.R('n4').propose(enc('x')).ok);
  c.deliver((m) => !(m.type === 'p2a' && m.to === 'n1'), (m) => m.type === 'p2a' && m.to === 'n1');
  assert.equal(c.R('n4').status().commitIndex, 1);
  c.tickN('n4', 2);
  c.deliver((m) => m.from === 'n4');
  const heldReq = c.take((m) => m.type === 'learnReq' && m.from === 'n1' && m.to === 'n4');
  c.msgs = [];
  c.tickN('n4', 2 * E + 2);
  c.msgs = c.msgs.filter((m) => m.from !== 'n4');
  for (const id of ['n2', 'n3', 'n5']) c.tickN(id, E);
  c.msgs = [];
  c.tickUntil('n1', () => c.R('n1').status().role === 'candidate');
  c.deliver((m) => (m.type === 'p1a' && (m.to === 'n2' || m.to === 'n3')) || (m.type === 'p1b' && m.to === 'n1'),
    (m) => m.type === 'p1a' && (m.to === 'n4' || m.to === 'n5'));
  assert.equal(c.R('n1').status().role, 'leader');
  assert.ok(c.R('n1').propose(enc('v')).ok);
  c.deliver(within(['n1', 'n3']), (m) => m.from === 'n1' && m.to !== 'n3');
  c.msgs = c.msgs.filter((m) => within(['n1', 'n3'])(m));
  c.tickUntil('n5', () => c.R('n5').status().role === 'candidate');
  const side = within(['n2', 'n4', 'n5']);
  c.deliver(side, (m) => !side(m) && m.from === 'n5');
  assert.equal(c.R('n5').status().role, 'leader');
  assert.ok(c.R('n5').propose(enc('w')).ok);
  c.deliver(side, (m) => !side(m) && m.from === 'n5');
  c.tickN('n5', 2);
  c.deliver(side, (m) => !side(m) && m.from === 'n5');
  assert.equal(c.slot('n5', 2), 'w');
  c.R('n4').step(heldReq);
  c.deliver((m) => m.type === 'learn' && m.to === 'n1', (m) => !within(['n1', 'n3'])(m) && !(m.type === 'learn' && m.to === 'n1'));
  const leaderAfterLearn = c.R('n1').status().role;
  c.R('n1').propose(enc('y'));
  c.tickN('n1', 4);
  c.deliver(within(['n1', 'n3']), (m) => !within(['n1', 'n3'])(m));
  return { c, leaderAfterLearn };
}

test('P1, the review execution: no two replicas execute different values in slot 2', () => {
  const { c, leaderAfterLearn } = reviewExecution([]);
  assert.notEqual(leaderAfterLearn, 'leader', 'n1 learned w chosen where it proposed v: it steps down');
  assert.equal(c.slot('n1', 2), 'w');
  assert.ok(c.slot('n3', 2) === undefined || c.slot('n3', 2) === 'w', `n3 executed ${c.slot('n3', 2)} at slot 2, n5 executed w`);
});

test('P1, the review execution with the mutant: n3 executes v where n5 executed w', () => {
  const { c } = reviewExecution([PaxosMutant.LearnWithoutBallotCheck]);
  assert.equal(c.slot('n3', 2), 'v');
  assert.equal(c.slot('n5', 2), 'w');
});
