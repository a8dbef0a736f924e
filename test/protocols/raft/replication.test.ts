import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, decodeBatch, defaultLimits, entrySizeBytes, memorySnapshotSource } from '../../../src/core/index.js';
import { raft } from '../../../src/protocols/raft/index.js';
import type { Raft } from '../../../src/protocols/raft/index.js';
import { TestCluster, cmd, texts } from '../../harness/cluster.js';
import { drain, entries, makeLeader, msgs, newRaft, only, sent, tickN, withLog } from './helpers.js';

const V3 = ['n1', 'n2', 'n3'];

/** A leader of V3 whose follower n2 is in replicate state at the leader's last index. */
function replicatingLeader(limits: Partial<typeof defaultLimits>): Raft {
  const r = newRaft('n1', V3, { limits: { ...defaultLimits, ...limits } });
  makeLeader(r);
  drain(r);
  r.step({ type: 'app_resp', from: 'n2', to: 'n1', term: 1, incarnation: 0, index: 1, reject: false, hintIndex: 0, hintTerm: 0 });
  drain(r);
  assert.equal(r.progress().get('n2')?.state, 'replicate');
  return r;
}

test('flow control: in replicate state appends are pipelined up to inflightMax, then nothing more is sent until an ack', () => {
  const r = replicatingLeader({ inflightMax: 3 });
  const sent: number[] = [];
  for (let i = 0; i < 6; i++) {
    r.propose(cmd(`c${i}`));
    sent.push(...only(msgs(r), 'app').filter((m) => m.to === 'n2' && m.entries.length > 0).map((m) => m.entries[0]?.index ?? 0));
  }
  assert.deepEqual(sent, [2, 3, 4], 'three messages in flight, without waiting for round trips');
  assert.equal(r.progress().get('n2')?.inflight, 3);
  r.step({ type: 'app_resp', from: 'n2', to: 'n1', term: 1, incarnation: 0, index: 2, reject: false, hintIndex: 0, hintTerm: 0 });
  const after = only(msgs(r), 'app').filter((m) => m.to === 'n2' && m.entries.length > 0);
  assert.deepEqual(after.map((m) => m.entries.map((e) => e.index)), [[5, 6, 7]], 'one slot freed: one batch of the backlog');
});

test('flow control: the inflight window is bounded in bytes too', () => {
  const r = replicatingLeader({ inflightMax: 100, inflightBytesMax: 300, maxMessageBytes: 150 });
  for (let i = 0; i < 10; i++) {
    r.propose(new Uint8Array(100));
    drain(r);
  }
  const p = r.progress().get('n2');
  assert.ok(p !== undefined);
  assert.ok(p.inflightBytes >= 300 && p.inflightBytes < 300 + 150, `${p.inflightBytes} bytes in flight`);
  assert.equal(p.next, 2 + p.inflight, 'nothing sent beyond the window');
});

test('flow control: entries are batched into messages of at most maxMessageBytes', () => {
  const r = newRaft('n1', V3, { limits: { ...defaultLimits, maxMessageBytes: 100 } });
  makeLeader(r);
  drain(r);
  for (let i = 0; i < 8; i++) {
    r.propose(new Uint8Array(30));
    drain(r);
  }
  // n3 had never answered: its probe was paused. A rejection-free ack moves it to replicate.
  r.step({ type: 'app_resp', from: 'n3', to: 'n1', term: 1, incarnation: 0, index: 1, reject: false, hintIndex: 0, hintTerm: 0 });
  const apps = only(msgs(r), 'app').filter((m) => m.to === 'n3');
  assert.ok(apps.length >= 4);
  for (const m of apps) {
    const bytes = m.entries.reduce((n, e) => n + entrySizeBytes(e), 0);
    assert.ok(m.entries.length === 1 || bytes <= 100, `${bytes} bytes in one message`);
  }
  assert.deepEqual(apps.flatMap((m) => m.entries.map((e) => e.index)), [2, 3, 4, 5, 6, 7, 8, 9]);
});

test('batching: proposals accepted between two Readies become one batch entry', () => {
  const r = newRaft('n1', ['n1']);
  makeLeader(r);
  drain(r);
  for (const s of ['a', 'b', 'c']) assert.deepEqual(r.propose(cmd(s)), { ok: true });
  const rd = r.ready();
  assert.equal(rd?.entries.length, 1);
  const e = rd?.entries[0];
  assert.equal(e?.type, EntryType.Batch);
  assert.deepEqual(texts(decodeBatch(e?.data ?? new Uint8Array())), ['a', 'b', 'c']);
});

