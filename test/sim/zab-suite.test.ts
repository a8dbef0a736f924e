import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSeeds } from '../../src/sim/index.js';
import { assertSeedsPass, range } from './suite.js';

// The Zab suite in CI: 300 seeds with every fault, half on the default cluster, half rotating
// the cluster shapes of --variants (seedVariant in src/sim/options.ts: tiny limits, leader churn,
// crashes around every tenth fsync). Full sweeps: quorate sim --protocol zab --seeds 0..4999 --variants
test('zab: 150 seeds, default cluster, all faults', () => {
  const s = assertSeedsPass(range(5000, 150), { protocol: 'zab' }, '--faults all');
  assert.ok(s.events > 150 * 1000, 'the seeds did real work');
});

test('zab: 150 seeds rotating the cluster shapes (--variants), all faults', () => {
  const s = runSeeds({ seeds: range(6000, 150), options: { protocol: 'zab' }, variants: true });
  const lines = s.failures.map((f) => `seed ${f.seed}: ${f.invariant}: ${f.message}\n  replay: quorate sim --protocol zab --seeds ${f.seed} --variants`);
  assert.equal(s.violations, 0, lines.join('\n'));
  assert.equal(s.unknownLinearizability, 0, 'the linearizability search gave up on some seed');
  assert.ok(s.events > 150 * 1000, 'the seeds did real work');
});
