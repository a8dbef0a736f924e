import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AssertionFailure } from '../../src/core/index.js';
import { EventQueue } from '../../src/sim/index.js';

test('events pop in time order, and in scheduling order at equal times', () => {
  fc.assert(fc.property(fc.array(fc.nat(50), { maxLength: 200 }), (times) => {
    const q = new EventQueue<number>();
    times.forEach((t, i) => q.push(t, i));
    const out: [number, number][] = [];
    for (let it = q.pop(); it !== null; it = q.pop()) out.push([it.time, it.event]);
    const expected = times.map((t, i) => [t, i] as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    assert.deepEqual(out, expected);
  }));
});

test('the queue refuses to grow past its bound', () => {
  const q = new EventQueue<number>(3);
  q.push(1, 1);
  q.push(1, 2);
  q.push(1, 3);
  assert.throws(() => q.push(1, 4), AssertionFailure);
  assert.throws(() => new EventQueue<number>().push(Number.NaN, 1), AssertionFailure);
});
