import { test } from 'node:test';
import { assertClean, assertPowerLoss, ciNemesis, shortRun } from './helpers.js';
import { parseNemesis } from '../../src/chaos/options.js';

/**
 * CI's short chaos run for paxos (issue 8): real processes, every supported fault, power loss
 * first (power loss, loss, pause, partition, disk-wipe, one-way for seed 77), no violation allowed.
 */
test('paxos survives a short chaos run: linearizable, nothing acknowledged lost, replicas converge', { timeout: 240_000 }, async () => {
  const { report, dir } = await shortRun('paxos', { seed: 77, nemesis: parseNemesis(ciNemesis) });
  assertPowerLoss(report);
  assertClean(report, dir);
});
