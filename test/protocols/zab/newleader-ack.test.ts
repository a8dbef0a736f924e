import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ZabMutant } from '../../../src/protocols/zab/index.js';
import { ZabNet, txt } from './net.js';

/**
 * Nothing stands in for the NEWLEADER ACK (Zab §IV-C; PROTOCOLS.md Zab 5 (d)): only it says that
 * the follower's currentEpoch = e' is durable. ZooKeeper lost committed txns by counting a
 * follower before that write (ZOOKEEPER-4643, 4646); review Z1 found a pong doing the same here.
 *
 * Scenario: f is down while the others move to epoch e2 and commit x2. f restarts and joins the
 * leader L late. Its Ready that writes the DIFF is slow (handed out, not finished) while
 * NEWLEADER, a PROPOSAL p1 and a ping arrive; then a PROPOSAL is lost, the next one shows a gap
 * and f resyncs: the NEWLEADER ACK, which waited for currentEpoch, is dropped. L is cut from its
 * other follower, so f is the only follower that can make p1 committed.
 */
interface Z1Outcome {
  /** L committed p1 although f's durable currentEpoch is below e2. */
  premature: boolean;
  violations: string[];
}

function z1(mutants: string[]): Z1Outcome {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 11, replica: () => ({ mutants: new Set(mutants) }) });
  net.startAll();
  const l1 = net.electLeader();
  assert.ok(net.commit('x1'));
  const [f, g0] = net.ids.filter((id) => id !== l1) as [string, string];
  net.crash(f);
  net.crash(l1);
  net.start(l1);
  const L = net.electLeader();
  const G = L === l1 ? g0 : l1;
  const e2 = net.replica(L).status().term;
  assert.ok(e2 >= 2);
  assert.ok(net.commit('x2'));
  net.start(f);
  assert.ok(net.holdAt(L, f, (m) => m.type === 'newleader'), 'L never sent NEWLEADER to f');
  const slowDiff = net.replica(f).ready();
  assert.ok(slowDiff !== null && slowDiff.entries.length > 0, 'the Ready that writes the DIFF');
  assert.equal(net.deliverOne(L, f)?.type, 'newleader');
  net.cut(L, G);
  const R = net.replica(L);
  assert.ok(R.propose(txt('p1')).ok);
  net.drain(L);
  const p1 = R.status().lastIndex;
  assert.equal(net.deliverOne(L, f)?.type, 'proposal');
  let pinged = false;
  for (let i = 0; i < 10 && !pinged; i++) {
    R.tick();
    net.drain(L);
    if (net.peek(L, f)?.type === 'ping') pinged = net.deliverOne(L, f) !== null;
  }
  assert.ok(pinged, 'no ping reached f');
  for (const w of ['p2', 'p3']) {
    assert.ok(R.propose(txt(w)).ok);
    net.drain(L);
  }
  net.dropFirst(L, f, (m) => m.type === 'proposal'); // p2 is lost
  assert.equal(net.deliverOne(L, f)?.type, 'proposal'); // p3 shows the gap: f resyncs
  net.finishReady(f, slowDiff);
  net.drain(f);
  for (let i = 0; i < 5; i++) {
    while (net.deliverOne(f, L) !== null) { /* every message f sent reaches L */ }
    net.drain(L);
    net.drain(f);
  }
  const hs = net.node(f).disk.hardState;
  const fEpoch = hs?.kind === 'zab' ? hs.currentEpoch : 0;
  const premature = R.status().commitIndex >= p1 && fEpoch < e2;
  // L crashes; f and G elect a leader between them. If p1 was committed, it must survive.
  net.crash(L);
  net.heal();
  net.flushLinks(L);
  net.crash(f);
  net.start(f);
  net.electLeader();
  assert.ok(net.commit('z'));
  return { premature, violations: net.violations };
}

test('Z1: a pong never stands in for the NEWLEADER ACK of a follower whose currentEpoch is not durable', () => {
  const o = z1([]);
  assert.equal(o.premature, false, 'L committed p1 counting f, whose currentEpoch on disk is below e2');
  assert.deepEqual(o.violations, []);
});

