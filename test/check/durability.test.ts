import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, type Entry, type HardState, type Message } from '../../src/core/index.js';
import { InvariantChecker, unbacked, vouchesOf, type DiskView } from '../../src/check/index.js';

// PROTOCOLS.md invariant 6, judged from each message alone against the sender's durable disk.

const entry = (index: number, id: number, data = `d${index}`): Entry => ({ index, id, type: EntryType.Normal, data: new TextEncoder().encode(data) });
function disk(hardState: HardState | null, entries: Entry[], snapshotIndex = 0): DiskView {
  return { hardState, snapshotIndex, entryAt: (i) => entries.find((e) => e.index === i) ?? null };
}
const raftHard = (term: number, vote: string | null): HardState => ({ kind: 'raft', term, vote, commit: 0 });

/** Why the first thing `m` vouches for is not on `durable`, or null. */
function judge(protocol: 'raft' | 'paxos' | 'zab', m: Message, durable: DiskView, written: DiskView = durable): string | null {
  for (const v of vouchesOf(protocol, m)) {
    const why = unbacked(v, durable, written);
    if (why !== null) return why;
  }
  return null;
}

test('raft: a granted vote needs its (term, vote) on disk; a later durable term supersedes it', () => {
  const grant = { type: 'vote_resp', from: 'n2', to: 'n1', term: 3, granted: true } as Message;
  assert.match(judge('raft', grant, disk(raftHard(3, null), [])) ?? '', /durable vote in that term is none/);
  assert.match(judge('raft', grant, disk(raftHard(2, null), [])) ?? '', /durable term is 2/);
  assert.match(judge('raft', grant, disk(raftHard(3, 'n3'), [])) ?? '', /durable vote in that term is n3/);
  assert.equal(judge('raft', grant, disk(raftHard(3, 'n1'), [])), null);
  assert.equal(judge('raft', grant, disk(raftHard(4, null), [])), null);
  const refuse = { type: 'vote_resp', from: 'n2', to: 'n1', term: 3, granted: false } as Message;
  assert.equal(judge('raft', refuse, disk(raftHard(3, null), [])), null, 'a refusal vouches only for the term');
  const pre = { type: 'prevote_resp', from: 'n2', to: 'n1', term: 9, granted: true } as Message;
  assert.equal(judge('raft', pre, disk(raftHard(3, null), [])), null, 'PreVote carries a term nobody holds');
});

test('raft: an append response needs the entries through its index on disk, as the member holds them', () => {
  const ack = { type: 'app_resp', from: 'n2', to: 'n1', term: 2, index: 3, reject: false, hintIndex: 0, hintTerm: 0 } as Message;
  const held = [entry(1, 1), entry(2, 2), entry(3, 2)];
  assert.equal(judge('raft', ack, disk(raftHard(2, null), held)), null);
  assert.match(judge('raft', ack, disk(raftHard(2, null), held.slice(0, 2)), disk(raftHard(2, null), held)) ?? '', /entry 3 is not on disk/);
  assert.match(judge('raft', ack, disk(raftHard(2, null), [entry(1, 1), entry(2, 1), entry(3, 1)]), disk(raftHard(2, null), held)) ?? '', /not the one the member holds/);
  assert.equal(judge('raft', ack, disk(raftHard(2, null), [], 3)), null, 'inside the durable snapshot');
  // Acknowledged at term 2, then cut by a leader of term 4 in the same Ready: a delayed ack.
  assert.equal(judge('raft', ack, disk(raftHard(4, null), [entry(1, 1)]), disk(raftHard(4, null), [entry(1, 1)])), null);
  const reject = { ...ack, reject: true } as Message;
  assert.equal(judge('raft', reject, disk(raftHard(2, null), [])), null);
  assert.match(judge('raft', reject, disk(raftHard(1, null), [])) ?? '', /term 2, but its durable term is 1/);
});

