import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, EntryType, defaultLimits } from '../../../src/core/index.js';
import { mustSync } from '../../../src/core/durability.js';
import type { Entry } from '../../../src/core/index.js';
import { ballotStride, nextBallot, paxos } from '../../../src/protocols/paxos/index.js';
import type { PaxosMessage } from '../../../src/protocols/paxos/index.js';
import { acceptedBallot, acceptedEntry, learnedEntry, valueOf } from '../../../src/protocols/paxos/value.js';
import { SnapshotReceiver } from '../../../src/protocols/paxos/snapshot.js';
import { TestCluster, cmd, texts } from '../../harness/cluster.js';
import { dec, drain, enc, entries, lone, messages, pastStartupLease } from './helpers.js';

const b = (round: number, rank: number): number => round * ballotStride + rank;

test('ballots are unique per proposer and ordered by round first', () => {
  assert.equal(nextBallot(0, 2), b(1, 2));
  assert.equal(nextBallot(b(1, 2), 0), b(2, 0));
  assert.equal(nextBallot(b(5, 0), 3), b(6, 3));
  const seen = new Set<number>();
  for (let rank = 0; rank < 5; rank++) {
    let x = 0;
    for (let i = 0; i < 20; i++) {
      x = nextBallot(x, rank);
      assert.ok(!seen.has(x), `ballot ${x} reused`);
      seen.add(x);
    }
  }
});

test('PMS §2.3 phase 1b: a promise is persisted in the same Ready as the P1b that announces it', () => {
  const r = lone('n2', ['n1', 'n2', 'n3']);
  pastStartupLease(r);
  r.step({ type: 'p1a', from: 'n1', to: 'n2', ballot: b(3, 0), fromSlot: 1 });
  const [rd, ...rest] = drain(r);
  assert.equal(rest.length, 0);
  assert.deepEqual(rd?.hardState, { kind: 'paxos', promised: b(3, 0), chosen: 0, end: 0, lost: false });
  assert.deepEqual((rd?.messages as PaxosMessage[]).map((m) => m.type), ['p1b']);
});

test('PMS §2.3 P1a: an acceptor never accepts below its promise, and says so (nack)', () => {
  const r = lone('n2', ['n1', 'n2', 'n3']);
  pastStartupLease(r);
  r.step({ type: 'p1a', from: 'n3', to: 'n2', ballot: b(2, 2), fromSlot: 1 });
  drain(r);
  const low: Entry = { index: 1, id: b(1, 0), type: EntryType.Normal, data: enc('stale') };
  r.step({ type: 'p2a', from: 'n1', to: 'n2', ballot: b(1, 0), commit: 0, hbTick: 0, entries: [low] });
  const rds = drain(r);
  assert.deepEqual(entries(rds), [], 'nothing accepted');
  assert.deepEqual(messages(rds), [{ type: 'nack', from: 'n2', to: 'n1', ballot: b(1, 0), promised: b(2, 2) }]);
  assert.equal(r.acceptedAt(1), undefined);
  // ... and a lower P1a is refused too.
  r.step({ type: 'p1a', from: 'n1', to: 'n2', ballot: b(2, 0), fromSlot: 1 });
  assert.deepEqual(messages(drain(r)).map((m) => m.type), ['nack']);
  assert.equal(r.promisedBallot, b(2, 2));
});

