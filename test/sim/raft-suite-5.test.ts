import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertSeedsPass, range } from './suite.js';

// The Raft suite, part 1 of 3: five nodes, every fault, 80 seeds (PreVote and limits vary by seed).
test('raft: 80 seeds, 5 nodes, all faults: every invariant holds and the cluster converges', () => {
  const s = assertSeedsPass(range(0, 80), { protocol: 'raft' }, '--faults all');
  assert.ok(s.events > 80 * 1000);
});