test('paxos: a p1b needs its promise on disk, a p2b each slot\'s value', () => {
  const p1b = { type: 'p1b', from: 'n2', to: 'n1', ballot: 1025, fromSlot: 1, chosen: 0, snapshotIndex: 0, entries: [], next: 0 } as Message;
  assert.match(judge('paxos', p1b, disk({ kind: 'paxos', promised: 1024, chosen: 0 }, [])) ?? '', /durable promise is 1024/);
  assert.equal(judge('paxos', p1b, disk({ kind: 'paxos', promised: 1025, chosen: 0 }, [])), null);
  const p2b = { type: 'p2b', from: 'n2', to: 'n1', ballot: 1025, hbTick: 0, slots: [1, 2] } as Message;
  const hard: HardState = { kind: 'paxos', promised: 1025, chosen: 0 };
  assert.equal(judge('paxos', p2b, disk(hard, [entry(1, 7), entry(2, 7)])), null);
  assert.match(judge('paxos', p2b, disk(hard, [entry(1, 7), entry(2, 0)])) ?? '', /slot 2 .* no value for it is on disk/);
  assert.match(judge('paxos', p2b, disk(hard, [entry(1, 7)]), disk(hard, [entry(1, 7), entry(2, 7)])) ?? '', /slot 2/);
  const beat = { ...p2b, slots: [] } as Message;
  assert.equal(judge('paxos', beat, disk(null, [])), null, 'a heartbeat answer vouches for nothing');
});

test('zab: ACKEPOCH needs acceptedEpoch, the NEWLEADER ACK currentEpoch and the txns, a PROPOSAL ACK the txns', () => {
  const zab = (acceptedEpoch: number, currentEpoch: number): HardState => ({ kind: 'zab', acceptedEpoch, currentEpoch, commit: 0 });
  const ackEpoch = { type: 'ackepoch', from: 'n2', to: 'n1', epoch: 3 } as Message;
  assert.match(judge('zab', ackEpoch, disk(zab(2, 2), [])) ?? '', /durable acceptedEpoch is 2/);
  assert.equal(judge('zab', ackEpoch, disk(zab(3, 2), [])), null);
  const ackNewLeader = { type: 'ack', from: 'n2', to: 'n1', epoch: 3, index: 2, newLeader: true, voter: true } as Message;
  const txns = [entry(1, 1), entry(2, 1)];
  assert.match(judge('zab', ackNewLeader, disk(zab(3, 2), txns)) ?? '', /durable currentEpoch is 2/);
  assert.match(judge('zab', ackNewLeader, disk(zab(3, 3), txns.slice(0, 1)), disk(zab(3, 3), txns)) ?? '', /entry 2 is not on disk/);
  assert.equal(judge('zab', ackNewLeader, disk(zab(3, 3), txns)), null);
  const ack = { type: 'ack', from: 'n2', to: 'n1', epoch: 3, index: 3, newLeader: false, voter: true } as Message;
  assert.match(judge('zab', ack, disk(zab(3, 3), txns), disk(zab(3, 3), [...txns, entry(3, 3)])) ?? '', /entry 3 is not on disk/);
});

test('zab: a pong repeats its handshake\'s last ACK and vouches for it: currentEpoch and the txns through ackedIndex (review Z1)', () => {
  const zab = (acceptedEpoch: number, currentEpoch: number): HardState => ({ kind: 'zab', acceptedEpoch, currentEpoch, commit: 0 });
  const txns = [entry(1, 1), entry(2, 3)];
  const pong = (ackedIndex: number): Message => ({ type: 'pong', from: 'n2', to: 'n1', session: 7, epoch: 3, seq: 4, ackedIndex }) as Message;
  assert.equal(judge('zab', pong(0), disk(zab(3, 1), [])), null, 'before NEWLEADER a pong repeats no ACK');
  // The review's case: the follower gave up its handshake before currentEpoch = 3 was written.
  assert.match(judge('zab', pong(2), disk(zab(3, 1), txns)) ?? '', /ACK of NEWLEADER 3, but its durable currentEpoch is 1/);
  assert.match(judge('zab', pong(2), disk(zab(3, 3), txns.slice(0, 1)), disk(zab(3, 3), txns)) ?? '', /entry 2 is not on disk/);
  assert.equal(judge('zab', pong(2), disk(zab(3, 3), txns)), null);
});

