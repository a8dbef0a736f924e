import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Histogram } from '../../src/bench/histogram.js';

/** The reference: the smallest sample with at least ceil(q * n) samples at or below it. */
function referenceQuantile(sorted: readonly number[], q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1] as number;
}

const quantiles = [0, 0.5, 0.9, 0.99, 0.999, 1];

test('quantiles are never below the true value and at most 1/2^subBits above it', () => {
  fc.assert(fc.property(
    fc.array(fc.oneof(fc.nat(300), fc.integer({ min: 0, max: 2 ** 40 })), { minLength: 1, maxLength: 400 }),
    fc.integer({ min: 1, max: 10 }),
    (values, subBits) => {
      const h = new Histogram({ subBits });
      for (const v of values) h.record(v);
      const sorted = [...values].sort((a, b) => a - b);
      for (const q of quantiles) {
        const ref = referenceQuantile(sorted, q);
        const got = h.quantile(q);
        assert.ok(got >= ref, `q=${q}: got ${got} < reference ${ref}`);
        assert.ok(got <= ref + ref / 2 ** subBits, `q=${q}: got ${got} > reference ${ref} by more than 1/2^${subBits}`);
      }
      assert.equal(h.count, values.length);
      assert.equal(h.min, sorted[0]);
      assert.equal(h.max, sorted[sorted.length - 1]);
    },
  ), { numRuns: 300 });
});

test('small values are exact', () => {
  const h = new Histogram({ subBits: 7 });
  for (let v = 0; v < 256; v++) h.record(v);
  assert.equal(h.quantile(0.5), 127);
  assert.equal(h.quantile(1), 255);
  assert.equal(h.quantile(0), 0);
});

test('merge equals recording everything in one histogram', () => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 0, max: 1e9 }), { maxLength: 200 }),
    fc.array(fc.integer({ min: 0, max: 1e9 }), { maxLength: 200 }),
    (a, b) => {
      const ha = new Histogram();
      const hb = new Histogram();
      const all = new Histogram();
      for (const v of a) { ha.record(v); all.record(v); }
      for (const v of b) { hb.record(v); all.record(v); }
      ha.merge(hb);
      for (const q of quantiles) assert.equal(ha.quantile(q), all.quantile(q));
      assert.equal(ha.count, all.count);
      assert.equal(ha.mean, all.mean);
    },
  ));
});

test('values above valueMax are clamped and counted, an empty histogram reports 0', () => {
  const h = new Histogram({ valueMax: 1000 });
  assert.equal(h.quantile(0.99), 0);
  h.record(5000);
  h.record(10);
  assert.equal(h.clamped, 1);
  assert.equal(h.max, 1000);
  assert.ok(h.quantile(1) <= 1000);
  assert.throws(() => h.record(-1), /finite and >= 0/);
  assert.throws(() => h.record(Number.NaN), /finite and >= 0/);
});
