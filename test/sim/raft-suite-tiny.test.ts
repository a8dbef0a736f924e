import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertSeedsPass, range } from './suite.js';

// The Raft suite, part 3 of 4: tiny limits (one entry per message, 256-byte snapshot chunks,
// frequent checkpoints so lagging followers are sent snapshots), every fault, 80 seeds.
test('raft: 80 seeds with tiny limits and frequent snapshots, all faults', () => {
  const s = assertSeedsPass(range(2000, 80), { protocol: 'raft', limitsProfile: 'tiny', snapshotEvery: 10 }, '(tiny limits, snapshotEvery 10)');
  assert.ok(s.events > 80 * 1000);
});
