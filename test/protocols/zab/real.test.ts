import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QuorateClient } from '../../../src/client/index.js';
import { waitConverged } from '../../../src/node/failover.js';
import { realCluster, unreadable, writeKeys } from '../../e2e/helpers.js';

/**
 * Zab in the real runtime: three `quorate start --protocol zab` processes (FileStorage
 * with fsync, TCP, HTTP). The leader is SIGKILLed under writes and restarted; then a follower's
 * data directory is wiped while the others compact past it, and it rejoins (lostState) through a
 * snapshot. Every replica converges to one state hash and every acknowledged write reads back.
 */
test('zab on real processes: leader SIGKILL and restart, then a wiped follower re-seeded by snapshot', { timeout: 120_000 }, async () => {
  const { cluster, cleanup } = await realCluster({ protocol: 'zab', extraArgs: ['--checkpoint-every', '100'] });
  const client = new QuorateClient({ endpoints: cluster.endpoints(), timeoutMs: 15_000 });
  try {
    const acked = await writeKeys(client, 'p', 0, 600);
    assert.equal(acked.size, 600);
    const leader = await cluster.waitForLeader();
    const during = writeKeys(client, 'p', 600, 800, 16);
    await cluster.kill(leader);
    for (const [k, v] of await during) acked.set(k, v);
    const newLeader = await cluster.waitForLeader(10_000, [leader]);
    assert.notEqual(newLeader, leader);
    for (const [k, v] of await writeKeys(client, 'p', 800, 900)) acked.set(k, v);
    cluster.spawnNode(leader);
    await cluster.waitHealthy(leader);
    let converged = await waitConverged(cluster);
    for (const [id, s] of await cluster.statuses()) {
      assert.ok(s !== null, `${id} answers`);
      assert.equal(s.stateHash, converged.stateHash, `${id} holds the same state`);
      assert.equal(s.keys, 900);
    }

    const current = await cluster.waitForLeader();
    const victim = cluster.ids.find((id) => id !== current) as string;
    await cluster.kill(victim);
    cluster.wipe(victim);
    for (const [k, v] of await writeKeys(client, 'p', 900, 1200)) acked.set(k, v);
    cluster.spawnNode(victim, { initialClusterState: 'existing' });
    await cluster.waitHealthy(victim);
    converged = await waitConverged(cluster);
    const s = (await cluster.statuses()).get(victim);
    assert.ok(s !== null && s !== undefined);
    assert.equal(s.stateHash, converged.stateHash);
    assert.equal(s.keys, 1200);
    assert.ok((s['stats'] as { snapshotsInstalled: number }).snapshotsInstalled >= 1, 'it was seeded by a snapshot');
    assert.deepEqual(await unreadable(client, acked), []);
  } finally {
    client.close();
    await cleanup();
  }
});
