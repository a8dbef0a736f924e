import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memorySnapshotSource } from '../../../src/core/index.js';
import type { Ready } from '../../../src/core/index.js';
import type { Raft, RaftMessage } from '../../../src/protocols/raft/index.js';
import { cmd } from '../../harness/cluster.js';
import { drain, entries, makeLeader, newRaft, only, tickN } from './helpers.js';

// Thesis §10.2.1: the leader's replication leaves in Ready.earlyMessages, in parallel with its own
// fsync; the leader counts its own copy only once advance() says it is durable; every answer a
// replica gives (append and heartbeat responses, votes) waits for the fsync in Ready.messages.

const V3 = ['n1', 'n2', 'n3'];
const early = (rd: Ready | null): RaftMessage[] => (rd?.earlyMessages ?? []) as RaftMessage[];
const late = (rd: Ready | null): RaftMessage[] => (rd?.messages ?? []) as RaftMessage[];
const ack = (from: string, index: number, term = 1): RaftMessage =>
  ({ type: 'app_resp', from, to: 'n1', term, incarnation: 0, index, reject: false, hintIndex: 0, hintTerm: 0 });

/** A leader of V3, both followers in replicate state at index 1 (the no-op, committed). */
function steadyLeader(): Raft {
  const r = newRaft('n1', V3);
  makeLeader(r);
  drain(r);
  r.step(ack('n2', 1));
  r.step(ack('n3', 1));
  drain(r);
  assert.equal(r.status().commitIndex, 1);
  return r;
}

test('§10.2.1: a new leader\'s no-op goes to every follower in the early messages of the Ready that appends it', () => {
  const r = newRaft('n1', V3);
  makeLeader(r);
  const rd = r.ready();
  assert.deepEqual(rd?.entries.map((e) => e.index), [1]);
  assert.deepEqual(only(early(rd), 'app').map((m) => [m.to, m.entries.map((e) => e.index)]), [['n2', [1]], ['n3', [1]]]);
  assert.deepEqual(late(rd), []);
});

test('§10.2.1: a proposal\'s entry leaves in the early messages of the Ready that persists it', () => {
  const r = steadyLeader();
  r.propose(cmd('x'));
  const rd = r.ready();
  assert.deepEqual(rd?.entries.map((e) => e.index), [2]);
  assert.deepEqual(only(early(rd), 'app').map((m) => [m.to, m.prevIndex, m.entries.map((e) => e.index)]), [['n2', 1, [2]], ['n3', 1, [2]]]);
  assert.deepEqual(late(rd), [], 'nothing waits for the fsync');
});

test('§10.2.1: heartbeats go early, and a Ready holding nothing but early messages is still handed out', () => {
  const r = steadyLeader();
  tickN(r, 2);
  const rd = r.ready();
  assert.ok(rd !== null, 'the emptiness check counts early messages');
  assert.equal(rd.entries.length, 0);
  assert.equal(rd.hardState, null);
  assert.deepEqual(only(early(rd), 'heartbeat').map((m) => m.to), ['n2', 'n3']);
  assert.deepEqual(late(rd), []);
});

test('§10.2.1: snapshot chunks go early (they carry the checkpoint, which is already durable)', () => {
  const r = steadyLeader();
  r.propose(cmd('x'));
  drain(r);
  r.step(ack('n2', 2));
  drain(r);
  r.compact(memorySnapshotSource({ index: 2, id: 1, config: { voters: V3, learners: [] } }, new Uint8Array(8)));
  // n3 says its log was wiped: it must be sent the snapshot.
  r.step({ type: 'heartbeat_resp', from: 'n3', to: 'n1', term: 1, incarnation: 0, round: 0, lastIndex: 0 });
  const rd = r.ready();
  assert.equal(only(early(rd), 'snap').length, 1);
  assert.deepEqual(only(late(rd), 'snap'), []);
});

