import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ticksDue } from '../../src/node/ticks.js';

test('an on-time callback delivers one tick', () => {
  assert.deepEqual(ticksDue(100, 100, 10, 3), { ticks: 1, nextTickAtMs: 110 });
});

test('an early callback delivers none', () => {
  assert.deepEqual(ticksDue(100, 95, 10, 3), { ticks: 0, nextTickAtMs: 100 });
});

test('a late callback catches up with the clock', () => {
  assert.deepEqual(ticksDue(100, 125, 10, 3), { ticks: 3, nextTickAtMs: 130 });
  assert.deepEqual(ticksDue(100, 119, 10, 3), { ticks: 2, nextTickAtMs: 120 });
});

test('after a pause the catch-up is bounded and the rest of the debt dropped', () => {
  assert.deepEqual(ticksDue(100, 1000, 10, 3), { ticks: 3, nextTickAtMs: 1010 });
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
