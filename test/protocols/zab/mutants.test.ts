import { test } from 'node:test';
import assert from 'node:assert/strict';
import { zab, ZabMutant, zabUnobservableMutants } from '../../../src/protocols/zab/index.js';
import { ZabNet, txt } from './net.js';

/**
 * Each known-bad variant misbehaving in a deterministic scenario, next to the correct protocol
 * passing the same scenario. The simulator finds these on its own; these pin them down.
 */

test('zab.mutants lists every known-bad variant the simulator can observe', () => {
  const observable = Object.values(ZabMutant).filter((m) => !zabUnobservableMutants.includes(m));
  assert.deepEqual(zab.mutants.map((m) => m.name).sort(), observable.sort());
  assert.deepEqual(zabUnobservableMutants, [ZabMutant.SelfAckAtAppend]);
});

function gapScenario(mutants: string[]): ZabNet {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 31, replica: () => ({ mutants: new Set(mutants) }) });
  net.startAll();
  const l = net.electLeader();
  const [f1] = net.ids.filter((id) => id !== l) as [string, string];
  net.stabilize();
  assert.ok(net.replica(l).propose(txt('p1')).ok);
  net.drain(l);
  assert.equal(net.dropQueued(l, f1), 1); // PROPOSAL p1 to f1 is lost
  assert.ok(net.replica(l).propose(txt('p2')).ok);
  net.tickUntil(() => net.ids.every((id) => net.node(id).appliedIndex >= 2), 100);
  return net;
}

test('a follower that sees a gap in the zxids resyncs and never accepts the later proposal out of order', () => {
  const net = gapScenario([]);
  assert.deepEqual(net.violations, []);
  for (const id of net.ids) assert.deepEqual(net.appliedTexts(id), ['p1', 'p2']);
});

test('mutant accept-gap: the follower takes p2 in p1\'s place and delivers a different txn at index 1', () => {
  const net = gapScenario([ZabMutant.AcceptGap]);
  assert.ok(net.violations.some((v) => /applied \(1, 1\) where another applied/.test(v)), net.violations.join('; '));
});

function splitScenario(mutants: string[]): ZabNet {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 12, replica: () => ({ mutants: new Set(mutants) }) });
  net.startAll();
  const a = net.electLeader();
  const [b, c] = net.ids.filter((id) => id !== a) as [string, string];
  assert.ok(net.commit('x1'));
  net.cut(a, c);
  assert.ok(net.commit('x2'));
  net.isolate(a);
  assert.ok(net.replica(a).propose(txt('x3')).ok);
  net.stabilize();
  net.crash(a);
  net.heal();
  assert.equal(net.electLeader(), b);
  assert.ok(net.commit('y3'));
  net.start(a);
  net.tickUntil(() => net.ids.every((id) => net.node(id).appliedIndex >= 3), 200);
  return net;
}

test('mutant trunc-past-prefix (ZOOKEEPER-1154): TRUNC placed by index leaves the stale x3 and splits the history', () => {
  const good = splitScenario([]);
  assert.deepEqual(good.violations, []);
  const bad = splitScenario([ZabMutant.TruncPastPrefix]);
  assert.ok(bad.violations.some((v) => /applied \(3, 1\) where another applied \(3, 2\)/.test(v)), bad.violations.join('; '));
});

function ackScenario(mutants: string[]): ZabNet {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 33, replica: () => ({ mutants: new Set(mutants) }) });
  net.startAll();
  const l = net.electLeader();
  const [f1, f2] = net.ids.filter((id) => id !== l) as [string, string];
  net.stabilize();
  net.crash(f2);
  // f1 crashes before the Ready that writes x reaches its disk.
  net.crashPlan = { id: f1, when: (rd) => rd.entries.some((e) => e.index === 1), mode: 'before-write' };
  assert.ok(net.replica(l).propose(txt('x')).ok);
  net.tickUntil(() => !net.isUp(f1), 50);
  assert.equal(net.crashPlan, null, 'the crash point was never reached');
  net.stabilize();
  net.crash(l);
  net.start(f1);
  net.start(f2);
  net.electLeader();
  net.commit('z');
  return net;
}

test('an ACK leaves only with the txns it vouches for: a follower crashing before its write commits nothing', () => {
  const net = ackScenario([]);
  assert.deepEqual(net.violations, []);
});

test('mutant ack-before-durable (ZOOKEEPER-3911): x is committed on an ACK that was never backed by a write, then lost', () => {
  const net = ackScenario([ZabMutant.AckBeforeDurable]);
  assert.ok(net.violations.some((v) => /applied \(1, 2\) where another applied \(1, 1\)/.test(v)), net.violations.join('; '));
});
