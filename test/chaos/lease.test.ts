import { test } from 'node:test';
import { parseNemesis } from '../../src/chaos/options.js';
import { assertClean, shortRun } from './helpers.js';

/**
 * FAULTS #9 with lease reads on: the leader is paused (SIGSTOP) and resumed while half the
 * clients wait on it and half move to the new leader and write. A resumed leader whose lease did
 * not expire across the pause answers the waiting reads with values the new leader has already
 * replaced, and the history is not linearizable.
 */
test('raft with lease reads survives leader pauses: no stale read after resume', { timeout: 240_000 }, async () => {
  const { report, dir } = await shortRun('raft', { nemesis: parseNemesis('pause:leader'), leaseReads: true });
  assertClean(report, dir);
});
