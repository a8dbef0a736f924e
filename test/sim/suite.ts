import assert from 'node:assert/strict';
import { runSeeds, type RunSummary, type SimOptions } from '../../src/sim/index.js';

/** Runs seeds and fails with every failing seed, its invariant and the command that replays it. */
export function assertSeedsPass(seeds: readonly number[], options: Partial<SimOptions>, replayFlags: string): RunSummary {
  const s = runSeeds({ seeds, options });
  const lines = s.failures.map((f) => `seed ${f.seed}: ${f.invariant}: ${f.message}\n  replay: quorate sim --protocol ${s.protocol} --seeds ${f.seed} ${replayFlags}`);
  assert.equal(s.violations, 0, lines.join('\n'));
  assert.equal(s.unknownLinearizability, 0, 'the linearizability search gave up on some seed');
  return s;
}

export function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}
