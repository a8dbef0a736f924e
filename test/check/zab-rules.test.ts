import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HardState, Message } from '../../src/core/index.js';
import { InvariantChecker } from '../../src/check/index.js';

// Zab's rules, tested directly from messages, durable hard states and ticks (src/check/zab-rules.ts).

const electionTicks = 10;
function checker(leaseReads = false): InvariantChecker {
  return new InvariantChecker({ logMatching: true, leaderCompleteness: true, disabled: new Set(), protocol: 'zab', electionTicks, leaseReads });
}
const zab = (acceptedEpoch: number, currentEpoch: number): HardState => ({ kind: 'zab', acceptedEpoch, currentEpoch, commit: 0 });
const msg = (m: Record<string, unknown>): Message => m as unknown as Message;
const none = { hardState: null, snapshotIndex: 0, entryAt: () => null };
/** Speech judged by the Zab rules only (an empty durable view would fail ACKs on durability). */
function speak(c: InvariantChecker, node: string, ...messages: Message[]): void {
  c.onSpeak(node, messages, { ...none, hardState: zab(9, 9), entryAt: (i) => ({ index: i, id: 1, type: 0, data: new Uint8Array() }) }, none);
}
const rules = (c: InvariantChecker): string[] => c.violations.map((v) => v.invariant);

