import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QuorateClient } from '../../src/client/index.js';
import { waitConverged } from '../../src/node/failover.js';
import { realCluster, unreadable, writeKeys } from './helpers.js';

/**
 * Three real processes (FileStorage, TCP, HTTP): 1,000 writes, SIGKILL the leader, keep writing,
 * restart it on its data directory; every replica converges to the same state hash and every
 * acknowledged write reads back.
 */
test('SIGKILL the leader under writes, restart it, nothing acknowledged is lost', { timeout: 90_000 }, async () => {
  const { cluster, cleanup } = await realCluster();
  const client = new QuorateClient({ endpoints: cluster.endpoints(), timeoutMs: 15_000 });
  try {
    const acked = await writeKeys(client, 'k', 0, 1000);
    assert.equal(acked.size, 1000);
    const leader = await cluster.waitForLeader();
    // Writes in flight while the leader dies: the client retries them elsewhere, exactly once.
    const during = writeKeys(client, 'k', 1000, 1300, 16);
    await cluster.kill(leader);
    for (const [k, v] of await during) acked.set(k, v);
    const newLeader = await cluster.waitForLeader(10_000, [leader]);
    assert.notEqual(newLeader, leader);
    for (const [k, v] of await writeKeys(client, 'k', 1300, 1500)) acked.set(k, v);

    cluster.spawnNode(leader);
    await cluster.waitHealthy(leader);
    const converged = await waitConverged(cluster);
    const statuses = await cluster.statuses();
    assert.equal(statuses.size, 3);
    for (const [id, s] of statuses) {
      assert.ok(s !== null, `${id} answers`);
      assert.equal(s.stateHash, converged.stateHash, `${id} holds the same state`);
      assert.equal(s.keys, 1500, `${id} holds every key`);
    }
    assert.deepEqual(await unreadable(client, acked), []);
    // The restarted node serves its own (stale) reads from the recovered state too.
    const local = new QuorateClient({ endpoints: [cluster.endpoint(leader)] });
    assert.equal((await local.get('k-7', { consistency: 'stale' }))?.value, 'value-7');
    local.close();
  } finally {
    client.close();
    await cleanup();
  }
});
