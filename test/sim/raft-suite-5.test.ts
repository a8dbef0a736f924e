import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertSeedsPass, range } from './suite.js';

// The Raft suite, part 1 of 4: five nodes, every fault, 70 seeds (PreVote and limits vary by seed).
test('raft: 70 seeds, 5 nodes, all faults: every invariant holds and the cluster converges', () => {
  const s = assertSeedsPass(range(0, 70), { protocol: 'raft' }, '--faults all');
  assert.ok(s.events > 70 * 1000);
});
