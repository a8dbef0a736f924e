import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LifeEnds, runSimulation, runSeeds } from '../../src/sim/index.js';

// What the simulator concludes from its checkers and from its own model of crashes.

test('an undecided linearizability search fails the seed instead of passing it', () => {
  const r = runSimulation(0, { protocol: 'raft', linearizabilityStepsMax: 1, safetyUs: 500_000 });
  assert.equal(r.linearizability?.verdict, 'unknown');
  assert.equal(r.violation?.invariant, 'linearizability');
  assert.match(r.violation.message, /undecided: the search gave up on key\(s\) k\d/);
  const s = runSeeds({ seeds: [0], options: { protocol: 'raft', linearizabilityStepsMax: 1, safetyUs: 500_000 } });
  assert.equal(s.violations, 1);
  assert.equal(s.unknownLinearizability, 1);
});

test('a message in flight is judged against the end of the life that sent it, not the latest crash', () => {
  const ends = new LifeEnds();
  ends.record('n1', 0, 10_000); // power lost 200 us after the send below
  ends.record('n1', 1, 90_000); // a later life ends much later
  assert.equal(ends.lostInFlight('n1', 0, 9_800, 1_000), true, 'still in the buffers of the machine that lost power');
  assert.equal(ends.lostInFlight('n1', 0, 5_000, 1_000), false, 'on the wire long before that crash');
  assert.equal(ends.lostInFlight('n1', 1, 89_500, 1_000), true);
  assert.equal(ends.lostInFlight('n1', 2, 95_000, 1_000), false, 'the current life has not ended');
  assert.equal(ends.lostInFlight('n2', 0, 9_800, 1_000), false, 'another node');
  ends.record('n3', 0, 10_000, 'process');
  assert.equal(ends.lostInFlight('n3', 0, 9_800, 1_000), false, 'a process crash leaves its socket buffers to the kernel');
});