test('counted-durable: UPTODATE(e\') goes only to a follower whose currentEpoch e\' reached its disk (review Z1)', () => {
  const upToDate = msg({ type: 'uptodate', from: 'n1', to: 'n2', epoch: 3, commit: 4 });
  const c = checker();
  c.onDurableHardState('n2', zab(3, 2));
  speak(c, 'n1', upToDate);
  assert.deepEqual(rules(c), ['counted-durable']);
  assert.match(c.violations[0]?.message ?? '', /n1 sent UPTODATE\(3\) to n2, counting it as synced, but n2's currentEpoch never reached its disk above 2/);
  const ok = checker();
  ok.onDurableHardState('n2', zab(3, 3));
  ok.onWipe('n2'); // a wipe after the ACK does not make the leader's count wrong
  speak(ok, 'n1', upToDate);
  assert.ok(ok.ok);
});

test('ack-order: the NEWLEADER ACK first, then cumulative ACKs and pongs that never go down (review Z2)', () => {
  const ackEpoch = msg({ type: 'ackepoch', from: 'n2', to: 'n1', session: 5, round: 1, epoch: 3, fresh: true, voter: true, currentEpoch: 2, lastIndex: 0, lastId: 0, epochEnds: [] });
  const ack = (index: number, newLeader: boolean, session = 5): Message => msg({ type: 'ack', from: 'n2', to: 'n1', session, epoch: 3, index, newLeader });
  const pong = (ackedIndex: number): Message => msg({ type: 'pong', from: 'n2', to: 'n1', session: 5, epoch: 3, seq: 1, ackedIndex });

  const late = checker();
  speak(late, 'n2', ackEpoch, ack(5, false), ack(4, true));
  assert.deepEqual(rules(late), ['ack-order'], 'the PROPOSAL\'s ACK left before the NEWLEADER ACK');
  const lowered = checker();
  speak(lowered, 'n2', ackEpoch, ack(4, true), ack(5, false), pong(4));
  assert.deepEqual(rules(lowered), ['ack-order'], 'a pong repeats an index below one already ACKed');

  const ok = checker();
  // The NEWLEADER ACK is repeated on pings while waiting for UPTODATE, below later ACKs: fine.
  speak(ok, 'n2', ackEpoch, ack(4, true), pong(4), ack(5, false), ack(4, true), pong(5), ack(7, false));
  // A new handshake (session), or a new round of it (a new ACKEPOCH), starts afresh.
  speak(ok, 'n2', ack(2, true, 6), ack(3, false, 6), ackEpoch, pong(0), ack(1, true));
  assert.ok(ok.ok, ok.violations.map((v) => v.message).join('; '));
});

test('lost-state-votes: a member that lost its state never votes or says it is a voter again', () => {
  const vote = msg({ type: 'vote', from: 'n2', to: 'n1', state: 0, round: 2, leader: 'n3', epoch: 1, lastId: 1, lastIndex: 4 });
  const query = msg({ ...(vote as unknown as Record<string, unknown>), leader: null });
  const report = msg({ ...(vote as unknown as Record<string, unknown>), state: 1 });
  const info = (voter: boolean): Message => msg({ type: 'followerinfo', from: 'n2', to: 'n1', session: 1, acceptedEpoch: 0, voter });
  const ackEpoch = (fresh: boolean, voter: boolean): Message => msg({
    type: 'ackepoch', from: 'n2', to: 'n1', session: 1, round: 1, epoch: 3, fresh, voter, currentEpoch: 0, lastIndex: 0, lastId: 0, epochEnds: [],
  });
  const ok = checker();
  speak(ok, 'n2', vote, info(true), ackEpoch(true, true));
  ok.onWipe('n2');
  speak(ok, 'n2', query, report, info(false), ackEpoch(false, false));
  assert.ok(ok.ok, 'before the wipe it votes; after it, queries, reports and non-voter handshakes');
  for (const bad of [vote, info(true), ackEpoch(false, true), ackEpoch(true, false)]) {
    const c = checker();
    c.onWipe('n2');
    speak(c, 'n2', bad);
    assert.deepEqual(rules(c), ['lost-state-votes'], JSON.stringify(bad));
  }
});

test('lease-wait: with lease reads, no vote within electionTicks of a start or of an answered ping (review Z3)', () => {
  const vote = msg({ type: 'vote', from: 'n2', to: 'n3', state: 0, round: 1, leader: 'n2', epoch: 1, lastId: 1, lastIndex: 4 });
  const ping = msg({ type: 'ping', from: 'n1', to: 'n2', epoch: 1, commit: 0, sentIndex: 0, seq: 9 });
  const pong = msg({ type: 'pong', from: 'n2', to: 'n1', session: 1, epoch: 1, seq: 9, ackedIndex: 0 });
  const ticks = (c: InvariantChecker, n: number): void => {
    for (let i = 0; i < n; i++) c.onTick('n2');
  };
  const restarted = checker(true);
  restarted.onStart('n2', null, 0);
  ticks(restarted, electionTicks - 1);
  speak(restarted, 'n2', vote);
  assert.deepEqual(rules(restarted), ['lease-wait']);

  const answered = checker(true);
  answered.onStart('n2', null, 0);
  ticks(answered, 20);
  answered.onDeliver('n2', ping);
  ticks(answered, 3);
  speak(answered, 'n2', pong); // answered at tick 23, but the wait counts from the ping's arrival (20)
  ticks(answered, electionTicks - 4);
  speak(answered, 'n2', vote);
  assert.deepEqual(rules(answered), ['lease-wait']);

  const ok = checker(true);
  ok.onStart('n2', null, 0);
  ticks(ok, 20);
  ok.onDeliver('n2', ping);
  ticks(ok, 3);
  speak(ok, 'n2', pong);
  ticks(ok, electionTicks - 3);
  speak(ok, 'n2', vote);
  ok.onDeliver('n2', { ...ping, seq: 10 } as Message); // a ping it never answered gives no lease
  speak(ok, 'n2', vote);
  assert.ok(ok.ok, ok.violations.map((v) => v.message).join('; '));

  // Each leadership numbers its pings from 1: a pong held for an fsync that leaves after a later
  // leader's ping of the same number came (and was ignored: another epoch) answers the earlier
  // one, and the wait counts from that (sim --protocol zab --seeds 5661386 --variants --swarm).
  const reused = checker(true);
  reused.onStart('n2', null, 0);
  ticks(reused, 20);
  reused.onDeliver('n2', ping);
  ticks(reused, 5);
  reused.onDeliver('n2', { ...ping, from: 'n3', epoch: 2 } as Message); // n3's first pings of epoch 2 reuse n1's numbers
  reused.onDeliver('n2', { ...ping, epoch: 2 } as Message);
  speak(reused, 'n2', pong); // epoch 1: answers the ping that came at tick 20
  ticks(reused, electionTicks - 5);
  speak(reused, 'n2', vote);
  assert.ok(reused.ok, reused.violations.map((v) => v.message).join('; '));

  // A ping delivered twice (the network duplicates): the pong, held for an fsync, answers the
  // copy the follower handled at tick 20; the second copy came at tick 30, when the follower was
  // looking and ignored it, and the pong left after it. The lease the pong gives started when the
  // leader sent the ping, before its first delivery, so the wait counts from that one (sim
  // --protocol zab --seeds 701133 --faults all --variants --auth: n1 answered n3's pings 8..11 at
  // its tick 33, a duplicate of ping 9 came at 43, then the pongs left and n1 voted at 43).
  const duplicated = checker(true);
  duplicated.onStart('n2', null, 0);
  ticks(duplicated, 20);
  duplicated.onDeliver('n2', ping);
  ticks(duplicated, electionTicks);
  duplicated.onDeliver('n2', ping); // the duplicate, ignored by a looking member
  speak(duplicated, 'n2', pong, vote);
  assert.ok(duplicated.ok, duplicated.violations.map((v) => v.message).join('; '));
  // The wait still counts from the first delivery.
  const dupEarly = checker(true);
  dupEarly.onStart('n2', null, 0);
  ticks(dupEarly, 20);
  dupEarly.onDeliver('n2', ping);
  ticks(dupEarly, 2);
  dupEarly.onDeliver('n2', ping);
  speak(dupEarly, 'n2', pong);
  ticks(dupEarly, electionTicks - 3);
  speak(dupEarly, 'n2', vote);
  assert.deepEqual(rules(dupEarly), ['lease-wait']);

  const noLease = checker(false);
  noLease.onStart('n2', null, 0);
  speak(noLease, 'n2', vote);
  assert.ok(noLease.ok, 'without lease reads nothing rests on the wait');
});

test('stream-progress: a SNAP stream is never restarted within its handshake', () => {
  const sync = msg({ type: 'sync', from: 'n1', to: 'n2', session: 4, round: 1, epoch: 3, mode: 3, truncIndex: 0 });
  const snap = (offset: number): Message => msg({
    type: 'snap', from: 'n1', to: 'n2', epoch: 3, meta: { index: 15, id: 2, config: { voters: [], learners: [] } }, totalBytes: 48, offset, data: new Uint8Array(16),
  });
  const newEpoch = (session: number, round: number): Message => msg({ type: 'newepoch', from: 'n1', to: 'n2', session, round, epoch: 3 });
  const restarted = checker();
  speak(restarted, 'n1', sync, snap(0), snap(16), newEpoch(4, 2));
  assert.deepEqual(rules(restarted), ['stream-progress']);
  assert.match(restarted.violations[0]?.message ?? '', /n1 restarted its SNAP of checkpoint @15 to n2 at byte 32/);

  const ok = checker();
  speak(ok, 'n1', sync, snap(0), snap(16), snap(32), newEpoch(4, 2)); // done: a later round is the DIFF's business
  speak(ok, 'n1', sync, snap(0), newEpoch(5, 1)); // a new handshake of the follower's own
  assert.ok(ok.ok, ok.violations.map((v) => v.message).join('; '));
});
