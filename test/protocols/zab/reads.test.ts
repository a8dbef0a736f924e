import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ZabNet } from './net.js';

/** PROTOCOLS.md Zab 7: linearizable reads through a leader quorum round, or a lease. */

test('a read at the leader is served at its commit index once a quorum confirmed its leadership', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 51 });
  net.startAll();
  const l = net.electLeader();
  assert.ok(net.commit('x1'));
  assert.ok(net.commit('x2'));
  net.replica(l).read(7);
  net.drain(l);
  assert.deepEqual(net.node(l).readStates, [], 'served before any follower answered');
  net.stabilize();
  assert.deepEqual(net.node(l).readStates, [{ ctx: 7, index: 2 }]);
});

test('a follower refuses reads with not_leader and names the leader', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 52 });
  net.startAll();
  const l = net.electLeader();
  net.tickUntil(() => net.ids.every((id) => net.replica(id).status().leader === l));
  const f = net.ids.find((id) => id !== l) as string;
  net.replica(f).read(1);
  net.drain(f);
  assert.deepEqual(net.node(f).readFailures, [{ ctx: 1, reason: 'not_leader', leaderHint: l }]);
});

test('a deposed leader cut off from the quorum serves no read; it fails them when it steps down', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 53 });
  net.startAll();
  const old = net.electLeader();
  assert.ok(net.commit('x1'));
  net.isolate(old);
  net.replica(old).read(9);
  const fresh = net.tickUntil(() => net.leader() !== null && net.leader() !== old, 200);
  assert.ok(fresh);
  assert.ok(net.commit('x2'));
  net.tickUntil(() => net.node(old).readFailures.length > 0, 100);
  assert.deepEqual(net.node(old).readStates, []);
  assert.deepEqual(net.node(old).readFailures, [{ ctx: 9, reason: 'not_leader', leaderHint: null }]);
});

test('pending reads are bounded by limits.pendingReadsMax', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 54 });
  net.startAll();
  const l = net.electLeader();
  net.isolate(l);
  const max = net.replica(l).opts.limits.pendingReadsMax;
  for (let i = 0; i <= max; i++) net.replica(l).read(i);
  net.drain(l);
  assert.deepEqual(net.node(l).readFailures, [{ ctx: max, reason: 'overloaded', leaderHint: null }]);
});

test('with leaseReads a leader that heard from a quorum recently serves a read without a new round', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 55, replica: () => ({ leaseReads: true }) });
  net.startAll();
  const l = net.electLeader();
  assert.ok(net.commit('x1'));
  net.tick();
  net.stabilize();
  net.replica(l).read(3);
  net.drain(l);
  assert.deepEqual(net.node(l).readStates, [{ ctx: 3, index: 1 }]);
  // Cut off, the lease runs out within electionTicks and reads wait for a quorum again.
  net.isolate(l);
  for (let i = 0; i < 10; i++) net.tick();
  net.replica(l).read(4);
  net.stabilize();
  assert.equal(net.node(l).readStates.some((r) => r.ctx === 4), false);
});

test('reads arriving before a ping round leaves share it: one ping per follower, every read served', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 54 });
  net.startAll();
  const l = net.electLeader();
  assert.ok(net.commit('x1'));
  net.stabilize();
  const r = net.replica(l);
  for (const ctx of [1, 2, 3]) r.read(ctx);
  const rd = net.readyOnce(l);
  assert.ok(rd !== null);
  const pings = [...rd.earlyMessages, ...rd.messages].filter((m) => m.type === 'ping');
  assert.deepEqual(pings.map((m) => m.to).sort(), net.ids.filter((id) => id !== l));
  assert.deepEqual(net.node(l).readStates, [], 'served before any follower answered');
  net.stabilize();
  assert.deepEqual(net.node(l).readStates, [1, 2, 3].map((ctx) => ({ ctx, index: 1 })));
  // A read after that round left waits for a round of its own.
  r.read(4);
  const next = net.readyOnce(l);
  assert.equal([...(next?.earlyMessages ?? []), ...(next?.messages ?? [])].filter((m) => m.type === 'ping').length, 2);
  net.stabilize();
  assert.deepEqual(net.node(l).readStates.at(-1), { ctx: 4, index: 1 });
});
