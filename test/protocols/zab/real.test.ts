import { test } from 'node:test';
import { killRestartAndWipeScenario } from '../../e2e/helpers.js';

// Zab in the real runtime: leader SIGKILL and restart under writes, then a wiped follower
// re-seeded by snapshot (the scenario is shared by every protocol: test/e2e/helpers.ts).
test('zab on real processes: leader SIGKILL and restart, then a wiped follower re-seeded by snapshot', { timeout: 120_000 }, async () => {
  await killRestartAndWipeScenario('zab');
});
