import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertSeedsPass, range } from './suite.js';

// The Raft suite, part 4 of 4: leader churn (three nodes, tiny limits, no PreVote, crashes after
// promises, after a new leader's first durable Ready and after a leader applies an inherited
// entry, each losing what was just sent): the shape that catches commit-old-term must not flag
// correct Raft.
test('raft: 60 seeds of leader churn, all faults', () => {
  const s = assertSeedsPass(range(3000, 60), {
    protocol: 'raft', nodes: 3, limitsProfile: 'tiny', preVote: 'off', crashAfterPromiseP: 0.5, newLeaderCrashP: 0.5, inheritedApplyCrashP: 0.7,
  }, '--variants (an odd seed: leader churn)');
  assert.ok(s.events > 60 * 1000);
  assert.ok((s.faults['crash-new-leader'] ?? 0) > 0 && (s.faults['crash-leader-applied-inherited'] ?? 0) > 0, JSON.stringify(s.faults));
});
