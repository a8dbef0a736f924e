import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation, seedVariant } from '../../../src/sim/index.js';

// Simulator seeds that once failed against Raft, replayed as `quorate sim --protocol raft
// --seeds N --variants` does. 20115: a wiped node took a new leader's lagging commit index (0)
// for its catch-up target, voted at once, and elected a leader without a committed entry.
// 21878: a wiped node acknowledged a deposed leader's heartbeats (it had forgotten the newer
// term), giving that leader a quorum for a stale ReadIndex read.
for (const seed of [20115, 21878]) {
  test(`simulator seed ${seed} (--variants) holds every invariant`, () => {
    const r = runSimulation(seed, { protocol: 'raft', ...seedVariant(seed) });
    assert.equal(r.violation, null, JSON.stringify(r.violation));
  });
}