test('PMS §2.3 phase 2b: a P2a at or above the promise is accepted, persisted, then acknowledged', () => {
  const r = lone('n2', ['n1', 'n2', 'n3']);
  pastStartupLease(r);
  const v: Entry = { index: 1, id: b(1, 0), type: EntryType.Normal, data: enc('x') };
  r.step({ type: 'p2a', from: 'n1', to: 'n2', ballot: b(1, 0), commit: 0, hbTick: 5, entries: [v] });
  const [rd] = drain(r);
  assert.equal(rd?.entries.length, 1, 'the accepted value');
  const stored = rd?.entries[0] as Entry;
  assert.equal(acceptedBallot(stored), b(1, 0));
  assert.equal(dec(valueOf(stored).data), 'x');
  assert.deepEqual(rd?.hardState, { kind: 'paxos', promised: b(1, 0), chosen: 0, end: 1, lost: false }, 'accepting at b is promising b; the log ends at slot 1');
  assert.deepEqual(rd?.messages, [{ type: 'p2b', from: 'n2', to: 'n1', ballot: b(1, 0), hbTick: 5, slots: [1], inc: r.incarnation }]);
  assert.deepEqual(rd?.committed, [], 'accepted is not chosen');
  // The commit point piggybacked on the next P2a makes it chosen: executed, with no rewrite of the
  // log (the chosen point is in the hard state, which needs no fsync).
  r.step({ type: 'p2a', from: 'n1', to: 'n2', ballot: b(1, 0), commit: 1, hbTick: 6, entries: [] });
  const [rd2] = drain(r);
  assert.ok(rd2 !== undefined);
  assert.deepEqual(rd2.entries, [], 'learning that a slot is chosen writes no entry');
  assert.deepEqual(rd2.hardState, { kind: 'paxos', promised: b(1, 0), chosen: 1, end: 1, lost: false });
  assert.equal(mustSync(rd.hardState, rd2.hardState, rd2.entries), false, 'so the save needs no fsync');
  assert.deepEqual(rd2.committed.map((e) => dec(e.data)), ['x']);
  assert.equal(rd2.committed[0]?.id, b(1, 0), 'a chosen entry carries the ballot that first proposed it');
});

/** Makes n1 (rank 0 of five) a proposer whose ballot is above every ballot the test reports. */
function proposerAbove(round: number): { r: ReturnType<typeof lone>; ballot: number } {
  const r = lone('n1', ['n1', 'n2', 'n3', 'n4', 'n5'], {
    recovered: { hardState: { kind: 'paxos', promised: b(round, 4), chosen: 0, end: 0 }, snapshot: null, entries: [] },
  });
  for (let i = 0; i < 40 && r.status().role !== 'candidate'; i++) r.tick();
  const p1a = messages(drain(r)).filter((m) => m.type === 'p1a');
  assert.equal(p1a.length, 4, 'phase 1a goes to every other acceptor');
  const ballot = p1a[0]?.type === 'p1a' ? p1a[0].ballot : 0;
  assert.equal(ballot, b(round + 1, 0));
  return { r, ballot };
}

test('PMS §2.2 / PMMC: the value accepted at the highest ballot is re-proposed, and holes become no-ops', () => {
  const { r, ballot } = proposerAbove(5);
  const acc = (slot: number, at: number, v: string): Entry =>
    acceptedEntry(slot, at, { origin: at, type: EntryType.Normal, data: enc(v) });
  r.step({ type: 'p1b', from: 'n2', to: 'n1', ballot, fromSlot: 1, chosen: 0, snapshotIndex: 0, next: 0, inc: 1,
    entries: [acc(1, b(1, 1), 'A'), acc(2, b(1, 1), 'X-old')] });
  r.step({ type: 'p1b', from: 'n3', to: 'n1', ballot, fromSlot: 1, chosen: 0, snapshotIndex: 0, next: 0, inc: 1,
    entries: [acc(2, b(3, 2), 'Y-newer'), acc(4, b(2, 2), 'Z')] });
  assert.equal(r.status().role, 'leader');
  const p2a = messages(drain(r)).filter((m) => m.type === 'p2a' && m.to === 'n2');
  const sent = p2a.flatMap((m) => (m.type === 'p2a' ? m.entries : []));
  assert.deepEqual(sent.map((e) => [e.index, e.type === EntryType.Noop ? 'noop' : dec(e.data)]),
    [[1, 'A'], [2, 'Y-newer'], [3, 'noop'], [4, 'Z']]);
  assert.deepEqual(sent.map((e) => e.id), [b(1, 1), b(3, 2), ballot, b(2, 2)], 're-proposals keep their origin');
  assert.ok(p2a.every((m) => m.type === 'p2a' && m.ballot === ballot), 'all at the new ballot');
});