test('a follower\'s append and heartbeat responses and a voter\'s vote stay in messages, behind the fsync', () => {
  const f = newRaft('n2', V3);
  f.step({ type: 'app', from: 'n1', to: 'n2', term: 1, incarnation: 0, prevIndex: 0, prevTerm: 0, entries: entries([1, 1]), commit: 0 });
  let rd = f.ready();
  assert.deepEqual(rd?.entries.map((e) => e.index), [1, 2]);
  assert.deepEqual(late(rd).map((m) => m.type), ['app_resp']);
  assert.deepEqual(early(rd), []);
  assert.ok(rd !== null);
  f.advance(rd);
  f.step({ type: 'heartbeat', from: 'n1', to: 'n2', term: 1, incarnation: 0, commit: 2, leaderCommit: 2, round: 1 });
  rd = f.ready();
  assert.deepEqual(late(rd).map((m) => m.type), ['heartbeat_resp']);
  assert.deepEqual(early(rd), []);
  assert.ok(rd !== null);
  f.advance(rd);

  const v = newRaft('n3', V3);
  v.step({ type: 'vote', from: 'n1', to: 'n3', term: 2, incarnation: 0, lastIndex: 0, lastTerm: 0, transfer: false });
  rd = v.ready();
  assert.deepEqual(rd?.hardState, { kind: 'raft', term: 2, vote: 'n1', commit: 0 });
  assert.deepEqual(late(rd).map((m) => [m.type, m.type === 'vote_resp' && m.granted]), [['vote_resp', true]]);
  assert.deepEqual(early(rd), []);

  const c = newRaft('n1', V3);
  tickN(c, 20);
  rd = c.ready();
  assert.deepEqual(only(late(rd), 'vote').map((m) => m.to), ['n2', 'n3'], 'a candidate\'s requests imply its own vote: after the fsync');
  assert.deepEqual(early(rd), []);
});

test('the leader does not commit on its own unsynced copy: with n3 cut off, n2\'s ack commits only once the leader advanced', () => {
  const r = steadyLeader();
  r.propose(cmd('x'));
  const rd = r.ready();
  assert.ok(rd !== null);
  r.step(ack('n2', 2));
  assert.equal(r.status().commitIndex, 1, 'n2 alone holds entry 2 durably');
  assert.equal(r.ready(), null, 'one Ready at a time');
  r.advance(rd);
  assert.equal(r.status().commitIndex, 2, 'the leader\'s own copy became durable at advance');
  const next = r.ready();
  assert.deepEqual(next?.committed.map((e) => e.index), [2]);
  assert.deepEqual(only(early(next), 'app').map((m) => [m.to, m.commit]), [['n2', 2], ['n3', 2]], 'the commit notice goes early too');
});

test('the leader commits on a quorum of the others before its own fsync, and applies only after advance', () => {
  const r = steadyLeader();
  r.propose(cmd('x'));
  const rd = r.ready();
  assert.ok(rd !== null);
  r.step(ack('n2', 2));
  r.step(ack('n3', 2));
  assert.equal(r.status().commitIndex, 2, 'n2 and n3 hold entry 2 durably: a quorum without the leader');
  assert.equal(r.ready(), null, 'nothing is applied or announced until the outstanding Ready is advanced');
  r.advance(rd);
  assert.deepEqual(r.ready()?.committed.map((e) => e.index), [2]);
});

test('a leader whose term is not durable yet (one voter and a learner) sends its first appends after the fsync', () => {
  const r = newRaft('n1', ['n1'], {}, ['n2']);
  tickN(r, 20);
  assert.equal(r.status().role, 'leader', 'the only voter elects itself in the same step');
  const first = r.ready();
  assert.deepEqual(first?.hardState, { kind: 'raft', term: 1, vote: 'n1', commit: 0 });
  assert.deepEqual(early(first), [], 'an append of term 1 implies term 1 is on disk');
  assert.deepEqual(only(late(first), 'app').map((m) => m.to), ['n2']);
  assert.ok(first !== null);
  r.advance(first);
  assert.equal(r.status().commitIndex, 1, 'alone, it commits at advance');
  r.step({ type: 'app_resp', from: 'n2', to: 'n1', term: 1, incarnation: 0, index: 1, reject: false, hintIndex: 0, hintTerm: 0 });
  drain(r);
  r.propose(cmd('x'));
  const rd = r.ready();
  assert.deepEqual(only(early(rd), 'app').map((m) => [m.to, m.entries.map((e) => e.index)]), [['n2', [2]]], 'term 1 is durable now');
});

test('a stale advance after stepping down: the overwritten unsynced entry is neither marked durable nor committed', () => {
  const r = steadyLeader();
  r.propose(cmd('x'));
  const rd = r.ready();
  assert.ok(rd !== null);
  assert.equal(only(early(rd), 'app').length, 2, 'entry 2 (term 1) already left');
  // Before the leader's fsync returns, a leader of term 2 overwrites index 2.
  r.step({ type: 'app', from: 'n3', to: 'n1', term: 2, incarnation: 0, prevIndex: 1, prevTerm: 1, entries: entries([2], 2), commit: 1 });
  assert.equal(r.status().role, 'follower');
  r.advance(rd);
  assert.equal(r.log.stableIndex, 1, 'the write of (2, term 1) does not make (2, term 2) durable');
  assert.equal(r.status().commitIndex, 1);
  const next = r.ready();
  assert.deepEqual(next?.entries.map((e) => [e.index, e.id]), [[2, 2]]);
  assert.deepEqual(next?.committed, []);
  assert.deepEqual(early(next), [], 'a follower speaks only after its fsync');
  assert.deepEqual(late(next).map((m) => m.type), ['app_resp']);
});
