import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HistoryEvent } from '../../src/check/index.js';
import { acknowledgedWrites, availabilityIn, availabilityOutside, lostWrites, recoveryMs, spans } from '../../src/chaos/analysis.js';
import { HistoryLog } from '../../src/chaos/workload.js';

/** Events from [process, type, f, key, value, ms] rows (time in ns, as real runs record it). */
function h(rows: [number, HistoryEvent['type'], HistoryEvent['f'], string, HistoryEvent['value'], number][]): HistoryEvent[] {
  return rows.map(([process, type, f, key, value, ms]) => ({ process, type, f, key, value, time: ms * 1e6 }));
}

const base = h([
  [0, 'invoke', 'write', 'x', 'a', 0], [0, 'ok', 'write', 'x', 'a', 10],
  [1, 'invoke', 'write', 'x', 'b', 20], [1, 'ok', 'write', 'x', 'b', 30],
  [0, 'invoke', 'cas', 'x', ['b', 'c'], 40], [0, 'ok', 'cas', 'x', ['b', 'c'], 50],
  [2, 'invoke', 'write', 'y', 'p', 5], [2, 'info', 'write', 'y', 'p', 60],
]);

test('no write is lost when the final value is the last acknowledged one', () => {
  assert.deepEqual(lostWrites(base, new Map([['x', 'c'], ['y', 'p']])), []);
  assert.deepEqual(lostWrites(base, new Map([['x', 'c'], ['y', null]])), [], 'an info write may never have happened');
  assert.equal(acknowledgedWrites(base), 3);
});

test('an acknowledged write invoked after the final value was written is lost', () => {
  const lost = lostWrites(base, new Map([['x', 'a']]));
  assert.deepEqual(lost.map((l) => l.value), ['b', 'c']);
  assert.deepEqual(lostWrites(base, new Map([['x', 'b']])).map((l) => l.value), ['c']);
});

test('concurrent writes may land in either order: neither is lost', () => {
  const events = h([
    [0, 'invoke', 'write', 'x', 'a', 0], [1, 'invoke', 'write', 'x', 'b', 1],
    [0, 'ok', 'write', 'x', 'a', 10], [1, 'ok', 'write', 'x', 'b', 11],
  ]);
  assert.deepEqual(lostWrites(events, new Map([['x', 'a']])), []);
  assert.deepEqual(lostWrites(events, new Map([['x', 'b']])), []);
});

test('an absent key or a value nobody wrote loses every acknowledged write; an unread key is not judged', () => {
  assert.equal(lostWrites(base, new Map([['x', null]])).length, 3);
  const bogus = lostWrites(base, new Map([['x', 'zzz']]));
  assert.equal(bogus.length, 3);
  assert.match(bogus[0]?.why ?? '', /never written/);
  assert.deepEqual(lostWrites(base, new Map([['x', undefined]])), []);
});

test('absent is a value deletes write: a key deleted after its last write lost nothing', () => {
  const events = h([
    [0, 'invoke', 'write', 'x', 'a', 0], [0, 'ok', 'write', 'x', 'a', 10],
    [1, 'invoke', 'delete', 'x', null, 20], [1, 'ok', 'delete', 'x', null, 30],
  ]);
  assert.deepEqual(lostWrites(events, new Map([['x', null]])), []);
  assert.equal(acknowledgedWrites(events), 2, 'an acknowledged delete is an acknowledged write');
});