test('phase 1: a value some acceptor knows chosen wins over a higher accepted ballot', () => {
  const { r, ballot } = proposerAbove(5);
  const chosenA = learnedEntry(1, { origin: b(1, 1), type: EntryType.Normal, data: enc('chosen') });
  r.step({ type: 'p1b', from: 'n2', to: 'n1', ballot, fromSlot: 1, chosen: 1, snapshotIndex: 0, next: 0, inc: 1, entries: [chosenA] });
  r.step({ type: 'p1b', from: 'n3', to: 'n1', ballot, fromSlot: 1, chosen: 0, snapshotIndex: 0, next: 0, inc: 1,
    entries: [acceptedEntry(1, b(4, 2), { origin: b(4, 2), type: EntryType.Normal, data: enc('other') })] });
  const sent = messages(drain(r)).flatMap((m) => (m.type === 'p2a' && m.to === 'n2' ? m.entries : []));
  assert.deepEqual(sent.map((e) => dec(e.data)), ['chosen']);
});

test('phase 1 is paged: a long accepted suffix comes in several P1b and is re-proposed whole', () => {
  const c = new TestCluster(paxos, {
    voters: ['n1', 'n2', 'n3'], seed: 3,
    replica: () => ({ limits: { ...defaultSmall, maxMessageBytes: 120 } }),
  });
  const l = c.electLeader();
  const others = ['n1', 'n2', 'n3'].filter((x) => x !== l);
  const [f, g] = others as [string, string];
  // g accepts everything but its acknowledgements are lost, and f hears nothing: nothing is chosen.
  c.cutOneWay(g, l);
  c.cutOneWay(l, f);
  for (let i = 0; i < 12; i++) {
    c.propose(l, cmd(`v${i}-${'x'.repeat(30)}`));
    c.stabilize();
  }
  assert.equal(c.appliedCommands(l).length, 0);
  c.crash(l);
  c.heal();
  // f campaigns (g already has the values): g must page its promise.
  assert.ok(c.tickUntil(() => c.leader() !== null && c.leader() !== l, 500));
  const pages = c.sent.filter((m) => m.type === 'p1b' && m.from === g && m.to === f);
  assert.equal(c.leader(), f, 'test setup: the seed makes f the next proposer');
  assert.ok(pages.length >= 2, `expected a paged promise, got ${pages.length} P1b`);
  c.tickUntil(() => c.appliedCommands(c.leader() as string).length >= 12, 500);
  assert.deepEqual(texts(c.appliedCommands(c.leader() as string)).slice(0, 12).map((t) => t.split('-')[0]),
    Array.from({ length: 12 }, (_, i) => `v${i}`));
});

test('a value chosen stays chosen across leader changes, even when only the old leader knew it was chosen', () => {
  const c = new TestCluster(paxos, { voters: ['n1', 'n2', 'n3'], seed: 11 });
  const l = c.electLeader();
  const [f, g] = ['n1', 'n2', 'n3'].filter((x) => x !== l) as [string, string];
  c.cutOneWay(l, g); // the value reaches only f
  c.propose(l, cmd('x'));
  c.stabilize();
  assert.deepEqual(texts(c.appliedCommands(l)), ['x'], 'chosen by {l, f} and executed by l');
  assert.deepEqual(texts(c.appliedCommands(f)), [], 'f accepted x but does not know it is chosen');
  c.crash(l); // the only replica that knew
  c.heal();
  assert.ok(c.tickUntil(() => c.leader() !== null, 500));
  c.propose(c.leader() as string, cmd('y'));
  assert.ok(c.tickUntil(() => c.appliedCommands(g).length === 2 && c.appliedCommands(f).length === 2, 500));
  for (const id of [f, g]) assert.deepEqual(texts(c.appliedCommands(id)), ['x', 'y'], id);
  c.restart(l);
  assert.ok(c.tickUntil(() => c.appliedCommands(l).length === 2, 500));
  assert.deepEqual(texts(c.appliedCommands(l)), ['x', 'y']);
});

const defaultSmall = {
  maxMessageBytes: 1 << 20, inflightMax: 256, inflightBytesMax: 32 << 20, uncommittedBytesMax: 64 << 20,
  pendingReadsMax: 4096, snapshotChunkBytes: 1 << 20, maxCommandBytes: 1 << 20,
};