test('the invariant checker judges speech only when it knows the protocol, and names the message', () => {
  const grant = { type: 'vote_resp', from: 'n2', to: 'n1', term: 3, granted: true } as Message;
  const d = disk(raftHard(3, null), []);
  const blind = new InvariantChecker({ logMatching: true, leaderCompleteness: true, disabled: new Set() });
  blind.onSpeak('n2', [grant], d, d);
  assert.ok(blind.ok);
  const c = new InvariantChecker({ logMatching: true, leaderCompleteness: true, disabled: new Set(), protocol: 'raft' });
  c.onSpeak('n2', [grant], d, d);
  assert.equal(c.violations[0]?.invariant, 'durability');
  assert.match(c.violations[0]?.message ?? '', /n2 sent vote_resp to n1 vouching for a vote for n1 in term 3/);
});

test('zab: a currentEpoch newly on disk needs the history its NEWLEADER synced on disk too (ZOOKEEPER-4643)', () => {
  const c = new InvariantChecker({ logMatching: true, leaderCompleteness: true, disabled: new Set(), protocol: 'zab' });
  const zab = (currentEpoch: number): HardState => ({ kind: 'zab', acceptedEpoch: 3, currentEpoch, commit: 0 });
  c.onDeliver('n2', { type: 'newleader', from: 'n1', to: 'n2', epoch: 3, lastIndex: 4 } as Message);
  c.observeDurable('n2', disk(zab(2), [entry(1, 1)]));
  assert.ok(c.ok, 'the old epoch vouches for nothing new');
  c.observeDurable('n2', disk(zab(3), [entry(1, 1), entry(2, 1)]));
  assert.equal(c.violations[0]?.invariant, 'durability');
  assert.match(c.violations[0]?.message ?? '', /n2 has currentEpoch 3 on disk, which vouches for the history NEWLEADER 3 synced through 4, but entry 4 is not on disk/);
  const ok = new InvariantChecker({ logMatching: true, leaderCompleteness: true, disabled: new Set(), protocol: 'zab' });
  ok.onDeliver('n2', { type: 'newleader', from: 'n1', to: 'n2', epoch: 3, lastIndex: 4 } as Message);
  ok.observeDurable('n2', disk(zab(3), [entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 3)]));
  ok.observeDurable('n3', disk(zab(3), []));
  assert.ok(ok.ok, 'the txns first, then the epoch; and a node that got no NEWLEADER(3) is not judged by one');
});

test('a member that lost its state never votes or promises again: its disk cannot back any vote (the project decision)', () => {
  for (const [protocol, vote, hard] of [
    ['raft', { type: 'vote_resp', from: 'n2', to: 'n1', term: 5, granted: true }, raftHard(5, 'n1')],
    ['paxos', { type: 'p1b', from: 'n2', to: 'n1', ballot: 9, fromSlot: 1, chosen: 0, snapshotIndex: 0, entries: [], next: 1, inc: 3 },
      { kind: 'paxos', promised: 9, chosen: 0 }],
  ] as const) {
    const c = new InvariantChecker({ logMatching: false, leaderCompleteness: false, disabled: new Set(), protocol });
    const d = disk(hard, []);
    c.onSpeak('n2', [vote as unknown as Message], d, d);
    assert.ok(c.ok, `${protocol}: the vote is on disk, and the member never lost its state`);
    c.onWipe('n2');
    c.onSpeak('n2', [vote as unknown as Message], d, d);
    assert.equal(c.violations[0]?.invariant, 'lost-never-votes', protocol);
    assert.match(c.violations[0]?.message ?? '', /its disk was wiped|lost its state/);
  }
  // Refusals, acknowledgements as a non-voter, Zab's ACKEPOCH (sent with voter false) are no votes.
  const c = new InvariantChecker({ logMatching: false, leaderCompleteness: false, disabled: new Set(), protocol: 'raft' });
  c.onWipe('n2');
  const d = disk(raftHard(5, null), [entry(1, 5)]);
  c.onSpeak('n2', [{ type: 'vote_resp', from: 'n2', to: 'n1', term: 5, granted: false } as Message,
    { type: 'app_resp', from: 'n2', to: 'n1', term: 5, index: 1, reject: false, hintIndex: 0, hintTerm: 0 } as Message], d, d);
  assert.ok(c.ok);
});
