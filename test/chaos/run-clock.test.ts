import assert from 'node:assert/strict';
import { test } from 'node:test';
import { faketimeLibrary, faketimeMissing } from '../../src/chaos/clock.js';
import { parseNemesis } from '../../src/chaos/options.js';
import { assertClean, shortRun } from './helpers.js';

/**
 * CI's short chaos run of the clock nemesis (FAULTS row 17 on real processes): raft in its
 * default configuration (ReadIndex reads) while one node at a time — the leader or another —
 * runs at x1.5 or x0.5, or steps forward, under libfaketime. No violation allowed, and the
 * report must show the clock faults were injected, not skipped.
 */
test('raft in its default configuration survives clock drift of ±50% and forward steps on one node', { skip: faketimeLibrary() === null ? faketimeMissing : false, timeout: 240_000 }, async () => {
  const { report, dir } = await shortRun('raft', { seed: 19, durationMs: 12_000, nemesis: parseNemesis('clock') });
  assert.deepEqual(report.unsupported, []);
  assert.ok(report.faults.every((f) => f.kind === 'clock' && /clock of n\d (runs at x(1\.5|0\.5)|stepped)/.test(f.detail)), JSON.stringify(report.faults));
  assertClean(report, dir);
});
