import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultLimits } from '../../../src/core/index.js';
import { SyncMode } from '../../../src/protocols/zab/index.js';
import type { SyncMsg } from '../../../src/protocols/zab/index.js';
import { ZabNet, txt } from './net.js';

/** Zab §IV-C (synchronization): each way a leader brings a follower to its history. */

/** 4-byte chunks, at most 8 bytes of them per heartbeat: a SNAP spans several heartbeats. */
const defaultLimitsSmallChunks = { ...defaultLimits, snapshotChunkBytes: 4, inflightBytesMax: 8 };

function syncsTo(net: ZabNet, id: string): SyncMsg[] {
  return net.delivered.filter((m): m is SyncMsg => m.type === 'sync' && m.to === id);
}

function allApplied(net: ZabNet, n: number): boolean {
  return net.ids.every((id) => net.isUp(id) && net.node(id).appliedIndex >= n);
}

test('DIFF: a follower that missed committed txns gets exactly the missing ones', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 11 });
  net.startAll();
  const leader = net.electLeader();
  assert.ok(net.commit('x1'));
  const f = net.ids.find((id) => id !== leader) as string;
  net.crash(f);
  assert.ok(net.commit('x2'));
  assert.ok(net.commit('x3'));
  net.start(f);
  assert.ok(net.tickUntil(() => allApplied(net, 3)));
  const s = syncsTo(net, f).at(-1);
  assert.equal(s?.mode, SyncMode.Diff);
  const diffs = net.delivered.filter((m) => m.type === 'diff' && m.to === f && m.epoch === s?.epoch);
  assert.deepEqual(diffs.flatMap((m) => (m.type === 'diff' ? m.entries.map((e) => e.index) : [])), [2, 3]);
  assert.deepEqual(net.appliedTexts(f), ['x1', 'x2', 'x3']);
  assert.deepEqual(net.violations, []);
});

/**
 * The leader a commits x1 and x2 with b while c is cut off, then logs x3 alone and crashes. The
 * election runs without the most up-to-date replica (ZOOKEEPER-1154): b must win (it holds every
 * committed txn), and when a returns its uncommitted x3 must be cut back to the common prefix.
 */
function withoutTheMostUpToDate(net: ZabNet): { a: string; b: string; c: string } {
  net.startAll();
  const a = net.electLeader();
  const [b, c] = net.ids.filter((id) => id !== a) as [string, string];
  assert.ok(net.commit('x1'));
  net.cut(a, c);
  assert.ok(net.commit('x2'));
  net.isolate(a);
  assert.ok(net.replica(a).propose(txt('x3')).ok);
  net.stabilize();
  assert.equal(net.replica(a).status().lastIndex, 3);
  net.crash(a);
  net.heal();
  net.flushLinks(a);
  assert.equal(net.electLeader(), b);
  return { a, b, c };
}

test('TRUNC+DIFF after an election without the most up-to-date replica (ZOOKEEPER-1154)', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 12 });
  const { a, b } = withoutTheMostUpToDate(net);
  assert.ok(net.commit('y3'));
  net.start(a);
  assert.ok(net.tickUntil(() => allApplied(net, 3)));
  const s = syncsTo(net, a).at(-1);
  assert.equal(s?.mode, SyncMode.TruncDiff);
  assert.equal(s?.truncIndex, 2);
  for (const id of net.ids) assert.deepEqual(net.appliedTexts(id), ['x1', 'x2', 'y3']);
  // a's disk no longer holds the uncommitted x3 anywhere.
  assert.deepEqual(net.node(a).disk.entries.map((e) => [e.index, e.id]), net.node(b).disk.entries.map((e) => [e.index, e.id]));
  assert.deepEqual(net.violations, []);
});

test('TRUNC: the returning replica only has to drop its uncommitted suffix', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 13 });
  const { a, b } = withoutTheMostUpToDate(net);
  net.start(a);
  assert.ok(net.tickUntil(() => syncsTo(net, a).length > 0 && net.replica(a).status().leader === b));
  const s = syncsTo(net, a).at(-1);
  assert.equal(s?.mode, SyncMode.Trunc);
  assert.equal(s?.truncIndex, 2);
  net.stabilize();
  assert.equal(net.replica(a).status().lastIndex, 2);
  // The cut is in memory: no durable txn is rewritten (a torn rewrite could lose it). The stale
  // x3 stays on disk until y3 overwrites it.
  assert.deepEqual(net.node(a).disk.entries.map((e) => [e.index, e.id]), [[1, 1], [2, 1], [3, 1]]);
  assert.ok(net.commit('y3'));
  assert.ok(net.tickUntil(() => allApplied(net, 3)));
  assert.deepEqual(net.node(a).disk.entries.map((e) => [e.index, e.id]), [[1, 1], [2, 1], [3, 2]]);
  for (const id of net.ids) assert.deepEqual(net.appliedTexts(id), ['x1', 'x2', 'y3']);
  assert.deepEqual(net.violations, []);
});