test('bad options are refused with a ConfigError', () => {
  assert.throws(() => lone('n1', ['n1', 'n2', 'n3'], { electionTicks: 2, heartbeatTicks: 2 }), (e: unknown) => e instanceof ConfigError && /heartbeatTicks < electionTicks/.test(e.message));
  assert.throws(() => lone('n9', ['n1', 'n2', 'n3']), (e: unknown) => e instanceof ConfigError && /neither a voter nor a learner/.test(e.message));
  assert.throws(() => lone('n1', ['n1'], { limits: { ...defaultSmall, inflightMax: 0 } }), (e: unknown) => e instanceof ConfigError && /inflightMax/.test(e.message));
});

test('PMMC preemption: a proposer told of a higher ballot stands down and next campaigns above it', () => {
  const { r, ballot } = proposerAbove(2);
  const higher = b(9, 3);
  r.step({ type: 'nack', from: 'n4', to: 'n1', ballot, promised: higher });
  assert.equal(r.status().role, 'follower');
  for (let i = 0; i < 400 && r.status().role !== 'candidate'; i++) r.tick();
  const p1a = messages(drain(r)).find((m) => m.type === 'p1a');
  assert.ok(p1a?.type === 'p1a' && p1a.ballot > higher, `campaigns above ${higher}: ${JSON.stringify(p1a)}`);
});

test('snapshot receiver: two streams at once do not reset each other; a stalled stream gives way', () => {
  const rx = new SnapshotReceiver(8);
  const config = { voters: ['n1', 'n2', 'n3'], learners: [] };
  const a = { index: 10, id: 1024, config };
  const b = { index: 20, id: 2048, config };
  assert.deepEqual(rx.onChunk(b, 0, 4, Uint8Array.of(1, 2), 0).nextOffset, 2);
  assert.deepEqual(rx.onChunk(a, 0, 4, Uint8Array.of(9, 9), 1).nextOffset, 4, 'the other sender is told it is done');
  const done = rx.onChunk(b, 2, 4, Uint8Array.of(3, 4), 2).done;
  assert.deepEqual(done?.meta, b);
  assert.deepEqual([...(done?.data ?? [])], [1, 2, 3, 4]);
  // A stream that stalls (its sender died) does not block another forever.
  assert.deepEqual(rx.onChunk(b, 0, 4, Uint8Array.of(1, 2), 10).nextOffset, 2);
  assert.deepEqual(rx.onChunk(a, 0, 4, Uint8Array.of(9, 9), 12).nextOffset, 4, 'refused while b progresses');
  assert.deepEqual(rx.onChunk(a, 0, 2, Uint8Array.of(7, 7), 30).done?.meta, a, 'taken once b stalled');
});

test('PML §5.1: being wiped is durable: restarted before it learned anything, and without lostState, it still does not vote', () => {
  const wiped = lone('n2', ['n1', 'n2', 'n3'], { lostState: true });
  assert.equal(wiped.status().canVote, false);
  const rds = drain(wiped);
  assert.deepEqual(rds.map((rd) => rd.hardState), [{ kind: 'paxos', promised: 0, chosen: 0, end: 0, lost: true }], 'being lost is persisted at once');
  assert.equal(mustSync(null, rds[0]?.hardState ?? null, []), true);
  const hs = rds[0]?.hardState ?? null;
  const again = lone('n2', ['n1', 'n2', 'n3'], { recovered: { hardState: hs, snapshot: null, entries: entries(rds) } });
  assert.equal(again.status().canVote, false);
  pastStartupLease(again);
  again.step({ type: 'p1a', from: 'n1', to: 'n2', ballot: b(4, 0), fromSlot: 1 });
  assert.deepEqual(messages(drain(again)).filter((m) => m.type !== 'lost'), [], 'no promise');
});

test('PML §5.1: a lost member writes nothing to its log before being lost is durable (else a log grown past the old end would read as whole)', () => {
  const r = lone('n2', ['n1', 'n2', 'n3'], { lostState: true });
  r.step({ type: 'p2a', from: 'n1', to: 'n2', ballot: b(1, 0), commit: 0, hbTick: 1, entries: [{ index: 1, id: b(1, 0), type: EntryType.Normal, data: enc('x') }] });
  const first = r.ready();
  assert.ok(first !== null);
  assert.deepEqual(first.entries, []);
  assert.equal(first.hardState?.kind === 'paxos' && first.hardState.lost, true);
  r.advance(first);
  const second = r.ready();
  assert.deepEqual(second?.entries.map((e) => e.index), [1], 'then the log');
});

