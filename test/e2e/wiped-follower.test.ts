import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QuorateClient } from '../../src/client/index.js';
import { verifySnapshotBytes } from '../../src/storage/index.js';
import { waitConverged } from '../../src/node/failover.js';
import { realCluster, unreadable, writeKeys } from './helpers.js';

/**
 * A follower's data directory is wiped (FAULTS.md row 16) while the leader compacts its log past
 * what the follower had: restarted with --initial-cluster-state existing, it is re-seeded by a
 * snapshot streamed over TCP and converges to the same state, as a member that lost its state
 * (it serves and applies, but never votes again until a membership change re-adds it).
 */
test('a wiped follower is re-seeded by snapshot and converges', { timeout: 90_000 }, async () => {
  const { cluster, cleanup } = await realCluster({ extraArgs: ['--checkpoint-every', '100'] });
  const client = new QuorateClient({ endpoints: cluster.endpoints(), timeoutMs: 15_000 });
  try {
    const acked = await writeKeys(client, 'w', 0, 1000);
    const leader = await cluster.waitForLeader();
    const victim = cluster.ids.find((id) => id !== leader) as string;
    await cluster.kill(victim);
    cluster.wipe(victim);
    for (const [k, v] of await writeKeys(client, 'w', 1000, 1500)) acked.set(k, v);
    const before = (await cluster.statuses()).get(leader);
    assert.ok(before !== null && before !== undefined && before.snapshotIndex > 0, 'the leader compacted its log');
    // The leader's newest checkpoint, streamed from its snapshot file, verifies as one.
    const snap = await fetch(`${cluster.endpoint(leader)}/v1/snapshot`);
    assert.equal(snap.status, 200);
    const { meta } = verifySnapshotBytes(new Uint8Array(await snap.arrayBuffer()));
    assert.equal(String(meta.index), snap.headers.get('x-quorate-snapshot-index'));

    cluster.spawnNode(victim, { initialClusterState: 'existing' });
    await cluster.waitHealthy(victim);
    const converged = await waitConverged(cluster);
    const s = (await cluster.statuses()).get(victim);
    assert.ok(s !== null && s !== undefined);
    assert.equal(s.stateHash, converged.stateHash);
    assert.equal(s.keys, 1500);
    assert.ok((s['stats'] as { snapshotsInstalled: number }).snapshotsInstalled >= 1, 'it was seeded by a snapshot');
    // It caught up, but it lost its state: it never votes again until a membership change re-adds it.
    assert.equal(s['lostState'], true, 'its status says it lost its state');
    assert.deepEqual(await unreadable(client, acked), []);
  } finally {
    client.close();
    await cleanup();
  }
});