test('a write acknowledged after every delete returned is lost when the key ends absent', () => {
  const events = h([
    [0, 'invoke', 'write', 'x', 'a', 0], [0, 'ok', 'write', 'x', 'a', 10],
    [1, 'invoke', 'delete', 'x', null, 20], [1, 'ok', 'delete', 'x', null, 30],
    [0, 'invoke', 'cas', 'x', [null, 'b'], 40], [0, 'ok', 'cas', 'x', [null, 'b'], 50],
  ]);
  const lost = lostWrites(events, new Map([['x', null]]));
  assert.deepEqual(lost.map((l) => l.value), ['b']);
  assert.match(lost[0]?.why ?? '', /every delete returned before/);
  // A delete concurrent with the cas may have come after it.
  const concurrent = h([
    [0, 'invoke', 'cas', 'x', [null, 'b'], 40], [1, 'invoke', 'delete', 'x', null, 45],
    [0, 'ok', 'cas', 'x', [null, 'b'], 50], [1, 'ok', 'delete', 'x', null, 55],
  ]);
  assert.deepEqual(lostWrites(concurrent, new Map([['x', null]])), []);
  // So may a delete whose outcome is unknown, invoked long before.
  const unknown = h([
    [1, 'invoke', 'delete', 'x', null, 0], [1, 'info', 'delete', 'x', null, 5],
    [0, 'invoke', 'write', 'x', 'a', 10], [0, 'ok', 'write', 'x', 'a', 20],
  ]);
  assert.deepEqual(lostWrites(unknown, new Map([['x', null]])), []);
});

test('an acknowledged delete is lost when the value it deleted is final: a deleted key came back', () => {
  const events = h([
    [0, 'invoke', 'write', 'x', 'a', 0], [0, 'ok', 'write', 'x', 'a', 10],
    [1, 'invoke', 'delete', 'x', null, 20], [1, 'ok', 'delete', 'x', null, 30],
  ]);
  const lost = lostWrites(events, new Map([['x', 'a']]));
  assert.deepEqual(lost.map((l) => l.value), ['delete by process 1']);
  const overlapping = h([
    [0, 'invoke', 'write', 'x', 'a', 0], [1, 'invoke', 'delete', 'x', null, 5],
    [1, 'ok', 'delete', 'x', null, 8], [0, 'ok', 'write', 'x', 'a', 10],
  ]);
  assert.deepEqual(lostWrites(overlapping, new Map([['x', 'a']])), [], 'the write may have landed after the delete');
});

test('availability counts served operations per window; a cas mismatch is served, a failed read is not', () => {
  const events = h([
    [0, 'invoke', 'read', 'x', null, 0], [0, 'ok', 'read', 'x', null, 5],
    [0, 'invoke', 'read', 'x', null, 100], [0, 'fail', 'read', 'x', null, 150],
    [0, 'invoke', 'cas', 'x', ['q', 'r'], 160], [0, 'fail', 'cas', 'x', ['q', 'r'], 170],
    [0, 'invoke', 'write', 'x', 'w', 180], [0, 'info', 'write', 'x', 'w', 900],
    [1, 'invoke', 'write', 'x', 'v', 950], [1, 'ok', 'write', 'x', 'v', 1000],
  ]);
  const s = spans(events);
  assert.equal(s.length, 5);
  assert.deepEqual(availabilityIn(s, { startMs: 100, endMs: 200 }), { attempted: 3, ok: 1, ratio: 1 / 3 });
  assert.deepEqual(availabilityIn(s, { startMs: 300, endMs: 400 }), { attempted: 0, ok: 0, ratio: null });
  assert.deepEqual(availabilityOutside(s, [{ startMs: 100, endMs: 200 }], { startMs: 0, endMs: 2000 }), { attempted: 2, ok: 2, ratio: 1 });
  assert.equal(recoveryMs(s, 500), 500, 'the first successful write completing after the heal');
  assert.equal(recoveryMs(s, 1001), null);
});

test('the history log keeps time non-decreasing and stops at its bound', () => {
  const log = new HistoryLog(performance.now(), 4);
  assert.ok(log.record(0, 'invoke', 'read', 'x', null));
  assert.ok(log.record(0, 'ok', 'read', 'x', null));
  assert.ok(log.record(1, 'invoke', 'write', 'x', 'a'));
  assert.ok(log.record(1, 'ok', 'write', 'x', 'a'));
  assert.equal(log.record(2, 'invoke', 'read', 'x', null), false);
  assert.ok(log.full);
  const times = log.events.map((e) => e.time);
  assert.deepEqual(times, [...times].sort((a, b) => a - b));
});
