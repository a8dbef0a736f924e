import { test } from 'node:test';
import { assertClean, assertPowerLoss, ciNemesis, shortRun } from './helpers.js';
import { parseNemesis } from '../../src/chaos/options.js';

/**
 * CI's short chaos run for raft (issue 8): real processes, every supported fault, power loss
 * first (power loss, partition, pause, bitflip, disk-wipe, torn-write for seed 151), no violation allowed.
 */
test('raft survives a short chaos run: linearizable, nothing acknowledged lost, replicas converge', { timeout: 240_000 }, async () => {
  const { report, dir } = await shortRun('raft', { seed: 151, nemesis: parseNemesis(ciNemesis) });
  assertPowerLoss(report);
  assertClean(report, dir);
});
