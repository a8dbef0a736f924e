import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableProtocols } from '../../src/protocols/index.js';
import { runSimulation } from '../../src/sim/index.js';
import type { HistoryEvent } from '../../src/check/index.js';

// The liveness phase: after the heal, operations invoked from then on must complete: a write, a
// read first asked of the leader, and one first asked of a follower.

for (const protocol of availableProtocols()) {
  test(`${protocol}: a driver that never hands reads to the replica fails liveness (reads time out as info, not fail)`, () => {
    const r = runSimulation(0, { protocol, mutants: new Set(['reads-ignored']) });
    assert.equal(r.violation?.invariant, 'liveness', JSON.stringify(r.violation));
    // The idle window that opens the liveness phase is where it shows first: no read is served.
    assert.match(r.violation.message, /an idle cluster did not serve the reads pinned to n1, n2, n3/);
    assert.deepEqual(r.stats.idle.unserved, ['n1', 'n2', 'n3', 'n4', 'n5'], 'no member serves a read');
    const reads = r.history.filter((e) => e.f === 'read' && e.type !== 'invoke');
    assert.ok(reads.length > 0);
    // Nobody knows that a read left unanswered did not happen: it is info, never fail.
    assert.deepEqual(new Set(reads.map((e) => e.type)), new Set(['info']));
  });
}

/** Invocation time of each completion, paired by process (one operation at a time per process). */
function completions(history: readonly HistoryEvent[]): { invokedAt: number; done: HistoryEvent }[] {
  const open = new Map<number, number>();
  const out: { invokedAt: number; done: HistoryEvent }[] = [];
  for (const e of history) {
    if (e.type === 'invoke') open.set(e.process, e.time);
    else out.push({ invokedAt: open.get(e.process) as number, done: e });
  }
  return out;
}

test('liveness counts only operations invoked after the heal, though earlier ones complete after it', () => {
  const r = runSimulation(3, { protocol: 'raft' });
  assert.equal(r.violation, null, JSON.stringify(r.violation));
  const healedAt = r.stats.liveness.healedAtUs as number;
  assert.ok(healedAt > 0);
  const ok = completions(r.history).filter((c) => c.done.type === 'ok');
  const writes = (after: boolean) => ok.filter((c) => c.done.f !== 'read' && c.done.time >= healedAt && (c.invokedAt >= healedAt) === after);
  assert.ok(writes(false).length > 0, 'some writes invoked before the heal complete after it: they must not count');
  assert.equal(r.stats.liveness.writes, writes(true).length);
  // The idle window's reads pinned to each member (README "Idle reads") are counted apart.
  const idleServedAt = r.stats.idle.servedAtUs as number;
  assert.ok(idleServedAt >= healedAt);
  const pinned = ok.filter((c) => c.done.f === 'read' && c.invokedAt >= healedAt && c.invokedAt < idleServedAt);
  assert.equal(pinned.length, 5, 'one pinned read per member (five, the default)');
  const reads = ok.filter((c) => c.done.f === 'read' && c.invokedAt >= idleServedAt);
  assert.equal(r.stats.liveness.leaderReads + r.stats.liveness.followerReads, reads.length);
  assert.ok(r.stats.liveness.leaderReads > 0 && r.stats.liveness.followerReads > 0);
});
