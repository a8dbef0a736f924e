import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry, HardState, Ready } from '../../../src/core/index.js';
import { snapshotKeepsLog } from '../../../src/storage/log-rules.js';
import { PaxosMutant } from '../../../src/protocols/paxos/index.js';
import type { PaxosMessage } from '../../../src/protocols/paxos/index.js';
import { acceptedBallot } from '../../../src/protocols/paxos/value.js';
import { dec, enc, lone } from './helpers.js';
import { Net } from './net.js';

/*
 * Issue 9: the leader's accept requests (p2a) leave before its own write (Raft thesis §10.2.1), its
 * own acceptance counts only at advance, and learning that a slot is chosen needs no fsync.
 */

const voters = ['n1', 'n2', 'n3'];

/** n1 leads a settled three-member cluster. */
function cluster(mutants: readonly string[] = []): Net {
  const net = new Net(voters, [], { mutants: new Set(mutants) });
  net.elect('n1');
  return net;
}

function p2aSlots(msgs: readonly PaxosMessage[]): [string, number[]][] {
  return msgs.flatMap((m) => (m.type === 'p2a' ? [[m.to, m.entries.map((e) => e.index)] as [string, number[]]] : []));
}

/** Proposes one command at n1 and takes the Ready that appends it, without advancing it. */
function proposeHeld(net: Net, text: string): { rd: Ready; slot: number } {
  const before = net.r('n1').status().lastIndex;
  assert.deepEqual(net.r('n1').propose(enc(text)), { ok: true });
  const rd = net.take('n1');
  assert.ok(rd !== null);
  return { rd, slot: before + 1 };
}

test('the leader\'s p2a leave early, in the Ready that appends the slot; nothing else does', () => {
  const net = cluster();
  const { rd, slot } = proposeHeld(net, 'x');
  const own = rd.entries;
  assert.deepEqual(own.map((e) => [e.index, acceptedBallot(e)]), [[slot, net.r('n1').status().term]]);
  assert.deepEqual(p2aSlots(rd.earlyMessages as PaxosMessage[]), [['n2', [slot]], ['n3', [slot]]]);
  assert.deepEqual(rd.messages, [], 'no p2a waits for the fsync');
});

test('the leader does not choose on the strength of its own unsynced acceptance', () => {
  const net = cluster();
  const chosen = net.r('n1').status().commitIndex;
  const { rd, slot } = proposeHeld(net, 'x');
  net.cuts.add('n1>n3'); // only n2 hears the p2a: n1 + n2 would be a quorum only with n1's copy
  net.deliver();
  net.pump('n2');
  net.deliver();
  assert.equal(net.r('n1').status().commitIndex, chosen, 'one acceptor plus an unsynced self is not a quorum');
  net.r('n1').advance(rd);
  assert.equal(net.r('n1').status().commitIndex, slot, 'chosen once the leader\'s own acceptance is durable');
  const next = net.r('n1').ready();
  assert.deepEqual(next?.committed.map((e) => dec(e.data)), ['x']);
});

test('count-own-unsynced (mutant): the leader chooses before its own write is durable', () => {
  // The unit-level proof that the mutant does what it names. The simulator cannot turn it into a
  // lost write (README, "Durability"): nothing reveals the chosen point before advance.
  const net = cluster([PaxosMutant.CountOwnUnsynced]);
  const { slot } = proposeHeld(net, 'x');
  net.cuts.add('n1>n3');
  net.deliver();
  net.pump('n2');
  net.deliver();
  assert.equal(net.r('n1').status().commitIndex, slot);
});

test('a quorum of other acceptors chooses before the leader\'s own write completes; execution still waits for it', () => {
  const net = cluster();
  const { rd, slot } = proposeHeld(net, 'x');
  net.deliver();
  net.pump('n2');
  net.pump('n3');
  net.deliver();
  assert.equal(net.r('n1').status().commitIndex, slot, 'n2 and n3 hold it durably: chosen without n1');
  assert.equal(net.r('n1').ready(), null, 'the next Ready waits for the current one');
  net.r('n1').advance(rd);
  assert.deepEqual(net.r('n1').ready()?.committed.map((e) => dec(e.data)), ['x']);
});

test('a p2a whose ballot is promised in the same Ready waits for the fsync', () => {
  // One voter and a learner: the voter's phase 1 completes at once, so its first heartbeat is in
  // the Ready that persists the promise.
  const r = lone('n1', ['n1'], {}, ['l1']);
  let first: Ready | null = null;
  for (let i = 0; i < 100 && first === null; i++) {
    r.tick();
    const rd = r.ready();
    if (rd !== null && rd.hardState?.kind === 'paxos' && rd.hardState.promised > 0) first = rd;
    else if (rd !== null) r.advance(rd);
  }
  assert.ok(first !== null && first.hardState?.kind === 'paxos');
  assert.equal(r.status().role, 'leader');
  assert.deepEqual(first.earlyMessages, []);
  assert.ok((first.messages as PaxosMessage[]).some((m) => m.type === 'p2a' && m.to === 'l1'), 'the p2a goes after the fsync');
  r.advance(first);
  assert.deepEqual(r.propose(enc('y')), { ok: true });
  const next = r.ready();
  assert.ok((next?.earlyMessages as PaxosMessage[]).some((m) => m.type === 'p2a' && m.to === 'l1'), 'once durable, p2a go early');
});

