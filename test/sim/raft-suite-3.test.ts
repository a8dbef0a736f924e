import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertSeedsPass, range } from './suite.js';

// The Raft suite, part 2 of 4: three nodes without PreVote/CheckQuorum, every fault, 80 seeds.
test('raft: 80 seeds, 3 nodes without PreVote, all faults', () => {
  const s = assertSeedsPass(range(1000, 80), { protocol: 'raft', nodes: 3, preVote: 'off' }, '--nodes 3 (preVote off)');
  assert.ok(s.events > 80 * 1000);
});
