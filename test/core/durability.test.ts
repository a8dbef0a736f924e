import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, type Entry, type HardState } from '../../src/core/index.js';
import { mustSync } from '../../src/core/durability.js';

const entry: Entry = { index: 5, id: 2, type: EntryType.Normal, data: new Uint8Array([1]) };
const raft = (term: number, vote: string | null, commit: number): HardState => ({ kind: 'raft', term, vote, commit });
const paxos = (promised: number, chosen: number): HardState => ({ kind: 'paxos', promised, chosen });
const zab = (acceptedEpoch: number, currentEpoch: number, commit: number): HardState => ({ kind: 'zab', acceptedEpoch, currentEpoch, commit });

test('new entries always need an fsync, with or without a hard state', () => {
  assert.equal(mustSync(null, null, [entry]), true);
  assert.equal(mustSync(raft(1, 'a', 3), null, [entry]), true);
  assert.equal(mustSync(raft(1, 'a', 3), raft(1, 'a', 4), [entry]), true);
  assert.equal(mustSync(paxos(7, 3), paxos(7, 3), [entry]), true);
});

test('nothing new: no fsync', () => {
  assert.equal(mustSync(null, null, []), false);
  assert.equal(mustSync(raft(1, 'a', 3), null, []), false);
  assert.equal(mustSync(raft(1, 'a', 3), raft(1, 'a', 3), []), false);
});

test('the first hard state ever saved needs an fsync, even if it only carries a commit', () => {
  assert.equal(mustSync(null, raft(0, null, 1), []), true);
  assert.equal(mustSync(null, paxos(0, 1), []), true);
  assert.equal(mustSync(null, zab(0, 0, 1), []), true);
});

test('raft: a commit-only change needs no fsync; term or vote does', () => {
  assert.equal(mustSync(raft(3, 'b', 10), raft(3, 'b', 11), []), false);
  assert.equal(mustSync(raft(3, 'b', 11), raft(3, 'b', 9), []), false);
  assert.equal(mustSync(raft(3, null, 10), raft(3, 'c', 10), []), true, 'vote change');
  assert.equal(mustSync(raft(3, 'b', 10), raft(3, null, 10), []), true, 'vote cleared');
  assert.equal(mustSync(raft(3, 'b', 10), raft(4, 'b', 11), []), true, 'term change');
});

test('paxos: a chosen-only change needs no fsync; a new promise does', () => {
  assert.equal(mustSync(paxos(17, 4), paxos(17, 9), []), false);
  assert.equal(mustSync({ kind: 'paxos', promised: 17, chosen: 4, end: 9 }, { kind: 'paxos', promised: 17, chosen: 6, end: 9 }, []), false);
  // Being lost (src/protocols/paxos) must be durable before the log may grow past the old end.
  assert.equal(mustSync({ kind: 'paxos', promised: 17, chosen: 4, end: 9 }, { kind: 'paxos', promised: 17, chosen: 4, end: 9, lost: true }, []), true);
  assert.equal(mustSync(paxos(17, 4), paxos(33, 4), []), true);
  assert.equal(mustSync(paxos(17, 4), paxos(33, 5), []), true);
});

test('zab: a commit-only change needs no fsync; either epoch does', () => {
  assert.equal(mustSync(zab(2, 2, 40), zab(2, 2, 41), []), false);
  assert.equal(mustSync(zab(2, 2, 40), zab(3, 2, 40), []), true, 'acceptedEpoch (NEWEPOCH)');
  assert.equal(mustSync(zab(3, 2, 40), zab(3, 3, 40), []), true, 'currentEpoch (NEWLEADER)');
  assert.equal(mustSync(zab(3, 2, 40), zab(3, 3, 41), []), true);
});

test('a hard state of another protocol than the last one is treated as new', () => {
  assert.equal(mustSync(raft(1, null, 1), paxos(0, 1), []), true);
  assert.equal(mustSync(zab(1, 1, 1), raft(1, null, 1), []), true);
});