test('bounds: proposals past uncommittedBytesMax are refused as overloaded, and accepted again once entries commit', () => {
  const r = newRaft('n1', V3, { limits: { ...defaultLimits, uncommittedBytesMax: 500 } });
  makeLeader(r);
  drain(r);
  const results = Array.from({ length: 10 }, () => r.propose(new Uint8Array(100)).ok);
  assert.deepEqual(results.filter((ok) => ok).length, 4);
  assert.deepEqual(r.propose(new Uint8Array(100)), { ok: false, reason: 'overloaded' });
  assert.ok(r.uncommitted() <= 500);
  drain(r);
  r.step({ type: 'app_resp', from: 'n2', to: 'n1', term: 1, incarnation: 0, index: r.status().lastIndex, reject: false, hintIndex: 0, hintTerm: 0 });
  drain(r);
  assert.equal(r.uncommitted(), 0);
  assert.deepEqual(r.propose(new Uint8Array(100)), { ok: true });
});

test('bounds: a command past maxCommandBytes is refused as too_large; a follower answers not_leader with a hint', () => {
  const c = new TestCluster(raft, { voters: V3, seed: 31, replica: () => ({ limits: { ...defaultLimits, maxCommandBytes: 10 } }) });
  const leader = c.electLeader();
  assert.deepEqual(c.propose(leader, new Uint8Array(11)), { ok: false, reason: 'too_large' });
  assert.deepEqual(c.propose(leader, new Uint8Array(10)), { ok: true });
  const f = c.ids.find((id) => id !== leader) as string;
  assert.deepEqual(c.propose(f, cmd('x')), { ok: false, reason: 'not_leader', leaderHint: leader });
});

test('probe state: one append at a time until the follower answers', () => {
  const r = newRaft('n1', V3);
  makeLeader(r);
  drain(r);
  for (let i = 0; i < 5; i++) {
    r.propose(cmd(`c${i}`));
    drain(r);
  }
  assert.equal(r.progress().get('n3')?.state, 'probe');
  const sentToN3 = (r: Raft): number => only(msgs(r), 'app').filter((m) => m.to === 'n3').length;
  assert.equal(sentToN3(r), 0, 'the no-op probe is still unanswered');
});

test('Figure 13 / snapshots: a follower behind the compacted log catches up from a snapshot sent in chunks', () => {
  const chunk = 32;
  const c = new TestCluster(raft, { voters: V3, seed: 32, replica: () => ({ limits: { ...defaultLimits, snapshotChunkBytes: chunk } }) });
  const leader = c.electLeader();
  const [f, g] = c.ids.filter((id) => id !== leader) as [string, string];
  c.isolate(f);
  for (let i = 0; i < 20; i++) c.propose(leader, cmd(`value-${i}`));
  c.tickUntil(() => c.appliedCommands(leader).length === 20, 50);
  c.compact(leader);
  c.compact(g);
  const snap = c.persisted(leader).snapshot;
  assert.ok(snap !== null && snap.data.length > 4 * chunk);
  c.heal();
  assert.ok(c.tickUntil(() => c.appliedCommands(f).length === 20, 200));
  assert.deepEqual(texts(c.appliedCommands(f)), texts(c.appliedCommands(leader)));
  const chunks = c.sent.filter((m) => m.type === 'snap' && m.to === f);
  assert.ok(chunks.length >= Math.ceil(snap.data.length / chunk), `${chunks.length} chunks`);
  assert.ok(chunks.every((m) => m.type === 'snap' && m.data.length <= chunk));
  assert.equal(c.persisted(f).snapshot?.meta.index, snap.meta.index, 'the follower installed it durably');
  // It keeps replicating normally afterwards.
  c.propose(leader, cmd('after'));
  assert.ok(c.tickUntil(() => texts(c.appliedCommands(f)).includes('after'), 50));
  // And a restart recovers from that snapshot.
  c.crash(f);
  c.restart(f);
  assert.ok(c.tickUntil(() => texts(c.appliedCommands(f)).includes('after'), 100));
  assert.equal(c.appliedCommands(f).length, 21);
});

