import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSeeds, runSeedsParallel, type SeedRecord } from '../../src/sim/index.js';

// Worker threads change how fast seeds run, never what they find.

test('two worker threads give every seed the same result as one thread, and the same summary', async () => {
  const seeds = Array.from({ length: 12 }, (_, i) => 40 + i);
  // A mutant makes some seeds fail, so failures and the re-run first failure are compared too.
  const options = { protocol: 'raft', mutants: new Set(['commit-old-term']), swarm: true } as const;
  const one: SeedRecord[] = [];
  const a = runSeeds({ seeds, options, variants: true, onSeed: (r) => one.push(r) });
  const many: SeedRecord[] = [];
  const b = await runSeedsParallel({ seeds, options, variants: true, workers: 2, onSeed: (r) => many.push(r) });
  assert.deepEqual(many.slice().sort((x, y) => x.seed - y.seed), one);
  const { wallMs: _a, firstFailure: fa, ...restA } = a;
  const { wallMs: _b, firstFailure: fb, ...restB } = b;
  assert.deepEqual(restB, restA);
  assert.ok(a.violations > 0 && a.violations < seeds.length, `some seeds should fail and some pass: ${a.violations}`);
  assert.equal(fb?.traceHash, fa?.traceHash);
  assert.deepEqual(fb?.history, fa?.history);
});
