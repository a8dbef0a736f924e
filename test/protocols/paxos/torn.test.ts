import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType } from '../../../src/core/index.js';
import type { Entry, HardState, PaxosHardState } from '../../../src/core/index.js';
import { PaxosMutant, ballotStride } from '../../../src/protocols/paxos/index.js';
import { acceptedBallot, acceptedEntry, valueOf } from '../../../src/protocols/paxos/value.js';
import { dec, drain, enc, entries, hardStates, lone, messages, pastStartupLease } from './helpers.js';

/*
 * Sim seed 29 (--variants): the Ready contract truncates the log from entries[0].index, so a change
 * below the end rewrites the suffix, and a crash that tears that write loses accepted values of
 * later slots that were already acknowledged. The acceptor must notice (its log ends below the
 * `end` its hard state recorded) and stay out of every quorum for good. But a torn *append* loses
 * only what nobody acknowledged, and must not cost the vote (review P2: a power cut tearing a
 * majority's appends left no leader, ever).
 */

const b = (round: number, rank: number): number => round * ballotStride + rank;
const voters = ['n1', 'n2', 'n3'];
const val = (slot: number, v: string): Entry => ({ index: slot, id: 1, type: EntryType.Normal, data: enc(v) });

/** n2 accepts slots 1 and 2 at b(1,0) and acknowledges both, then re-accepts slot 1 at b(2,2). */
function acceptThenRewrite(): { durable: Entry[]; hard: PaxosHardState; rewrite: Entry[] } {
  const r = lone('n2', voters);
  pastStartupLease(r);
  r.step({ type: 'p2a', from: 'n1', to: 'n2', ballot: b(1, 0), commit: 0, hbTick: 1, entries: [val(1, 'a'), val(2, 'b')] });
  const first = drain(r);
  assert.deepEqual(messages(first).filter((m) => m.type === 'p2b').flatMap((m) => (m.type === 'p2b' ? m.slots : [])), [1, 2]);
  const durable = entries(first);
  const hard = hardStates(first)[0] as PaxosHardState;
  assert.equal(hard.end, 2, 'the hard state, written after the entries, records where the log ends');
  // A new proposer's P2a changes slot 1 only; the log is rewritten from slot 1.
  r.step({ type: 'p2a', from: 'n3', to: 'n2', ballot: b(2, 2), commit: 0, hbTick: 2, entries: [val(1, 'c')] });
  const rewrite = entries(drain(r));
  assert.deepEqual(rewrite.map((e) => e.index), [1, 2], 'the rewrite re-emits slot 2');
  return { durable, hard, rewrite };
}

function restart(hard: HardState, log: Entry[]): ReturnType<typeof lone> {
  return lone('n2', voters, { recovered: { hardState: hard, snapshot: null, entries: log } });
}

test('a torn rewrite (slot 2, acknowledged, lost) leaves the acceptor out of every quorum', () => {
  const { hard, rewrite } = acceptThenRewrite();
  // Power loss tearing the rewrite after its first record: the truncation from slot 1 and the new
  // slot 1 reached the disk, the acknowledged slot 2 did not, and neither did the new hard state.
  const torn = restart(hard, rewrite.slice(0, 1));
  assert.equal(torn.status().canVote, false, 'torn: it may have lost acknowledged values');
  pastStartupLease(torn);
  torn.step({ type: 'p1a', from: 'n1', to: 'n2', ballot: b(4, 0), fromSlot: 1 });
  torn.step({ type: 'readReq', from: 'n1', to: 'n2', seq: 1 });
  const rds = drain(torn);
  assert.deepEqual(messages(rds), [], 'no promise that would hide the value chosen at slot 2, no read answer');
  assert.deepEqual(rds.map((rd) => rd.hardState), [], 'nothing persisted while lost');
});

test('a clean restart (the log reaches its end) votes and reports every acknowledged value', () => {
  const { durable, hard } = acceptThenRewrite();
  const clean = restart(hard, durable);
  assert.equal(clean.status().canVote, true);
  pastStartupLease(clean);
  clean.step({ type: 'p1a', from: 'n1', to: 'n2', ballot: b(4, 0), fromSlot: 1 });
  const p1b = messages(drain(clean)).find((m) => m.type === 'p1b');
  assert.ok(p1b !== undefined && p1b.type === 'p1b');
  assert.deepEqual(p1b.entries.map((e) => [e.index, acceptedBallot(e), dec(valueOf(e).data)]), [[1, b(1, 0), 'a'], [2, b(1, 0), 'b']]);
});

