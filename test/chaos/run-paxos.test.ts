import { test } from 'node:test';
import { assertClean, shortRun } from './helpers.js';

/** CI's short chaos run for paxos (issue 8): real processes, every supported fault, no violation allowed. */
test('paxos survives a short chaos run: linearizable, nothing acknowledged lost, replicas converge', { timeout: 240_000 }, async () => {
  const { report, dir } = await shortRun('paxos', { seed: 2 });
  assertClean(report, dir);
});