test('SNAP: a follower behind the leader\'s compacted history receives the checkpoint in chunks, then a DIFF', () => {
  const net = new ZabNet(['a', 'b', 'c'], {
    seed: 14,
    replica: () => ({ limits: { ...defaultLimitsSmallChunks } }),
  });
  net.startAll();
  const leader = net.electLeader();
  assert.ok(net.commit('x1'));
  const f = net.ids.find((id) => id !== leader) as string;
  net.crash(f);
  for (let i = 2; i <= 6; i++) assert.ok(net.commit(`x${i}`));
  net.compact(leader);
  assert.equal(net.replica(leader).status().snapshotIndex, 6);
  assert.ok(net.commit('x7'));
  net.start(f);
  assert.ok(net.tickUntil(() => allApplied(net, 7)));
  const s = syncsTo(net, f).at(-1);
  assert.equal(s?.mode, SyncMode.Snap);
  const chunks = net.delivered.filter((m) => m.type === 'snap' && m.to === f);
  assert.ok(chunks.length > 4, `expected several chunks, got ${chunks.length}`);
  // Streamed over several heartbeats (inflightBytesMax = two chunks per beat), not in one burst.
  const link = net.delivered.filter((m) => m.from === leader && m.to === f).map((m) => m.type);
  const between = link.slice(link.indexOf('snap'), link.lastIndexOf('snap'));
  assert.ok(between.includes('ping'), `all ${chunks.length} chunks went out in one burst`);
  assert.equal(net.replica(f).status().snapshotIndex, 6);
  assert.deepEqual(net.appliedTexts(f), ['x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7']);
  assert.deepEqual(net.violations, []);
});

test('TRUNC then a crash before new txns: the stale tail comes back uncommitted and is cut again', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 15 });
  const { a, b } = withoutTheMostUpToDate(net);
  net.start(a);
  assert.ok(net.tickUntil(() => net.replica(a).status().leader === b && net.replica(a).status().lastIndex === 2));
  net.crash(a);
  net.start(a);
  // The cut was in memory: x3 (epoch 1) is back in a's history, above its commit index.
  assert.equal(net.replica(a).status().lastIndex, 3);
  assert.ok(net.replica(a).status().commitIndex <= 2);
  assert.ok(net.commit('y3'));
  assert.ok(net.tickUntil(() => allApplied(net, 3)));
  for (const id of net.ids) assert.deepEqual(net.appliedTexts(id), ['x1', 'x2', 'y3']);
  assert.deepEqual(net.violations, []);
});

/**
 * A follower behind a slow link receives a SNAP over many heartbeats while the leader keeps
 * taking checkpoints (one per write). Each new checkpoint used to restart the stream from offset
 * 0 with a new handshake, so the follower never finished; the stream now stays on the checkpoint
 * it started with, and the leader keeps the txns after it for the DIFF that follows.
 */
function snapUnderCheckpoints(mutants: string[]): { net: ZabNet; leader: string; f: string; caughtUp: boolean; syncsBefore: number } {
  const net = new ZabNet(['a', 'b', 'c'], {
    seed: 16,
    replica: () => ({ limits: { ...defaultLimits, snapshotChunkBytes: 4, inflightBytesMax: 4 }, mutants: new Set(mutants) }),
  });
  net.startAll();
  const leader = net.electLeader();
  const f = net.ids.find((id) => id !== leader) as string;
  net.crash(f);
  for (let i = 1; i <= 8; i++) assert.ok(net.commit(`x${i}`));
  net.compact(leader);
  const syncsBefore = syncsTo(net, f).length;
  net.start(f);
  let n = 8;
  const caughtUp = net.tickUntil(() => {
    if (net.node(f).appliedIndex >= n) return true;
    // Another write, and a checkpoint of it, while f is still behind.
    if (net.replica(leader).propose(txt(`x${++n}`)).ok) {
      net.stabilize();
      net.compact(leader);
    }
    return false;
  }, 150);
  return { net, leader, f, caughtUp, syncsBefore };
}

test('SNAP: checkpoints taken mid-stream do not restart it; the follower behind a slow link finishes', () => {
  const { net, leader, f, caughtUp, syncsBefore } = snapUnderCheckpoints([]);
  assert.ok(caughtUp, `f applied ${net.node(f).appliedIndex} of ${net.node(leader).appliedIndex}`);
  const chunks = net.delivered.filter((m) => m.type === 'snap' && m.to === f);
  assert.ok(chunks.length >= 5, `${chunks.length} chunks: the stream should span several heartbeats`);
  assert.deepEqual([...new Set(chunks.map((m) => (m.type === 'snap' ? m.meta.index : -1)))], [8], 'one checkpoint, streamed once');
  assert.equal(syncsTo(net, f).length - syncsBefore, 1, 'one handshake');
  assert.deepEqual(net.appliedTexts(f), net.appliedTexts(leader).slice(0, net.node(f).appliedIndex));
  assert.ok(net.replica(leader).status().snapshotIndex > 8, 'the leader compacted once the stream ended');
  assert.deepEqual(net.violations, []);
});

test('mutant snap-restart-on-compact: every checkpoint restarts the stream, and the follower never finishes', () => {
  const { net, f, caughtUp, syncsBefore } = snapUnderCheckpoints(['snap-restart-on-compact']);
  assert.equal(caughtUp, false);
  assert.ok(syncsTo(net, f).length - syncsBefore > 3, `${syncsTo(net, f).length - syncsBefore} handshakes`);
});