test('a torn acceptor never votes again, even once it has caught up (it cannot know what it acknowledged)', () => {
  const { hard, rewrite } = acceptThenRewrite();
  const torn = restart(hard, rewrite.slice(0, 1));
  // The leader's heartbeat: slots 1 and 2 chosen at b(2,2); the torn acceptor learns them.
  torn.step({ type: 'p2a', from: 'n3', to: 'n2', ballot: b(2, 2), commit: 2, hbTick: 3, entries: [val(1, 'c'), val(2, 'd')] });
  const rds = drain(torn);
  assert.equal(torn.status().commitIndex, 2);
  assert.equal(torn.status().canVote, false);
  assert.deepEqual(messages(rds).filter((m) => m.type === 'p2b'), []);
  const lost = hardStates(rds);
  assert.ok(lost.length > 0 && lost.every((h) => h.lost === true), 'being lost is persisted');
  assert.ok(lost.every((h) => h.promised >= hard.promised), 'and the promise on disk never goes back');
  // A restart on what it wrote (its log now reaches past the old end) is still lost.
  const again = restart(lost[lost.length - 1] as PaxosHardState, [...rewrite.slice(0, 1), ...entries(rds)]);
  assert.equal(again.status().canVote, false);
});

/** n2 accepted and acknowledged slot 1; its append of slot 2 (ballot b(2,0)) is in flight. */
function acceptThenAppend(): { hard: PaxosHardState; durable: Entry[]; append: Entry[] } {
  const r = lone('n2', voters);
  pastStartupLease(r);
  r.step({ type: 'p2a', from: 'n1', to: 'n2', ballot: b(1, 0), commit: 0, hbTick: 1, entries: [val(1, 'a')] });
  const first = drain(r);
  const hard = hardStates(first)[0] as PaxosHardState;
  r.step({ type: 'p2a', from: 'n1', to: 'n2', ballot: b(2, 0), commit: 0, hbTick: 2, entries: [val(2, 'b'), val(3, 'c')] });
  const rd = r.ready();
  assert.ok(rd !== null);
  assert.deepEqual(rd.entries.map((e) => e.index), [2, 3], 'a pure append');
  // The power fails before this Ready is durable: its p2b never left.
  return { hard, durable: entries(first), append: [...rd.entries] };
}

test('P2: a torn append (nothing in it acknowledged) keeps the vote, whatever part of it reached the disk', () => {
  const { hard, durable, append } = acceptThenAppend();
  for (const kept of [0, 1, 2]) {
    const r = restart(hard, [...durable, ...append.slice(0, kept)]);
    assert.equal(r.status().canVote, true, `${kept} record(s) of the append kept`);
    pastStartupLease(r);
    r.step({ type: 'p1a', from: 'n3', to: 'n2', ballot: b(4, 2), fromSlot: 1 });
    const p1b = messages(drain(r)).find((m) => m.type === 'p1b');
    assert.ok(p1b !== undefined && p1b.type === 'p1b', 'it promises');
    assert.deepEqual(p1b.entries.map((e) => e.index), [1, 2, 3].slice(0, 1 + kept), 'and reports what it holds');
    if (kept > 0) assert.ok(r.promisedBallot >= b(2, 0), 'having accepted at b(2,0) is having promised it');
  }
});

test('P2 mutant torn-append-costs-vote: a log that runs past its hard state\'s end restarts lost', () => {
  const { hard, durable, append } = acceptThenAppend();
  const r = lone('n2', voters, { recovered: { hardState: hard, snapshot: null, entries: [...durable, ...append.slice(0, 1)] }, mutants: new Set([PaxosMutant.TornAppendCostsVote]) });
  assert.equal(r.status().canVote, false);
});

test('P2: no hard state and no snapshot (the very first save was torn) means nothing was ever acknowledged: it votes', () => {
  const r = lone('n2', voters, { recovered: { hardState: null, snapshot: null, entries: [acceptedEntry(1, b(1, 0), { origin: b(1, 0), type: EntryType.Normal, data: enc('a') })] } });
  assert.equal(r.status().canVote, true);
  assert.ok(r.promisedBallot >= b(1, 0));
});