test('one fsync per member per write; learning a slot is chosen writes only the hard state, unsynced', () => {
  const net = cluster();
  net.tick('n1', 2);
  net.settle();
  net.resetDisk();
  const writes = 5;
  for (let i = 0; i < writes; i++) {
    assert.deepEqual(net.r('n1').propose(enc(`w${i}`)), { ok: true });
    net.settle();
  }
  net.tick('n1', 2); // a heartbeat carries the last commit point to the followers
  net.settle();
  for (const id of voters) {
    assert.equal(net.disk.get(id)?.syncs, writes, `${id}: one fsync per write`);
    assert.equal(net.r(id).status().commitIndex, net.r('n1').status().lastIndex, `${id} learned every write`);
  }
});

/** The follower's durable image, rebuilt from its Readies as a storage would keep it. */
function record(net: Net, id: string): { log: Map<number, Entry>; hard: HardState | null } {
  const log = new Map<number, Entry>();
  const img = { log, hard: null as HardState | null };
  const r = net.r(id);
  const ready = r.ready.bind(r);
  r.ready = () => {
    const rd = ready();
    if (rd !== null) {
      const first = rd.entries[0];
      if (first !== undefined) for (const k of [...log.keys()]) if (k >= first.index) log.delete(k);
      for (const e of rd.entries) log.set(e.index, e);
      if (rd.hardState !== null) img.hard = rd.hardState;
    }
    return rd;
  };
  return img;
}

test('a restart recovers the chosen point from the hard state, or re-learns it without a write when that was lost', () => {
  const net = cluster();
  const img = record(net, 'n2');
  for (const w of ['a', 'b']) {
    net.r('n1').propose(enc(w));
    net.settle();
  }
  net.tick('n1', 2);
  net.settle();
  const chosen = net.r('n1').status().commitIndex;
  assert.equal(net.r('n2').status().commitIndex, chosen);
  const entries = [...img.log.values()].sort((a, b) => a.index - b.index);
  const hard = img.hard;
  assert.ok(hard !== null && hard.kind === 'paxos' && hard.chosen === chosen);
  const again = lone('n2', voters, { recovered: { hardState: hard, snapshot: null, entries } });
  assert.equal(again.status().commitIndex, chosen, 'from the hard state');
  // The commit-only hard state was never fsynced: a crash may leave an older one.
  const older = lone('n2', voters, { recovered: { hardState: { ...hard, chosen: 0 }, snapshot: null, entries } });
  assert.equal(older.status().commitIndex, 0);
  for (let i = 0; i < 10; i++) older.tick();
  const drained: Ready[] = [];
  for (let rd = older.ready(); rd !== null; rd = older.ready()) {
    drained.push(rd);
    older.advance(rd);
  }
  older.step({ type: 'p2a', from: 'n1', to: 'n2', ballot: net.r('n1').status().term, commit: chosen, hbTick: 50, entries: [] });
  const rd = older.ready();
  assert.equal(older.status().commitIndex, chosen, 're-learned from the leader\'s commit point');
  assert.deepEqual(rd?.entries, [], 'with no write of entries');
  assert.deepEqual(rd?.committed.map((e) => dec(e.data)).filter((t) => t !== ''), ['a', 'b']);
});

test('a stored chosen slot carries the id it is delivered with, so a checkpoint there keeps the log after it', () => {
  const net = cluster();
  const img = record(net, 'n2');
  const delivered: Entry[] = [];
  const r = net.r('n2');
  const advance = r.advance.bind(r);
  r.advance = (rd: Ready) => {
    delivered.push(...rd.committed);
    advance(rd);
  };
  for (const w of ['a', 'b', 'c']) {
    net.r('n1').propose(enc(w));
    net.settle();
  }
  net.tick('n1', 2);
  net.settle();
  assert.ok(delivered.length >= 3);
  for (const e of delivered) {
    assert.equal(img.log.get(e.index)?.id, e.id, `slot ${e.index}`);
    assert.ok(snapshotKeepsLog({ index: e.index, id: e.id, config: r.status().config }, 0, (i) => img.log.get(i)?.id));
  }
});

test('a leader deposed between ready() and advance() counts nothing at the stale advance', () => {
  const net = cluster();
  const chosen = net.r('n1').status().commitIndex;
  const ballot = net.r('n1').status().term;
  const { rd, slot } = proposeHeld(net, 'x');
  net.cuts.add('n1>n3');
  net.deliver();
  net.pump('n2');
  // A proposer with a higher ballot finished phase 1 without n1; its heartbeat deposes n1.
  net.r('n1').step({ type: 'p2a', from: 'n3', to: 'n1', ballot: ballot + 1024 + 2, commit: chosen, hbTick: 1, entries: [] }); // n3's (rank 2)
  assert.equal(net.r('n1').status().role, 'follower');
  net.deliver(); // n2's p2b for the old ballot reaches a replica that no longer leads
  net.r('n1').advance(rd);
  assert.equal(net.r('n1').status().commitIndex, chosen, 'a replica that no longer leads tallies nothing; the new leader finds the value in phase 1');
  assert.ok(slot > chosen);
});
