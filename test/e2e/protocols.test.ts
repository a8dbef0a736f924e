import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QuorateClient } from '../../src/client/index.js';
import { waitConverged } from '../../src/node/failover.js';
import { availableProtocols } from '../../src/protocols/index.js';
import { realCluster, unreadable, writeKeys } from './helpers.js';

/**
 * The same runtime drives every registered protocol through the Replica contract alone: for each
 * protocol other than Raft (which failover.test.ts covers at full size), a smaller run of real
 * processes with a leader SIGKILLed under writes and restarted.
 */
for (const protocol of availableProtocols().filter((p) => p !== 'raft')) {
  test(`${protocol}: SIGKILL the leader under writes, restart it, nothing acknowledged is lost`, { timeout: 60_000 }, async () => {
    const { cluster, cleanup } = await realCluster({ protocol, extraArgs: ['--checkpoint-every', '150'] });
    const client = new QuorateClient({ endpoints: cluster.endpoints(), timeoutMs: 15_000 });
    try {
      const acked = await writeKeys(client, 'p', 0, 300);
      const leader = await cluster.waitForLeader();
      const during = writeKeys(client, 'p', 300, 450, 16);
      await cluster.kill(leader);
      for (const [k, v] of await during) acked.set(k, v);
      cluster.spawnNode(leader);
      await cluster.waitHealthy(leader);
      for (const [k, v] of await writeKeys(client, 'p', 450, 500)) acked.set(k, v);
      const converged = await waitConverged(cluster);
      for (const [id, s] of await cluster.statuses()) {
        assert.equal(s?.stateHash, converged.stateHash, `${id} holds the same state`);
        assert.equal(s?.keys, 500);
      }
      assert.deepEqual(await unreadable(client, acked), []);
    } finally {
      client.close();
      await cleanup();
    }
  });
}
