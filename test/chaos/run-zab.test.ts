import { test } from 'node:test';
import { assertClean, assertPowerLoss, ciNemesis, shortRun } from './helpers.js';
import { parseNemesis } from '../../src/chaos/options.js';

/**
 * CI's short chaos run for zab (issue 8): real processes, every supported fault, power loss
 * first (power loss, partition, bitflip, pause, loss, one-way for seed 138), no violation allowed.
 */
test('zab survives a short chaos run: linearizable, nothing acknowledged lost, replicas converge', { timeout: 240_000 }, async () => {
  const { report, dir } = await shortRun('zab', { seed: 138, nemesis: parseNemesis(ciNemesis) });
  assertPowerLoss(report);
  assertClean(report, dir);
});