test('phase 1\'s slots are re-proposed a window at a time: a long suffix in order, and a far slot (forged) costs no memory', () => {
  // Found by the peer-message fuzzer: a p1b reporting slot 2^52 - 1 made the new leader put a
  // no-op in every slot below it at once, and the node ran out of memory.
  const five = ['n1', 'n2', 'n3', 'n4', 'n5'];
  const acc = (slot: number, v: string): Entry => acceptedEntry(slot, b(1, 1), { origin: b(1, 1), type: EntryType.Normal, data: enc(v) });
  const proposer = (inflightMax: number): { r: ReturnType<typeof lone>; ballot: number } => {
    const r = lone('n1', five, {
      limits: { ...defaultLimits, inflightMax },
      recovered: { hardState: { kind: 'paxos', promised: b(5, 4), chosen: 0, end: 0 }, snapshot: null, entries: [] },
    });
    for (let i = 0; i < 40 && r.status().role !== 'candidate'; i++) r.tick();
    const p1a = messages(drain(r)).find((m) => m.type === 'p1a');
    return { r, ballot: p1a?.type === 'p1a' ? p1a.ballot : 0 };
  };

  const far = proposer(defaultLimits.inflightMax);
  far.r.step({ type: 'p1b', from: 'n2', to: 'n1', ballot: far.ballot, fromSlot: 1, chosen: 0, snapshotIndex: 0, next: 0, inc: 1, entries: [acc(2 ** 52 - 1, 'far')] });
  far.r.step({ type: 'p1b', from: 'n3', to: 'n1', ballot: far.ballot, fromSlot: 1, chosen: 0, snapshotIndex: 0, next: 0, inc: 1, entries: [] });
  assert.equal(far.r.status().role, 'leader');
  const sent = messages(drain(far.r)).flatMap((m) => (m.type === 'p2a' && m.to === 'n2' ? m.entries : []));
  assert.equal(sent.length, defaultLimits.inflightMax, 'one window of no-ops');
  assert.equal(far.r.status().lastIndex, defaultLimits.inflightMax);

  // Ten reported slots, a window of four: all re-proposed with their values, in order; a client
  // command proposed meanwhile takes slot 11.
  const { r, ballot } = proposer(4);
  r.step({ type: 'p1b', from: 'n2', to: 'n1', ballot, fromSlot: 1, chosen: 0, snapshotIndex: 0, next: 0, inc: 1,
    entries: Array.from({ length: 10 }, (_, i) => acc(i + 1, `v${i + 1}`)) });
  r.step({ type: 'p1b', from: 'n3', to: 'n1', ballot, fromSlot: 1, chosen: 0, snapshotIndex: 0, next: 0, inc: 1, entries: [] });
  assert.equal(r.status().role, 'leader');
  assert.ok(r.propose(enc('c')).ok);
  const proposed: Entry[] = [];
  const committed: string[] = [];
  for (let round = 0; round < 10 && committed.length < 11; round++) {
    const readies = drain(r);
    committed.push(...readies.flatMap((rd) => rd.committed.map((e) => dec(e.data))));
    const mine = messages(readies).flatMap((m) => (m.type === 'p2a' && m.to === 'n2' ? m.entries : []));
    assert.ok(mine.every((e) => e.index <= r.status().commitIndex + 4), 'never more than a window above the chosen point');
    proposed.push(...mine);
    const slots = mine.map((e) => e.index);
    for (const from of ['n2', 'n3']) r.step({ type: 'p2b', from, to: 'n1', ballot, hbTick: 0, slots, inc: 1 });
  }
  assert.deepEqual(proposed.map((e) => [e.index, dec(e.data)]), [...Array.from({ length: 10 }, (_, i) => [i + 1, `v${i + 1}`]), [11, 'c']]);
  assert.deepEqual(committed, [...Array.from({ length: 10 }, (_, i) => `v${i + 1}`), 'c']);
});