test('Figure 13 rule 7 / hashicorp/raft #697: a snapshot whose last entry conflicts with the follower\'s log discards the whole log', () => {
  // The follower holds uncommitted entries of term 2 the leader never saw.
  const r = withLog('n2', V3, [1, 1, 2, 2, 2], 2);
  drain(r);
  const data = new Uint8Array([1, 2, 3]);
  r.step({ type: 'snap', from: 'n1', to: 'n2', term: 3, incarnation: 0, meta: { index: 4, id: 3, config: { voters: V3, learners: [] } }, offset: 0, totalBytes: 3, data, done: true });
  const [rd] = drain(r);
  assert.deepEqual(rd?.snapshot?.meta.index, 4);
  assert.equal(r.status().lastIndex, 4, 'entry 5 of the stale log is gone');
  assert.equal(r.status().commitIndex, 4);
  // The next AppendEntries after the snapshot succeeds instead of bouncing back to a snapshot.
  r.step({ type: 'app', from: 'n1', to: 'n2', term: 3, incarnation: 0, prevIndex: 4, prevTerm: 3, entries: entries([3], 5), commit: 5 });
  assert.deepEqual(only(msgs(r), 'app_resp').map((m) => [m.reject, m.index]), [[false, 5]]);
});

test('Figure 13 rule 6: a snapshot whose last entry the follower already has keeps the log after it', () => {
  const r = withLog('n2', V3, [1, 1, 2, 2, 2], 2);
  drain(r);
  r.step({ type: 'snap', from: 'n1', to: 'n2', term: 3, incarnation: 0, meta: { index: 3, id: 2, config: { voters: V3, learners: [] } }, offset: 0, totalBytes: 1, data: new Uint8Array(1), done: true });
  const rds = drain(r);
  assert.ok(rds.every((rd) => rd.snapshot === null), 'nothing to install: the log has it');
  assert.equal(r.status().lastIndex, 5);
  assert.equal(r.status().commitIndex, 3);
});

test('snapshots: chunks out of order are refused with the offset wanted; the leader resends a lost chunk', () => {
  const r = newRaft('n2', V3);
  const meta = { index: 10, id: 2, config: { voters: V3, learners: [] } };
  const snap = (offset: number, len: number, done: boolean) =>
    ({ type: 'snap' as const, from: 'n1', to: 'n2', term: 2, incarnation: 0, meta, offset, totalBytes: 8, data: new Uint8Array(len).fill(offset + 1), done });
  r.step(snap(0, 4, false));
  r.step(snap(6, 2, true)); // a gap: chunk [4, 6) was lost
  r.step(snap(4, 4, true));
  const resps = only(msgs(r), 'snap_resp').map((m) => [m.offset, m.done]);
  assert.deepEqual(resps, [[4, false], [4, false], [8, true]]);
  assert.equal(r.status().commitIndex, 10);
  // Leader side: a leader that compacted resends the current chunk after an idle election timeout.
  const l = newRaft('n1', V3, { limits: { ...defaultLimits, snapshotChunkBytes: 4 } });
  makeLeader(l);
  l.propose(cmd('x'));
  drain(l);
  l.step({ type: 'app_resp', from: 'n2', to: 'n1', term: 1, incarnation: 0, index: 2, reject: false, hintIndex: 0, hintTerm: 0 });
  drain(l);
  l.compact(memorySnapshotSource({ index: 2, id: 1, config: { voters: V3, learners: [] } }, new Uint8Array(10)));
  l.step({ type: 'heartbeat_resp', from: 'n3', to: 'n1', term: 1, incarnation: 0, round: 0, lastIndex: 0 });
  const first = only(msgs(l), 'snap');
  assert.deepEqual(first.map((m) => [m.to, m.offset, m.data.length]), [['n3', 0, 4]]);
  for (let i = 0; i < 10; i++) l.tick();
  assert.deepEqual(only(msgs(l), 'snap').map((m) => [m.to, m.offset]), [['n3', 0]]);
});

test('snapshots: duplicated answers do not multiply chunks (one chunk per answer that makes progress)', () => {
  const l = newRaft('n1', V3, { limits: { ...defaultLimits, snapshotChunkBytes: 4 } });
  makeLeader(l);
  l.propose(cmd('x'));
  drain(l);
  l.step({ type: 'app_resp', from: 'n2', to: 'n1', term: 1, incarnation: 0, index: 2, reject: false, hintIndex: 0, hintTerm: 0 });
  drain(l);
  l.compact(memorySnapshotSource({ index: 2, id: 1, config: { voters: V3, learners: [] } }, new Uint8Array(16)));
  l.step({ type: 'heartbeat_resp', from: 'n3', to: 'n1', term: 1, incarnation: 0, round: 0, lastIndex: 0 });
  assert.equal(only(msgs(l), 'snap').length, 1);
  const ack = { type: 'snap_resp' as const, from: 'n3', to: 'n1', term: 1, incarnation: 0, index: 2, offset: 4, done: false };
  for (let i = 0; i < 5; i++) l.step(ack);
  assert.deepEqual(only(msgs(l), 'snap').map((m) => m.offset), [4], 'five copies of one answer, one next chunk');
});