test('mutant pong-as-newleader-ack: L counts f on its pong, commits p1, and p1 is lost', () => {
  const o = z1([ZabMutant.PongAsNewLeaderAck]);
  assert.equal(o.premature, true);
  assert.ok(o.violations.some((v) => /applied \(\d+, \d+\) where another applied/.test(v)), o.violations.join('; '));
});

/**
 * Review Z2: a PROPOSAL that reaches a rejoining follower after NEWLEADER but before its epoch is
 * durable. Its ACK must not leave ahead of the NEWLEADER ACK (the leader ignores a follower's ACKs
 * until it is synced), and what the follower's pongs repeat must never go down. The leader's
 * other follower is cut off, so the txn commits only on this follower's ACK.
 */
function z2(proposalFirst: boolean, mutants: string[] = []): { target: number; commit: number; pongs: number[] } {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 11, replica: () => ({ mutants: new Set(mutants) }) });
  net.startAll();
  const l = net.electLeader();
  const [f1, f2] = net.ids.filter((id) => id !== l) as [string, string];
  assert.ok(net.commit('x1'));
  net.crash(f1);
  assert.ok(net.commit('x2'));
  net.start(f1);
  assert.ok(net.holdAt(l, f1, (m) => m.type === 'newleader'), 'the leader never sent NEWLEADER to f1');
  net.drain(f1); // the DIFF is durable
  assert.equal(net.deliverOne(l, f1)?.type, 'newleader');
  net.cut(l, f2);
  assert.ok(net.replica(l).propose(txt('x3')).ok);
  net.drain(l);
  const target = net.replica(l).status().lastIndex;
  if (!proposalFirst) net.drain(f1); // control: the NEWLEADER ACK leaves before the PROPOSAL comes
  assert.equal(net.deliverOne(l, f1)?.type, 'proposal');
  const from = net.delivered.length;
  net.tickUntil(() => net.replica(l).status().commitIndex >= target, 100);
  const pongs = net.delivered.slice(from).flatMap((m) => (m.type === 'pong' && m.from === f1 ? [m.ackedIndex] : []));
  return { target, commit: net.replica(l).status().commitIndex, pongs };
}

test('Z2 control: a PROPOSAL after the NEWLEADER ACK left commits on that follower alone', () => {
  const o = z2(false);
  assert.ok(o.commit >= o.target, JSON.stringify(o));
});

test('Z2: a PROPOSAL between NEWLEADER and its ACK commits; the ACK order holds and pongs never go down', () => {
  const o = z2(true);
  assert.ok(o.commit >= o.target, `commit ${o.commit} < ${o.target}; f1's pongs repeat ${JSON.stringify(o.pongs)}`);
  assert.ok(o.pongs.every((a) => a >= o.target), JSON.stringify(o.pongs));
});

test('mutant late-newleader-ack: the PROPOSAL\'s ACK leaves first and is ignored, the pongs repeat a lower index, nothing commits', () => {
  const o = z2(true, [ZabMutant.LateNewLeaderAck]);
  assert.ok(o.commit < o.target, JSON.stringify(o));
  assert.ok(o.pongs.length > 0 && o.pongs.every((a) => a < o.target), JSON.stringify(o.pongs));
});

test('a lost NEWLEADER ACK is repeated on the next ping: the follower is synced without a new election', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 13 });
  net.startAll();
  const l = net.electLeader();
  const [f] = net.ids.filter((id) => id !== l) as [string, string];
  assert.ok(net.commit('x1'));
  net.crash(f);
  assert.ok(net.commit('x2'));
  net.start(f);
  assert.ok(net.holdAt(f, l, (m) => m.type === 'ack' && m.newLeader), 'f never sent its NEWLEADER ACK');
  net.dropFirst(f, l, (m) => m.type === 'ack' && m.newLeader);
  const epoch = net.replica(l).status().term;
  // Within two heartbeats, far below the 2 × electionTicks after which either side gives up.
  assert.ok(net.tickUntil(() => net.replica(f).status().leader === l, 2 * 2 + 1), 'f was not synced');
  assert.equal(net.replica(l).status().term, epoch);
  assert.equal(net.replica(l).status().role, 'leader');
});
