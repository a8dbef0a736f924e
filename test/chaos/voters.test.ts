import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseNemesis } from '../../src/chaos/options.js';
import { assertClean, shortRun } from './helpers.js';

/**
 * A wiped member never votes again (the project's rule for a member that lost its state), so the
 * nemesis may wipe at most ⌊(n−1)/2⌋ voters: one of three. A run of nothing but disk faults must
 * wipe one voter, then keep wiping and damaging that same member, never a second voter — the
 * cluster keeps a voting majority, serves, and converges — and the report must say who lost the
 * vote.
 */
test('disk faults never take away the voting majority; later wipes hit the member that already lost its vote', { timeout: 300_000 }, async () => {
  const { report, dir } = await shortRun('raft', { nemesis: parseNemesis('disk-wipe,bitflip'), durationMs: 24_000, seed: 3 });
  const why = `${JSON.stringify(report.faults.map((f) => `${f.kind} ${f.nodes.join(',')}: ${f.detail}`))} (kept in ${dir})`;
  assert.equal(report.lostVoters.length, 1, `one voter lost, no more: ${JSON.stringify(report.lostVoters)} ${why}`);
  const lost = report.lostVoters[0]!.node;
  const wipes = report.faults.filter((f) => f.kind === 'disk-wipe');
  assert.ok(wipes.length >= 2, `several wipes: ${why}`);
  const after = report.faults.filter((f) => f.start > report.lostVoters[0]!.atMs && f.kind === 'disk-wipe');
  assert.ok(after.length >= 1 && after.every((f) => f.nodes.join(',') === lost), `later wipes hit ${lost} only: ${why}`);
  assertClean(report, dir);
});
