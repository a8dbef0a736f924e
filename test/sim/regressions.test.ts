import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/index.js';
import { runSimulation, seedVariant, SimDisk } from '../../src/sim/index.js';

// Seeds that once failed, pinned with the bug they found. (Seeds depend on the simulator's
// draws: when the simulator changes, re-find such seeds rather than delete the test.)

test('seed 1 without faults: a read is never answered by the apply of the client\'s previous write', () => {
  // Reads reused the session's last seq, so the apply of that write "answered" the read with a
  // null value: a linearizability violation of the simulator's own making.
  const r = runSimulation(1, { protocol: 'raft', faults: new Set() });
  assert.equal(r.violation, null, JSON.stringify(r.violation));
});

for (const seed of [103, 124]) {
  test(`seed ${seed}: a wiped node that crashes while catching up restarts still without a vote`, () => {
    // The restart passed lostState: false, so the node trusted a partial log and elected a leader
    // missing a committed entry (leader-completeness). The recovering marker is now durable.
    const r = runSimulation(seed, { protocol: 'raft' });
    assert.equal(r.violation, null, JSON.stringify(r.violation));
  });
}

test('seed 2: faults never wipe a majority, so the healed cluster can always elect', () => {
  const r = runSimulation(2, { protocol: 'raft' });
  assert.equal(r.violation, null, JSON.stringify(r.violation));
  assert.ok(r.convergedAtUs !== null);
});

test('the recovering marker survives a power loss', () => {
  const d = new SimDisk();
  d.recovering = true;
  d.powerLoss(new Rng(1), true);
  assert.equal(d.recover().ok, true);
  assert.equal(d.recovering, true);
});

test('paxos seed 29 (--variants: 3 nodes, crashes around every tenth fsync) stays safe', () => {
  const r = runSimulation(29, { protocol: 'paxos', ...seedVariant(29) });
  assert.equal(r.violation, null, JSON.stringify(r.violation));
});
