import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Invariant } from '../../src/check/index.js';
import { runSimulation, seedVariant } from '../../src/sim/index.js';

// What the authorization checker (src/check/auth.ts) adds to the simulator: seed 1 of Raft's
// rotated shapes, where a write proposed while its user was permitted commits after a revoke.
const seed = 1;
const shape = { ...seedVariant(seed), protocol: 'raft' } as const;
const withoutChecker = new Set([Invariant.Authorization]);

test('auth-gateway-only is invisible to every other check: replicas agree and the history is linearizable', () => {
  // The blind spot the checker closes: a write that took effect after its grant was revoked.
  const blind = runSimulation(seed, { ...shape, mutants: new Set(['auth-gateway-only']), disabledInvariants: withoutChecker });
  assert.equal(blind.violation, null, blind.violation?.message);
  const seen = runSimulation(seed, { ...shape, mutants: new Set(['auth-gateway-only']) });
  assert.equal(seen.violation?.invariant, Invariant.Authorization);
  assert.match(seen.violation.message, /applied (put|cas|delete) .* which its grants did not permit at this index/);
});

test('auth-local-check: the checker names the member at once; without it the replicas\' state hashes differ at the end', () => {
  const seen = runSimulation(seed, { ...shape, mutants: new Set(['auth-local-check']) });
  assert.equal(seen.violation?.invariant, Invariant.Authorization);
  const late = runSimulation(seed, { ...shape, mutants: new Set(['auth-local-check']), disabledInvariants: withoutChecker });
  assert.equal(late.violation?.invariant, Invariant.Liveness);
  assert.match(late.violation.message, /state machines differ/);
  assert.ok(late.violation.timeUs > seen.violation.timeUs);
});

test('the correct state machine passes the same seed with the feature on', () => {
  const r = runSimulation(seed, { ...shape, authP: 1 });
  assert.equal(r.violation, null, r.violation?.message);
  assert.ok(r.stats.auth.refusedWrites > 0, 'some write reached the log and was refused there');
});