test('async drivers: steps between ready() and advance() are kept for the next Ready, and a truncation meanwhile is persisted from its index', () => {
  const r = newRaft('n1', V3);
  r.step({ type: 'app', from: 'n2', to: 'n1', term: 1, incarnation: 0, prevIndex: 0, prevTerm: 0, entries: entries([1, 1, 1]), commit: 0 });
  const a = r.ready();
  assert.deepEqual(a?.entries.map((e) => e.index), [1, 2, 3]);
  assert.equal(r.ready(), null, 'one Ready at a time');
  // While A is being written, a new leader overwrites entries 2-3.
  r.step({ type: 'app', from: 'n3', to: 'n1', term: 2, incarnation: 0, prevIndex: 1, prevTerm: 1, entries: entries([2, 2, 2], 2), commit: 0 });
  assert.ok(a !== null);
  r.advance(a);
  const b = r.ready();
  assert.deepEqual(b?.entries.map((e) => [e.index, e.id]), [[2, 2], [3, 2], [4, 2]], 'the driver truncates from 2 and rewrites');
  assert.deepEqual(b?.hardState, { kind: 'raft', term: 2, vote: null, commit: 0 });
  assert.ok(b !== null);
  r.advance(b);
  assert.equal(r.log.stableIndex, 4);
});

test('snapshots: a compact() during a transfer does not restart it; the follower finishes the snapshot in flight, then gets the newer one', () => {
  const chunk = 4;
  const l = newRaft('n1', V3, { limits: { ...defaultLimits, snapshotChunkBytes: chunk } });
  const f = newRaft('n3', V3, { limits: { ...defaultLimits, snapshotChunkBytes: chunk } });
  makeLeader(l);
  const term = l.status().term;
  const commitWith = (index: number): void => {
    l.step({ type: 'app_resp', from: 'n2', to: 'n1', term, incarnation: 0, index, reject: false, hintIndex: 0, hintTerm: 0 });
    drain(l);
  };
  l.propose(cmd('x'));
  drain(l);
  commitWith(2);
  const dataA = Uint8Array.from({ length: 10 }, (_, i) => i);
  const dataB = Uint8Array.from({ length: 12 }, (_, i) => 100 + i);
  l.compact(memorySnapshotSource({ index: 2, id: term, config: { voters: V3, learners: [] } }, dataA));
  // n3 has nothing: the leader must stream the snapshot at 2.
  l.step({ type: 'heartbeat_resp', from: 'n3', to: 'n1', term, incarnation: 0, round: 0, lastIndex: 0 });
  const chunks: Array<[number, number]> = [];
  const installed: number[] = [];
  let toF = only(msgs(l), 'snap');
  const exchange = (): void => {
    for (const m of toF) {
      chunks.push([m.meta.index, m.offset]);
      f.step(m);
    }
    const rds = drain(f);
    for (const rd of rds) if (rd.snapshot !== null) installed.push(rd.snapshot.meta.index);
    for (const m of rds.flatMap(sent)) if (m.type === 'snap_resp' || m.type === 'app_resp') l.step(m);
    toF = only(msgs(l), 'snap');
  };
  exchange(); // chunk [0, 4) delivered; the answer asks for 4
  assert.deepEqual(toF.map((m) => [m.meta.index, m.offset]), [[2, 4]]);
  // A checkpoint while chunk [4, 8) is in flight.
  l.propose(cmd('y'));
  drain(l);
  commitWith(3);
  l.compact(memorySnapshotSource({ index: 3, id: term, config: { voters: V3, learners: [] } }, dataB));
  // An idle election timeout resends the chunk in flight, of the same snapshot.
  tickN(l, 10);
  assert.deepEqual(only(msgs(l), 'snap').map((m) => [m.meta.index, m.offset]), [[2, 4]]);
  for (let i = 0; i < 10 && toF.length > 0; i++) exchange();
  assert.deepEqual(chunks.filter(([index]) => index === 2), [[2, 0], [2, 4], [2, 8]], 'the snapshot at 2, from start to end, never restarted');
  assert.deepEqual(chunks.filter(([index]) => index === 3), [[3, 0], [3, 4], [3, 8]], 'then the newer one, as 3 is compacted away too');
  assert.deepEqual(installed, [2, 3]);
  assert.equal(f.status().commitIndex, 3);
});
