import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { availableProtocols, getProtocol } from '../../src/protocols/index.js';
import type { QuorateNode } from '../../src/node/node.js';
import type { ReadValue } from '../../src/node/status.js';
import { InProcessCluster } from './helpers.js';

/**
 * FAULTS.md row 9 with lease reads on: a leader paused (SIGSTOP, a VM stall) long enough for the
 * others to elect a new leader and write must not serve a stale read when it wakes. Leases are
 * counted in ticks, and after a pause Node may run a socket callback (the read) before the timer
 * callback that delivers the ticks owed: the driver must bring the ticks up to the clock before
 * it hands the replica any input.
 *
 * The pause is modelled inside one process: the leader's monotonic clock stands still (its timer
 * callbacks find no tick due, so its replica ages not at all) and its links are cut (a paused
 * process neither sends nor reads); on waking, the clock jumps to the real time and the links
 * heal, and the read arrives before any timer callback runs.
 */
let cluster: InProcessCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

for (const protocol of availableProtocols()) {
  test(`a leader woken from a pause serves no read from a lease that expired while it slept (${protocol})`, { timeout: 60_000 }, async () => {
    const c = new InProcessCluster(getProtocol(protocol), 3, { replica: { leaseReads: true } });
    cluster = c;
    const frozenAt = new Map<string, number>();
    for (const id of c.ids) await c.startNode(id, { clock: () => frozenAt.get(id) ?? performance.now() });
    const old = await c.waitForLeader();
    await old.submit({ op: 'put', key: 'x', value: 'before' });
    assert.equal((await old.read('x'))?.value, 'before');

    // Pause the leader: no time passes for it, nothing reaches it or leaves it.
    const others = c.ids.filter((id) => id !== old.id);
    frozenAt.set(old.id, performance.now());
    c.network.partition([old.id], others);
    const next: QuorateNode = await c.waitForLeader([old.id]);
    const w = await next.submit({ op: 'put', key: 'x', value: 'after' });
    assert.equal(w.ok, true);

    // Wake it, and read from it at once, before any of its timer callbacks can run.
    frozenAt.delete(old.id);
    c.network.heal();
    const outcome = await old.read('x').then((v: ReadValue) => ({ v }), (err: unknown) => ({ err }));
    if ('v' in outcome) assert.equal(outcome.v?.value, 'after', 'a read after the write completed must see it');
    else assert.ok(outcome.err instanceof Error, String(outcome.err));
    assert.ok(old.stats.ticksDelivered > 0);
  });
}
