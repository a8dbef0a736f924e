import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ticksDue } from '../../src/node/ticks.js';

test('an on-time callback delivers one tick', () => {
  assert.deepEqual(ticksDue(100, 100, 10, 3), { ticks: 1, dropped: 0, nextTickAtMs: 110 });
});

test('an early callback delivers none', () => {
  assert.deepEqual(ticksDue(100, 95, 10, 3), { ticks: 0, dropped: 0, nextTickAtMs: 100 });
});

test('a late callback catches up with the clock', () => {
  assert.deepEqual(ticksDue(100, 125, 10, 3), { ticks: 3, dropped: 0, nextTickAtMs: 130 });
  assert.deepEqual(ticksDue(100, 119, 10, 3), { ticks: 2, dropped: 0, nextTickAtMs: 120 });
});

test('after a pause within the bound the whole debt is delivered: a lease counted in ticks ends on time', () => {
  assert.deepEqual(ticksDue(100, 1000, 10, 200), { ticks: 91, dropped: 0, nextTickAtMs: 1010 });
});

test('after a longer pause the burst is bounded and the rest of the debt dropped, and said so', () => {
  assert.deepEqual(ticksDue(100, 1000, 10, 48), { ticks: 48, dropped: 43, nextTickAtMs: 1010 });
});

test('over a run of late callbacks, ticks match elapsed time', () => {
  let next = 10;
  let total = 0;
  for (let now = 25; now <= 1000; now += 25) {
    const d = ticksDue(next, now, 10, 3);
    next = d.nextTickAtMs;
    total += d.ticks;
  }
  assert.equal(total, 100);
});
