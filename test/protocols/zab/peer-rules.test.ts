import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, PeerViolation } from '../../../src/core/index.js';
import { SyncMode } from '../../../src/protocols/zab/index.js';
import type { ZabMessage } from '../../../src/protocols/zab/index.js';
import { ZabNet, txt } from './net.js';

/**
 * A peer's message is outside data. One that breaks a rule no honest peer can break throws
 * PeerViolation from step() before it changes anything (the node driver drops that peer; the
 * simulator counts a violation); before, some reached an assert and crashed the receiver, and
 * one planted a txn its receiver would refuse to start with. Each forged message below is built
 * from a real one (same session and round), so only the broken rule tells it apart.
 */
function forgedIsRefused(net: ZabNet, to: string, forged: ZabMessage, rule: RegExp): void {
  const before = net.replica(to).status();
  assert.throws(() => net.replica(to).step(forged), (err: unknown) => err instanceof PeerViolation && rule.test(err.message));
  assert.deepEqual(net.replica(to).status(), before);
}

/** A 3-member cluster where x1, x2 are committed everywhere, and f restarted into a new handshake. */
function rejoining(seed: number): { net: ZabNet; L: string; f: string } {
  const net = new ZabNet(['a', 'b', 'c'], { seed });
  net.startAll();
  const L = net.electLeader();
  const f = net.ids.find((id) => id !== L) as string;
  assert.ok(net.commit('x1'));
  assert.ok(net.commit('x2'));
  assert.ok(net.tickUntil(() => net.node(f).appliedIndex === 2));
  net.crash(f);
  net.start(f);
  return { net, L, f };
}

test('a TRUNC below the follower\'s commit index is a PeerViolation, and the real sync still completes', () => {
  const { net, L, f } = rejoining(71);
  assert.equal(net.replica(f).status().commitIndex, 2);
  assert.ok(net.holdAt(L, f, (m) => m.type === 'sync'));
  const sync = net.peek(L, f) as Extract<ZabMessage, { type: 'sync' }>;
  forgedIsRefused(net, f, { ...sync, mode: SyncMode.Trunc, truncIndex: 0 }, /TRUNC to 0 below commit 2/);
  assert.ok(net.tickUntil(() => net.replica(f).status().leader === L), 'the real handshake went on');
  assert.deepEqual(net.appliedTexts(f), ['x1', 'x2']);
});

test('a PROPOSAL carrying a txn of a later epoch is a PeerViolation (it would leave a history the replica refuses at start)', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 72 });
  net.startAll();
  const L = net.electLeader();
  const f = net.ids.find((id) => id !== L) as string;
  assert.ok(net.commit('x1'));
  assert.ok(net.tickUntil(() => net.replica(f).status().leader === L && net.node(f).appliedIndex === 1));
  const epoch = net.replica(L).status().term;
  const forged: ZabMessage = {
    type: 'proposal', from: L, to: f, epoch, commit: 0,
    entries: [{ index: 2, id: epoch + 1, type: EntryType.Normal, data: txt('forged') }],
  };
  forgedIsRefused(net, f, forged, /of an epoch above its own/);
  assert.ok(net.commit('x2'));
  assert.ok(net.tickUntil(() => net.node(f).appliedIndex === 2));
  assert.deepEqual(net.appliedTexts(f), ['x1', 'x2']);
});

test('an ACKEPOCH whose epoch summary runs past its last txn is a PeerViolation, not a failed assert in the sync plan', () => {
  const { net, L, f } = rejoining(73);
  assert.ok(net.holdAt(f, L, (m) => m.type === 'ackepoch'));
  const ack = net.peek(f, L) as Extract<ZabMessage, { type: 'ackepoch' }>;
  // Its last txn (1, epoch 0) is not the leader's, and the summary claims epoch 1 ran to index 5.
  const forged: ZabMessage = { ...ack, currentEpoch: 0, lastIndex: 1, lastId: 0, epochEnds: [{ epoch: 1, lastIndex: 5 }] };
  forgedIsRefused(net, L, forged, /epoch summary/);
  assert.ok(net.tickUntil(() => net.replica(f).status().leader === L), 'the real handshake went on');
  assert.deepEqual(net.appliedTexts(f), ['x1', 'x2']);
});

/** Runs the cluster until a message matching pred waits at the head of some link: [from, to], held there. */
function firstOnAnyLink(net: ZabNet, pred: (m: ZabMessage) => boolean): [string, string] | null {
  for (let t = 0; t < 400; t++) {
    for (let round = 0; round < 10_000; round++) {
      let busy = false;
      for (const id of net.ids) if (net.isUp(id)) busy = net.drain(id) || busy;
      for (const a of net.ids) {
        for (const b of net.ids) {
          for (let m = a === b ? null : net.peek(a, b); m !== null; m = net.peek(a, b)) {
            if (pred(m)) return [a, b];
            net.deliverOne(a, b);
            busy = true;
          }
        }
      }
      if (!busy) break;
    }
    net.tick();
  }
  return null;
}

test('an ACKEPOCH that is fresh yet not a voter is a PeerViolation: it would count toward the epoch quorum and crash the leader at its ACK', () => {
  // An honest follower is fresh only when it may vote (a member that lost its state is neither).
  // The leader took `fresh` from the message alone, so such a member counted toward the quorum it
  // may not join, and its NEWLEADER ACK then failed the leader's own assert (found by a review).
  const net = new ZabNet(['a', 'b', 'c'], { seed: 5 });
  net.startAll();
  const hit = firstOnAnyLink(net, (m) => m.type === 'ackepoch');
  assert.ok(hit !== null, 'an ACKEPOCH went out');
  const [f, L] = hit;
  const ack = net.peek(f, L) as Extract<ZabMessage, { type: 'ackepoch' }>;
  assert.equal(ack.fresh && ack.voter, ack.fresh, 'the honest one is fresh only as a voter');
  forgedIsRefused(net, L, { ...ack, fresh: true, voter: false }, /fresh from a member that says it may not vote/);
  assert.ok(net.tickUntil(() => net.replica(f).status().leader === L), 'the real handshake went on');
});

test('an ACK naming another handshake (an earlier attempt or life) is not counted', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 74 });
  net.startAll();
  const L = net.electLeader();
  const [f, g] = net.ids.filter((id) => id !== L) as [string, string];
  assert.ok(net.commit('x1'));
  net.crash(g); // from now on f's ACK decides
  assert.ok(net.replica(L).propose(txt('x2')).ok);
  net.drain(L);
  net.stabilize();
  assert.equal(net.replica(L).status().commitIndex, 2, 'f\'s real ACK commits x2');
  assert.ok(net.replica(L).propose(txt('x3')).ok);
  net.drain(L);
  assert.ok(net.holdAt(f, L, (m) => m.type === 'ack' && m.index === 3));
  const ack = net.dropFirst(f, L, (m) => m.type === 'ack') as Extract<ZabMessage, { type: 'ack' }>;
  net.replica(L).step({ ...ack, session: ack.session + 1 });
  net.drain(L);
  assert.equal(net.replica(L).status().commitIndex, 2, 'an ACK of another session counted');
  net.inject(ack);
  net.stabilize();
  assert.equal(net.replica(L).status().commitIndex, 3);
});
